// Run/job/worker JSON for the API. result_json is carried verbatim from the worker; it is parsed
// here without exceptions and shown as null when it is not valid JSON, so one bad record cannot
// break the listing of a run.
#include "edgefarm/coordinator/run_json.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

json AttemptJson(const AttemptRecord& a) {
  return {{"attempt", a.attempt},
          {"worker", a.worker_id},
          {"state", ToString(a.state)},
          {"outcome", a.outcome},
          {"reason", a.reason},
          {"exit_code", a.exit_code},
          {"term_signal", a.term_signal},
          {"started_at_ms", a.started_at_ms},
          {"finished_at_ms", a.finished_at_ms},
          {"peak_rss_bytes", a.peak_rss_bytes},
          {"cpu_seconds", a.cpu_seconds},
          {"log_bytes", a.log_bytes}};
}

json ResultOf(const JobRecord& job) {
  if (job.result_json.empty()) return nullptr;
  json parsed = json::parse(job.result_json, nullptr, /*allow_exceptions=*/false);
  return parsed.is_discarded() ? json(nullptr) : parsed;
}

}  // namespace

json JobJson(const Scheduler& scheduler, const JobRecord& job) {
  json attempts = json::array();
  for (const AttemptRecord* a : scheduler.AttemptsOf(job.id)) attempts.push_back(AttemptJson(*a));
  json artifacts = json::array();
  for (const auto& a : job.artifacts) {
    artifacts.push_back({{"name", a.name}, {"digest", a.digest}, {"size", a.size}});
  }
  return {{"id", job.id},
          {"run_id", job.run_id},
          {"name", job.name},
          {"kind", job.is_engine ? "engine" : "command"},
          {"framework", job.framework},
          {"target", job.target},
          {"state", ToString(job.state)},
          {"required_tags", job.required_tags},
          {"missing_tags", job.missing_tags},
          {"worker", job.worker_id},
          {"needs", job.needs},
          {"attempts", std::move(attempts)},
          {"result", ResultOf(job)},
          {"artifacts", std::move(artifacts)}};
}

json RunSummaryJson(const Scheduler& scheduler, const RunRecord& run) {
  const Scheduler::JobCount count = scheduler.JobCounts(run.id);
  return {{"id", run.id},
          {"name", run.name},
          {"state", ToString(run.state)},
          {"created_at_ms", run.created_at_ms},
          {"finished_at_ms", run.finished_at_ms},
          {"jobs_total", count.total},
          {"jobs_done", count.done}};
}

json RunDetailJson(const Scheduler& scheduler, const RunRecord& run) {
  json out = RunSummaryJson(scheduler, run);
  out["pipeline_file"] = run.pipeline_file;
  json jobs = json::array();
  for (const JobRecord* job : scheduler.JobsOf(run.id)) jobs.push_back(JobJson(scheduler, *job));
  out["jobs"] = std::move(jobs);
  return out;
}

json WorkersJson(const Scheduler& scheduler) {
  json workers = json::array();
  for (const WorkerRecord& w : scheduler.Workers()) {
    workers.push_back({{"id", w.id},
                       {"name", w.name},
                       {"tags", w.tags},
                       {"slots", w.slots},
                       {"running", scheduler.RunningCount(w.id)},
                       {"state", ToString(w.state)},
                       {"last_seen_ms", w.last_seen_ms}});
  }
  return {{"workers", std::move(workers)}};
}

json SchedulerLoadJson(const SchedulerLoad& load) {
  json repositories = json::array();
  for (const auto& [name, r] : load.repositories) {
    repositories.push_back(
        {{"repository", name}, {"unfinished", r.unfinished}, {"refused_runs", r.refused_runs}});
  }
  json groups = json::array();
  for (const auto& [name, n] : load.resource_groups) {
    groups.push_back({{"name", name}, {"unfinished", n}});
  }
  return {{"queued", load.queued},
          {"unschedulable", load.unschedulable},
          {"active", load.active},
          {"max_queued_per_repo", load.max_queued_per_repo},
          {"repositories", std::move(repositories)},
          {"resource_groups", std::move(groups)}};
}

}  // namespace edgefarm::coordinator
