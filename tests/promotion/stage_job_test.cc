// Staging for the recommended cell: the coordinator's signing key file, and the stage job record
// run through the serving library's real stage checks (in-process server, real HTTP load).
#include "edgefarm/coordinator/stage_job.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include "edgefarm/common/sha256.h"
#include "edgefarm/serving/staging_checks.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

std::shared_ptr<spdlog::logger> Quiet() {
  return std::make_shared<spdlog::logger>("stage-test",
                                          std::make_shared<spdlog::sinks::null_sink_mt>());
}

TEST(SigningKey, CreatedOnceWithMode0600AndRefusedWhenWorldReadable) {
  edgefarm::testing::TempDir dir;
  auto first = EnsureSigningKey(dir.path());
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  struct stat st {};
  ASSERT_EQ(::stat((dir.path() / "signing.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = EnsureSigningKey(dir.path());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key_hex, first->public_key_hex);
  ASSERT_EQ(::chmod((dir.path() / "signing.key").c_str(), 0644), 0);
  auto refused = EnsureSigningKey(dir.path());
  EXPECT_EQ(refused.status().code(), StatusCode::kPermissionDenied);
  EXPECT_EQ(refused.status().message().find(first->secret_key_hex), std::string::npos);
}

TEST(StageJob, SignedJobPassesTheRealStageChecksAndAForeignKeyFails) {
  edgefarm::testing::TempDir dir;
  auto key = EnsureSigningKey(dir.path());
  ASSERT_TRUE(key.ok());
  const auto model = edgefarm::testing::TestData("models/stories260K.gguf");
  auto digest = Sha256File(model);
  ASSERT_TRUE(digest.ok());
  StageRequest request;
  request.artifact_digest = *digest;
  request.model_path = model.string();
  request.spec.integration = pipelines::IntegrationStage{3};
  request.spec.load = pipelines::LoadStage{2, 1, 0.01, 5000.0};
  request.spec.security = pipelines::SecurityStage{10'000'000};
  auto json = StageJobJson(request, *key);
  ASSERT_TRUE(json.ok()) << json.status().ToString();
  EXPECT_EQ(json->find(key->secret_key_hex), std::string::npos) << "no secret in the job";
  auto job = serving::ParseStageJob(*json);
  ASSERT_TRUE(job.ok()) << job.status().ToString();
  auto report = serving::RunStageChecks(*job, {}, Quiet());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_TRUE(report->passed) << report->ToJson().dump();
  for (const auto& check : report->checks) {
    EXPECT_TRUE(check.passed) << check.name << ": " << check.reason;
  }

  edgefarm::testing::TempDir other;
  auto foreign = EnsureSigningKey(other.path());
  ASSERT_TRUE(foreign.ok());
  auto forged = StageJobJson(request, *foreign);
  ASSERT_TRUE(forged.ok());
  auto forged_job = serving::ParseStageJob(*forged);
  ASSERT_TRUE(forged_job.ok());
  forged_job->public_key = key->public_key_hex;  // staging trusts only the coordinator's key
  auto rejected = serving::RunStageChecks(*forged_job, {}, Quiet());
  ASSERT_TRUE(rejected.ok());
  EXPECT_FALSE(rejected->passed);
  const auto* signature = rejected->Find("security.signature");
  ASSERT_NE(signature, nullptr);
  EXPECT_FALSE(signature->passed);
}

TEST(StageJob, RejectsABadDigest) {
  edgefarm::testing::TempDir dir;
  auto key = EnsureSigningKey(dir.path());
  ASSERT_TRUE(key.ok());
  StageRequest request;
  request.artifact_digest = "not-a-digest";
  EXPECT_EQ(StageJobJson(request, *key).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace edgefarm::coordinator
