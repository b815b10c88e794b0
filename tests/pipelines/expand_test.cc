// ExpandPipeline: cell order, include/exclude, `select: auto`, `native`, the job cap, the engine
// job record and command steps.
#include "edgefarm/pipelines/expand.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgefarm/pipelines/pipeline_loader.h"

namespace edgefarm::pipelines {
namespace {

constexpr char kModel[] = "name: t\nmodel: {path: models/m.gguf, eval_text: data/e.txt}\n";

Pipeline Load(const std::string& body) {
  Result<Pipeline> loaded = LoadPipeline(kModel + body, "t.yml");
  EXPECT_TRUE(loaded.ok()) << loaded.status().message();
  if (!loaded.ok()) return Pipeline();
  return std::move(loaded).value();
}

std::vector<std::string> Names(const Pipeline& p, const std::string& native = "intel-x86") {
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{native, 1024});
  EXPECT_TRUE(jobs.ok()) << jobs.status().message();
  std::vector<std::string> names;
  if (jobs.ok()) {
    for (const JobTemplate& job : *jobs) names.push_back(job.name);
  }
  return names;
}

TEST(ExpandTest, FrameworksThenTargetsInYamlOrder) {
  Pipeline p = Load("matrix: {framework: [openvino, llama_cpp], target: [arm64, amd-x86]}\n");
  EXPECT_EQ(Names(p), (std::vector<std::string>{"openvino/arm64", "openvino/amd-x86",
                                                "llama_cpp/arm64", "llama_cpp/amd-x86"}));
}

TEST(ExpandTest, IncludesAppendedAndExcludesRemoved) {
  Pipeline p = Load(R"(matrix:
  framework: [llama_cpp, openvino]
  target: [arm64, intel-x86]
  include: [{framework: mlx, target: apple-silicon}, {framework: llama_cpp, target: arm64}]
  exclude: [{framework: openvino, target: arm64}, {target: intel-x86}]
)");
  EXPECT_EQ(Names(p), (std::vector<std::string>{"llama_cpp/arm64", "mlx/apple-silicon"}));
}

TEST(ExpandTest, SelectAutoUsesTheDecisionTable) {
  Pipeline p = Load(R"(targets:
  jetson: {arch: aarch64, gpu.vendor: nvidia}
  pi: {arch: aarch64, board: rpi5}
matrix:
  select: auto
  target: [intel-x86, nvidia-cuda, apple-silicon, arm64, amd-x86, jetson, pi]
)");
  EXPECT_EQ(Names(p), (std::vector<std::string>{
                          "openvino/intel-x86", "olive/nvidia-cuda", "mlx/apple-silicon",
                          "llama_cpp/arm64", "llama_cpp/amd-x86", "olive/jetson", "llama_cpp/pi"}));
}

TEST(ExpandTest, SelectAutoFallsBackToTheSecondChoice) {
  Pipeline excluded = Load(R"(matrix:
  select: auto
  target: [intel-x86, apple-silicon]
  exclude: [{framework: openvino}]
)");
  EXPECT_EQ(Names(excluded), (std::vector<std::string>{"olive/intel-x86", "mlx/apple-silicon"}));
  Pipeline limited = Load(R"(matrix:
  select: auto
  framework: [llama_cpp, openvino]
  target: [nvidia-cuda, apple-silicon, intel-x86]
)");
  EXPECT_EQ(Names(limited),
            (std::vector<std::string>{"openvino/nvidia-cuda", "llama_cpp/apple-silicon",
                                      "openvino/intel-x86"}));
}

TEST(ExpandTest, NativeResolvesToTheGivenTargetAndDeduplicates) {
  Pipeline p = Load("matrix: {framework: [llama_cpp], target: [native, arm64, amd-x86]}\n");
  EXPECT_EQ(Names(p, "arm64"), (std::vector<std::string>{"llama_cpp/arm64", "llama_cpp/amd-x86"}));
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{"amd-x86", 1024});
  ASSERT_TRUE(jobs.ok());
  EXPECT_EQ((*jobs)[0].target, "amd-x86");
  EXPECT_EQ((*jobs)[0].required_tags, (Tags{{"arch", "x86_64"}, {"cpu.vendor", "amd"}}));
}

