// Olive-style selection: constraints, Pareto frontier, weighted choice.
//
// Scores are min-max normalised over the frontier so the weights trade relative positions, not
// raw units (tokens/s vs bytes); a metric on which every frontier candidate ties contributes 1 to
// all of them and so never decides.
#include <algorithm>
#include <string>

#include "edgefarm/engine/cell_job.h"

namespace edgefarm::engine {
namespace {

bool Dominates(const CellMetrics& a, const CellMetrics& b) {
  const bool no_worse = a.tg_tps_mean >= b.tg_tps_mean &&
                        a.accuracy_retention >= b.accuracy_retention &&
                        a.model_bytes <= b.model_bytes;
  const bool better = a.tg_tps_mean > b.tg_tps_mean ||
                      a.accuracy_retention > b.accuracy_retention || a.model_bytes < b.model_bytes;
  return no_worse && better;
}

// (value - lo) / (hi - lo), or 1 when the range is empty.
double Normalise(double value, double lo, double hi) {
  return hi > lo ? (value - lo) / (hi - lo) : 1.0;
}

}  // namespace

Result<size_t> ChooseCandidate(std::vector<CellMetrics>& cands, const CellJob& job) {
  for (CellMetrics& c : cands) {
    c.on_frontier = c.chosen = false;
    c.feasible = true;
    c.infeasible_reason.clear();
    if (c.accuracy_retention < job.min_accuracy_retention) {
      c.feasible = false;
      c.infeasible_reason = "accuracy_retention " + std::to_string(c.accuracy_retention) + " < " +
                            std::to_string(job.min_accuracy_retention);
    } else if (job.max_model_bytes > 0 && c.model_bytes > job.max_model_bytes) {
      c.feasible = false;
      c.infeasible_reason = "model_bytes " + std::to_string(c.model_bytes) + " > " +
                            std::to_string(job.max_model_bytes);
    }
  }
  std::vector<size_t> frontier;
  for (size_t i = 0; i < cands.size(); ++i) {
    if (!cands[i].feasible) continue;
    bool dominated = false;
    for (size_t j = 0; j < cands.size() && !dominated; ++j) {
      dominated = j != i && cands[j].feasible && Dominates(cands[j], cands[i]);
    }
    cands[i].on_frontier = !dominated;
    if (!dominated) frontier.push_back(i);
  }
  if (frontier.empty()) return NotFound("no candidate meets the constraints");
  double lo_s = 1e300, hi_s = -1e300, lo_a = 1e300, hi_a = -1e300, lo_m = 1e300, hi_m = -1e300;
  for (size_t i : frontier) {
    const CellMetrics& c = cands[i];
    lo_s = std::min(lo_s, c.tg_tps_mean), hi_s = std::max(hi_s, c.tg_tps_mean);
    lo_a = std::min(lo_a, c.accuracy_retention), hi_a = std::max(hi_a, c.accuracy_retention);
    const double m = static_cast<double>(c.model_bytes);
    lo_m = std::min(lo_m, m), hi_m = std::max(hi_m, m);
  }
  const double total = job.weight_speed + job.weight_accuracy + job.weight_memory;
  size_t best = frontier.front();
  for (size_t i : frontier) {
    CellMetrics& c = cands[i];
    c.score =
        (job.weight_speed * Normalise(c.tg_tps_mean, lo_s, hi_s) +
         job.weight_accuracy * Normalise(c.accuracy_retention, lo_a, hi_a) +
         job.weight_memory * (1.0 - Normalise(static_cast<double>(c.model_bytes), lo_m, hi_m) +
                              (hi_m > lo_m ? 0.0 : 1.0))) /
        total;
    if (c.score > cands[best].score) best = i;
  }
  cands[best].chosen = true;
  return best;
}

}  // namespace edgefarm::engine
