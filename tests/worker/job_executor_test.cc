#include "edgefarm/worker/job_executor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "blob_server.h"
#include "test_support.h"

namespace edgefarm::worker {
namespace {

namespace fs = std::filesystem;
using edgefarm::testing::TempDir;
using edgefarm::testing::WriteFile;

// Stands in for edgefarm-engine's command line (`run JOB.json --out DIR`): copies the JOB.json it
// was given into result.json and writes a model file, so the test can see exactly what the
// executor handed over and what it uploaded. The real engine is exercised by the end-to-end test.
constexpr const char* kEngineScript = R"(#!/bin/sh
set -e
[ "$1" = run ] || exit 64
[ "$3" = --out ] || exit 64
echo "engine starting"
cp "$2" "$4/result.json"
mkdir -p "$4/sub"
printf 'quantised' > "$4/model.gguf"
printf 'notes' > "$4/sub/notes.txt"
echo "engine done" >&2
)";

class JobExecutorTest : public ::testing::Test {
 protected:
  JobExecutorTest() {
    WriteFile(dir_ / "engine.sh", kEngineScript);
    ::chmod((dir_ / "engine.sh").c_str(), 0755);
    options_.scratch_root = dir_ / "scratch";
    options_.engine_path = dir_ / "engine.sh";
    options_.kill_grace = std::chrono::milliseconds(200);
  }

  v1::JobResult Execute(const v1::Assign& assign) {
    JobExecutor executor(options_, *runner_, cache_, nullptr);
    CancelFlag cancel;
    return executor.Execute(
        assign, endpoint_, [this](v1::LogChunk c) { chunks_.push_back(c); }, cancel);
  }

  std::string Log() const {
    std::string all;
    for (const auto& c : chunks_) all += c.data();
    return all;
  }

  v1::Assign Assign(const std::string& job_id) {
    v1::Assign a;
    a.set_job_id(job_id);
    a.set_attempt(1);
    a.set_lease_token("lease-1");
    a.mutable_spec()->set_run_id("run-1");
    a.mutable_spec()->set_job_id(job_id);
    a.mutable_spec()->set_timeout_seconds(60);
    return a;
  }

  void AddInput(v1::Assign& a, const std::string& role, const std::string& content) {
    v1::InputFile* in = a.mutable_spec()->add_inputs();
    in->set_name(role);
    in->set_digest(server_.Add(content));
    in->set_size(content.size());
  }

  TestBlobServer server_{"wtok"};
  BlobEndpoint endpoint_{server_.url(), "wtok"};
  TempDir dir_;
  InputCache cache_{dir_ / "cache", nullptr};
  std::unique_ptr<ProcessRunner> runner_ = MakeProcessRunner();
  ExecutorOptions options_;
  std::vector<v1::LogChunk> chunks_;
};

TEST_F(JobExecutorTest, CommandStepSeesInputsByRoleAndEnv) {
  v1::Assign a = Assign("job-cmd");
  AddInput(a, "data", "payload-123");
  auto* cmd = a.mutable_spec()->mutable_command();
  for (const char* arg : {"sh", "-c", "cat data; echo \" $GREETING $EDGEFARM_JOB_ID\""}) {
    cmd->add_argv(arg);
  }
  (*cmd->mutable_env())["GREETING"] = "hi";
  const v1::JobResult r = Execute(a);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_SUCCEEDED) << r.message();
  EXPECT_EQ(r.job_id(), "job-cmd");
  EXPECT_EQ(r.lease_token(), "lease-1");
  EXPECT_NE(Log().find("payload-123 hi job-cmd\n"), std::string::npos) << Log();
  EXPECT_EQ(r.log_bytes(), Log().size());
  EXPECT_GT(r.usage().peak_rss_bytes(), 0u);
  EXPECT_FALSE(fs::exists(options_.scratch_root / "job-cmd-1"));  // scratch cleaned up
}

TEST_F(JobExecutorTest, LogChunksAreNumberedWithoutGapsAndOffsetsAdd) {
  v1::Assign a = Assign("job-log");
  for (const char* arg : {"sh", "-c",
                          "i=0; while [ $i -lt 2000 ]; do echo line $i; "
                          "echo e$i >&2; i=$((i+1)); done"}) {
    a.mutable_spec()->mutable_command()->add_argv(arg);
  }
  const v1::JobResult r = Execute(a);
  ASSERT_EQ(r.outcome(), v1::OUTCOME_SUCCEEDED) << r.message();
  uint64_t offset = 0;
  for (size_t i = 0; i < chunks_.size(); ++i) {
    EXPECT_EQ(chunks_[i].sequence(), i);
    EXPECT_EQ(chunks_[i].offset(), offset);
    EXPECT_LE(chunks_[i].data().size(), kMaxOutputPiece);
    offset += chunks_[i].data().size();
  }
  EXPECT_EQ(offset, r.log_bytes());
  EXPECT_NE(Log().find("line 1999\n"), std::string::npos);
}

