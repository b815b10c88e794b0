// Staging checks on real files: the fixture model signed with a fresh key, served in-process.
#include "edgefarm/serving/staging_checks.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "edgefarm/common/sha256.h"
#include "edgefarm/serving/signing.h"
#include "serving_test_util.h"
#include "test_support.h"

namespace edgefarm::serving {
namespace {

using Json = nlohmann::json;
using edgefarm::testing::TempDir;

class StagingChecksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto keys = GenerateSigningKey();
    ASSERT_TRUE(keys.ok());
    keys_ = *keys;
  }

  // A job for `model` whose digest and signature are right unless the test changes them.
  StageJob SignedJob(const std::filesystem::path& model) {
    StageJob job;
    job.model = model;
    job.expected_digest = *Sha256File(model);
    job.signature = *SignDigest(keys_.secret_key_hex, job.expected_digest);
    job.public_key = keys_.public_key_hex;
    job.integration_requests = 3;
    job.integration_max_tokens = 8;
    job.load_concurrency = 2;
    job.load_requests = 20;
    job.load_max_tokens = 2;
    job.max_error_rate = 0.0;
    job.max_bytes = 10'000'000;
    return job;
  }

  static StageReport Run(const StageJob& job, const StageOptions& options = {}) {
    auto report = RunStageChecks(job, options, nullptr);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : StageReport{};
  }

  static void ExpectFailed(const StageReport& r, const std::string& check,
                           const std::string& reason_part) {
    EXPECT_FALSE(r.passed);
    const CheckResult* c = r.Find(check);
    ASSERT_NE(c, nullptr) << check;
    EXPECT_FALSE(c->passed) << check;
    EXPECT_NE(c->reason.find(reason_part), std::string::npos) << check << ": " << c->reason;
  }

  static void ExpectSkippedServing(const StageReport& r) {
    ExpectFailed(r, "integration", "skipped: security checks failed");
    ExpectFailed(r, "load", "skipped: security checks failed");
  }

  SigningKeyPair keys_;
};

TEST_F(StagingChecksTest, GoodSignedModelPassesEveryCheckWithMeasurements) {
  const StageReport r = Run(SignedJob(testing::ModelPath()));
  EXPECT_TRUE(r.passed);
  std::vector<std::string> names;
  for (const CheckResult& c : r.checks) {
    names.push_back(c.name);
    EXPECT_TRUE(c.passed) << c.name << ": " << c.reason;
    EXPECT_TRUE(c.reason.empty());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"security.size", "security.digest", "security.signature",
                                      "security.gguf", "integration", "load"}));
  EXPECT_EQ(r.Find("security.digest")->measurements["sha256"], testing::ModelDigest());
  EXPECT_EQ(r.Find("security.gguf")->measurements["architecture"], "llama");
  EXPECT_EQ(r.Find("integration")->measurements["valid"], 3);
  const Json& load = r.Find("load")->measurements;
  EXPECT_EQ(load["requests"], 20);
  EXPECT_EQ(load["errors"], 0);
  EXPECT_LE(load["p50_ms"].get<double>(), load["p95_ms"].get<double>());
  EXPECT_EQ(r.Find("load")->limits["max_error_rate"], 0.0);

  TempDir dir;
  ASSERT_TRUE(WriteStageResult(r, dir / "out").ok());
  const Json written = Json::parse(edgefarm::testing::ReadFile(dir / "out" / "stage-result.json"));
  EXPECT_EQ(written["schema"], "edgefarm.stage-result/v1");
  EXPECT_EQ(written["passed"], true);
  EXPECT_EQ(written["checks"].size(), 6u);
  EXPECT_EQ(written["checks"][5]["name"], "load");
}

TEST_F(StagingChecksTest, WrongDigestFailsAndIsNotServed) {
  StageJob job = SignedJob(testing::ModelPath());
  job.expected_digest = Sha256Hex("some other model");
  job.signature = *SignDigest(keys_.secret_key_hex, job.expected_digest);
  const StageReport r = Run(job);
  ExpectFailed(r, "security.digest", "differs from the expected " + job.expected_digest);
  EXPECT_TRUE(r.Find("security.signature")->passed);  // the signature is over what was expected
  ExpectSkippedServing(r);
}

