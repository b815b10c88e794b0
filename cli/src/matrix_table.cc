// Matrix table: figures come straight from each job's engine result record; verdicts from the
// pipeline's gates (pipelines::EvaluateGates) for the job's target.
#include "edgefarm/cli/matrix_table.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "edgefarm/pipelines/gates.h"

namespace edgefarm::cli {

namespace {

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

std::map<std::string, double> Metrics(const nlohmann::json& job) {
  std::map<std::string, double> metrics;
  auto result = job.find("result");
  if (result == job.end() || !result->is_object()) return metrics;
  auto m = result->find("metrics");
  if (m == result->end() || !m->is_object()) return metrics;
  for (auto it = m->begin(); it != m->end(); ++it) {
    if (it.value().is_number()) metrics[it.key()] = it.value().get<double>();
  }
  return metrics;
}

std::string Fixed(const std::map<std::string, double>& metrics, const char* key, int digits) {
  auto it = metrics.find(key);
  if (it == metrics.end() || !std::isfinite(it->second)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", digits, it->second);
  return buf;
}

std::string Verdict(const nlohmann::json& job, const std::map<std::string, double>& metrics,
                    const pipelines::GatesSpec* gates) {
  if (Str(job, "kind") != "engine") return "-";
  if (gates == nullptr) return "n/a";
  if (Str(job, "state") != "succeeded") return "-";
  const auto verdicts = pipelines::EvaluateGates(*gates, Str(job, "target"), metrics);
  std::string failed;
  for (const auto& v : verdicts) {
    if (v.passed) continue;
    failed += (failed.empty() ? "" : "; ") + v.metric + " " + v.reason;
  }
  return failed.empty() ? "pass" : "FAIL: " + failed;
}

}  // namespace

std::string HumanBytes(double bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024.0 && unit < 4) {
    bytes /= 1024.0;
    ++unit;
  }
  char buf[32];
  if (unit == 0) {
    std::snprintf(buf, sizeof(buf), "%.0f B", bytes);
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f %s", bytes, units[unit]);
  }
  return buf;
}

std::vector<MatrixRow> BuildMatrixRows(const nlohmann::json& run, const pipelines::GatesSpec* gates,
                                       const std::map<std::string, std::string>& worker_names) {
  std::vector<MatrixRow> rows;
  auto jobs = run.find("jobs");
  if (jobs == run.end() || !jobs->is_array()) return rows;
  for (const auto& job : *jobs) {
    const auto metrics = Metrics(job);
    MatrixRow row;
    row.cell = Str(job, "name");
    row.worker = Str(job, "worker");
    if (auto name = worker_names.find(row.worker); name != worker_names.end()) {
      row.worker = name->second;
    }
    if (row.worker.empty()) row.worker.assign(1, '-');
    row.state = Str(job, "state");
    auto size = metrics.find("model_bytes");
    row.model_size = size == metrics.end() ? "-" : HumanBytes(size->second);
    row.tg_tps = Fixed(metrics, "tg_tps_mean", 1);
    row.pp_tps = Fixed(metrics, "pp_tps_mean", 1);
    row.retention = Fixed(metrics, "accuracy_retention", 3);
    row.verdict = Verdict(job, metrics, gates);
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string FormatTable(const std::vector<std::string>& header,
                        const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths(header.size(), 0);
  auto widen = [&](const std::vector<std::string>& row) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  };
  widen(header);
  for (const auto& row : rows) widen(row);
  auto line = [&](const std::vector<std::string>& row) {
    std::string out;
    for (size_t i = 0; i < widths.size(); ++i) {
      const std::string cell = i < row.size() ? row[i] : "";
      out += cell;
      if (i + 1 < widths.size()) out += std::string(widths[i] - cell.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::string out = line(header);
  size_t total = 0;
  for (size_t w : widths) total += w + 2;
  out += std::string(total >= 2 ? total - 2 : 0, '-') + "\n";
  for (const auto& row : rows) out += line(row);
  return out;
}

std::string FormatMatrixTable(const std::vector<MatrixRow>& rows) {
  std::vector<std::vector<std::string>> cells;
  for (const auto& r : rows) {
    cells.push_back(
        {r.cell, r.worker, r.state, r.model_size, r.tg_tps, r.pp_tps, r.retention, r.verdict});
  }
  return FormatTable({"cell", "worker", "state", "model size", "tg tok/s", "pp tok/s",
                      "acc. retention", "verdict"},
                     cells);
}

}  // namespace edgefarm::cli
