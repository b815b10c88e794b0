// TriggerService: the queue, the trigger thread and push processing. Webhook verification lives
// in webhook_handler.cc, polling in poller.cc.
//
// Implementation notes:
// - A delivery's state moves queued -> started | skipped | failed exactly once; the detail says
//   why (never quoting secrets; libgit2 errors are redacted by GitMirror).
// - Files are copied into the blob store before the scheduler mutex is taken, so a large model
//   never blocks the scheduler; only RecordBlob/SubmitRun/Flush run under it.
// - The duplicate check and the run's provenance row are both written on this single thread, so
//   a webhook and a poll for the same commit cannot both start a run.
#include "edgefarm/coordinator/trigger_service.h"

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/git2_repo.h"
#include "edgefarm/coordinator/repo_registry.h"
#include "edgefarm/coordinator/run_planner.h"
#include "edgefarm/pipelines/expand.h"
#include "edgefarm/pipelines/pipeline_loader.h"
#include "edgefarm/pipelines/trigger_filter.h"

namespace edgefarm::coordinator {
namespace {

// Who triggered a pushed run: the commit author's email ("git:ada@example.com"), or the whole
// author string when it has no <email>. Tokens named by that email are the same person.
std::string GitActor(const std::string& author) {
  const auto open = author.find('<');
  const auto close = author.find('>', open == std::string::npos ? 0 : open);
  if (open != std::string::npos && close != std::string::npos && close > open + 1) {
    return "git:" + author.substr(open + 1, close - open - 1);
  }
  return "git:" + author;
}

}  // namespace

TriggerService::TriggerService(TriggerContext ctx) : ctx_(std::move(ctx)) {}

TriggerService::~TriggerService() {
  Stop();
}

void TriggerService::Start() {
  {
    std::lock_guard lock(queue_mu_);
    stop_ = false;
  }
  auto queued = ctx_.control->QueuedDeliveries();
  if (queued.ok()) {
    for (const auto& d : *queued) Enqueue(d.id);
  } else {
    ctx_.logger->error("cannot reload queued deliveries: {}", queued.status().ToString());
  }
  thread_ = std::thread([this] { Loop(); });
}

void TriggerService::Stop() {
  {
    std::lock_guard lock(queue_mu_);
    stop_ = true;
  }
  queue_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TriggerService::Enqueue(const std::string& delivery_id) {
  {
    std::lock_guard lock(queue_mu_);
    queue_.push_back(delivery_id);
  }
  queue_cv_.notify_all();
}

void TriggerService::Loop() {
  while (true) {
    std::string next;
    {
      std::unique_lock lock(queue_mu_);
      queue_cv_.wait_for(lock, ctx_.wake_interval, [this] { return stop_ || !queue_.empty(); });
      if (stop_) return;
      if (!queue_.empty()) {
        next = queue_.front();
        queue_.pop_front();
      }
    }
    if (!next.empty()) {
      Process(next);
    } else {
      PollDue();
    }
  }
}

void TriggerService::Process(const std::string& delivery_id) {
  auto found = ctx_.control->FindDelivery(delivery_id);
  if (!found.ok() || !found->has_value()) {
    ctx_.logger->error("queued delivery {} is not in the control store", delivery_id);
    return;
  }
  const DeliveryRecord& delivery = **found;
  if (delivery.state != "queued") return;  // processed before a restart re-queued it
  Outcome outcome = ProcessPush(delivery);
  Status updated =
      ctx_.control->UpdateDelivery(delivery.id, outcome.state, outcome.detail, outcome.run_id);
  if (!updated.ok()) ctx_.logger->error("delivery {}: {}", delivery.id, updated.ToString());
  if (outcome.state == "started") {
    ctx_.logger->info("delivery {}: run {} for {} {} at {}", delivery.id, outcome.run_id,
                      delivery.repo, delivery.ref, delivery.after);
  } else {
    ctx_.logger->info("delivery {}: {}: {}", delivery.id, outcome.state, outcome.detail);
  }
}

TriggerService::Outcome TriggerService::ProcessPush(const DeliveryRecord& delivery) {
  auto fail = [](std::string state, std::string detail) {
    return Outcome{std::move(state), std::move(detail), ""};
  };
  auto repo = ctx_.control->FindRepo(delivery.repo);
  if (!repo.ok()) return fail("failed", repo.status().message());
  if (!repo->has_value()) return fail("failed", "repository is no longer registered");
  auto branch = BranchOfRef(delivery.ref);
  if (!branch.ok()) return fail("skipped", "not a branch push");
  auto credentials = ResolveCredentials(**repo);
  if (!credentials.ok()) return fail("failed", credentials.status().message());
  auto mirror = GitMirror::Open(ctx_.mirrors_dir / ((*repo)->name + ".git"), (*repo)->url);
  if (!mirror.ok()) return fail("failed", mirror.status().message());
  Status fetched = (*mirror)->Fetch(*credentials);
  if (!fetched.ok()) return fail("failed", fetched.message());
  std::string commit = delivery.after;
  if (commit.empty()) {
    auto branches = (*mirror)->Branches();
    if (!branches.ok() || !branches->count(*branch)) return fail("failed", "branch not found");
    commit = branches->at(*branch);
  }
  DeliveryRecord at_commit = delivery;
  at_commit.after = commit;
  const std::string& file = (*repo)->pipeline_file;
  auto yaml = (*mirror)->ReadFile(commit, file, ctx_.max_pipeline_bytes);
  if (!yaml.ok()) return fail("failed", yaml.status().message());
  if (!yaml->has_value()) return fail("skipped", "no " + file + " at commit " + commit);
  Outcome outcome;
  auto run_id = SubmitAtCommit(**repo, at_commit, **mirror, **yaml, &outcome);
  if (!run_id.ok()) return fail("failed", run_id.status().message());
  return outcome;
}

Result<std::string> TriggerService::SubmitAtCommit(const RepoRecord& repo,
                                                   const DeliveryRecord& delivery,
                                                   GitMirror& mirror, const std::string& yaml,
                                                   Outcome* outcome) {
  const std::string branch = BranchOfRef(delivery.ref).value();
  EF_ASSIGN_OR_RETURN(pipelines::Pipeline pipeline,
                      pipelines::LoadPipeline(yaml, repo.pipeline_file));
  bool branch_allowed = repo.branches.empty();
  for (const auto& glob : repo.branches) branch_allowed |= pipelines::GlobMatch(glob, branch);
  EF_ASSIGN_OR_RETURN(auto changed, mirror.ChangedPaths(delivery.before, delivery.after));
  if (!branch_allowed || !pipelines::PushTriggers(pipeline.push, branch, changed)) {
    *outcome = {"skipped", "branch " + branch + " or its changed paths do not match the filters",
                ""};
    return std::string();
  }
  if (!delivery.forced) {
    EF_ASSIGN_OR_RETURN(auto existing,
                        ctx_.control->RunForCommit(repo.name, delivery.after, repo.pipeline_file));
    if (existing) {
      *outcome = {"skipped", "run " + *existing + " already exists for this commit", *existing};
      EF_ASSIGN_OR_RETURN(CommitInfo info, mirror.Commit(delivery.after));
      TellRunStarted(*existing, info);
      return *existing;
    }
  }
  RunRequest request;
  request.pipeline_file = repo.pipeline_file;
  request.pipeline_yaml = yaml;
  std::vector<std::pair<std::string, uint64_t>> blobs;
  for (const auto& path : pipelines::ReferencedFiles(pipeline)) {
    if (!IsSafeRepoPath(path)) return InvalidArgument("the pipeline names an unsafe path");
    EF_ASSIGN_OR_RETURN(auto data,
                        mirror.ReadFile(delivery.after, path, ctx_.blobs->max_blob_bytes()));
    if (!data) return NotFound("the pipeline reads '" + path + "', which is not in the commit");
    const std::string digest = Sha256Hex(*data);
    EF_ASSIGN_OR_RETURN(uint64_t size, ctx_.blobs->Put(digest, *data));
    blobs.emplace_back(digest, size);
    request.files[path] = digest;
  }
  EF_ASSIGN_OR_RETURN(PlannedRun planned, PlanRun(request, *ctx_.blobs, ctx_.native_target));
  planned.repository = repo.name;  // its admission bucket (a refusal fails the delivery)
  EF_ASSIGN_OR_RETURN(CommitInfo info, mirror.Commit(delivery.after));
  std::string run_id;
  {
    std::lock_guard lock(*ctx_.mu);
    for (const auto& [digest, size] : blobs) ctx_.scheduler->RecordBlob(digest, size);
    EF_ASSIGN_OR_RETURN(run_id, ctx_.scheduler->SubmitRun(std::move(planned)));
    EF_RETURN_IF_ERROR(ctx_.scheduler->Flush());
  }
  EF_RETURN_IF_ERROR(ctx_.control->AddTriggeredRun({run_id, repo.name, delivery.ref, delivery.after,
                                                    repo.pipeline_file, info.author, info.message,
                                                    delivery.id, ctx_.clock->UnixMillis()}));
  *outcome = {"started", "run " + run_id, run_id};
  TellRunStarted(run_id, info);
  return run_id;
}

void TriggerService::TellRunStarted(const std::string& run_id, const CommitInfo& commit) {
  if (!ctx_.on_run) return;
  Status told = ctx_.on_run(run_id, GitActor(commit.author));
  if (!told.ok()) ctx_.logger->error("run {}: {}", run_id, told.ToString());
}

}  // namespace edgefarm::coordinator
