// Pareto frontier and weighted choice. The "beat" lines compare each loser with the winner on
// the axes where the winner is better, so a reader sees what was traded.
#include "edgefarm/coordinator/pareto.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

namespace edgefarm::coordinator {
namespace {

double Axis(const CellVerdict& cell, const char* metric) {
  auto it = cell.metrics.find(metric);
  return it == cell.metrics.end() ? -std::numeric_limits<double>::infinity() : it->second;
}

bool Dominates(const ParetoCell& a, const ParetoCell& b) {
  bool ge = a.speed >= b.speed && a.accuracy >= b.accuracy && a.memory >= b.memory;
  bool gt = a.speed > b.speed || a.accuracy > b.accuracy || a.memory > b.memory;
  return ge && gt;
}

// Min-max normalisation of one axis; -inf (missing) maps to 0.
void Score(std::vector<ParetoCell>& cells, const pipelines::OliveWeights& w) {
  auto norm = [&](double ParetoCell::*axis, const ParetoCell& c) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto& x : cells) {
      if (!std::isfinite(x.*axis)) continue;
      lo = std::min(lo, x.*axis);
      hi = std::max(hi, x.*axis);
    }
    if (!std::isfinite(c.*axis)) return 0.0;
    return hi > lo ? (c.*axis - lo) / (hi - lo) : 1.0;
  };
  double total = w.speed + w.accuracy + w.memory;
  if (total <= 0) total = 1;
  for (auto& c : cells) {
    c.score = (w.speed * norm(&ParetoCell::speed, c) + w.accuracy * norm(&ParetoCell::accuracy, c) +
               w.memory * norm(&ParetoCell::memory, c)) /
              total;
  }
}

std::string Fig(double v) {
  return std::isfinite(v) ? fmt::format("{:.3g}", v) : "n/a";
}

std::string Compare(const ParetoCell& winner, const ParetoCell& loser) {
  std::string out;
  auto add = [&](const char* name, double w, double l) {
    if (!(w > l)) return;
    if (!out.empty()) out += ", ";
    out += fmt::format("{} {} vs {}", name, Fig(w), Fig(l));
  };
  add("speedup", winner.speed, loser.speed);
  add("accuracy_retention", winner.accuracy, loser.accuracy);
  add("memory_reduction", winner.memory, loser.memory);
  return out.empty() ? "tie on every axis" : out;
}

void Choose(Recommendation& rec, const std::vector<CellVerdict>& target_cells,
            const std::map<std::string, double>& bytes) {
  const ParetoCell* best = nullptr;
  for (const auto& c : rec.cells) {
    if (!c.on_frontier) continue;
    if (best == nullptr || c.score > best->score ||
        (c.score == best->score &&
         (bytes.at(c.job_id) < bytes.at(best->job_id) ||
          (bytes.at(c.job_id) == bytes.at(best->job_id) && c.job_name < best->job_name)))) {
      best = &c;
    }
  }
  if (best == nullptr) {
    rec.why = "no cell passed its gates";
  } else {
    rec.job_id = best->job_id;
    rec.job_name = best->job_name;
    rec.scheme = best->scheme;
    rec.score = best->score;
    rec.why = fmt::format(
        "{} is on the Pareto frontier with the highest weighted score {:.3f} (speedup {}, "
        "accuracy_retention {}, memory_reduction {})",
        best->job_name, best->score, Fig(best->speed), Fig(best->accuracy), Fig(best->memory));
  }
  for (const auto& c : rec.cells) {
    if (best == nullptr || c.job_id == best->job_id) continue;
    std::string line = fmt::format("{}: score {:.3f}; ", c.job_name, c.score);
    line += c.on_frontier ? "on the frontier, lower score" : "dominated by " + c.dominated_by;
    rec.beat.push_back(line + " (" + Compare(*best, c) + ")");
  }
  for (const auto& cell : target_cells) {
    if (cell.outcome == CellOutcome::kPassed) continue;
    rec.beat.push_back(
        fmt::format("{}: {} ({})", cell.job_name, ToString(cell.outcome), cell.reason));
  }
}

}  // namespace

std::map<std::string, Recommendation> Recommend(const std::vector<CellVerdict>& cells,
                                                const pipelines::OliveWeights& weights) {
  std::map<std::string, std::vector<CellVerdict>> by_target;
  for (const auto& c : cells) by_target[c.target].push_back(c);
  std::map<std::string, Recommendation> out;
  for (const auto& [target, target_cells] : by_target) {
    Recommendation rec;
    rec.target = target;
    std::map<std::string, double> bytes;
    for (const auto& c : target_cells) {
      if (c.outcome != CellOutcome::kPassed) continue;
      rec.cells.push_back({c.job_id, c.job_name, c.scheme, Axis(c, "speedup"),
                           Axis(c, "accuracy_retention"), Axis(c, "memory_reduction")});
      auto it = c.metrics.find("model_bytes");
      bytes[c.job_id] =
          it == c.metrics.end() ? std::numeric_limits<double>::infinity() : it->second;
    }
    for (auto& a : rec.cells) {
      a.on_frontier = true;
      for (const auto& b : rec.cells) {
        if (Dominates(b, a)) {
          a.on_frontier = false;
          a.dominated_by = b.job_name;
          break;
        }
      }
    }
    Score(rec.cells, weights);
    Choose(rec, target_cells, bytes);
    out[target] = std::move(rec);
  }
  return out;
}

nlohmann::json RecommendationJson(const Recommendation& rec) {
  auto num = [](double v) {
    return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr);
  };
  nlohmann::json cells = nlohmann::json::array();
  for (const auto& c : rec.cells) {
    cells.push_back({{"job_id", c.job_id},
                     {"job_name", c.job_name},
                     {"scheme", c.scheme},
                     {"speedup", num(c.speed)},
                     {"accuracy_retention", num(c.accuracy)},
                     {"memory_reduction", num(c.memory)},
                     {"score", c.score},
                     {"on_frontier", c.on_frontier},
                     {"dominated_by", c.dominated_by}});
  }
  return {{"target", rec.target}, {"job_id", rec.job_id}, {"job_name", rec.job_name},
          {"scheme", rec.scheme}, {"score", rec.score},   {"why", rec.why},
          {"beat", rec.beat},     {"cells", cells}};
}

}  // namespace edgefarm::coordinator
