// Scheduler: read access for the API, over the runs in memory and the finished runs that are only
// in the store.
//
// Implementation notes:
// - A restart loads only unfinished runs (docs/storage.md), so a run that finished before it is
//   read from sqlite when the API asks for it. What was read is kept in archive_ until the next
//   Flush (one loop iteration), which is what keeps the returned pointers valid for the caller
//   that holds the coordinator's lock, and bounds the cache without an eviction policy.
// - Job ids are "<run id>-<seq>", but the store is asked for a job's run rather than parsing it,
//   so ids from older stores or other producers are found too.
#include <algorithm>

#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

const RunRecord* Scheduler::ArchivedRun(const std::string& run_id) const {
  auto jobs = archive_.jobs.find(run_id);
  if (jobs != archive_.jobs.end()) return &archive_.runs.at(run_id);
  auto bundle = store_->LoadRun(run_id);
  if (!bundle.ok()) {
    logger_->error("cannot read run {}: {}", run_id, bundle.status().ToString());
    return nullptr;
  }
  if (!bundle->has_value()) return nullptr;
  RunBundle& b = **bundle;
  archive_.runs[run_id] = std::move(b.run);
  std::vector<JobRecord>& stored = archive_.jobs[run_id];
  stored = std::move(b.jobs);
  for (const JobRecord& job : stored) archive_.job_by_id[job.id] = &job;
  for (auto& a : b.attempts) {
    auto key = std::make_pair(a.job_id, a.attempt);
    archive_.attempts[key] = std::move(a);
  }
  archive_.job_counts.erase(run_id);
  return &archive_.runs.at(run_id);
}

const RunRecord* Scheduler::FindRun(const std::string& id) const {
  auto it = runs_.find(id);
  if (it != runs_.end()) return &it->second;
  return ArchivedRun(id);
}

const JobRecord* Scheduler::FindJob(const std::string& id) const {
  auto it = jobs_.find(id);
  if (it != jobs_.end()) return &it->second;
  auto archived = archive_.job_by_id.find(id);
  if (archived != archive_.job_by_id.end()) return archived->second;
  auto run_id = store_->RunIdOfJob(id);
  if (!run_id.ok()) {
    logger_->error("cannot look up job {}: {}", id, run_id.status().ToString());
    return nullptr;
  }
  if (run_id->empty() || runs_.count(*run_id) || ArchivedRun(*run_id) == nullptr) return nullptr;
  archived = archive_.job_by_id.find(id);
  return archived == archive_.job_by_id.end() ? nullptr : archived->second;
}

std::vector<const RunRecord*> Scheduler::Runs() const {
  std::vector<const RunRecord*> out;
  for (const auto& [id, run] : runs_) out.push_back(&run);
  auto finished = store_->FinishedRuns();
  if (!finished.ok()) {
    logger_->error("cannot list finished runs: {}", finished.status().ToString());
  } else {
    for (auto& listing : *finished) {
      const std::string id = listing.run.id;
      if (runs_.count(id)) continue;
      auto [it, added] = archive_.runs.emplace(id, std::move(listing.run));
      if (added) archive_.job_counts[id] = listing.jobs;
      out.push_back(&it->second);
    }
  }
  std::sort(out.begin(), out.end(), [](const RunRecord* a, const RunRecord* b) {
    return a->created_at_ms != b->created_at_ms ? a->created_at_ms > b->created_at_ms
                                                : a->id < b->id;
  });
  return out;
}

std::vector<const JobRecord*> Scheduler::JobsOf(const std::string& run_id) const {
  std::vector<const JobRecord*> out;
  auto ids = run_jobs_.find(run_id);
  if (ids != run_jobs_.end()) {
    for (const auto& id : ids->second) out.push_back(&jobs_.at(id));
    return out;
  }
  if (runs_.count(run_id) || ArchivedRun(run_id) == nullptr) return out;
  for (const JobRecord& job : archive_.jobs.at(run_id)) out.push_back(&job);
  return out;
}

Scheduler::JobCount Scheduler::JobCounts(const std::string& run_id) const {
  auto p = progress_.find(run_id);
  if (p != progress_.end()) return {p->second.jobs, p->second.terminal};
  auto listed = archive_.job_counts.find(run_id);
  if (listed != archive_.job_counts.end()) return {listed->second, listed->second};
  JobCount count;
  for (const JobRecord* job : JobsOf(run_id)) {
    ++count.total;
    if (IsTerminal(job->state)) ++count.done;
  }
  return count;
}

std::vector<const AttemptRecord*> Scheduler::AttemptsOf(const std::string& job_id) const {
  std::vector<const AttemptRecord*> out;
  const auto& source = jobs_.count(job_id) ? attempts_ : archive_.attempts;
  if (&source == &archive_.attempts && FindJob(job_id) == nullptr) return out;
  for (auto it = source.lower_bound({job_id, 0}); it != source.end() && it->first.first == job_id;
       ++it) {
    out.push_back(&it->second);
  }
  return out;
}

}  // namespace edgefarm::coordinator
