#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgefarm/serving/staging_checks.h"

namespace edgefarm::serving {
namespace {

nlohmann::json GoodJob() {
  return {{"schema", "edgefarm.stage/v1"},
          {"model", "/tmp/m.gguf"},
          {"expected_digest", std::string(64, 'a')},
          {"signature", std::string(128, 'b')},
          {"public_key", std::string(64, 'c')},
          {"integration", {{"requests", 3}, {"max_tokens", 8}}},
          {"load",
           {{"concurrency", 2},
            {"requests", 20},
            {"max_error_rate", 0.01},
            {"max_p95_ms", 500},
            {"min_throughput_rps", 1}}},
          {"security", {{"max_bytes", 1000000}}}};
}

TEST(StageJobTest, ParsesEveryField) {
  auto job = ParseStageJob(GoodJob().dump());
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->model, "/tmp/m.gguf");
  EXPECT_EQ(job->integration_requests, 3);
  EXPECT_EQ(job->integration_max_tokens, 8);
  EXPECT_EQ(job->load_concurrency, 2);
  EXPECT_EQ(job->load_requests, 20);
  EXPECT_EQ(job->load_duration_s, 0);
  EXPECT_DOUBLE_EQ(*job->max_error_rate, 0.01);
  EXPECT_DOUBLE_EQ(*job->max_p95_ms, 500);
  EXPECT_DOUBLE_EQ(*job->min_throughput_rps, 1);
  EXPECT_EQ(job->max_bytes, 1000000u);
}

TEST(StageJobTest, WorkerInputsOverrideTheModelPath) {
  nlohmann::json j = GoodJob();
  j["inputs"] = {{"model", "/cache/abc.gguf"}, {"other", "/cache/x"}};
  auto job = ParseStageJob(j.dump());
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_EQ(job->model, "/cache/abc.gguf");
  j.erase("model");
  EXPECT_TRUE(ParseStageJob(j.dump()).ok());
  j["inputs"] = {{"other", "/cache/x"}};
  EXPECT_FALSE(ParseStageJob(j.dump()).ok());  // no model anywhere
  j["inputs"] = "x";
  EXPECT_FALSE(ParseStageJob(j.dump()).ok());
}

TEST(StageJobTest, DurationInsteadOfRequestsAndAbsentLimits) {
  nlohmann::json j = GoodJob();
  j["load"] = {{"concurrency", 1}, {"duration_s", 1.5}};
  auto job = ParseStageJob(j.dump());
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  EXPECT_DOUBLE_EQ(job->load_duration_s, 1.5);
  EXPECT_FALSE(job->max_error_rate.has_value());
}

void ExpectRejected(const nlohmann::json& j, const std::string& needle) {
  auto job = ParseStageJob(j.dump());
  ASSERT_FALSE(job.ok()) << j.dump();
  EXPECT_EQ(job.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(job.status().message().find(needle), std::string::npos) << job.status().message();
}

TEST(StageJobTest, RejectsBadJobsNamingTheProblem) {
  EXPECT_FALSE(ParseStageJob("{not json").ok());
  EXPECT_FALSE(ParseStageJob("[]").ok());
  nlohmann::json j = GoodJob();
  j["schema"] = "edgefarm.stage/v2";
  ExpectRejected(j, "schema");
  j = GoodJob();
  j["load"]["max_eror_rate"] = 0.1;
  ExpectRejected(j, "unknown key \"max_eror_rate\"");
  j = GoodJob();
  j["load"]["duration_s"] = 3;
  ExpectRejected(j, "exactly one of");
  j = GoodJob();
  j.erase("security");
  ExpectRejected(j, "security");
  j = GoodJob();
  j["integration"]["requests"] = "three";
  ExpectRejected(j, "integration.requests");
  j = GoodJob();
  j["load"]["max_p95_ms"] = -1;
  ExpectRejected(j, "max_p95_ms");
  j = GoodJob();
  j["model"] = 7;
  ExpectRejected(j, "model");
}

}  // namespace
}  // namespace edgefarm::serving
