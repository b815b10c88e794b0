// The worker's brain between the session and the executor: accepts or rejects assignments
// against its free slots, runs each accepted attempt on its own thread through JobExecutor,
// forwards log chunks, keeps results (and, up to 32 MiB per attempt, log chunks) until the
// coordinator acknowledges the result, re-sending them after every Welcome, and stops jobs on
// Cancel, revoked leases or unknown_jobs.
//
// Deadlines: an Assign whose deadline_unix_ms (> 0, for a job with a timeout: a job with
// timeout_seconds 0 has none) has passed on the agent's clock is accepted
// but not started, and a running job is stopped when its deadline passes (SIGTERM to its process
// group, the executor's kill grace, SIGKILL); either way the result is TIMED_OUT. A watcher
// thread reads the clock every `deadline_tick`, so a ManualClock drives it in tests.
//
// Drain: after the coordinator's Drain (or Shutdown) every Assign is rejected; drained() says when
// the last job has finished and its result was acknowledged.
//
// Thread-safety: every public method may be called from any thread; the SessionHandler methods
// are called on the session thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "edgefarm/common/clock.h"
#include "edgefarm/worker/job_executor.h"
#include "edgefarm/worker/zmq_session.h"

namespace spdlog {
class logger;
}

namespace edgefarm::worker {

struct AgentOptions {
  uint32_t slots = 1;
  std::string worker_token;      // for blob transfers; never logged
  const Clock* clock = nullptr;  // for job deadlines; nullptr: SystemClock. Must outlive the agent.
  std::chrono::milliseconds deadline_tick{50};  // how often the deadline watcher reads the clock
};

class WorkerAgent final : public SessionHandler {
 public:
  // executor must outlive the agent.
  WorkerAgent(AgentOptions options, JobExecutor& executor, std::shared_ptr<spdlog::logger> logger);
  ~WorkerAgent() override;  // Shutdown()

  // Where outgoing messages go; set once before the session starts.
  void AttachSession(ZmqSession* session) { session_ = session; }

  void OnMessage(const v1::Envelope& message) override;
  std::vector<v1::RunningJob> RunningJobs() override;
  uint32_t FreeSlots() override;

  // Takes no more jobs, cancels the running ones and waits for their threads.
  void Shutdown();
  // Waits until every result sent so far was acknowledged, at most `limit`; returns whether all
  // were (a worker that stops hands its jobs back only once the coordinator has its results).
  bool WaitForAcknowledgements(std::chrono::milliseconds limit);
  // Draining (told by the coordinator, or shutting down), no job left and no result unacknowledged.
  bool drained() const;

  size_t running_jobs() const;
  size_t unacknowledged_results() const;

 private:
  // Log chunks of an attempt kept until its result is acknowledged, to re-send after a reconnect.
  struct RetainedLog {
    std::vector<v1::LogChunk> chunks;
    size_t bytes = 0;
    bool overflowed = false;
  };
  static constexpr size_t kMaxRetainedLogBytes = 32 * 1024 * 1024;

  struct Job {
    v1::Assign assign;
    CancelFlag cancel;
    std::thread thread;
    bool finished = false;
    bool deadline_passed = false;  // stopped (or never started) because of Assign.deadline_unix_ms
  };

  void OnAssign(const v1::Assign& assign);
  void CancelJob(const std::string& job_id, const std::string& why);
  void RunJob(Job* job);
  void Send(v1::Envelope message);
  void ReapFinishedLocked();
  void ResendLocked();
  void WatchDeadlines();
  void CheckDeadlinesLocked();
  void FinishResultLocked(const Job& job, v1::JobResult& result) const;
  static std::string Key(const std::string& job_id, uint32_t attempt);

  const AgentOptions options_;
  JobExecutor& executor_;
  std::shared_ptr<spdlog::logger> logger_;
  ZmqSession* session_ = nullptr;
  mutable std::mutex mu_;
  std::string blob_url_;                              // guarded by mu_
  bool draining_ = false;                             // guarded by mu_
  bool shutting_down_ = false;                        // guarded by mu_
  std::map<std::string, std::unique_ptr<Job>> jobs_;  // guarded by mu_; key job_id#attempt
  std::map<std::string, v1::JobResult> unacked_;      // guarded by mu_
  std::map<std::string, RetainedLog> retained_logs_;  // guarded by mu_
  std::condition_variable changed_;  // a result acknowledged, or the watcher told to stop
  bool stop_watcher_ = false;        // guarded by mu_
  std::thread watcher_;              // last member: started once everything above exists
};

}  // namespace edgefarm::worker
