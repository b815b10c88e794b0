// TriggerService::HandleWebhook and Trigger: the synchronous half of a trigger. Everything here
// is bounded work (one JSON parse, one HMAC, two small sqlite statements) so the provider gets
// its answer well within a second; git work happens on the trigger thread.
#include "edgefarm/coordinator/git2_repo.h"
#include "edgefarm/coordinator/repo_registry.h"
#include "edgefarm/coordinator/trigger_service.h"
#include "random_hex.h"

namespace edgefarm::coordinator {
namespace {

WebhookAnswer Error(int status, const std::string& code, const std::string& message) {
  return {status, {{"error", {{"code", code}, {"message", message}}}}};
}

// Trailing ".git" and "/" do not make a different repository.
std::string Normalise(std::string url) {
  url = RedactUrl(url);
  while (!url.empty() && url.back() == '/') url.pop_back();
  if (url.size() > 4 && url.compare(url.size() - 4, 4, ".git") == 0) url.resize(url.size() - 4);
  return url;
}

Result<std::optional<RepoRecord>> MatchRepo(ControlStore& control, const std::string& repo_param,
                                            const std::vector<std::string>& names) {
  if (!repo_param.empty()) return control.FindRepo(repo_param);
  EF_ASSIGN_OR_RETURN(auto repos, control.Repos());
  for (const auto& repo : repos) {
    for (const auto& name : names) {
      if (name == repo.name || Normalise(name) == Normalise(repo.url)) return {repo};
    }
  }
  return std::optional<RepoRecord>();
}

}  // namespace

WebhookAnswer TriggerService::HandleWebhook(Provider provider, const HeaderFn& header,
                                            const std::string& body, const std::string& repo_param,
                                            const std::string& remote) {
  const std::string source = ProviderName(provider);
  auto parsed = ParseDelivery(provider, header, body);
  std::vector<std::string> names = parsed.ok() ? parsed->repo_names : std::vector<std::string>();
  auto repo = MatchRepo(*ctx_.control, repo_param, names);
  if (!repo.ok()) return Error(503, "store_unavailable", "cannot read registered repositories");
  if (!repo->has_value()) {
    ctx_.logger->warn("{} delivery from {} for no registered repository", source, remote);
    return Error(404, "unknown_repository", "no registered repository matches this delivery");
  }
  auto secret = ResolveWebhookSecret(**repo);
  if (!secret.ok() || !VerifyDelivery(provider, header, body, *secret)) {
    ctx_.logger->warn("{} delivery for {} from {} rejected: {}", source, (*repo)->name, remote,
                      secret.ok() ? "bad or missing signature" : secret.status().message());
    return Error(401, "bad_signature", "missing or invalid webhook signature");
  }
  if (!parsed.ok()) return Error(400, "invalid_request", parsed.status().message());
  if (parsed->event == "ping") return {200, {{"ok", true}, {"event", "ping"}}};
  if (parsed->event != "push") return {202, {{"ignored", true}, {"event", parsed->event}}};
  if (!BranchOfRef(parsed->ref).ok()) {
    return Error(400, "invalid_ref", "only pushes to valid branch refs start runs");
  }
  if (!IsCommitSha(parsed->after) || (!parsed->before.empty() && !IsCommitSha(parsed->before))) {
    return Error(400, "invalid_request", "before/after must be 40-hex commit ids");
  }
  if (parsed->after.find_first_not_of('0') == std::string::npos) {
    return {202, {{"ignored", true}, {"event", "push"}, {"reason", "branch deleted"}}};
  }
  DeliveryRecord delivery{source + ":" + parsed->delivery_id,
                          source,
                          (*repo)->name,
                          parsed->ref,
                          parsed->before,
                          parsed->after,
                          false,
                          "queued",
                          "",
                          "",
                          ctx_.clock->UnixMillis()};
  auto inserted = ctx_.control->InsertDelivery(delivery);
  if (!inserted.ok()) return Error(503, "store_unavailable", "cannot record the delivery");
  if (!*inserted) return {200, {{"duplicate", true}, {"delivery", delivery.id}}};
  Enqueue(delivery.id);
  return {202, {{"queued", true}, {"delivery", delivery.id}}};
}

Result<std::string> TriggerService::Trigger(const std::string& repo, const std::string& ref,
                                            const std::string& commit, bool force) {
  EF_ASSIGN_OR_RETURN(auto found, ctx_.control->FindRepo(repo));
  if (!found) return NotFound("no such repository");
  EF_RETURN_IF_ERROR(BranchOfRef(ref).status());
  if (!commit.empty() && !IsCommitSha(commit)) {
    return InvalidArgument("commit must be a 40-hex commit id");
  }
  DeliveryRecord delivery{
      "api:" + RandomHex(8),   "api", repo, ref, "", commit, force, "queued", "", "",
      ctx_.clock->UnixMillis()};
  EF_ASSIGN_OR_RETURN(bool inserted, ctx_.control->InsertDelivery(delivery));
  if (!inserted) return Internal("delivery id collision");
  Enqueue(delivery.id);
  return delivery.id;
}

}  // namespace edgefarm::coordinator
