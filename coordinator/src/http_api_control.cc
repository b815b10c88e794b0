// HttpApi routes of the control plane: tokens, repositories, manual triggers, webhook
// deliveries, the audit log, artifact downloads and cancelling one job. Part of the cpp-httplib
// adapter.
//
// Implementation notes:
// - A new token's secret appears exactly once, in the 201 body of POST /api/v1/tokens; the log
//   line names only its id, name and role.
// - Webhook routes carry no bearer token: the provider's signature is the authentication, checked
//   by TriggerService::HandleWebhook.
#include <algorithm>

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/repo_registry.h"
#include "edgefarm/coordinator/run_json.h"
#include "http_api_internal.h"

namespace edgefarm::coordinator {
using namespace http_internal;  // NOLINT(google-build-using-namespace): adapter-internal helpers
namespace {

bool ValidTokenName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' &&
        c != ' ' && c != '@') {
      return false;
    }
  }
  return true;
}

// An artifact name as a worker reports it: a file name under the job's output directory.
bool ValidArtifactName(const std::string& name) {
  return !name.empty() && name.size() <= 255 && name != "." &&
         name.find("..") == std::string::npos && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('"') == std::string::npos &&
         std::all_of(name.begin(), name.end(), [](char c) { return c >= 0x20 && c != 0x7f; });
}

}  // namespace

void HttpApi::Impl::PostToken(const Request& req, Response& res) {
  auto who = Authorize(req, res, Permission::kAdmin);
  if (!who) return;
  auto body = JsonBody(req, res);
  if (!body) return;
  auto role_it = body->find("role");
  const std::string role_text =
      role_it != body->end() && role_it->is_string() ? role_it->get<std::string>() : "";
  auto role = ParseRole(role_text);
  if (!role || *role == Role::kWorker) {
    return SendError(res, 400, "invalid_request",
                     "role must be one of viewer, developer, release-manager, admin");
  }
  std::string name = role_text;
  if (body->contains("name")) {
    if (!(*body)["name"].is_string() || !ValidTokenName((*body)["name"].get<std::string>())) {
      return SendError(res, 400, "invalid_request",
                       "name must be 1-64 characters of letters, digits, space and ._-@");
    }
    name = (*body)["name"].get<std::string>();
  }
  const std::string secret = NewTokenSecret();
  const std::string hash = Sha256Hex(secret);
  ApiTokenRecord record{hash, role_text, name, ctx.clock->UnixMillis()};
  Status added = ctx.control->AddToken(record);
  if (!added.ok()) return SendError(res, 503, "store_unavailable", "cannot store the token");
  ctx.tokens->Add(role_text, hash, name);
  ctx.logger->info("token {} ({}) created with role {} by {}", TokenId(hash), name, role_text,
                   who->id);
  SendJson(res, 201,
           {{"token", secret},
            {"id", TokenId(hash)},
            {"role", role_text},
            {"name", name},
            {"created_at_ms", record.created_at_ms}});
}

void HttpApi::Impl::PostRepo(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kAdmin)) return;
  auto body = JsonBody(req, res);
  if (!body) return;
  auto repo = RepoFromJson(*body);
  if (!repo.ok()) return SendError(res, 400, "invalid_request", repo.status().message());
  repo->created_at_ms = ctx.clock->UnixMillis();
  Status stored = ctx.control->PutRepo(*repo);
  if (!stored.ok()) return SendError(res, 503, "store_unavailable", "cannot store the repository");
  ctx.logger->info("repository {} registered ({})", repo->name, RedactUrl(repo->url));
  SendJson(res, 201, RepoToJson(*repo));
}

void HttpApi::Impl::TriggerRepo(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kSubmit)) return;
  auto body = JsonBody(req, res);
  if (!body) return;
  auto text = [&](const char* key) {
    auto it = body->find(key);
    return it != body->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto force_it = body->find("force");
  const bool force = force_it != body->end() && force_it->is_boolean() && force_it->get<bool>();
  std::string ref = text("ref");
  if (ref.empty()) ref = "refs/heads/main";
  auto delivery = ctx.triggers->Trigger(req.matches[1], ref, text("commit"), force);
  if (!delivery.ok()) {
    bool missing = delivery.status().code() == StatusCode::kNotFound;
    return SendError(res, missing ? 404 : HttpStatusOf(delivery.status()),
                     missing ? "not_found" : "invalid_request", delivery.status().message());
  }
  SendJson(res, 202, {{"queued", true}, {"delivery", *delivery}});
}

void HttpApi::Impl::Hook(const std::string& provider, const Request& req, Response& res) {
  auto parsed = ParseProvider(provider);
  if (!parsed) return SendError(res, 404, "not_found", "unknown webhook provider");
  HeaderFn header = [&req](const std::string& name) { return req.get_header_value(name); };
  WebhookAnswer answer =
      ctx.triggers->HandleWebhook(*parsed, header, req.body, req.get_param_value("repo"),
                                  req.remote_addr + ":" + std::to_string(req.remote_port));
  SendJson(res, answer.status, answer.body);
}

