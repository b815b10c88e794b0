// Scheduler: resource groups and admission per repository.
//
// Resource groups. A job that names a `resource_group` runs only while it is the
// oldest unfinished job of its group, so the group's jobs run one at a time across the whole farm,
// in submission order (deploys to one environment are serialised).
//
// Implementation notes:
// - A group is a FIFO of unfinished job ids. Jobs join at submission and leave when they reach a
//   terminal state (SetJobState). Only the front may enter a ready queue (Enqueue asks
//   HoldsGroup); the others are `queued` but held here, so the ready queues and the fairness heap
//   never see them and a held job costs nothing per pass.
// - When the front leaves, the next job, if it is already queued, is put in its ready queue at
//   once; if it still waits for its needs or is unschedulable, Enqueue does that later.
// - Strict FIFO: a front that waits for its needs holds the group, even if a later job is ready.
// - Nothing is stored about groups: they are rebuilt at restart from the unfinished jobs, ordered
//   by their run's submission time and their position in it.
#include <algorithm>

#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {
Status Scheduler::CheckGroupQueues(const std::vector<JobRecord>& jobs) const {
  std::unordered_map<std::string, size_t> adding;
  for (const auto& job : jobs) {
    if (!job.resource_group.empty()) ++adding[job.resource_group];
  }
  for (const auto& [group, count] : adding) {
    auto it = groups_.find(group);
    const size_t unfinished = it == groups_.end() ? 0 : it->second.size();
    // The front holds the group; the rest wait in its queue.
    const size_t waiting = unfinished + count - 1;
    if (waiting > options_.resource_group_queue) {
      return ResourceExhausted("resource group '" + group + "' has " + std::to_string(unfinished) +
                               " unfinished jobs; this run adds " + std::to_string(count) +
                               " and at most " + std::to_string(options_.resource_group_queue) +
                               " may wait behind the running one");
    }
  }
  return Status::Ok();
}

void Scheduler::JoinGroup(const JobRecord& job) {
  if (job.resource_group.empty() || IsTerminal(job.state)) return;
  groups_[job.resource_group].push_back(job.id);
}

bool Scheduler::HoldsGroup(const JobRecord& job) const {
  if (job.resource_group.empty()) return true;
  auto it = groups_.find(job.resource_group);
  return it != groups_.end() && !it->second.empty() && it->second.front() == job.id;
}

void Scheduler::LeaveGroup(const JobRecord& job) {
  auto it = groups_.find(job.resource_group);
  if (it == groups_.end()) return;
  std::deque<std::string>& fifo = it->second;
  const bool was_front = !fifo.empty() && fifo.front() == job.id;
  fifo.erase(std::remove(fifo.begin(), fifo.end(), job.id), fifo.end());
  if (fifo.empty()) {
    groups_.erase(it);
    return;
  }
  if (!was_front) return;
  auto next = jobs_.find(fifo.front());
  if (next != jobs_.end() && next->second.state == JobState::kQueued) MakeReady(next->second);
}

void Scheduler::RestoreGroups(const StoreSnapshot& snapshot) {
  struct Member {
    int64_t created_at_ms;
    std::string run_id;
    int seq;
    const JobRecord* job;
  };
  std::vector<Member> members;
  for (const auto& job : snapshot.jobs) {
    if (job.resource_group.empty() || IsTerminal(job.state)) continue;
    auto run = runs_.find(job.run_id);
    members.push_back(
        {run == runs_.end() ? 0 : run->second.created_at_ms, job.run_id, job.seq, &job});
  }
  std::sort(members.begin(), members.end(), [](const Member& a, const Member& b) {
    return std::tie(a.created_at_ms, a.run_id, a.seq) < std::tie(b.created_at_ms, b.run_id, b.seq);
  });
  for (const auto& m : members) JoinGroup(*m.job);
}

Status Scheduler::Admit(const PlannedRun& planned) {
  if (options_.max_queued_per_repo <= 0) return Status::Ok();
  SchedulerLoad::Repository& repo = admission_[planned.repository];
  const auto adding = static_cast<int64_t>(planned.jobs.size());
  if (repo.unfinished + adding <= options_.max_queued_per_repo) return Status::Ok();
  ++repo.refused_runs;
  const std::string name =
      planned.repository.empty() ? "direct submissions" : "repository '" + planned.repository + "'";
  logger_->warn("refused a run of {}: {} unfinished jobs, the run adds {}, limit {}", name,
                repo.unfinished, adding, options_.max_queued_per_repo);
  return ResourceExhausted(name + " has " + std::to_string(repo.unfinished) +
                           " unfinished jobs; this run adds " + std::to_string(adding) +
                           ", over the admission limit of " +
                           std::to_string(options_.max_queued_per_repo) +
                           " (max_queued_per_repo); retry when jobs have finished");
}

SchedulerLoad Scheduler::Load() const {
  SchedulerLoad load;
  load.max_queued_per_repo = options_.max_queued_per_repo;
  for (const auto& [id, job] : jobs_) {
    if (job.state == JobState::kQueued) ++load.queued;
  }
  load.unschedulable = static_cast<int64_t>(unschedulable_.size());
  load.active = static_cast<int64_t>(leases_.size());
  for (const auto& [repo, counts] : admission_) load.repositories[repo] = counts;
  for (const auto& [group, fifo] : groups_) {
    load.resource_groups[group] = static_cast<int64_t>(fifo.size());
  }
  return load;
}

}  // namespace edgefarm::coordinator
