// CommitQueue: the coordinator's writer thread. The loop thread cuts each iteration's changes into
// a batch (the rows to write plus the messages that acknowledge them) and queues it; the writer
// commits batches strictly in queue order on its own Store (its own sqlite connection) and only
// then releases their messages, which the loop sends (ZeroMQ sockets are single-threaded). So the
// loop builds batch K+1 while batch K is being committed, and nothing is acknowledged before the
// state it acknowledges is durable.
//
// Batches that are queued while a commit runs are committed together in the next transaction
// (group commit). A failed commit is not acknowledged: its batch stays at the front, later batches
// are merged behind it (never committed before it, since they may update rows it inserts) and the
// whole is retried after retry_interval or when another batch arrives.
//
// Thread-safety: Submit, Wait, TakeReleased and the accessors may be called from any thread. The
// Store is used only by the writer thread while the queue runs. Stop() is called once by the
// owner; a batch submitted after Stop() is never committed (Wait answers Unavailable).
#pragma once

#include <spdlog/logger.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/coordinator/store.h"
#include "edgefarm/v1/farm.pb.h"

namespace edgefarm::coordinator {

struct Outbound {
  std::string identity;
  v1::Envelope envelope;
};

// The changes of one scheduler cut and the messages that may leave once they are durable.
struct CommitBatch {
  ChangeSet changes;
  std::vector<Outbound> released;

  bool empty() const { return changes.empty() && released.empty(); }
};

class CommitQueue {
 public:
  // store must outlive the queue. on_released runs on the writer thread after each successful
  // commit, once the batches queued meanwhile have been taken for the next one (the coordinator
  // wakes its loop there, to send the released messages and cut again); it must not block.
  CommitQueue(Store* store, std::function<void()> on_released,
              std::shared_ptr<spdlog::logger> logger,
              std::chrono::milliseconds retry_interval = std::chrono::milliseconds(20));
  ~CommitQueue();  // Stop()
  CommitQueue(const CommitQueue&) = delete;
  CommitQueue& operator=(const CommitQueue&) = delete;

  // Queues a batch behind every batch queued before it; returns its sequence number (1, 2, ...).
  uint64_t Submit(CommitBatch batch);

  enum class OnFailure { kReturn, kKeepWaiting };
  // Blocks until batch `seq` (and so every batch before it) is committed: Ok. DeadlineExceeded
  // after timeout; Unavailable once the queue stopped without committing it. With kReturn, a
  // failed commit that included the batch is answered at once with its error (the batch stays
  // queued and is retried); with kKeepWaiting only success, the timeout or Stop() end the wait.
  Status Wait(uint64_t seq, std::chrono::milliseconds timeout,
              OnFailure on_failure = OnFailure::kReturn);

  // Messages of committed batches, in commit order; the caller sends them.
  std::vector<Outbound> TakeReleased();

  uint64_t submitted() const;  // the sequence number of the last queued batch (0: none)
  size_t waiting() const;      // batches queued and not yet taken by the writer
  uint64_t committed() const;  // every batch up to this one is durable
  int64_t failed_commits() const;

  // Commits what is queued (one attempt), then ends the writer thread. Idempotent.
  void Stop();

 private:
  void Run();
  // Takes every queued batch into carry_ (behind a batch that failed before); false if none.
  bool TakeQueued(std::unique_lock<std::mutex>& lock);
  void Finish(Status committed);

  Store* store_;
  std::function<void()> on_released_;
  std::shared_ptr<spdlog::logger> logger_;
  std::chrono::milliseconds retry_interval_;

  mutable std::mutex mu_;
  std::condition_variable work_;  // the writer waits for batches
  std::condition_variable done_;  // Wait() callers wait for commits
  std::deque<CommitBatch> queue_;
  uint64_t submitted_ = 0;
  uint64_t committed_ = 0;
  uint64_t failed_through_ = 0;  // the last batch of the last failed attempt (0: none pending)
  Status last_error_;
  int64_t failed_commits_ = 0;
  bool stopping_ = false;
  bool stopped_ = false;
  std::vector<Outbound> released_;

  // Writer thread only: the batches being committed (merged), through carry_through_.
  CommitBatch carry_;
  uint64_t carry_through_ = 0;
  bool carry_failed_ = false;
  std::thread writer_;
};

}  // namespace edgefarm::coordinator
