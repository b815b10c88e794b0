// CommitQueue: ordered group commit on a writer thread. See commit_queue.h for the contract.
//
// Implementation notes:
// - The writer takes every queued batch at once into carry_ and commits it as one transaction, so
//   the fsync count follows the writer's speed, not the loop's iteration rate.
// - Batches are cut from dirty sets: a later batch may UPDATE a row an earlier one INSERTs. So a
//   failed batch is never skipped; later batches are merged behind it (ChangeSet::Merge keeps
//   their order) and the merged whole is retried, its messages held until it commits.
// - on_released runs without the queue's lock, so it may take other locks (the coordinator's
//   wake is a write to an eventfd). It runs after every successful commit, once the batches
//   queued meanwhile have been taken, so an owner that cuts only while nothing waits (waiting())
//   is woken when it may cut again.
#include "edgefarm/coordinator/commit_queue.h"

#include <pthread.h>

#include <utility>

namespace edgefarm::coordinator {

CommitQueue::CommitQueue(Store* store, std::function<void()> on_released,
                         std::shared_ptr<spdlog::logger> logger,
                         std::chrono::milliseconds retry_interval)
    : store_(store),
      on_released_(std::move(on_released)),
      logger_(std::move(logger)),
      retry_interval_(retry_interval) {
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "ef-writer");  // for top -H, perf and gdb
    Run();
  });
}

CommitQueue::~CommitQueue() {
  Stop();
}

uint64_t CommitQueue::Submit(CommitBatch batch) {
  std::lock_guard lock(mu_);
  queue_.push_back(std::move(batch));
  ++submitted_;
  work_.notify_one();
  return submitted_;
}

Status CommitQueue::Wait(uint64_t seq, std::chrono::milliseconds timeout, OnFailure on_failure) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(mu_);
  while (true) {
    if (committed_ >= seq) return Status::Ok();
    if (on_failure == OnFailure::kReturn && failed_through_ >= seq && !last_error_.ok()) {
      return last_error_;
    }
    if (stopped_) {
      return Unavailable("the coordinator stopped before batch " + std::to_string(seq) +
                         " was committed");
    }
    if (done_.wait_until(lock, deadline) == std::cv_status::timeout && committed_ < seq) {
      return DeadlineExceeded("batch " + std::to_string(seq) + " is not committed after " +
                              std::to_string(timeout.count()) + " ms" +
                              (last_error_.ok() ? "" : ": " + last_error_.message()));
    }
  }
}

std::vector<Outbound> CommitQueue::TakeReleased() {
  std::vector<Outbound> out;
  std::lock_guard lock(mu_);
  out.swap(released_);
  return out;
}

uint64_t CommitQueue::submitted() const {
  std::lock_guard lock(mu_);
  return submitted_;
}

size_t CommitQueue::waiting() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

uint64_t CommitQueue::committed() const {
  std::lock_guard lock(mu_);
  return committed_;
}

int64_t CommitQueue::failed_commits() const {
  std::lock_guard lock(mu_);
  return failed_commits_;
}

void CommitQueue::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !writer_.joinable()) return;
    stopping_ = true;
    work_.notify_one();
  }
  if (writer_.joinable()) writer_.join();
}

bool CommitQueue::TakeQueued(std::unique_lock<std::mutex>&) {
  if (queue_.empty()) return false;
  while (!queue_.empty()) {
    CommitBatch& next = queue_.front();
    if (carry_through_ == committed_) {  // nothing carried: take the batch as it is
      carry_ = std::move(next);
    } else {
      carry_.changes.Merge(std::move(next.changes));
      for (auto& out : next.released) carry_.released.push_back(std::move(out));
    }
    queue_.pop_front();
    ++carry_through_;
  }
  return true;
}

void CommitQueue::Finish(Status status) {
  if (status.ok()) {
    committed_ = carry_through_;
    for (auto& out : carry_.released) released_.push_back(std::move(out));
    carry_ = CommitBatch();
    carry_failed_ = false;
    failed_through_ = 0;
    last_error_ = Status::Ok();
  } else {
    ++failed_commits_;
    carry_failed_ = true;
    failed_through_ = carry_through_;
    last_error_ = status;
    logger_->error("cannot commit coordinator state (batches {}..{}; kept and retried): {}",
                   committed_ + 1, carry_through_, status.ToString());
  }
  done_.notify_all();
}

void CommitQueue::Run() {
  std::unique_lock lock(mu_);
  bool have_work = false;  // carry_ holds batches taken right after the last commit
  while (true) {
    if (!have_work) {
      auto ready = [&] { return !queue_.empty() || stopping_; };
      if (carry_failed_) {
        work_.wait_for(lock, retry_interval_, ready);  // retry on time, or sooner with more work
      } else {
        work_.wait(lock, ready);
      }
      if (!TakeQueued(lock) && !carry_failed_) break;  // stopping with nothing queued
    }
    lock.unlock();
    Status status = store_->Commit(carry_.changes);
    lock.lock();
    Finish(status);
    // Take what queued up meanwhile before waking the owner: it sees an empty queue and cuts its
    // next batch while this one commits.
    have_work = status.ok() && TakeQueued(lock);
    if (status.ok() && on_released_) {
      lock.unlock();
      on_released_();
      lock.lock();
    }
    if (stopping_ && !status.ok()) break;  // one attempt while stopping
    if (stopping_ && !have_work && queue_.empty()) break;
  }
  if (carry_failed_) {
    logger_->error("stopping with batches {}..{} not committed (never acknowledged)",
                   committed_ + 1, carry_through_);
  }
  stopped_ = true;
  done_.notify_all();
}

}  // namespace edgefarm::coordinator