TEST(ExpandTest, NativeWithoutANativeTargetIsAnError) {
  Pipeline p = Load("matrix:\n  framework: [mlx]\n  target: [native]\n");
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{});
  ASSERT_FALSE(jobs.ok());
  EXPECT_EQ(jobs.status().message(),
            "t.yml:4:3: target 'native' needs a native target, and none was given (only the "
            "embedded farm, `edgefarm up`, resolves it)");
  Result<std::vector<JobTemplate>> unknown = ExpandPipeline(p, ExpandOptions{"sparc", 1024});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().message(),
            "t.yml:4:3: 'native' resolves to 'sparc', which is not a known target");
}

TEST(ExpandTest, CapsTheNumberOfJobs) {
  Pipeline p = Load("matrix: {framework: [llama_cpp, openvino, mlx], target: [arm64, amd-x86]}\n");
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{"", 5});
  ASSERT_FALSE(jobs.ok());
  EXPECT_EQ(jobs.status().message(), "t.yml:3:9: matrix expands to 6 jobs, over the limit of 5");
  EXPECT_TRUE(ExpandPipeline(p, ExpandOptions{"", 6}).ok());
}

TEST(ExpandTest, BuildsTheEngineJobRecord) {
  Pipeline p = Load(R"(matrix: {framework: [llama_cpp, olive], target: [arm64]}
recipes:
  llama_cpp: {scheme: q8_0, pure: true}
  olive: {candidates: [q4_0, int4_affine_g64], weights: {speed: 2}}
benchmark: {prompt_tokens: 8, gen_tokens: 4, repetitions: 1, threads: 1}
eval: {ctx: 64, max_chunks: 2}
gates: {overrides: {arm64: ['accuracy_retention >= 0.9']}}
timeout: 20m
retry: {infra: 4, job: 1}
)");
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{});
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  ASSERT_EQ(jobs->size(), 2u);
  const JobTemplate& llama = (*jobs)[0];
  EXPECT_EQ(llama.kind, JobTemplate::Kind::kEngine);
  EXPECT_EQ(llama.framework, "llama_cpp");
  EXPECT_EQ(llama.target, "arm64");
  EXPECT_EQ(llama.required_tags, (Tags{{"arch", "aarch64"}}));
  EXPECT_EQ(llama.inputs, (std::map<std::string, std::string>{{"model", "models/m.gguf"},
                                                              {"eval_text", "data/e.txt"}}));
  EXPECT_EQ(llama.timeout_seconds, 1200);
  EXPECT_EQ(llama.retry_infra, 4);
  EXPECT_EQ(llama.retry_job, 1);
  EXPECT_EQ(llama.engine_job_json,
            R"({"schema":"edgefarm.job/v1","framework":"llama_cpp","target":"arm64",)"
            R"("recipe":{"scheme":"q8_0","pure":true},)"
            R"("benchmark":{"prompt_tokens":8,"gen_tokens":4,"repetitions":1,"threads":1},)"
            R"("eval":{"ctx":64,"max_chunks":2},)"
            R"("constraints":{"min_accuracy_retention":0.9,"max_model_bytes":0}})");
  const auto olive = nlohmann::json::parse((*jobs)[1].engine_job_json);
  EXPECT_EQ(olive["recipe"]["candidates"], nlohmann::json({"q4_0", "int4_affine_g64"}));
  EXPECT_EQ(olive["recipe"]["weights"]["speed"], 2.0);
  EXPECT_EQ(olive["recipe"]["weights"]["memory"], 1.0);
  EXPECT_FALSE(olive.contains("inputs"));
}

