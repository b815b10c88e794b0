// TriggerService polling: repositories with poll_interval_s > 0 are fetched when due (by the
// injected Clock) and every branch whose tip moved becomes a delivery like a webhook's.
//
// The first poll of a repository only records the tips it finds (a baseline), so registering a
// repository with many branches does not start a run per branch; a branch that appears later is
// a push from the zero commit. The baseline is marked by a tip row with an empty ref.
#include "edgefarm/coordinator/git2_repo.h"
#include "edgefarm/coordinator/repo_registry.h"
#include "edgefarm/coordinator/trigger_service.h"

namespace edgefarm::coordinator {

void TriggerService::PollDue() {
  auto repos = ctx_.control->Repos();
  if (!repos.ok()) return;
  const auto now = ctx_.clock->SteadyNow();
  for (const auto& repo : *repos) {
    if (repo.poll_interval_s <= 0) continue;
    auto next = next_poll_.find(repo.name);
    if (next != next_poll_.end() && now < next->second) continue;
    next_poll_[repo.name] = now + std::chrono::seconds(repo.poll_interval_s);
    Status polled = PollRepo(repo);
    {
      std::lock_guard lock(polls_mu_);
      ++polls_[repo.name];
    }
    if (!polled.ok()) ctx_.logger->warn("poll of {}: {}", repo.name, polled.ToString());
  }
}

int64_t TriggerService::PollsOf(const std::string& repo) const {
  std::lock_guard lock(polls_mu_);
  auto it = polls_.find(repo);
  return it == polls_.end() ? 0 : it->second;
}

Status TriggerService::PollRepo(const RepoRecord& repo) {
  EF_ASSIGN_OR_RETURN(GitCredentials credentials, ResolveCredentials(repo));
  EF_ASSIGN_OR_RETURN(auto mirror,
                      GitMirror::Open(ctx_.mirrors_dir / (repo.name + ".git"), repo.url));
  EF_RETURN_IF_ERROR(mirror->Fetch(credentials));
  EF_ASSIGN_OR_RETURN(auto branches, mirror->Branches());
  EF_ASSIGN_OR_RETURN(auto baseline, ctx_.control->PollTip(repo.name, ""));
  for (const auto& [branch, tip] : branches) {
    const std::string ref = "refs/heads/" + branch;
    if (!BranchOfRef(ref).ok()) continue;
    EF_ASSIGN_OR_RETURN(auto last, ctx_.control->PollTip(repo.name, ref));
    if (last == tip) continue;
    if (baseline) {
      DeliveryRecord delivery{"poll:" + repo.name + ":" + branch + ":" + tip,
                              "poll",
                              repo.name,
                              ref,
                              last.value_or(""),
                              tip,
                              false,
                              "queued",
                              "",
                              "",
                              ctx_.clock->UnixMillis()};
      EF_ASSIGN_OR_RETURN(bool inserted, ctx_.control->InsertDelivery(delivery));
      if (inserted) Process(delivery.id);
    }
    EF_RETURN_IF_ERROR(ctx_.control->SetPollTip(repo.name, ref, tip));
  }
  if (!baseline) EF_RETURN_IF_ERROR(ctx_.control->SetPollTip(repo.name, "", "baseline"));
  return Status::Ok();
}

}  // namespace edgefarm::coordinator
