// The coordinator's core: runs, jobs, attempts and workers, the worker session protocol, ready
// queues, leases and retries. A deterministic state machine with no threads and no sockets.
//
// Inputs are decoded Envelopes from workers (HandleMessage), run submissions (SubmitRun) and the
// passage of time (Tick, reading the injected Clock). Every change is recorded in memory and in a
// pending ChangeSet; Flush() commits it to the Store in one transaction and only then releases the
// messages that acknowledge it (Welcome, Assign, ResultAck, ...) to the outbox. So nothing is
// acknowledged, and no Assign sent, before its state is durable.
//
// Thread-safety: none. The owner serialises all calls (the coordinator holds a mutex and drives
// it from one loop thread). Failure: malformed or stale worker messages are answered with
// ErrorReply / ResultAck{accepted=false} and counted, never asserted on.
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/commit_queue.h"
#include "edgefarm/coordinator/log_store.h"
#include "edgefarm/coordinator/records.h"
#include "edgefarm/coordinator/store.h"
#include "edgefarm/v1/farm.pb.h"

namespace edgefarm::coordinator {

// Why a worker that sent Goodbye is no longer live.
inline constexpr char kGoodbyeReason[] = "said goodbye";

struct SchedulerOptions {
  std::chrono::milliseconds heartbeat_interval{2000};
  int missed_heartbeats = 3;  // a worker silent for this many intervals is lost
  // About ten renewal periods: a lease survives a few lost heartbeats, and worker liveness (above)
  // is decided separately and sooner.
  std::chrono::milliseconds lease_ttl{20000};
  // An Assign not answered by Accept within this window is reclaimed (infrastructure failure).
  std::chrono::milliseconds accept_window{5000};
  // The coordinator's own backstop for job timeouts: an attempt still running this long after its
  // timeout (the worker should have killed it by then) is cancelled and ends as timed_out.
  std::chrono::milliseconds timeout_grace{30000};
  // A job that no registered worker can run fails after this long (0: waits indefinitely).
  std::chrono::milliseconds unschedulable_deadline{std::chrono::minutes(10)};
  // After a restart, attempts that were running keep their lease (and their workers count as
  // registered) this long, so reconnecting workers can claim them.
  std::chrono::milliseconds restart_grace{30000};
  // Most jobs waiting in one resource group's queue (behind the one that holds the group); a run
  // that would exceed it is refused at submission (ResourceExhausted).
  size_t resource_group_queue = 100;
  // Admission: most unfinished jobs per repository (RunRecord::repository; direct submissions
  // share the "" bucket). A run that would exceed it is refused whole (ResourceExhausted) and
  // counted in Overload(). 0: no limit.
  int64_t max_queued_per_repo = 10000;
  std::string blob_url;             // sent in Welcome
  std::string worker_token_sha256;  // Register.enrol_token must hash to this
};

// A run ready to be stored: what the planner produced from the pipeline. Job ids, states and
// timestamps are filled in by SubmitRun.
struct PlannedRun {
  std::string name;
  std::string pipeline_file;
  std::string pipeline_yaml;
  std::map<std::string, std::string> files;
  int priority = 50;       // pipeline `priority`
  int max_running = 0;     // pipeline `concurrency`; 0: no cap
  std::string repository;  // the repository a trigger runs it for; "" for direct submissions
  std::vector<JobRecord> jobs;
};

// What the scheduler has queued and what it refused, for GET /api/v1/scheduler.
struct SchedulerLoad {
  int64_t queued = 0;         // queued jobs (including those held by a resource group)
  int64_t unschedulable = 0;  // no registered worker offers their tags
  int64_t active = 0;         // assigned or running attempts
  int64_t max_queued_per_repo = 0;
  struct Repository {
    int64_t unfinished = 0;    // jobs not in a terminal state
    int64_t refused_runs = 0;  // since the coordinator started
  };
  std::map<std::string, Repository> repositories;  // "" = direct submissions
  std::map<std::string, int64_t> resource_groups;  // unfinished jobs per group
};

class Scheduler {
 public:
  Scheduler(SchedulerOptions options, Store* store, const BlobStore* blobs, LogStore* logs,
            const Clock* clock, std::shared_ptr<spdlog::logger> logger);

  // The HTTP base URL sent in Welcome (known only once the HTTP listener is bound).
  void SetBlobUrl(std::string url) { options_.blob_url = std::move(url); }

