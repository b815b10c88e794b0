// Scheduler: job needs (waiting -> queued or skipped) and run progress.
//
// Implementation notes:
// - Needs are resolved to job ids once per run (IndexNeeds), in both directions. When a job ends
//   only the jobs that name it are re-evaluated, and a skip cascades through its own dependents;
//   nothing rescans the run (a per-completion rescan made a 1000-job run quadratic).
// - Run state is derived from per-run counters that SetJobState keeps, so Flush costs O(1) per
//   touched run rather than a walk over its jobs.
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

using nlohmann::json;

void Scheduler::IndexNeeds(const std::string& run_id) {
  auto ids = run_jobs_.find(run_id);
  if (ids == run_jobs_.end()) return;
  std::unordered_map<std::string, std::string> by_name;
  for (const auto& id : ids->second) by_name[jobs_[id].name] = id;
  for (const auto& id : ids->second) {
    std::vector<std::string>& needs = need_ids_[id];
    needs.clear();
    for (const auto& name : jobs_[id].needs) {
      auto need = by_name.find(name);
      if (need == by_name.end()) continue;  // SubmitRun refuses these; an old store may not
      needs.push_back(need->second);
      dependent_ids_[need->second].push_back(id);
    }
  }
}

void Scheduler::EvaluateWaiting(JobRecord& job) {
  if (job.state != JobState::kWaiting) return;
  bool ready = true;
  std::string failed_need;
  for (const auto& need_id : need_ids_[job.id]) {
    const JobRecord& need = jobs_[need_id];
    if (need.state != JobState::kSucceeded) ready = false;
    if (IsTerminal(need.state) && need.state != JobState::kSucceeded) failed_need = need.name;
  }
  if (!failed_need.empty()) {
    SetJobState(job, JobState::kSkipped, "need '" + failed_need + "' did not succeed");
    PromoteDependents(job);
  } else if (ready) {
    Enqueue(job);
  }
}

void Scheduler::PromoteWaiting(const std::string& run_id) {
  auto ids = run_jobs_.find(run_id);
  if (ids == run_jobs_.end()) return;
  for (const auto& id : ids->second) EvaluateWaiting(jobs_[id]);
}

void Scheduler::PromoteDependents(const JobRecord& job) {
  auto dependents = dependent_ids_.find(job.id);
  if (dependents == dependent_ids_.end()) return;
  for (const auto& id : dependents->second) EvaluateWaiting(jobs_[id]);
}

void Scheduler::CountState(const JobRecord& job, std::optional<JobState> before) {
  RunProgress& p = progress_[job.run_id];
  auto add = [&p](JobState s, int d) {
    if (IsTerminal(s)) p.terminal += d;
    if (s == JobState::kFailed) p.failed += d;
    if (s == JobState::kCancelled) p.cancelled += d;
  };
  if (before.has_value()) {
    add(*before, -1);
  } else {
    p.jobs += 1;
  }
  // Admission counts unfinished jobs per repository (a terminal job never leaves that state).
  const bool was_open = before.has_value() ? !IsTerminal(*before) : false;
  if (was_open != !IsTerminal(job.state)) {
    auto run = runs_.find(job.run_id);
    const std::string repo = run == runs_.end() ? "" : run->second.repository;
    admission_[repo].unfinished += was_open ? -1 : 1;
  }
  add(job.state, +1);
  p.started = p.started || IsTerminal(job.state) || job.state == JobState::kAssigned ||
              job.state == JobState::kRunning || job.attempt > 0;
}

void Scheduler::DeriveRunStates() {
  for (const auto& run_id : dirty_runs_) {
    auto run = runs_.find(run_id);
    if (run == runs_.end()) continue;
    const RunProgress& p = progress_[run_id];
    const bool all_terminal = p.terminal == p.jobs;
    RunState next = RunState::kQueued;
    if (all_terminal) {
      next = p.failed > 0      ? RunState::kFailed
             : p.cancelled > 0 ? RunState::kCancelled
                               : RunState::kSucceeded;
    } else if (p.started) {
      next = RunState::kRunning;
    }
    if (next == run->second.state) continue;
    AddEvent("run.state", run_id,
             json{{"from", ToString(run->second.state)}, {"to", ToString(next)}}.dump());
    run->second.state = next;
    run->second.finished_at_ms = all_terminal ? clock_->UnixMillis() : 0;
    pending_.run_states.push_back({run_id, next, run->second.finished_at_ms});
  }
}

}  // namespace edgefarm::coordinator