TEST(ExpandTest, DefaultRecipesAndConstraintsFromTheSeedGates) {
  Pipeline p = Load("matrix: {framework: [openvino, mlx], target: [intel-x86]}\n");
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{});
  ASSERT_TRUE(jobs.ok());
  const auto openvino = nlohmann::json::parse((*jobs)[0].engine_job_json);
  EXPECT_EQ(openvino["recipe"], nlohmann::json({{"scheme", "int8_sym_pc"}}));
  EXPECT_EQ(openvino["benchmark"]["prompt_tokens"], 64);
  EXPECT_EQ(openvino["eval"]["max_chunks"], 32);
  EXPECT_EQ(openvino["constraints"]["min_accuracy_retention"], 0.95);
  EXPECT_EQ(nlohmann::json::parse((*jobs)[1].engine_job_json)["recipe"]["scheme"],
            "int4_affine_g64");
}

TEST(ExpandTest, ExpandsCommandStepsAfterTheCells) {
  Pipeline p = Load(R"(matrix: {framework: [llama_cpp], target: [arm64]}
steps:
  - name: build
    run: [make]
    matrix: {target: [arm64, native]}
  - name: package
    run: [make, dist]
    needs: [build]
    matrix: {target: [arm64]}
  - name: report
    run: [sh, -c, "echo done"]
    env: {LANG: C}
    requires: {os: linux}
    needs: [build, package]
    timeout: 45s
    retry: {infra: 0, job: 3}
    resource_group: deploy-production
)");
  Result<std::vector<JobTemplate>> jobs = ExpandPipeline(p, ExpandOptions{"intel-x86", 1024});
  ASSERT_TRUE(jobs.ok()) << jobs.status().message();
  std::vector<std::string> names;
  for (const JobTemplate& job : *jobs) names.push_back(job.name);
  EXPECT_EQ(names, (std::vector<std::string>{"llama_cpp/arm64", "build/arm64", "build/intel-x86",
                                             "package/arm64", "report"}));
  const JobTemplate& build = (*jobs)[2];
  EXPECT_EQ(build.kind, JobTemplate::Kind::kCommand);
  EXPECT_EQ(build.target, "intel-x86");
  EXPECT_EQ(build.required_tags, (Tags{{"arch", "x86_64"}, {"cpu.vendor", "intel"}}));
  EXPECT_EQ((*jobs)[3].needs, (std::vector<std::string>{"build/arm64"}));
  const JobTemplate& report = (*jobs)[4];
  EXPECT_EQ(report.argv, (std::vector<std::string>{"sh", "-c", "echo done"}));
  EXPECT_EQ(report.env.at("LANG"), "C");
  EXPECT_EQ(report.required_tags, (Tags{{"os", "linux"}}));
  EXPECT_EQ(report.needs,
            (std::vector<std::string>{"build/arm64", "build/intel-x86", "package/arm64"}));
  EXPECT_EQ(report.timeout_seconds, 45);
  EXPECT_EQ(report.retry_infra, 0);
  EXPECT_EQ(report.retry_job, 3);
  EXPECT_EQ(report.resource_group, "deploy-production");
  EXPECT_EQ((*jobs)[2].resource_group, "");
  EXPECT_TRUE(report.inputs.empty());
}

TEST(ExpandTest, ReferencedFilesAreSortedAndUnique) {
  Result<Pipeline> p = LoadPipeline(R"(name: r
model: {path: models/m.gguf, eval_text: data/e.txt, baseline: models/m.gguf}
)",
                                    "r.yml");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(ReferencedFiles(*p), (std::vector<std::string>{"data/e.txt", "models/m.gguf"}));
  Result<Pipeline> none = LoadPipeline("name: r\n", "r.yml");
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(ReferencedFiles(*none).empty());
}

}  // namespace
}  // namespace edgefarm::pipelines