  // Rebuilds the in-memory state from a store snapshot (call once, before anything else).
  void Restore(const StoreSnapshot& snapshot);

  // Stores a new run with its jobs (committed before it returns). InvalidArgument for a run whose
  // needs name unknown jobs; ResourceExhausted for one whose jobs would overfill a resource
  // group's queue (nothing of it is stored); the Store's error if the commit fails.
  Result<std::string> SubmitRun(PlannedRun planned);

  // Like SubmitRun, but leaves the commit to the next Flush (the coordinator loop's group commit):
  // the run is durable once flushes() has advanced past its value at this call, or with a commit
  // queue once the queue has committed the batch after its submitted() at this call. Not durable,
  // and not to be acknowledged, before that.
  Result<std::string> StageRun(PlannedRun planned);

  // Successful Flush calls so far (without a commit queue). A change staged when this read n is
  // durable once it reads > n.
  uint64_t flushes() const { return flushes_; }

  // Cancels every unfinished job of the run: running attempts end as cancelled and their workers
  // get Cancel; the rest become cancelled. Committed before it returns. NotFound for an unknown
  // run.
  Status CancelRun(const std::string& run_id);

  // Cancels one unfinished job like CancelRun does. NotFound for an unknown job; OK (nothing to
  // do) for a finished one.
  Status CancelJob(const std::string& job_id);

  // Marks a live worker draining and sends it Drain: it keeps its running jobs and gets no new
  // ones. Committed before it returns. NotFound for an unknown worker, FailedPrecondition for a
  // lost one.
  Status DrainWorker(const std::string& worker_id);

  // One message from the worker with this ROUTER identity.
  void HandleMessage(const std::string& identity, const v1::Envelope& envelope);

  // Detects lost workers and expired leases, then assigns queued jobs to free slots.
  void Tick();

  // Commits pending changes in one transaction and releases the messages waiting on them. With a
  // commit queue (SetCommitQueue) the changes are queued behind the batches already queued and
  // Flush waits until they are durable (or a commit that included them failed: its error; they
  // stay queued and are retried); their messages then leave through the queue, not TakeOutbox.
  Status Flush();

  // Messages ready to send (their state is durable). Without a commit queue only.
  std::vector<Outbound> TakeOutbox();

  // Commits through `queue` (the coordinator's writer thread on its own connection) instead of
  // the Store; the Store is then only read. nullptr: commit to the Store again (every queued
  // batch must be committed first). The queue must outlive its use here.
  void SetCommitQueue(CommitQueue* queue) { commits_ = queue; }

  // With a commit queue: cuts the pending changes and the messages they release into one batch
  // and queues it without waiting (the coordinator loop, once per iteration). Returns the
  // sequence number after which everything changed so far is durable (the last queued batch's).
  uint64_t CommitAsync();

  // Records a stored blob (the HTTP upload path) in the pending changes.
  void RecordBlob(const std::string& digest, uint64_t size);

  // Read access for the API. Pointers stay valid until the next mutating call (Flush included).
  // Runs that finished before this process started are not in memory: these read them from the
  // store on demand (a store error is logged and reads as not found).
  const RunRecord* FindRun(const std::string& id) const;
  const JobRecord* FindJob(const std::string& id) const;
  std::vector<const RunRecord*> Runs() const;
  std::vector<const JobRecord*> JobsOf(const std::string& run_id) const;
  std::vector<const AttemptRecord*> AttemptsOf(const std::string& job_id) const;
  struct JobCount {
    int total = 0, done = 0;  // done: terminal jobs
  };
  JobCount JobCounts(const std::string& run_id) const;
  std::vector<WorkerRecord> Workers() const;  // with live running counts in RunningCount()
  size_t RunningCount(const std::string& worker_id) const;

  SchedulerLoad Load() const;

  // Protocol errors answered so far (bad shapes are counted by the transport loop instead).
  int64_t protocol_errors() const { return protocol_errors_; }