TEST_F(StagingChecksTest, SignatureByAnotherKeyFails) {
  StageJob job = SignedJob(testing::ModelPath());
  auto other = GenerateSigningKey();
  ASSERT_TRUE(other.ok());
  job.signature = *SignDigest(other->secret_key_hex, job.expected_digest);
  const StageReport r = Run(job);
  ExpectFailed(r, "security.signature", "does not verify");
  EXPECT_TRUE(r.Find("security.digest")->passed);
  ExpectSkippedServing(r);
  job.signature = "zz";
  ExpectFailed(Run(job), "security.signature", "signature");
}

TEST_F(StagingChecksTest, OversizeModelFails) {
  StageJob job = SignedJob(testing::ModelPath());
  const auto size = std::filesystem::file_size(job.model);
  job.max_bytes = size - 1;
  const StageReport r = Run(job);
  ExpectFailed(r, "security.size", "over the limit of " + std::to_string(size - 1));
  EXPECT_EQ(r.Find("security.size")->measurements["bytes"], size);
  ExpectSkippedServing(r);
}

TEST_F(StagingChecksTest, NonGgufFileFailsMetadataSanity) {
  // Correct digest and signature: only the content is wrong.
  const StageReport r = Run(SignedJob(edgefarm::testing::TestData("text/genesis.txt")));
  ExpectFailed(r, "security.gguf", "not a readable GGUF file");
  EXPECT_TRUE(r.Find("security.digest")->passed);
  EXPECT_TRUE(r.Find("security.signature")->passed);
  ExpectSkippedServing(r);
}

TEST_F(StagingChecksTest, MissingModelFailsEverySecurityCheckWithAReason) {
  StageJob job = SignedJob(testing::ModelPath());
  job.model = "/nonexistent/model.gguf";
  const StageReport r = Run(job);
  ExpectFailed(r, "security.size", "cannot stat");
  ExpectFailed(r, "security.digest", "cannot hash");
  ExpectFailed(r, "security.gguf", "not a readable GGUF");
}

TEST_F(StagingChecksTest, ServerWithInjectedErrorsFailsTheLoadLimits) {
  StageJob job = SignedJob(testing::ModelPath());
  job.integration_requests = 1;
  job.load_requests = 100;
  job.max_error_rate = 0.05;
  StageOptions options;
  options.fault.error_rate = 0.5;
  options.fault.seed = 11;
  const StageReport r = Run(job, options);
  ExpectFailed(r, "load", "error rate");
  const Json& m = r.Find("load")->measurements;
  EXPECT_EQ(m["requests"], 100);
  EXPECT_GT(m["error_rate"].get<double>(), 0.05);
  EXPECT_TRUE(r.Find("security.gguf")->passed);
}

TEST_F(StagingChecksTest, DurationLoadRecordsItsLimitsAndMeasurements) {
  StageJob job = SignedJob(testing::ModelPath());
  job.load_requests = 0;
  job.load_duration_s = 0.2;
  const StageReport r = Run(job);
  EXPECT_TRUE(r.passed) << r.ToJson().dump();
  const CheckResult* load = r.Find("load");
  ASSERT_NE(load, nullptr);
  EXPECT_EQ(load->limits["duration_s"], 0.2);
  EXPECT_FALSE(load->limits.contains("requests"));
  EXPECT_GT(load->measurements["requests"].get<int64_t>(), 0);
  EXPECT_GE(load->measurements["elapsed_s"].get<double>(), 0.2);  // lower bound only
}

TEST_F(StagingChecksTest, LatencyAndThroughputLimitsAreEnforced) {
  StageJob job = SignedJob(testing::ModelPath());
  job.max_p95_ms = 10;
  StageOptions options;
  options.fault.latency_ms = 30;  // every request takes at least 30 ms: p95 >= 30 > 10
  ExpectFailed(Run(job, options), "load", "p95");
  job.max_p95_ms.reset();
  job.min_throughput_rps = 1e9;
  ExpectFailed(Run(job), "load", "throughput");
}

}  // namespace
}  // namespace edgefarm::serving