void HttpApi::Impl::GetArtifact(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kRead)) return;
  const std::string name = req.matches[2];
  if (!ValidArtifactName(name)) {
    return SendError(res, 400, "invalid_name", "artifact names are plain file names");
  }
  std::string digest;
  {
    std::lock_guard lock(*ctx.mu);
    const JobRecord* job = ctx.scheduler->FindJob(req.matches[1]);
    if (job == nullptr) return SendError(res, 404, "not_found", "no such job");
    for (const auto& artifact : job->artifacts) {
      if (artifact.name == name) digest = artifact.digest;
    }
  }
  if (digest.empty()) return SendError(res, 404, "not_found", "the job has no such artifact");
  ServeBlob(digest, name, res);
}

void HttpApi::Impl::GetAudit(const Request& req, Response& res) {
  if (!Authorize(req, res, Permission::kAdmin)) return;
  int64_t after = 0;
  const std::string text = req.get_param_value("after");
  if (!text.empty()) {
    if (text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos) {
      return SendError(res, 400, "invalid_request", "after must be a non-negative integer");
    }
    after = std::stoll(text);
  }
  auto entries = ctx.control->Audit(after, 1000);
  if (!entries.ok()) return SendError(res, 503, "store_unavailable", "cannot read the audit log");
  json out = json::array();
  for (const auto& e : *entries) {
    out.push_back({{"id", e.id},
                   {"at_ms", e.at_ms},
                   {"actor", e.actor},
                   {"role", e.role},
                   {"method", e.method},
                   {"path", e.path},
                   {"remote", e.remote},
                   {"status", e.status}});
  }
  SendJson(res, 200, {{"entries", std::move(out)}});
}

void HttpApi::Impl::ControlRoutes() {
  server.Post("/api/v1/tokens", [this](const Request& req, Response& res) { PostToken(req, res); });
  server.Get("/api/v1/tokens", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kAdmin)) return;
    auto tokens = ctx.control->Tokens();
    if (!tokens.ok()) return SendError(res, 503, "store_unavailable", "cannot read tokens");
    json out = json::array();
    for (const auto& t : *tokens) {
      out.push_back({{"id", TokenId(t.sha256)},
                     {"role", t.role},
                     {"name", t.name},
                     {"created_at_ms", t.created_at_ms}});
    }
    SendJson(res, 200, {{"tokens", std::move(out)}});
  });
  server.Post("/api/v1/repos", [this](const Request& req, Response& res) { PostRepo(req, res); });
  server.Get("/api/v1/repos", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    auto repos = ctx.control->Repos();
    if (!repos.ok()) return SendError(res, 503, "store_unavailable", "cannot read repositories");
    json out = json::array();
    for (const auto& r : *repos) {
      json repo = RepoToJson(r);
      repo["polls"] = ctx.triggers->PollsOf(r.name);
      out.push_back(std::move(repo));
    }
    SendJson(res, 200, {{"repositories", std::move(out)}});
  });
  server.Post(R"(/api/v1/repos/([^/]+)/trigger)",
              [this](const Request& req, Response& res) { TriggerRepo(req, res); });
  server.Get(R"(/api/v1/deliveries/([^/]+))", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    auto d = ctx.control->FindDelivery(req.matches[1]);
    if (!d.ok()) return SendError(res, 503, "store_unavailable", "cannot read deliveries");
    if (!d->has_value()) return SendError(res, 404, "not_found", "no such delivery");
    const DeliveryRecord& r = **d;
    SendJson(res, 200,
             {{"id", r.id},
              {"provider", r.provider},
              {"repo", r.repo},
              {"ref", r.ref},
              {"before", r.before},
              {"after", r.after},
              {"forced", r.forced},
              {"state", r.state},
              {"detail", r.detail},
              {"run_id", r.run_id},
              {"received_at_ms", r.received_at_ms}});
  });
  server.Post(R"(/hooks/([a-z]+))",
              [this](const Request& req, Response& res) { Hook(req.matches[1], req, res); });
  server.Get(R"(/api/v1/jobs/([^/]+)/artifacts/([^/]+))",
             [this](const Request& req, Response& res) { GetArtifact(req, res); });
  server.Get(R"(/api/v1/artifacts/([^/]+))", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kRead)) return;
    const std::string name = req.get_param_value("name");
    if (!name.empty() && !ValidArtifactName(name)) {
      return SendError(res, 400, "invalid_name", "artifact names are plain file names");
    }
    ServeBlob(req.matches[1].str(), name, res);
  });
  server.Get("/api/v1/audit", [this](const Request& req, Response& res) { GetAudit(req, res); });
  // Like the run route, for one job. The finished check and the cancel happen under one lock,
  // so a job cannot finish in between and be answered 200.
  server.Post(R"(/api/v1/jobs/([^/]+)/cancel)", [this](const Request& req, Response& res) {
    if (!Authorize(req, res, Permission::kSubmit)) return;
    const std::string id = req.matches[1];
    std::lock_guard lock(*ctx.mu);
    const JobRecord* job = ctx.scheduler->FindJob(id);
    if (job == nullptr) return SendError(res, 404, "not_found", "no such job");
    if (IsTerminal(job->state)) {
      return SendError(res, 409, "already_finished",
                       "job " + id + " already " + std::string(ToString(job->state)));
    }
    Status cancelled = ctx.scheduler->CancelJob(id);
    if (!cancelled.ok()) return SendError(res, 503, "store_unavailable", cancelled.message());
    ctx.logger->info("job {} cancelled", id);
    SendJson(res, 200, JobJson(*ctx.scheduler, *ctx.scheduler->FindJob(id)));
  });
}

}  // namespace edgefarm::coordinator