 private:
  struct WorkerSession {
    WorkerRecord record;
    std::chrono::steady_clock::time_point last_seen;
    std::chrono::steady_clock::time_point lost_after;
    std::set<std::string> running;  // job ids of its active attempts
    // False for workers restored from the store until they speak: they count as registered
    // during the restart grace but get no new Assign (it could not be delivered).
    bool connected = true;
  };
  struct Lease {
    std::chrono::steady_clock::time_point deadline;   // renewed by heartbeats
    std::chrono::steady_clock::time_point accept_by;  // only while the attempt is assigned
    std::chrono::steady_clock::time_point run_until;  // timeout + grace; max() for none
    // The plain token this process issued (memory only; the store keeps its sha256), so the
    // messages of a live attempt are checked without hashing. Empty for restored attempts.
    std::string token;
    bool restored = false;  // restored from the store after a restart
  };

  // Session (worker_session.cc).
  void OnRegister(const std::string& identity, const v1::Register& msg);
  void OnHeartbeat(WorkerSession& worker, const v1::Heartbeat& msg);
  void OnAccept(WorkerSession& worker, const v1::Accept& msg);
  void OnReject(WorkerSession& worker, const v1::Reject& msg);
  void OnLogChunk(WorkerSession& worker, const v1::LogChunk& msg);
  void OnResult(WorkerSession& worker, const v1::JobResult& msg);
  void ApplyResult(JobRecord& job, AttemptRecord& attempt, const v1::JobResult& msg);
  void ReconcileRunning(WorkerSession& worker, const v1::Register& msg, v1::Welcome& welcome);
  // The attempt a message names, if its lease token is current; else nullptr and why.
  AttemptRecord* ValidLease(const WorkerSession& worker, const std::string& job_id,
                            uint32_t attempt, const std::string& lease_token, std::string* why);
  void SendError(const std::string& identity, const std::string& code, const std::string& message);
  void Send(const std::string& identity, v1::Envelope envelope);

  // Scheduling (scheduler.cc).
  void SetJobState(JobRecord& job, JobState state, const std::string& reason = "");
  void Enqueue(JobRecord& job);
  void MakeReady(const JobRecord& job);  // into its ready queue (a queued job)
  // Needs and run progress (scheduler_needs.cc).
  void IndexNeeds(const std::string& run_id);
  void PromoteWaiting(const std::string& run_id);  // every waiting job of the run
  void PromoteDependents(const JobRecord& job);    // only the jobs that need `job`
  void EvaluateWaiting(JobRecord& job);
  void CountState(const JobRecord& job, std::optional<JobState> before);
  void ReevaluateUnschedulable();
  void Schedule();
  // Free matching slots of one tag class during a pass: a max-heap by free slots (then worker
  // id), built once per class; entries are re-checked when popped, because another class may
  // have used the worker meanwhile.
  struct WorkerSlot {
    size_t free;
    size_t rank;  // the worker's position in id order: ties go to the smaller id
    WorkerSession* worker;
  };
  std::vector<WorkerSlot> MatchingWorkers(const Tags& required);
  WorkerSession* PickWorker(std::vector<WorkerSlot>& heap);
  bool Before(const RunRecord& a, const RunRecord& b) const;
  void AssignTo(JobRecord& job, WorkerSession& worker);
  void EndAttempt(JobRecord& job, AttemptRecord& attempt, const std::string& outcome,
                  const std::string& reason);
  void InfraFailure(JobRecord& job, AttemptRecord& attempt, const std::string& reason);
  void JobFailure(JobRecord& job, AttemptRecord& attempt, const std::string& outcome,
                  const std::string& reason);
  void MarkWorkerLost(WorkerSession& worker, const std::string& reason);
  // Resource groups (scheduler_groups.cc).
  Status CheckGroupQueues(const std::vector<JobRecord>& jobs) const;
  void JoinGroup(const JobRecord& job);
  bool HoldsGroup(const JobRecord& job) const;
  void LeaveGroup(const JobRecord& job);
  void RestoreGroups(const StoreSnapshot& snapshot);
  // Leases, accept windows, timeouts and unschedulable deadlines (scheduler_leases.cc).
  void ExpireLeases();
  void FailLongUnschedulable();
  void StartLease(const AttemptRecord& attempt, const JobRecord& job, bool restored,
                  std::string token = "");
  void CancelAttempt(JobRecord& job, const std::string& outcome, const std::string& reason);
  void DeriveRunStates();
  std::vector<std::string> MissingForBestWorker(const Tags& required) const;
  bool IsRegistered(const WorkerSession& worker) const;
  void AddEvent(const std::string& kind, const std::string& subject, std::string detail);
  Result<std::string> NewRunId();
  AttemptRecord* CurrentAttempt(const JobRecord& job);

