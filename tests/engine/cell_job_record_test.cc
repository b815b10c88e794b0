// JOB.json parsing and the olive choice (Pareto frontier + weighted score), without running models.
#include <gtest/gtest.h>

#include "edgefarm/engine/cell_job.h"

namespace edgefarm::engine {
namespace {

constexpr char kJob[] = R"({
  "schema": "edgefarm.job/v1", "framework": "llama_cpp", "target": "intel-x86",
  "recipe": {"scheme": "q4_0", "pure": true},
  "benchmark": {"prompt_tokens": 16, "gen_tokens": 8, "repetitions": 2, "threads": 2},
  "eval": {"ctx": 64, "max_chunks": 4},
  "constraints": {"min_accuracy_retention": 0.9, "max_model_bytes": 1000},
  "inputs": {"model": "/m.gguf", "eval_text": "/t.txt"}})";

TEST(CellJobRecordTest, ParsesEveryField) {
  auto job = ParseCellJob(kJob);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->framework, "llama_cpp");
  EXPECT_EQ(job->target, "intel-x86");
  EXPECT_EQ(job->scheme, "q4_0");
  EXPECT_TRUE(job->pure);
  EXPECT_EQ(job->prompt_tokens, 16);
  EXPECT_EQ(job->gen_tokens, 8);
  EXPECT_EQ(job->repetitions, 2);
  EXPECT_EQ(job->threads, 2);
  EXPECT_EQ(job->eval_ctx, 64);
  EXPECT_EQ(job->eval_max_chunks, 4);
  EXPECT_DOUBLE_EQ(job->min_accuracy_retention, 0.9);
  EXPECT_EQ(job->max_model_bytes, 1000u);
  EXPECT_EQ(job->model_path, "/m.gguf");
  EXPECT_EQ(job->eval_text_path, "/t.txt");
}

TEST(CellJobRecordTest, ParsesOliveCandidatesAndWeights) {
  auto job = ParseCellJob(R"({"schema": "edgefarm.job/v1", "framework": "olive",
      "recipe": {"candidates": ["q8_0", "int4_affine_g64"], "weights": {"speed": 2, "accuracy": 1,
      "memory": 0}}, "inputs": {"model": "/m", "eval_text": "/t"}})");
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->candidates, (std::vector<std::string>{"q8_0", "int4_affine_g64"}));
  EXPECT_DOUBLE_EQ(job->weight_speed, 2);
  EXPECT_DOUBLE_EQ(job->weight_memory, 0);
}

TEST(CellJobRecordTest, RejectsBadJobsWithTheField) {
  struct Case {
    const char* json;
    const char* needle;
  } cases[] = {
      {"not json", "not valid JSON"},
      {R"({"schema": "edgefarm.job/v2"})", "schema"},
      {R"({"schema": "edgefarm.job/v1", "framework": "tensorrt"})", "tensorrt"},
      {R"({"schema": "edgefarm.job/v1", "framework": "openvino", "recipe": {"scheme": "q4_0"}})",
       "recipe.scheme"},
      {R"({"schema": "edgefarm.job/v1", "framework": "mlx", "recipe": {"scheme":
          "int4_affine_g64"}, "benchmark": {"threads": "two"}})",
       "benchmark.threads"},
      {R"({"schema": "edgefarm.job/v1", "framework": "mlx", "recipe": {"scheme":
          "int4_affine_g64"}, "inputs": {"eval_text": "/t"}})",
       "inputs.model"},
      {R"({"schema": "edgefarm.job/v1", "framework": "olive", "recipe": {"candidates": ["q9"]}})",
       "q9"},
      {R"({"schema": "edgefarm.job/v1", "framework": "llama_cpp", "recipe": [1]})", "recipe"},
  };
  for (const Case& c : cases) {
    auto job = ParseCellJob(c.json);
    ASSERT_FALSE(job.ok()) << c.json;
    EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(job.status().message().find(c.needle), std::string::npos) << job.status().message();
  }
}

CellMetrics Candidate(const char* scheme, double tg, double acc, uint64_t bytes) {
  CellMetrics m;
  m.scheme = scheme;
  m.tg_tps_mean = tg;
  m.accuracy_retention = acc;
  m.model_bytes = bytes;
  return m;
}

TEST(OliveChoiceTest, ChoosesOnTheFrontierByWeights) {
  CellJob job;
  job.min_accuracy_retention = 0.95;
  std::vector<CellMetrics> c = {
      Candidate("q8_0", 100, 0.999, 1000), Candidate("q4_0", 150, 0.97, 600),
      Candidate("slow_and_big", 90, 0.96, 1100),  // dominated by q8_0
      Candidate("q2", 300, 0.80, 300),            // fails the accuracy constraint
  };
  auto chosen = ChooseCandidate(c, job);
  ASSERT_TRUE(chosen.ok());
  EXPECT_TRUE(c[0].on_frontier);
  EXPECT_TRUE(c[1].on_frontier);
  EXPECT_FALSE(c[2].on_frontier);
  EXPECT_FALSE(c[3].feasible);
  EXPECT_FALSE(c[3].on_frontier);
  EXPECT_FALSE(c[3].infeasible_reason.empty());
  // Equal weights: q4_0 wins speed and memory, q8_0 only accuracy.
  EXPECT_EQ(*chosen, 1u);
  EXPECT_TRUE(c[1].chosen);

  job.weight_speed = 0;
  job.weight_memory = 0;
  auto accurate = ChooseCandidate(c, job);
  ASSERT_TRUE(accurate.ok());
  EXPECT_EQ(*accurate, 0u);
  EXPECT_FALSE(c[1].chosen);
}

TEST(OliveChoiceTest, NoFeasibleCandidateIsAnError) {
  CellJob job;
  job.max_model_bytes = 100;
  std::vector<CellMetrics> c = {Candidate("q8_0", 100, 1.0, 1000)};
  EXPECT_EQ(ChooseCandidate(c, job).status().code(), StatusCode::kNotFound);
  EXPECT_FALSE(c[0].feasible);
}

}  // namespace
}  // namespace edgefarm::engine
