// LoadPipeline on valid documents: every section lands in the typed structs, defaults fill the
// rest, and the bundled example loads.
#include "edgefarm/pipelines/pipeline_loader.h"

#include <gtest/gtest.h>

#include "edgefarm/pipelines/gates.h"
#include "test_support.h"

namespace edgefarm::pipelines {
namespace {

constexpr char kFull[] = R"(
name: full
on:
  push:
    branches: [main, "release/*"]
    paths: ["models/**"]
model:
  path: models/m.gguf
  eval_text: data/eval.txt
  baseline: models/base.gguf
targets:
  jetson: {arch: aarch64, gpu.vendor: nvidia, board: orin}
matrix:
  framework: [llama_cpp, openvino]
  target: [intel-x86, jetson]
  include:
    - {framework: mlx, target: apple-silicon}
  exclude:
    - {framework: openvino, target: jetson}
recipes:
  llama_cpp: {scheme: q4_k_m, pure: true}
  openvino: {scheme: int4_sym_g128}
  mlx: {scheme: int4_affine_g64}
  olive:
    candidates: [q8_0, int8_sym_pc]
    weights: {speed: 2, accuracy: 3, memory: 0.5}
    min_accuracy_retention: 0.9
    max_model_bytes: 1000000
benchmark: {prompt_tokens: 16, gen_tokens: 8, repetitions: 2, threads: 4}
eval: {ctx: 64, max_chunks: 0}
gates:
  checks: ["accuracy_retention >= 0.9", "speedup > 1.5"]
  overrides:
    jetson: ["speedup >= 3"]
  no_data: skip
steps:
  - name: unit-tests
    run: [make, test]
    env: {CI: "1"}
    requires: {arch: x86_64}
    timeout: 10m
  - name: lint
    run: [sh, -c, "echo lint"]
    needs: [unit-tests]
    matrix: {target: [arm64, intel-x86]}
    retry: {infra: 1, job: 2}
retry: {infra: 3, job: 1}
timeout: 1h30m
concurrency: 4
priority: 80
staging:
  integration: {requests: 5}
  load: {concurrency: 8, duration: 2m, max_error_rate: 0.02, max_p95_ms: 250}
  security: {max_bytes: 50000000}
promotion:
  environment: prod-eu
  traffic: [{weight: 10, hold: 5m}, {weight: 50, hold: 10m}, {weight: 100}]
  failure_limit: 2
  approval: {required: true, role: release-manager, count: 1, timeout: 24h, on_timeout: reject}
  analysis: {max_error_rate: 0.02, max_p95_ratio: 2, min_requests: 50}
)";

TEST(PipelineLoaderTest, ParsesEverySection) {
  Result<Pipeline> loaded = LoadPipeline(kFull, ".edgefarm.yml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Pipeline& p = *loaded;
  EXPECT_EQ(p.file_name, ".edgefarm.yml");
  EXPECT_EQ(p.name, "full");
  EXPECT_TRUE(p.push.enabled);
  EXPECT_EQ(p.push.branches, (std::vector<std::string>{"main", "release/*"}));
  EXPECT_EQ(p.push.paths, (std::vector<std::string>{"models/**"}));
  ASSERT_TRUE(p.model.has_value());
  EXPECT_EQ(p.model->path, "models/m.gguf");
  EXPECT_EQ(p.model->eval_text, "data/eval.txt");
  EXPECT_EQ(p.model->baseline, "models/base.gguf");
  EXPECT_EQ(p.targets.at("jetson").at("board"), "orin");
  EXPECT_TRUE(p.matrix.present);
  EXPECT_FALSE(p.matrix.select_auto);
  EXPECT_EQ(p.matrix.frameworks, (std::vector<std::string>{"llama_cpp", "openvino"}));
  EXPECT_EQ(p.matrix.targets, (std::vector<std::string>{"intel-x86", "jetson"}));
  ASSERT_EQ(p.matrix.include.size(), 1u);
  EXPECT_EQ(p.matrix.include[0].framework, "mlx");
  EXPECT_EQ(p.matrix.include[0].location.line, 17);
  ASSERT_EQ(p.matrix.exclude.size(), 1u);
  EXPECT_EQ(p.matrix.exclude[0].target, "jetson");
  EXPECT_EQ(p.recipes.llama_cpp.scheme, "q4_k_m");
  EXPECT_TRUE(p.recipes.llama_cpp.pure);
  EXPECT_EQ(p.recipes.openvino.scheme, "int4_sym_g128");
  EXPECT_EQ(p.recipes.olive.candidates, (std::vector<std::string>{"q8_0", "int8_sym_pc"}));
  EXPECT_DOUBLE_EQ(p.recipes.olive.weights.speed, 2.0);
  EXPECT_DOUBLE_EQ(p.recipes.olive.weights.memory, 0.5);
  EXPECT_DOUBLE_EQ(p.recipes.olive.min_accuracy_retention.value(), 0.9);
  EXPECT_EQ(p.recipes.olive.max_model_bytes, 1000000u);
  EXPECT_EQ(p.benchmark.prompt_tokens, 16);
  EXPECT_EQ(p.benchmark.threads, 4);
  EXPECT_EQ(p.eval.ctx, 64);
  EXPECT_EQ(p.eval.max_chunks, 0);
}

TEST(PipelineLoaderTest, ParsesGatesStepsAndStages) {
  Result<Pipeline> loaded = LoadPipeline(kFull, ".edgefarm.yml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Pipeline& p = *loaded;
  ASSERT_EQ(p.gates.gates.size(), 2u);
  EXPECT_EQ(p.gates.gates[1].metric, "speedup");
  EXPECT_EQ(p.gates.gates[1].op, GateOp::kGt);
  EXPECT_DOUBLE_EQ(p.gates.gates[1].threshold, 1.5);
  ASSERT_EQ(p.gates.overrides.at("jetson").size(), 1u);
  EXPECT_EQ(p.gates.overrides.at("jetson")[0].target, "jetson");
  EXPECT_EQ(p.gates.no_data, NoDataPolicy::kSkip);
  ASSERT_EQ(p.steps.size(), 2u);
  EXPECT_EQ(p.steps[0].run, (std::vector<std::string>{"make", "test"}));
  EXPECT_EQ(p.steps[0].env.at("CI"), "1");
  EXPECT_EQ(p.steps[0].requires_tags.at("arch"), "x86_64");
  EXPECT_EQ(p.steps[0].timeout_seconds, 600);
  EXPECT_FALSE(p.steps[0].retry.has_value());
  EXPECT_EQ(p.steps[1].needs, (std::vector<std::string>{"unit-tests"}));
  EXPECT_EQ(p.steps[1].matrix_targets, (std::vector<std::string>{"arm64", "intel-x86"}));
  EXPECT_EQ(p.steps[1].retry->job, 2);
  EXPECT_EQ(p.retry.infra, 3);
  EXPECT_EQ(p.timeout_seconds, 5400);
  EXPECT_EQ(p.concurrency, 4);
  EXPECT_EQ(p.priority, 80);
  ASSERT_TRUE(p.staging.has_value());
  EXPECT_EQ(p.staging->integration->requests, 5);
  EXPECT_EQ(p.staging->load->duration_seconds, 120);
  EXPECT_DOUBLE_EQ(p.staging->load->max_p95_ms, 250);
  EXPECT_EQ(p.staging->security->max_bytes, 50000000u);
  ASSERT_TRUE(p.promotion.has_value());
  EXPECT_EQ(p.promotion->environment, "prod-eu");
  ASSERT_EQ(p.promotion->traffic.size(), 3u);
  EXPECT_EQ(p.promotion->traffic[1].weight, 50);
  EXPECT_EQ(p.promotion->traffic[1].hold_seconds, 600);
  EXPECT_EQ(p.promotion->failure_limit, 2);
  EXPECT_TRUE(p.promotion->approval.required);
  EXPECT_EQ(p.promotion->approval.timeout_seconds, 86400);
  EXPECT_EQ(p.promotion->analysis.max_error_rate, 0.02);
  EXPECT_EQ(p.promotion->analysis.max_p95_ratio, 2.0);
  EXPECT_EQ(p.promotion->analysis.min_requests, 50);
}

TEST(PipelineLoaderTest, FillsDefaults) {
  Result<Pipeline> loaded = LoadPipeline(R"(
name: minimal
model: {path: m.gguf, eval_text: e.txt}
matrix: {framework: [llama_cpp], target: [arm64]}
)",
                                         "p.yml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  const Pipeline& p = *loaded;
  EXPECT_TRUE(p.push.enabled);
  EXPECT_TRUE(p.push.branches.empty());
  EXPECT_EQ(p.recipes.llama_cpp.scheme, "q4_0");
  EXPECT_FALSE(p.recipes.llama_cpp.pure);
  EXPECT_EQ(p.recipes.openvino.scheme, "int8_sym_pc");
  EXPECT_EQ(p.recipes.mlx.scheme, "int4_affine_g64");
  EXPECT_EQ(p.recipes.olive.candidates.size(), 6u);
  EXPECT_DOUBLE_EQ(p.recipes.olive.weights.accuracy, 1.0);
  EXPECT_EQ(p.benchmark.prompt_tokens, 64);
  EXPECT_EQ(p.benchmark.gen_tokens, 32);
  EXPECT_EQ(p.benchmark.repetitions, 3);
  EXPECT_EQ(p.benchmark.threads, 2);
  EXPECT_EQ(p.eval.ctx, 128);
  EXPECT_EQ(p.eval.max_chunks, 32);
  ASSERT_EQ(p.gates.gates.size(), 4u);
  EXPECT_EQ(FormatGate(p.gates.gates[0]), "accuracy_retention >= 0.95");
  EXPECT_EQ(FormatGate(p.gates.gates[1]), "speedup >= 2");
  EXPECT_EQ(FormatGate(p.gates.gates[2]), "memory_reduction >= 0.5");
  EXPECT_EQ(FormatGate(p.gates.gates[3]), "latency_cv <= 0.2");
  EXPECT_EQ(p.gates.no_data, NoDataPolicy::kFail);
  EXPECT_EQ(p.retry.infra, 2);
  EXPECT_EQ(p.retry.job, 0);
  EXPECT_FALSE(p.staging.has_value());
  EXPECT_FALSE(p.promotion.has_value());
}

TEST(PipelineLoaderTest, GateListFormReplacesDefaultsAndMapFormKeepsThem) {
  Result<Pipeline> list = LoadPipeline("name: g\ngates: ['speedup >= 1.2']\n", "g.yml");
  ASSERT_TRUE(list.ok()) << list.status().message();
  ASSERT_EQ(list->gates.gates.size(), 1u);
  EXPECT_EQ(list->gates.gates[0].location.line, 2);
  Result<Pipeline> map = LoadPipeline("name: g\ngates: {no_data: pass}\n", "g.yml");
  ASSERT_TRUE(map.ok()) << map.status().message();
  EXPECT_EQ(map->gates.gates.size(), 4u);
  EXPECT_EQ(map->gates.no_data, NoDataPolicy::kPass);
}

TEST(PipelineLoaderTest, OnWithoutPushDisablesPushAndStepsOnlyPipelineHasNoMatrix) {
  Result<Pipeline> loaded = LoadPipeline(R"(
name: ci-only
on: {}
steps:
  - {name: a, run: [true]}
  - {name: b, run: [true], needs: [c]}
  - {name: c, run: [true], needs: [a]}
)",
                                         "ci.yml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_FALSE(loaded->push.enabled);
  EXPECT_FALSE(loaded->matrix.present);
  EXPECT_FALSE(loaded->model.has_value());
  EXPECT_EQ(loaded->steps.size(), 3u);
}

TEST(PipelineLoaderTest, AcceptsTheShortPushForms) {
  for (const char* on : {"push", "[push]", "{push: }"}) {
    Result<Pipeline> loaded = LoadPipeline(std::string("name: s\non: ") + on + "\n", "s.yml");
    ASSERT_TRUE(loaded.ok()) << on << ": " << loaded.status().message();
    EXPECT_TRUE(loaded->push.enabled);
    EXPECT_TRUE(loaded->push.branches.empty());
  }
  Result<Pipeline> bad = LoadPipeline("name: s\non: pull\n", "s.yml");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message(), "s.yml:2:5: expected a map for 'on', got 'pull'");
}

TEST(PipelineLoaderTest, DefaultConstructedPipelineHoldsTheDefaults) {
  const Pipeline p;
  EXPECT_EQ(p.gates.gates.size(), 4u);
  EXPECT_EQ(DefaultGates().size(), 4u);
  EXPECT_EQ(p.recipes.llama_cpp.scheme, "q4_0");
  EXPECT_EQ(p.eval.max_chunks, 32);
}

TEST(PipelineLoaderTest, ParsesDurations) {
  EXPECT_EQ(ParseDuration("30s"), 30);
  EXPECT_EQ(ParseDuration("10m"), 600);
  EXPECT_EQ(ParseDuration("1h"), 3600);
  EXPECT_EQ(ParseDuration("1h30m"), 5400);
  EXPECT_EQ(ParseDuration("2d"), 172800);
  EXPECT_EQ(ParseDuration("0s"), 0);
  EXPECT_FALSE(ParseDuration("30").has_value());
  EXPECT_FALSE(ParseDuration("10x").has_value());
  EXPECT_FALSE(ParseDuration("m").has_value());
  EXPECT_FALSE(ParseDuration("").has_value());
  EXPECT_FALSE(ParseDuration("-5s").has_value());
  EXPECT_FALSE(ParseDuration("99999999999h").has_value());
}

TEST(PipelineLoaderTest, LoadsTheBundledExample) {
  const auto path = testing::SourceDir() / "examples" / "stories" / ".edgefarm.yml";
  Result<Pipeline> loaded = LoadPipeline(testing::ReadFile(path), ".edgefarm.yml");
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  ASSERT_TRUE(loaded->model.has_value());
  EXPECT_EQ(loaded->model->path, "models/stories260K.gguf");
  EXPECT_EQ(loaded->model->eval_text, "data/genesis.txt");
  EXPECT_EQ(loaded->matrix.frameworks,
            (std::vector<std::string>{"llama_cpp", "openvino", "mlx", "olive"}));
  EXPECT_EQ(loaded->matrix.targets, (std::vector<std::string>{"native"}));
  EXPECT_EQ(loaded->eval.ctx, 128);
  EXPECT_EQ(loaded->eval.max_chunks, 16);
  EXPECT_FALSE(loaded->steps.empty());
  // The files it names exist next to it, so `edgefarm up` can upload them.
  for (const std::string& file : {loaded->model->path, loaded->model->eval_text}) {
    EXPECT_TRUE(std::filesystem::is_regular_file(path.parent_path() / file)) << file;
  }
}

TEST(PipelineLoaderTest, HostileInputIsAnErrorNotACrash) {
  EXPECT_FALSE(LoadPipeline("", "e.yml").ok());
  EXPECT_FALSE(LoadPipeline("[1, 2", "e.yml").ok());
  EXPECT_FALSE(LoadPipeline(std::string(2 << 20, 'a'), "e.yml").ok());
  std::string deep;
  for (int i = 0; i < 5000; ++i) deep += "[";
  EXPECT_FALSE(LoadPipeline(deep, "e.yml").ok());
  EXPECT_FALSE(LoadPipeline("name: x\nmatrix: *undefined\n", "e.yml").ok());
  EXPECT_FALSE(LoadPipeline("name: x\n? [a, b]\n: c\n", "e.yml").ok());
}

}  // namespace
}  // namespace edgefarm::pipelines
