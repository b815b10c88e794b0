// The typed form of a `.edgefarm.yml` pipeline (docs/pipeline.md is the YAML reference).
//
// A Pipeline is produced by LoadPipeline (pipeline_loader.h), which has already validated it:
// names are known, durations parsed, step `needs` resolve and have no cycles, and the matrix is
// within the default job cap. Every field holds its documented default when the YAML omits it.
// Plain values; safe to copy and to share read-only between threads.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace edgefarm::pipelines {

// Where a value sat in the YAML text, 1-based as editors show it. {0, 0}: not from the text.
struct SourceLocation {
  int line = 0;
  int column = 0;
};

// Frameworks a matrix cell can name, in the canonical order.
inline constexpr std::string_view kFrameworks[] = {"llama_cpp", "openvino", "mlx", "olive"};
// The pseudo-target resolved by ExpandOptions::native_target.
inline constexpr std::string_view kNativeTarget = "native";

// `on.push`: which pushes start a run. Empty lists match everything. Patterns are globs: `*`
// matches within one path segment, `**` across segments, `?` one character (trigger_filter.h).
struct PushTrigger {
  bool enabled = true;  // false when `on:` is present without `push`
  std::vector<std::string> branches;
  std::vector<std::string> paths;
};

// Repository-relative paths (never absolute, never containing `..`).
struct ModelSpec {
  std::string path;       // the unoptimised model (GGUF)
  std::string eval_text;  // text for perplexity / KL divergence
  std::string baseline;   // optional reference model; empty: the model itself is the baseline
};

struct MatrixEntry {
  std::string framework;  // include: required; exclude: empty matches any framework
  std::string target;     // include: required; exclude: empty matches any target
  SourceLocation location;
};

struct MatrixSpec {
  bool present = false;      // false: the pipeline has no engine cells
  bool select_auto = false;  // `select: auto`: frameworks from the decision table per target
  std::vector<std::string> frameworks;
  std::vector<std::string> targets;  // built-in, custom (Pipeline::targets) or "native"
  std::vector<MatrixEntry> include;
  std::vector<MatrixEntry> exclude;
  SourceLocation location;
};

struct LlamaCppRecipe {
  std::string scheme = "q4_0";  // q8_0 | q4_0 | q4_k_m
  bool pure = false;            // quantise every 2-D tensor to `scheme` (llama-quantize --pure)
};
struct OpenVinoRecipe {
  std::string scheme = "int8_sym_pc";  // int8_sym_pc | int4_sym_g128
};
struct MlxRecipe {
  std::string scheme = "int4_affine_g64";  // int4_affine_g64
};
struct OliveWeights {
  double speed = 1.0;
  double accuracy = 1.0;
  double memory = 1.0;
};
struct OliveRecipe {
  std::vector<std::string> candidates = {"q8_0",        "q4_0",          "q4_k_m",
                                         "int8_sym_pc", "int4_sym_g128", "int4_affine_g64"};
  OliveWeights weights;
  // Search limits. Unset min_accuracy_retention: the cell's `accuracy_retention >=` gate
  // threshold (0 when there is no such gate). max_model_bytes 0: no limit.
  std::optional<double> min_accuracy_retention;
  uint64_t max_model_bytes = 0;
};
struct Recipes {
  LlamaCppRecipe llama_cpp;
  OpenVinoRecipe openvino;
  MlxRecipe mlx;
  OliveRecipe olive;
};

struct BenchmarkSpec {
  int prompt_tokens = 64;
  int gen_tokens = 32;
  int repetitions = 3;
  int threads = 2;
};
struct EvalSpec {
  int ctx = 128;
  int max_chunks = 32;  // 0: the whole text
};

