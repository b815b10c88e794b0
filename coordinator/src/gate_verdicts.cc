// Judging cells. The reason line lists every failed gate ("speedup 1.4 < 2 (needs >= 2)") so a
// verdict explains itself without reading the per-gate list.
#include "edgefarm/coordinator/gate_verdicts.h"

#include <nlohmann/json.hpp>

namespace edgefarm::coordinator {
namespace {

std::string SchemeOf(const std::string& result_json) {
  auto doc = nlohmann::json::parse(result_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) return "";
  auto it = doc.find("scheme");
  return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
}

std::string NotJudgedReason(const JobRecord& job) {
  switch (job.state) {
    case JobState::kFailed:
      return "job failed (not a gate verdict)";
    case JobState::kCancelled:
      return "job cancelled";
    case JobState::kSkipped:
      return "job skipped: a need failed";
    case JobState::kUnschedulable:
      return "no worker offers the target's tags";
    case JobState::kWaiting:
      return "job not finished (waiting)";
    case JobState::kQueued:
      return "job not finished (queued)";
    default:
      return "job not finished (running)";
  }
}

void Judge(const pipelines::GatesSpec& gates, const JobRecord& job, CellVerdict& cell) {
  auto metrics = pipelines::MetricsFromResultJson(job.result_json);
  if (metrics.ok()) cell.metrics = *metrics;
  cell.scheme = SchemeOf(job.result_json);
  cell.gates = pipelines::EvaluateGates(gates, job.target, cell.metrics);
  std::string failed;
  for (const auto& v : cell.gates) {
    if (v.passed) continue;
    if (!failed.empty()) failed += "; ";
    failed += v.metric + " " + v.reason;
  }
  if (failed.empty()) {
    cell.outcome = CellOutcome::kPassed;
    cell.reason = "all " + std::to_string(cell.gates.size()) + " gates passed";
  } else {
    cell.outcome = CellOutcome::kFailed;
    cell.reason = metrics.ok() ? failed : "no readable result record; " + failed;
  }
}

}  // namespace

std::string_view ToString(CellOutcome outcome) {
  switch (outcome) {
    case CellOutcome::kPassed:
      return "passed";
    case CellOutcome::kFailed:
      return "failed";
    case CellOutcome::kNotJudged:
      return "not_judged";
  }
  return "not_judged";
}

std::vector<CellVerdict> JudgeCells(const pipelines::GatesSpec& gates,
                                    const std::vector<const JobRecord*>& jobs) {
  std::vector<CellVerdict> out;
  for (const JobRecord* job : jobs) {
    if (job == nullptr || !job->is_engine) continue;
    CellVerdict cell;
    cell.job_id = job->id;
    cell.job_name = job->name;
    cell.framework = job->framework;
    cell.target = job->target;
    if (job->state == JobState::kSucceeded) {
      Judge(gates, *job, cell);
    } else {
      cell.reason = NotJudgedReason(*job);
    }
    out.push_back(std::move(cell));
  }
  return out;
}

nlohmann::json CellVerdictJson(const CellVerdict& cell) {
  nlohmann::json gates = nlohmann::json::array();
  for (const auto& g : cell.gates) {
    gates.push_back({{"metric", g.metric},
                     {"value", g.value ? nlohmann::json(*g.value) : nlohmann::json(nullptr)},
                     {"op", pipelines::GateOpSymbol(g.op)},
                     {"threshold", g.threshold},
                     {"passed", g.passed},
                     {"skipped", g.skipped},
                     {"reason", g.reason}});
  }
  return {{"job_id", cell.job_id}, {"job_name", cell.job_name}, {"framework", cell.framework},
          {"target", cell.target}, {"scheme", cell.scheme},     {"outcome", ToString(cell.outcome)},
          {"reason", cell.reason}, {"metrics", cell.metrics},   {"gates", gates}};
}

}  // namespace edgefarm::coordinator