  // Finished runs read back from the store for the API; cleared by Flush, so it holds only what
  // the requests between two loop iterations asked for.
  struct Archive {
    std::unordered_map<std::string, RunRecord> runs;
    std::unordered_map<std::string, std::vector<JobRecord>> jobs;  // by run; loaded whole
    std::unordered_map<std::string, const JobRecord*> job_by_id;
    std::map<std::pair<std::string, uint32_t>, AttemptRecord> attempts;
    std::unordered_map<std::string, int> job_counts;  // listed runs whose jobs are not loaded
  };
  const RunRecord* ArchivedRun(const std::string& run_id) const;  // with its jobs and attempts

  SchedulerOptions options_;
  Store* store_;
  const BlobStore* blobs_;
  LogStore* logs_;
  const Clock* clock_;
  std::shared_ptr<spdlog::logger> logger_;

  std::map<std::string, RunRecord> runs_;
  std::unordered_map<std::string, JobRecord> jobs_;           // node-based: pointers stay valid
  std::map<std::string, std::vector<std::string>> run_jobs_;  // run id -> job ids in seq order
  std::map<std::pair<std::string, uint32_t>, AttemptRecord> attempts_;
  struct AttemptKeyHash {
    size_t operator()(const std::pair<std::string, uint32_t>& key) const {
      return std::hash<std::string>()(key.first) * 31 + key.second;
    }
  };
  // Active attempts only. Hashed: it is looked up for every worker message.
  std::unordered_map<std::pair<std::string, uint32_t>, Lease, AttemptKeyHash> leases_;
  std::map<std::string, WorkerSession> workers_;
  // Ready queues keyed by tag class (the canonical form of required_tags), then by run, FIFO
  // within a run. Across runs the scheduler picks by priority, then fewest running.
  std::map<std::string, std::map<std::string, std::deque<std::string>>> ready_;
  std::unordered_map<std::string, int> running_by_run_;  // assigned or running attempts per run
  // Job id -> ids of the jobs it needs / of the jobs that need it (same run).
  std::unordered_map<std::string, std::vector<std::string>> need_ids_, dependent_ids_;
  // Per run: job counts kept up to date by SetJobState, so a run's state is derived in O(1).
  struct RunProgress {
    int jobs = 0, terminal = 0, failed = 0, cancelled = 0;
    bool started = false;
  };
  std::unordered_map<std::string, RunProgress> progress_;
  // Resource group -> its unfinished jobs in submission order; the front one holds the group and
  // is the only one that may be in a ready queue (the others are queued but held here).
  std::unordered_map<std::string, std::deque<std::string>> groups_;
  // Admission (scheduler_groups.cc): unfinished jobs and refused runs per repository.
  std::map<std::string, SchedulerLoad::Repository> admission_;
  Status Admit(const PlannedRun& planned);
  // Unschedulable jobs and since when (steady clock): re-evaluated when a worker registers, failed
  // after options_.unschedulable_deadline. Only these are visited, never every job.
  std::map<std::string, std::chrono::steady_clock::time_point> unschedulable_;

  // Dirty rows. New runs and jobs are written whole; other dirty jobs only their progress columns,
  // and other dirty runs only when their derived state changes.
  std::set<std::string> dirty_runs_, dirty_workers_, new_runs_;
  std::unordered_set<std::string> dirty_jobs_, new_jobs_;  // many per tick: hashed
  std::unordered_set<std::pair<std::string, uint32_t>, AttemptKeyHash> dirty_attempts_;
  ChangeSet pending_;             // events and blobs not yet committed
  std::vector<Outbound> staged_;  // waiting for the next successful Flush
  std::vector<Outbound> outbox_;  // ready to send
  int64_t protocol_errors_ = 0;
  uint64_t flushes_ = 0;
  uint32_t run_id_seq_;             // the low digits of run ids; starts at random
  CommitQueue* commits_ = nullptr;  // not owned; nullptr: Flush commits to store_
  CommitBatch Cut();                // pending changes and staged messages as one batch
  // No lease can be due before this (steady clock); ExpireLeases skips its scan until then.
  std::chrono::steady_clock::time_point next_lease_check_ =
      std::chrono::steady_clock::time_point::min();
  mutable Archive archive_;
};

}  // namespace edgefarm::coordinator
