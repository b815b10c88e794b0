// Scheduler: turning the tracked changes into commits, and the messages that wait on them.
//
// Implementation notes:
// - Changes are tracked as dirty ids; a cut snapshots the current rows of those ids into one
//   ChangeSet, so a job touched ten times between two cuts is written once.
// - Without a commit queue Flush() commits on the caller's thread (tests, embedding); a failed
//   commit keeps its rows in pending_ for the next Flush and its messages unsent. With one (the
//   coordinator), the queue keeps a failed batch and retries it; the dirty sets are cleared at
//   the cut either way, because the queue holds the rows from then on.
#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

CommitBatch Scheduler::Cut() {
  archive_ = Archive();  // read-back of finished runs lives until here (scheduler_archive.cc)
  DeriveRunStates();
  CommitBatch batch;
  ChangeSet& changes = batch.changes;
  changes = std::move(pending_);
  pending_ = ChangeSet();
  for (const auto& id : new_runs_) changes.runs.push_back(runs_[id]);
  for (const auto& id : new_jobs_) changes.jobs.push_back(jobs_[id]);
  for (const auto& id : dirty_jobs_) {
    if (!new_jobs_.count(id)) changes.job_progress.push_back(ProgressOf(jobs_[id]));
  }
  for (const auto& key : dirty_attempts_) changes.attempts.push_back(attempts_[key]);
  for (const auto& id : dirty_workers_) changes.workers.push_back(workers_[id].record);
  dirty_runs_.clear();
  dirty_jobs_.clear();
  new_runs_.clear();
  new_jobs_.clear();
  dirty_attempts_.clear();
  dirty_workers_.clear();
  batch.released = std::move(staged_);
  staged_.clear();
  return batch;
}

uint64_t Scheduler::CommitAsync() {
  CommitBatch batch = Cut();
  if (batch.empty()) return commits_->submitted();
  return commits_->Submit(std::move(batch));
}

Status Scheduler::Flush() {
  if (commits_ != nullptr) {
    const uint64_t seq = CommitAsync();
    Status s = commits_->Wait(seq, std::chrono::minutes(1));
    if (s.ok()) ++flushes_;
    return s;
  }
  CommitBatch batch = Cut();
  if (batch.empty()) {
    ++flushes_;
    return Status::Ok();
  }
  Status s = store_->Commit(batch.changes);
  if (!s.ok()) {
    // Keep everything for the next Flush; the staged acknowledgements stay unsent until then.
    logger_->error("cannot commit coordinator state: {}", s.ToString());
    pending_ = std::move(batch.changes);
    staged_ = std::move(batch.released);
    return s;
  }
  for (auto& out : batch.released) outbox_.push_back(std::move(out));
  ++flushes_;
  return Status::Ok();
}

std::vector<Outbound> Scheduler::TakeOutbox() {
  std::vector<Outbound> out;
  out.swap(outbox_);
  return out;
}

void Scheduler::Send(const std::string& identity, v1::Envelope envelope) {
  staged_.push_back({identity, std::move(envelope)});
}

}  // namespace edgefarm::coordinator
