// The cell job: `edgefarm-engine run JOB.json --out DIR`. One matrix cell of a run — measure the
// input model (baseline), quantise it with the cell's recipe, measure the result against the
// baseline and write DIR/result.json (schema "edgefarm.result/v1", docs/engine.md) plus
// DIR/quantize-report.json and DIR/model.gguf. Framework "olive" searches several recipes under
// the job's constraints and keeps the Pareto-best by the job's weights.
//
// Every framework runs on the native engine here; result.json says so ("runtime": "native").
// Failure: any Status is returned after writing what is known; RunCellJob writes result.json
// whenever the baseline could be measured. Thread-safety: one job per call; calls are independent.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "edgefarm/common/status.h"
#include "edgefarm/engine/matmul.h"

namespace edgefarm::engine {

// JOB.json, schema "edgefarm.job/v1", parsed and validated.
struct CellJob {
  std::string framework;  // llama_cpp | openvino | mlx | olive
  std::string target;
  std::string scheme;  // single-recipe frameworks
  bool pure = false;
  std::vector<std::string> candidates;  // olive
  double weight_speed = 1, weight_accuracy = 1, weight_memory = 1;
  int prompt_tokens = 64, gen_tokens = 32, repetitions = 3, threads = 1;
  int eval_ctx = 128, eval_max_chunks = 32;
  double min_accuracy_retention = 0;
  uint64_t max_model_bytes = 0;  // 0 = no limit
  std::filesystem::path model_path;
  std::filesystem::path eval_text_path;
};

// Errors: InvalidArgument naming the field for malformed JSON, a wrong schema, unknown framework,
// a scheme that does not belong to the framework, out-of-range numbers or missing inputs.
Result<CellJob> ParseCellJob(std::string_view json_text);
// The schemes a framework accepts (empty for an unknown framework; olive: every scheme).
const std::vector<std::string>& FrameworkSchemes(std::string_view framework);

struct CellJobOptions {
  std::filesystem::path out_dir;  // created if absent
  // Human-readable progress lines (the worker streams stdout as the job's log).
  std::function<void(std::string_view)> progress;
  KernelPath kernel_path = KernelPath::kAuto;
  bool measure_energy = true;
};

// The metrics of one measured model (one recipe or the baseline).
struct CellMetrics {
  std::string scheme;
  uint64_t model_bytes = 0;
  double pp_tps_mean = 0, pp_tps_stddev = 0, tg_tps_mean = 0, tg_tps_stddev = 0;
  double latency_p50_ms = 0, latency_p95_ms = 0, latency_p99_ms = 0, latency_cv = 0;
  uint64_t peak_rss_bytes = 0;
  double ppl = 0, baseline_ppl = 0, ppl_ratio = 0, kld_mean = 0, kld_p99 = 0, top1_agreement = 0;
  double accuracy_retention = 0, speedup = 0, memory_reduction = 0;
  bool feasible = true;
  std::string infeasible_reason;
  bool on_frontier = false;
  bool chosen = false;
  double score = 0;
};

// Olive's choice among measured candidates: marks feasibility against the constraints, the Pareto
// frontier over (tg speed up, accuracy_retention up, model_bytes down) among feasible ones, and the
// frontier candidate with the best normalised weighted score (min-max over the frontier; ties to
// the earlier candidate). Returns the chosen index, or NotFound when no candidate is feasible.
Result<size_t> ChooseCandidate(std::vector<CellMetrics>& candidates, const CellJob& job);

// Runs the job; returns the result record as written to out_dir/result.json.
Result<std::string> RunCellJob(const CellJob& job, const CellJobOptions& options);

}  // namespace edgefarm::engine
