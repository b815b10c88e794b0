// Scheduler: the passage of time and operator actions. Worker liveness, lease expiry, accept
// windows, the coordinator's timeout backstop, unschedulable deadlines, cancel and drain.
//
// Implementation notes:
// - Worker liveness and job ownership are separate clocks. A worker is lost after
//   missed_heartbeats silent intervals and all its attempts end then; a lease (about ten
//   heartbeat periods) can also expire on its own, e.g. when a worker keeps heartbeating but
//   stops listing a job.
// - Times are steady-clock instants held in memory only. After a restart every active attempt
//   gets the restart grace for its lease and its accept window; its timeout backstop is rebuilt
//   from the stored wall-clock start.
// - Ending an attempt because of the coordinator (cancel, timeout backstop) sends Cancel to the
//   worker in the same tick; a result it sends later carries a lease that is no longer current
//   and is refused.
#include <algorithm>
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

using nlohmann::json;
using Steady = std::chrono::steady_clock;

void Scheduler::StartLease(const AttemptRecord& attempt, const JobRecord& job, bool restored,
                           std::string token) {
  const auto now = clock_->SteadyNow();
  Lease& lease = leases_[{attempt.job_id, attempt.attempt}];
  lease.token = std::move(token);
  lease.restored = restored;
  const auto first = restored ? options_.restart_grace : options_.lease_ttl;
  lease.deadline = now + first;
  lease.accept_by = now + (restored ? options_.restart_grace : options_.accept_window);
  lease.run_until = Steady::time_point::max();
  if (job.timeout_seconds > 0) {
    const int64_t end_ms = attempt.started_at_ms + int64_t{job.timeout_seconds} * 1000 +
                           options_.timeout_grace.count();
    lease.run_until = now + std::chrono::milliseconds(end_ms - clock_->UnixMillis());
  }
  next_lease_check_ =
      std::min({next_lease_check_, lease.deadline, lease.accept_by, lease.run_until});
}

void Scheduler::CancelAttempt(JobRecord& job, const std::string& outcome,
                              const std::string& reason) {
  AttemptRecord* attempt = CurrentAttempt(job);
  if (attempt == nullptr || attempt->state == AttemptState::kFinished) return;
  const std::string worker = attempt->worker_id;
  EndAttempt(job, *attempt, outcome, reason);
  v1::Envelope env;
  env.mutable_cancel()->set_job_id(job.id);
  env.mutable_cancel()->set_attempt(job.attempt);
  env.mutable_cancel()->set_reason(reason);
  Send(worker, std::move(env));
}

// Scans the leases only once the earliest instant one of them could be due has come (renewals
// only move instants later, so a stale earlier instant costs one scan, never a missed expiry).
void Scheduler::ExpireLeases() {
  const auto now = clock_->SteadyNow();
  if (now < next_lease_check_) return;
  auto next = Steady::time_point::max();
  struct Due {
    std::pair<std::string, uint32_t> key;
    std::string why;
  };
  std::vector<Due> due;
  for (const auto& [key, lease] : leases_) {
    auto attempt = attempts_.find(key);
    const bool assigned =
        attempt != attempts_.end() && attempt->second.state == AttemptState::kAssigned;
    if (now > lease.deadline) {
      due.push_back({key, "lease expired"});
    } else if (assigned && now > lease.accept_by) {
      due.push_back(
          {key, "not accepted within " + std::to_string(options_.accept_window.count()) + " ms"});
    } else if (now > lease.run_until) {
      due.push_back({key, "timeout"});
    } else {
      next = std::min({next, lease.deadline, assigned ? lease.accept_by : next, lease.run_until});
    }
  }
  next_lease_check_ = next;
  // leases_ is hashed: handle what is due in attempt order, so events and retries are reproducible.
  std::sort(due.begin(), due.end(), [](const Due& a, const Due& b) { return a.key < b.key; });
  for (const auto& [key, why] : due) {
    auto job = jobs_.find(key.first);
    auto attempt = attempts_.find(key);
    if (job == jobs_.end() || attempt == attempts_.end() || job->second.attempt != key.second) {
      leases_.erase(key);
      continue;
    }
    const std::string worker = attempt->second.worker_id;
    if (why == "timeout") {
      JobFailure(job->second, attempt->second, "timed_out",
                 "timed out after " + std::to_string(job->second.timeout_seconds) +
                     " s (the worker did not report it)");
    } else {
      InfraFailure(job->second, attempt->second, why);
    }
    // The worker may still hold it: tell it to stop, so a late completion has nothing to race.
    v1::Envelope env;
    env.mutable_cancel()->set_job_id(key.first);
    env.mutable_cancel()->set_attempt(key.second);
    env.mutable_cancel()->set_reason(why);
    Send(worker, std::move(env));
  }
}

void Scheduler::FailLongUnschedulable() {
  if (options_.unschedulable_deadline.count() <= 0) return;
  const auto now = clock_->SteadyNow();
  std::vector<std::string> expired;
  for (const auto& [id, since] : unschedulable_) {
    if (now - since > options_.unschedulable_deadline) expired.push_back(id);
  }
  for (const auto& id : expired) {
    auto job = jobs_.find(id);
    unschedulable_.erase(id);
    if (job == jobs_.end() || job->second.state != JobState::kUnschedulable) continue;
    std::string missing;
    for (const auto& tag : job->second.missing_tags) missing += (missing.empty() ? "" : ", ") + tag;
    SetJobState(job->second, JobState::kFailed,
                "unschedulable for " +
                    std::to_string(options_.unschedulable_deadline.count() / 1000) +
                    " s: no registered worker offers " + missing);
    PromoteDependents(job->second);
  }
}

Status Scheduler::CancelRun(const std::string& run_id) {
  if (runs_.find(run_id) == runs_.end()) return NotFound("no run " + run_id);
  for (const auto& id : run_jobs_[run_id]) {
    JobRecord& job = jobs_[id];
    if (IsTerminal(job.state)) continue;
    CancelAttempt(job, "cancelled", "run cancelled");
    SetJobState(job, JobState::kCancelled, "run cancelled");
  }
  AddEvent("run.cancel_requested", run_id, "{}");
  return Flush();
}

Status Scheduler::CancelJob(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return NotFound("no job " + job_id);
  JobRecord& job = it->second;
  if (IsTerminal(job.state)) return Status::Ok();
  CancelAttempt(job, "cancelled", "job cancelled");
  SetJobState(job, JobState::kCancelled, "job cancelled");
  AddEvent("job.cancel_requested", job_id, "{}");
  PromoteDependents(job);  // dependents are skipped
  return Flush();
}

Status Scheduler::DrainWorker(const std::string& worker_id) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end()) return NotFound("no worker " + worker_id);
  WorkerSession& worker = it->second;
  if (worker.record.state == WorkerState::kLost) {
    return FailedPrecondition("worker " + worker_id + " is lost");
  }
  if (worker.record.state != WorkerState::kDraining) {
    worker.record.state = WorkerState::kDraining;
    dirty_workers_.insert(worker_id);
    AddEvent("worker.draining", worker_id, "{}");
    v1::Envelope env;
    env.mutable_drain();
    Send(worker_id, std::move(env));
  }
  return Flush();
}

void Scheduler::Tick() {
  const auto now = clock_->SteadyNow();
  for (auto& [id, worker] : workers_) {
    if (worker.record.state != WorkerState::kLost && now > worker.lost_after) {
      MarkWorkerLost(worker, "missed heartbeats");
    }
  }
  ExpireLeases();
  FailLongUnschedulable();
  Schedule();
}

}  // namespace edgefarm::coordinator
