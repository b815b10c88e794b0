// Git triggers: webhook deliveries and polls become runs at the pushed commit.
//
// A webhook handler (HTTP thread) verifies the delivery, records it durably in the ControlStore
// (its id de-duplicates redeliveries) and queues it; it never touches git, so it answers in
// milliseconds. One trigger thread drains the queue: it fetches the commit into
// DATA/mirrors/<repo>.git, reads the pipeline file from that commit's tree, applies the
// repository's branch globs and the pipeline's on.push branches/paths (changed paths from the
// diff against the push's `before`, or the first parent), copies the files the pipeline names
// into the blob store, and submits the run through PlanRun + Scheduler::SubmitRun - the path
// POST /api/v1/runs takes. The same repo + commit + pipeline file never starts a second run
// unless the trigger is forced. The same thread polls repositories with a poll interval, timed
// by the injected Clock (tests advance a ManualClock; the thread re-checks every wake_interval).
//
// Deliveries accepted but not yet processed when the coordinator stops are picked up on the next
// Start(). Thread-safety: HandleWebhook/Enqueue/Trigger are safe from any thread; Start/Stop from
// the owner. Secrets never reach a log line or a delivery's recorded detail.
#pragma once

#include <spdlog/logger.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/control_store.h"
#include "edgefarm/coordinator/scheduler.h"
#include "edgefarm/coordinator/webhook.h"

namespace edgefarm::coordinator {

struct CommitInfo;  // git2_repo.h

struct TriggerContext {
  std::mutex* mu = nullptr;  // guards *scheduler
  Scheduler* scheduler = nullptr;
  const BlobStore* blobs = nullptr;
  ControlStore* control = nullptr;
  const Clock* clock = nullptr;
  std::filesystem::path mirrors_dir;  // DATA/mirrors
  std::string native_target;
  uint64_t max_pipeline_bytes = 1 << 20;
  std::chrono::milliseconds wake_interval{100};
  // Told about every run a push started, once it is durable, with who triggered it
  // ("git:<author email>" of the pushed commit), and again for the existing run a redelivery
  // finds (a crash between the two steps must not leave the run undriven). The coordinator
  // hands it to PromotionService::NoteSubmitter. Empty: nobody is told.
  std::function<Status(const std::string& run_id, const std::string& triggered_by)> on_run;
  std::shared_ptr<spdlog::logger> logger;
};

// What the HTTP layer sends back for a webhook.
struct WebhookAnswer {
  int status = 200;
  nlohmann::json body;
};

class TriggerService {
 public:
  explicit TriggerService(TriggerContext ctx);
  ~TriggerService();
  TriggerService(const TriggerService&) = delete;
  TriggerService& operator=(const TriggerService&) = delete;

  void Start();
  void Stop();

  // Verifies, records and queues one delivery. repo_param is the ?repo= query value ("" to
  // match the payload's repository against registered URLs and names); remote is the peer
  // address for logs.
  WebhookAnswer HandleWebhook(Provider provider, const HeaderFn& header, const std::string& body,
                              const std::string& repo_param, const std::string& remote);

  // A manual trigger (API): queues a push of ref at commit (empty: the branch tip after a
  // fetch). Returns the delivery id.
  Result<std::string> Trigger(const std::string& repo, const std::string& ref,
                              const std::string& commit, bool force);

  // Polls of repo performed so far (each fetches and compares branch tips), for observation.
  int64_t PollsOf(const std::string& repo) const;

 private:
  void Enqueue(const std::string& delivery_id);
  void Loop();
  void Process(const std::string& delivery_id);
  // Outcome of one push: state (started/skipped/failed), detail, run id.
  struct Outcome {
    std::string state;
    std::string detail;
    std::string run_id;
  };
  Outcome ProcessPush(const DeliveryRecord& delivery);
  Result<std::string> SubmitAtCommit(const RepoRecord& repo, const DeliveryRecord& delivery,
                                     class GitMirror& mirror, const std::string& yaml,
                                     Outcome* outcome);
  void TellRunStarted(const std::string& run_id, const CommitInfo& commit);
  void PollDue();
  Status PollRepo(const RepoRecord& repo);

  TriggerContext ctx_;
  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<std::string> queue_;
  bool stop_ = false;
  std::map<std::string, std::chrono::steady_clock::time_point> next_poll_;  // trigger thread only
  mutable std::mutex polls_mu_;
  std::map<std::string, int64_t> polls_;
  std::thread thread_;
};

}  // namespace edgefarm::coordinator
