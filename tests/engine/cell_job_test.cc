// `edgefarm-engine run JOB.json --out DIR` as the worker runs it: a real child process on the real
// stories260K model, checked through the files it leaves in DIR.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <string>

#include "edgefarm/engine/model.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

namespace fs = std::filesystem;
using edgefarm::testing::BinaryDir;
using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;
using edgefarm::testing::WriteFile;
using Json = nlohmann::json;

constexpr const char* kMetricKeys[] = {"model_bytes",
                                       "baseline_bytes",
                                       "pp_tps_mean",
                                       "pp_tps_stddev",
                                       "tg_tps_mean",
                                       "tg_tps_stddev",
                                       "baseline_pp_tps_mean",
                                       "baseline_tg_tps_mean",
                                       "latency_p50_ms",
                                       "latency_p95_ms",
                                       "latency_p99_ms",
                                       "latency_cv",
                                       "peak_rss_bytes",
                                       "ppl",
                                       "baseline_ppl",
                                       "ppl_ratio",
                                       "kld_mean",
                                       "kld_p99",
                                       "top1_agreement",
                                       "accuracy_retention",
                                       "speedup",
                                       "memory_reduction"};

// Runs the engine with `args`; returns the exit code and puts stdout+stderr in *output.
int RunEngine(const TempDir& dir, const std::string& args, std::string* output) {
  const fs::path log = dir / "engine.log";
  const std::string cmd = (BinaryDir() / "engine" / "edgefarm-engine").string() + " " + args +
                          " > " + log.string() + " 2>&1";
  const int status = std::system(cmd.c_str());
  *output = ReadFile(log);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

Json MakeJob(const std::string& framework, Json recipe, const std::string& model) {
  return Json{{"schema", "edgefarm.job/v1"},
              {"framework", framework},
              {"target", "intel-x86"},
              {"recipe", std::move(recipe)},
              {"benchmark",
               {{"prompt_tokens", 32}, {"gen_tokens", 16}, {"repetitions", 2}, {"threads", 2}}},
              {"eval", {{"ctx", 128}, {"max_chunks", 8}}},
              {"constraints", {{"min_accuracy_retention", 0.9}, {"max_model_bytes", 0}}},
              {"inputs",
               {{"model", TestData("models/" + model).string()},
                {"eval_text", TestData("text/genesis.txt").string()}}}};
}

void ExpectCompleteMetrics(const Json& m) {
  for (const char* key : kMetricKeys) {
    ASSERT_TRUE(m.contains(key)) << key;
    ASSERT_TRUE(m[key].is_number()) << key;
  }
  for (const char* key : {"model_bytes", "baseline_bytes", "pp_tps_mean", "tg_tps_mean",
                          "baseline_tg_tps_mean", "latency_p50_ms", "peak_rss_bytes", "ppl",
                          "baseline_ppl", "accuracy_retention", "speedup"}) {
    EXPECT_GT(m[key].get<double>(), 0) << key;
  }
  EXPECT_NEAR(m["accuracy_retention"].get<double>(),
              m["baseline_ppl"].get<double>() / m["ppl"].get<double>(), 1e-9);
  EXPECT_NEAR(m["memory_reduction"].get<double>(),
              1.0 - m["model_bytes"].get<double>() / m["baseline_bytes"].get<double>(), 1e-9);
  EXPECT_NEAR(m["speedup"].get<double>(),
              m["tg_tps_mean"].get<double>() / m["baseline_tg_tps_mean"].get<double>(), 1e-9);
}

TEST(CellJobTest, LlamaCppQ40WritesACompleteResult) {
  TempDir dir;
  WriteFile(dir / "JOB.json",
            MakeJob("llama_cpp", {{"scheme", "q4_0"}, {"pure", false}}, "stories260K.gguf").dump());
  std::string log;
  ASSERT_EQ(
      RunEngine(dir, "run " + (dir / "JOB.json").string() + " --out " + (dir / "out").string(),
                &log),
      0)
      << log;
  EXPECT_NE(log.find("baseline"), std::string::npos) << log;
  const Json r = Json::parse(ReadFile(dir / "out" / "result.json"));
  EXPECT_EQ(r["schema"], "edgefarm.result/v1");
  EXPECT_EQ(r["framework"], "llama_cpp");
  EXPECT_EQ(r["target"], "intel-x86");
  EXPECT_EQ(r["scheme"], "q4_0");
  EXPECT_EQ(r["runtime"], (Json{{"quantize", "native"}, {"bench", "native"}, {"eval", "native"}}));
  ExpectCompleteMetrics(r["metrics"]);
  EXPECT_GT(r["metrics"]["memory_reduction"].get<double>(), 0.1);
  EXPECT_GT(r["metrics"]["kld_mean"].get<double>(), 0);
  ASSERT_TRUE(r["energy"]["available"].is_boolean());
  if (!r["energy"]["available"].get<bool>()) {
    EXPECT_FALSE(r["energy"]["reason"].get<std::string>().empty());
  }
  // n_ff = 172 does not divide into 32-element blocks: the FFN tensors fall back, and say so.
  bool ffn_fallback = false;
  for (const Json& f : r["fallbacks"]) {
    EXPECT_FALSE(f["reason"].get<std::string>().empty());
    EXPECT_NE(f["wanted"], f["used"]) << f.dump();  // exact tensor types, not the scheme
    ffn_fallback |= f["tensor"].get<std::string>().find("ffn_down") != std::string::npos;
  }
  EXPECT_TRUE(ffn_fallback) << r["fallbacks"].dump();
  bool saw_model = false;
  for (const Json& a : r["artifacts"]) {
    EXPECT_EQ(a["bytes"].get<uint64_t>(),
              fs::file_size(dir / "out" / a["name"].get<std::string>()));
    saw_model |= a["name"] == "model.gguf";
  }
  EXPECT_TRUE(saw_model);
  EXPECT_TRUE(r["candidates"].empty());
  EXPECT_EQ(r["metrics"]["model_bytes"].get<uint64_t>(), fs::file_size(dir / "out" / "model.gguf"));
  const Json report = Json::parse(ReadFile(dir / "out" / "quantize-report.json"));
  EXPECT_FALSE(report["tensors"].empty());
  EXPECT_TRUE(LlamaModel::Load(dir / "out" / "model.gguf").ok());
}

TEST(CellJobTest, OliveRecordsEveryCandidateAndKeepsAFrontierChoice) {
  TempDir dir;
  Json recipe = {{"candidates", {"q8_0", "q4_0", "int8_sym_pc"}},
                 {"weights", {{"speed", 1}, {"accuracy", 1}, {"memory", 1}}}};
  WriteFile(dir / "JOB.json", MakeJob("olive", recipe, "stories260K-ffpad192-f32.gguf").dump());
  std::string log;
  ASSERT_EQ(
      RunEngine(dir, "run " + (dir / "JOB.json").string() + " --out " + (dir / "out").string(),
                &log),
      0)
      << log;
  const Json r = Json::parse(ReadFile(dir / "out" / "result.json"));
  ASSERT_EQ(r["candidates"].size(), 3u);
  int chosen = 0;
  for (const Json& c : r["candidates"]) {
    ExpectCompleteMetrics(c["metrics"]);
    if (c["chosen"].get<bool>()) {
      ++chosen;
      EXPECT_TRUE(c["on_frontier"].get<bool>());
      EXPECT_EQ(r["scheme"], c["scheme"]);
      EXPECT_EQ(r["metrics"]["model_bytes"], c["metrics"]["model_bytes"]);
    }
  }
  EXPECT_EQ(chosen, 1);
  ExpectCompleteMetrics(r["metrics"]);
  EXPECT_EQ(r["metrics"]["model_bytes"].get<uint64_t>(), fs::file_size(dir / "out" / "model.gguf"));
  EXPECT_FALSE(fs::exists(dir / "out" / "candidates"));
}

TEST(CellJobTest, BadJobsFailWithAReason) {
  TempDir dir;
  std::string log;
  WriteFile(dir / "bad.json", R"({"schema": "edgefarm.job/v1", "framework": "tensorrt"})");
  EXPECT_EQ(
      RunEngine(dir, "run " + (dir / "bad.json").string() + " --out " + (dir / "out").string(),
                &log),
      1);
  EXPECT_NE(log.find("tensorrt"), std::string::npos) << log;

  Json job = MakeJob("llama_cpp", {{"scheme", "q8_0"}}, "stories260K.gguf");
  job["inputs"]["model"] = (dir / "absent.gguf").string();
  WriteFile(dir / "JOB.json", job.dump());
  EXPECT_EQ(
      RunEngine(dir, "run " + (dir / "JOB.json").string() + " --out " + (dir / "out").string(),
                &log),
      1);
  EXPECT_NE(log.find("absent.gguf"), std::string::npos) << log;
  EXPECT_EQ(RunEngine(dir, "run " + (dir / "JOB.json").string(), &log), 2);
}

}  // namespace
}  // namespace edgefarm::engine
