// Pareto choice: among a target's passing cells, the frontier over speed, accuracy and memory,
// and one recommended cell from the pipeline's preference weights, with an explanation.
//
// Axes (higher is better): speed = speedup, accuracy = accuracy_retention, memory =
// memory_reduction. A passing cell that lacks an axis metric (possible under no_data: pass/skip)
// counts as the worst value on that axis — missing data never wins. Score: each axis min-max
// normalised over the target's passing cells (all equal → 1), weighted mean with the weights.
// The recommended cell is the frontier cell with the highest score; ties go to the smaller
// model, then the job name, so the choice is deterministic.
//
// Pure functions over values; thread-safe.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/coordinator/gate_verdicts.h"
#include "edgefarm/pipelines/pipeline.h"

namespace edgefarm::coordinator {

struct ParetoCell {
  std::string job_id;
  std::string job_name;
  std::string scheme;
  double speed = 0;
  double accuracy = 0;
  double memory = 0;
  double score = 0;
  bool on_frontier = false;
  std::string dominated_by;  // job name of a cell that dominates it; empty on the frontier
};

struct Recommendation {
  std::string target;
  std::string job_id;  // empty: no passing cell
  std::string job_name;
  std::string scheme;
  double score = 0;
  std::vector<ParetoCell> cells;  // the target's passing cells
  std::string why;                // why this cell
  std::vector<std::string> beat;  // one line per other cell of the target: what it beat and how
};

// One recommendation per target that has at least one judged or not-judged cell, by target name.
std::map<std::string, Recommendation> Recommend(const std::vector<CellVerdict>& cells,
                                                const pipelines::OliveWeights& weights);

// {"target","job_id","job_name","scheme","score","why","beat":[..],
//  "cells":[{"job_id","job_name","scheme","speedup","accuracy_retention","memory_reduction",
//            "score","on_frontier","dominated_by"}]}  (a missing axis is null)
nlohmann::json RecommendationJson(const Recommendation& rec);

}  // namespace edgefarm::coordinator