// One gate: `metric op threshold`, e.g. accuracy_retention >= 0.95.
enum class GateOp { kGe, kGt, kLe, kLt, kEq, kNe };
struct Gate {
  std::string metric;
  GateOp op = GateOp::kGe;
  double threshold = 0.0;
  std::string target;  // empty: applies to every target; else from `overrides.<target>`
  SourceLocation location;
};
// What a gate does when the cell did not report its metric.
enum class NoDataPolicy { kFail, kPass, kSkip };
struct GatesSpec {
  // The seed defaults unless the YAML replaces them.
  std::vector<Gate> gates = {{"accuracy_retention", GateOp::kGe, 0.95, "", {}},
                             {"speedup", GateOp::kGe, 2.0, "", {}},
                             {"memory_reduction", GateOp::kGe, 0.5, "", {}},
                             {"latency_cv", GateOp::kLe, 0.2, "", {}}};
  // Per-target gates: a gate here replaces the default gate on the same metric for that target.
  std::map<std::string, std::vector<Gate>> overrides;
  NoDataPolicy no_data = NoDataPolicy::kFail;
};

struct RetryPolicy {
  int infra = 2;  // retries after infrastructure failures (lost worker, expired lease)
  int job = 0;    // retries after the job itself failed
};

// Worker tags: key → value (expand.h declares the same alias).
using Tags = std::map<std::string, std::string>;

// A generic CI job (`steps:`). With `matrix_targets` it expands to "name/target" jobs.
struct Step {
  std::string name;
  std::vector<std::string> run;  // argv; never a shell string
  std::map<std::string, std::string> env;
  Tags requires_tags;
  int timeout_seconds = 3600;
  std::vector<std::string> needs;  // other step names (all of a matrixed step's jobs)
  std::vector<std::string> matrix_targets;
  std::optional<RetryPolicy> retry;  // unset: the pipeline's `retry`
  // Jobs of one resource group run one at a time across the farm, in submission order (e.g.
  // "deploy-production"); "" for none. A name as for steps.
  std::string resource_group;
  SourceLocation location;
};

// Shapes parsed and validated now; executed by the stage runner.
struct IntegrationStage {
  int requests = 10;  // smoke requests sent to the candidate
};
struct LoadStage {
  int concurrency = 4;
  int duration_seconds = 30;
  double max_error_rate = 0.01;  // 0..1
  double max_p95_ms = 1000.0;
};
struct SecurityStage {
  uint64_t max_bytes = 0;  // artifact size limit; 0: none
};
struct StagingSpec {
  std::optional<IntegrationStage> integration;
  std::optional<LoadStage> load;
  std::optional<SecurityStage> security;
};
struct TrafficStep {
  int weight = 100;  // percent of traffic on the candidate, 1..100, increasing
  int hold_seconds = 0;
};
struct ApprovalSpec {
  bool required = false;
  std::string role = "release-manager";
  int count = 1;
  int timeout_seconds = 86400;
  std::string on_timeout = "reject";  // reject | approve
};
// How a ramp step judges the candidate against the live version; unset keys take the
// coordinator's defaults (docs/promotion.md "Analysis").
struct AnalysisSpec {
  std::optional<double> max_error_rate;  // candidate error rate above this fails the step
  std::optional<double> max_p95_ratio;   // candidate p95 / live p95 above this fails the step
  std::optional<int> min_requests;       // fewer candidate requests: inconclusive, never a pass
};
struct PromotionSpec {
  std::string environment = "production";
  std::vector<TrafficStep> traffic;  // defaults to one step of 100 %
  int failure_limit = 1;             // failed analyses tolerated before automatic rollback
  ApprovalSpec approval;
  AnalysisSpec analysis;
};

struct Pipeline {
  std::string file_name;  // as given to LoadPipeline; prefixes later errors
  std::string name;
  PushTrigger push;
  std::optional<ModelSpec> model;
  MatrixSpec matrix;
  std::map<std::string, Tags> targets;  // custom targets; override built-ins of the same name
  Recipes recipes;
  BenchmarkSpec benchmark;
  EvalSpec eval;
  GatesSpec gates;
  std::vector<Step> steps;
  RetryPolicy retry;
  int timeout_seconds = 3600;  // per engine cell
  int concurrency = 0;         // most jobs of one run running at once; 0: no limit
  int priority = 50;           // 0..100, higher first
  std::optional<StagingSpec> staging;
  std::optional<PromotionSpec> promotion;
};

// "30s", "10m", "1h", "1h30m" → seconds. nullopt for anything else (bare numbers included).
std::optional<int64_t> ParseDuration(std::string_view text);

}  // namespace edgefarm::pipelines
