// The llama-bench-style benchmark: every figure present and positive, JSON shape, energy adapter.
// No assertion here depends on how fast the machine is.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgefarm/engine/benchmark.h"
#include "edgefarm/engine/model.h"
#include "model_test_util.h"
#include "test_support.h"

namespace edgefarm::engine {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::TestData;
using edgefarm::testing::WriteFile;

std::unique_ptr<LlamaModel> LoadStories() {
  return LoadModel(TestData("models/stories260K.gguf"));
}

BenchParams SmallParams() {
  BenchParams p = DefaultBenchParams();
  p.n_prompt = 32;
  p.n_gen = 16;
  p.reps = 3;
  p.threads = 2;
  return p;
}

TEST(BenchmarkTest, ReportsEveryFigure) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  auto r = RunBenchmark(*model, SmallParams());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->pp_tps.size(), 3u);
  EXPECT_EQ(r->tg_tps.size(), 3u);
  EXPECT_GT(r->pp_tps_mean, 0);
  EXPECT_GT(r->tg_tps_mean, 0);
  EXPECT_GE(r->pp_tps_stddev, 0);
  EXPECT_GE(r->tg_tps_stddev, 0);
  EXPECT_GT(r->latency_p50_ms, 0);
  EXPECT_LE(r->latency_p50_ms, r->latency_p95_ms);
  EXPECT_LE(r->latency_p95_ms, r->latency_p99_ms);
  EXPECT_GE(r->latency_cv, 0);
  EXPECT_GT(r->peak_rss_bytes, model->file_bytes());
  EXPECT_EQ(r->model_bytes, model->file_bytes());
  EXPECT_FALSE(r->kernel_path.empty());
}

TEST(BenchmarkTest, JsonCarriesTheFields) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  BenchParams p = SmallParams();
  p.reps = 2;
  auto r = RunBenchmark(*model, p);
  ASSERT_TRUE(r.ok());
  const auto j = nlohmann::json::parse(BenchResultJson(*r));
  for (const char* key : {"pp_tps_mean", "pp_tps_stddev", "tg_tps_mean", "tg_tps_stddev",
                          "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "latency_cv",
                          "peak_rss_bytes", "model_bytes", "threads", "n_prompt", "n_gen"}) {
    ASSERT_TRUE(j.contains(key)) << key;
    EXPECT_GE(j[key].get<double>(), 0) << key;
  }
  EXPECT_GT(j["tg_tps_mean"].get<double>(), 0);
  ASSERT_TRUE(j.contains("energy"));
  EXPECT_TRUE(j["energy"]["available"].is_boolean());
  if (!j["energy"]["available"].get<bool>()) {
    EXPECT_FALSE(j["energy"]["reason"].get<std::string>().empty());
  }
}

TEST(BenchmarkTest, RejectsEmptyWork) {
  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  BenchParams p = SmallParams();
  p.n_prompt = 0;
  p.n_gen = 0;
  EXPECT_EQ(RunBenchmark(*model, p).status().code(), StatusCode::kInvalidArgument);
}

TEST(EnergyTest, MissingRaplSaysWhy) {
  TempDir dir;
  auto counter = OpenRaplCounter(dir / "intel-rapl:0");
  ASSERT_FALSE(counter.ok());
  EXPECT_NE(counter.status().message().find("energy_uj"), std::string::npos);
}

TEST(EnergyTest, ReadsAPowercapDirectory) {
  TempDir dir;
  WriteFile(dir / "intel-rapl:0" / "energy_uj", "123456789\n");
  WriteFile(dir / "intel-rapl:0" / "max_energy_range_uj", "262143328850\n");
  WriteFile(dir / "intel-rapl:0" / "name", "package-0\n");
  auto counter = OpenRaplCounter(dir / "intel-rapl:0");
  ASSERT_TRUE(counter.ok()) << counter.status().ToString();
  EXPECT_EQ(*(*counter)->ReadMicrojoules(), 123456789u);
  EXPECT_EQ((*counter)->MaxMicrojoules(), 262143328850u);
  EXPECT_EQ((*counter)->Name(), "rapl:intel-rapl:0 (package-0)");

  auto model = LoadStories();
  ASSERT_NE(model, nullptr);
  BenchParams p = SmallParams();
  p.reps = 1;
  auto r = RunBenchmark(*model, p, counter->get());
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->energy.available);
  EXPECT_EQ(r->energy.joules, 0.0);  // the file did not change
  EXPECT_GT(r->energy.seconds, 0.0);
}

}  // namespace
}  // namespace edgefarm::engine