TEST_F(JobExecutorTest, EngineCellGetsJobJsonWithInputsAndUploadsArtifacts) {
  v1::Assign a = Assign("job-eng");
  AddInput(a, "model", "gguf bytes");
  AddInput(a, "eval_text", "In the beginning");
  auto* eng = a.mutable_spec()->mutable_engine();
  eng->set_framework("llama_cpp");
  eng->set_target("intel-x86");
  eng->set_job_json(R"({"schema":"edgefarm.job/v1","framework":"llama_cpp","target":"intel-x86",
                        "recipe":{"scheme":"q4_0","pure":false}})");
  const v1::JobResult r = Execute(a);
  ASSERT_EQ(r.outcome(), v1::OUTCOME_SUCCEEDED) << r.message() << Log();
  const auto job = nlohmann::json::parse(r.result_json());
  EXPECT_EQ(job["recipe"]["scheme"], "q4_0");
  const std::string model_path = job["inputs"]["model"];
  EXPECT_TRUE(fs::path(model_path).is_absolute());
  EXPECT_EQ(fs::path(model_path).filename(), Sha256Hex("gguf bytes"));
  EXPECT_EQ(fs::path(std::string(job["inputs"]["eval_text"])).filename(),
            Sha256Hex("In the beginning"));
  std::map<std::string, v1::Artifact> by_name;
  for (const auto& art : r.artifacts()) by_name[art.name()] = art;
  ASSERT_TRUE(by_name.count("model.gguf"));
  ASSERT_TRUE(by_name.count("result.json"));
  ASSERT_TRUE(by_name.count("sub/notes.txt"));
  EXPECT_EQ(by_name["model.gguf"].digest(), Sha256Hex("quantised"));
  EXPECT_EQ(by_name["model.gguf"].size(), 9u);
  EXPECT_EQ(server_.Get(Sha256Hex("quantised")), "quantised");
  EXPECT_NE(Log().find("engine starting"), std::string::npos);
  EXPECT_NE(Log().find("engine done"), std::string::npos);
}

TEST_F(JobExecutorTest, FailingCommandIsFailedWithExitCode) {
  v1::Assign a = Assign("job-fail");
  for (const char* arg : {"sh", "-c", "exit 3"}) a.mutable_spec()->mutable_command()->add_argv(arg);
  const v1::JobResult r = Execute(a);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_FAILED);
  EXPECT_EQ(r.exit_code(), 3);
}

TEST_F(JobExecutorTest, TimeoutIsTimedOut) {
  v1::Assign a = Assign("job-slow");
  a.mutable_spec()->set_timeout_seconds(1);
  for (const char* arg : {"sleep", "1000"}) a.mutable_spec()->mutable_command()->add_argv(arg);
  const v1::JobResult r = Execute(a);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_TIMED_OUT);
  EXPECT_EQ(r.term_signal(), SIGTERM);
}

TEST_F(JobExecutorTest, MissingInputIsAnInfrastructureError) {
  v1::Assign a = Assign("job-noinput");
  v1::InputFile* in = a.mutable_spec()->add_inputs();
  in->set_name("model");
  in->set_digest(Sha256Hex("not on the server"));
  a.mutable_spec()->mutable_command()->add_argv("true");
  const v1::JobResult r = Execute(a);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_INFRA_ERROR);
  EXPECT_NE(r.message().find("input model"), std::string::npos) << r.message();
}

TEST_F(JobExecutorTest, MissingEngineIsAnInfrastructureError) {
  options_.engine_path = dir_ / "no-such-engine";
  v1::Assign a = Assign("job-noengine");
  a.mutable_spec()->mutable_engine()->set_job_json("{}");
  const v1::JobResult r = Execute(a);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_INFRA_ERROR);
}

TEST_F(JobExecutorTest, HostileInputRoleIsRefused) {
  v1::Assign a = Assign("job-hostile");
  AddInput(a, "../escape", "x");
  a.mutable_spec()->mutable_command()->add_argv("true");
  const v1::JobResult r = Execute(a);
  EXPECT_EQ(r.outcome(), v1::OUTCOME_INFRA_ERROR);
  EXPECT_FALSE(fs::exists(options_.scratch_root / "escape"));
}

}  // namespace
}  // namespace edgefarm::worker
