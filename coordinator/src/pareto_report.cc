// Run JSON → JobRecords and the Pareto report text. Job states are matched by name here (this
// library does not link the scheduler's records.cc).
#include "edgefarm/coordinator/pareto_report.h"

#include <fmt/format.h>

#include <utility>

namespace edgefarm::coordinator {
namespace {

constexpr std::pair<std::string_view, JobState> kStates[] = {
    {"waiting", JobState::kWaiting},
    {"queued", JobState::kQueued},
    {"unschedulable", JobState::kUnschedulable},
    {"assigned", JobState::kAssigned},
    {"running", JobState::kRunning},
    {"succeeded", JobState::kSucceeded},
    {"failed", JobState::kFailed},
    {"cancelled", JobState::kCancelled},
    {"skipped", JobState::kSkipped},
};

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

std::vector<JobRecord> EngineJobsFromRunJson(const nlohmann::json& run) {
  std::vector<JobRecord> out;
  auto jobs = run.is_object() ? run.find("jobs") : run.end();
  if (!run.is_object() || jobs == run.end() || !jobs->is_array()) return out;
  for (const auto& j : *jobs) {
    if (!j.is_object() || Str(j, "kind") != "engine") continue;
    JobRecord job;
    job.id = Str(j, "id");
    job.name = Str(j, "name");
    job.framework = Str(j, "framework");
    job.target = Str(j, "target");
    const std::string state = Str(j, "state");
    bool known = false;
    for (const auto& [name, value] : kStates) {
      if (name == state) {
        job.state = value;
        known = true;
      }
    }
    if (!known) continue;
    auto result = j.find("result");
    if (result != j.end() && result->is_object()) {
      job.result_json = result->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    }
    out.push_back(std::move(job));
  }
  return out;
}

std::string FormatChoiceReport(const std::map<std::string, Recommendation>& recommendations) {
  std::string out = "Pareto choice per target:\n";
  for (const auto& [target, rec] : recommendations) {
    if (rec.job_id.empty()) {
      out += fmt::format("  {}: none ({})\n", target, rec.why);
    } else {
      out += fmt::format("  {}: {}{}\n    why: {}\n", target, rec.job_name,
                         rec.scheme.empty() ? "" : " (" + rec.scheme + ")", rec.why);
    }
    const char* prefix = rec.job_id.empty() ? "    " : "    beat ";
    for (const auto& line : rec.beat) out += prefix + line + "\n";
  }
  return out;
}

}  // namespace edgefarm::coordinator
