// The JSON shapes of runs, jobs and workers in the HTTP API (the shared contract), built in one
// place so the list, detail and job routes cannot drift apart.
//
// Thread-safety: reads the scheduler; the caller holds whatever serialises access to it.
#pragma once

#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/scheduler.h"

namespace edgefarm::coordinator {

// {"id","name","state","created_at_ms","finished_at_ms","jobs_total","jobs_done"}
nlohmann::json RunSummaryJson(const Scheduler& scheduler, const RunRecord& run);
// The summary fields plus "pipeline_file" and "jobs":[JobJson...] (without run_id per job).
nlohmann::json RunDetailJson(const Scheduler& scheduler, const RunRecord& run);
// One job with its attempts, result (parsed engine result record, or null) and artifacts.
nlohmann::json JobJson(const Scheduler& scheduler, const JobRecord& job);
// {"workers":[{"id","name","tags","slots","running","state","last_seen_ms"}]}
nlohmann::json WorkersJson(const Scheduler& scheduler);
// {"queued","unschedulable","active","max_queued_per_repo",
//  "repositories":[{"repository","unfinished","refused_runs"}],
//  "resource_groups":[{"name","unfinished"}]}; repository "" = direct submissions.
nlohmann::json SchedulerLoadJson(const SchedulerLoad& load);

}  // namespace edgefarm::coordinator
