// End to end: `edgefarm up --once` runs a coordinator, two workers and the engine as separate
// processes over real ZeroMQ/TCP and HTTP on a small pipeline (one command step, one engine
// cell); afterwards a restarted coordinator on the same data dir serves the finished run to
// `edgefarm status RUN --json`.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <regex>

#include "test_support.h"

namespace edgefarm {
namespace {

namespace fs = std::filesystem;
using testing::BinaryDir;
using testing::ReadFile;
using testing::TempDir;
using testing::TestData;
using testing::WaitFor;
using testing::WriteFile;

struct Output {
  int exit_code = -1;
  std::string text;
};

// Runs a command line to completion, capturing stdout and stderr together.
Output RunCapture(const std::string& command) {
  Output out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.text.append(buffer, n);
  const int status = ::pclose(pipe);
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

std::string Quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

constexpr const char* kPipeline = R"(name: e2e
model:
  path: models/stories260K.gguf
  eval_text: data/genesis.txt
matrix:
  framework: [llama_cpp]
  target: [native]
recipes:
  llama_cpp: {scheme: q8_0, pure: false}
benchmark: {prompt_tokens: 16, gen_tokens: 8, repetitions: 1, threads: 1}
eval: {ctx: 64, max_chunks: 2}
steps:
  - name: host-info
    run: [sh, -c, "uname -a; echo step-ran"]
    timeout: 1m
timeout: 10m
)";

class UpEndToEndTest : public ::testing::Test {
 protected:
  void SetUp() override {
    edgefarm_ = BinaryDir() / "cli" / "edgefarm";
    const fs::path engine = BinaryDir() / "engine" / "edgefarm-engine";
    if (!fs::exists(edgefarm_) || !fs::exists(engine)) {
      GTEST_SKIP() << "needs " << edgefarm_ << " and " << engine << " (build them first)";
    }
    const fs::path repo = dir_ / "repo";
    fs::create_directories(repo / "models");
    fs::create_directories(repo / "data");
    fs::copy_file(TestData("models/stories260K.gguf"), repo / "models" / "stories260K.gguf");
    fs::copy_file(TestData("text/genesis.txt"), repo / "data" / "genesis.txt");
    WriteFile(repo / ".edgefarm.yml", kPipeline);
    pipeline_ = repo / ".edgefarm.yml";
    data_ = dir_ / "data";
  }

  fs::path edgefarm_;
  TempDir dir_;
  fs::path pipeline_;
  fs::path data_;
};

TEST_F(UpEndToEndTest, UpOnceRunsTheMatrixAndStatusShowsEverySucceededJob) {
  const Output up = RunCapture(Quote(edgefarm_) + " up --once --workers 2 --data " + Quote(data_) +
                               " --pipeline " + Quote(pipeline_));
  ASSERT_EQ(up.exit_code, 0) << up.text << "\n--- coordinator log:\n"
                             << ReadFile(data_ / "logs" / "coordinator.log");
  std::smatch match;
  ASSERT_TRUE(std::regex_search(up.text, match, std::regex("run (\\S+) submitted"))) << up.text;
  const std::string run_id = match[1];
  EXPECT_NE(up.text.find("llama_cpp/"), std::string::npos) << up.text;
  EXPECT_NE(up.text.find("host-info"), std::string::npos);
  EXPECT_NE(up.text.find("Pareto choice per target:"), std::string::npos) << up.text;
  EXPECT_NE(up.text.find("run " + run_id + " succeeded"), std::string::npos);

  // The farm is down now; a coordinator restarted on the same data dir still knows the run.
  fs::remove(data_ / "endpoints.json");
  const std::string log = (data_ / "logs" / "coordinator-restart.log").string();
  std::vector<std::string> args = {edgefarm_.string(), "coordinator", "--data",
                                   data_.string(),     "--listen",    "tcp://127.0.0.1:0",
                                   "--http",           "127.0.0.1:0"};
  const pid_t pid = testing::SpawnLogged(args, log);
  ASSERT_NE(pid, 0);
  const bool bound = WaitFor([&] { return fs::exists(data_ / "endpoints.json"); });

  Output status;
  if (bound) {
    status = RunCapture(Quote(edgefarm_) + " status " + run_id + " --json --data " + Quote(data_));
  }
  ::kill(pid, SIGTERM);
  ::waitpid(pid, nullptr, 0);
  ASSERT_TRUE(bound) << ReadFile(log);
  ASSERT_EQ(status.exit_code, 0) << status.text;

  const auto run = nlohmann::json::parse(status.text, nullptr, false);
  ASSERT_FALSE(run.is_discarded()) << status.text;
  EXPECT_EQ(run["id"], run_id);
  EXPECT_EQ(run["state"], "succeeded");
  ASSERT_EQ(run["jobs"].size(), 2u) << run.dump(2);
  bool saw_engine = false, saw_command = false;
  for (const auto& job : run["jobs"]) {
    EXPECT_EQ(job["state"], "succeeded") << job.dump(2);
    EXPECT_FALSE(job["worker"].get<std::string>().empty()) << job.dump(2);
    ASSERT_GE(job["attempts"].size(), 1u) << job.dump(2);
    const auto& last = job["attempts"].back();
    EXPECT_EQ(last["outcome"], "succeeded") << job.dump(2);
    EXPECT_GT(last["peak_rss_bytes"].get<double>(), 0) << job.dump(2);
    EXPECT_FALSE(last["worker"].get<std::string>().empty());
    if (job["kind"] == "engine") {
      saw_engine = true;
      ASSERT_TRUE(job["result"].is_object()) << job.dump(2);
      EXPECT_EQ(job["result"]["schema"], "edgefarm.result/v1");
      EXPECT_GT(job["result"]["metrics"]["model_bytes"].get<double>(), 0);
      EXPECT_FALSE(job["artifacts"].empty());
    } else {
      saw_command = true;
    }
  }
  EXPECT_TRUE(saw_engine);
  EXPECT_TRUE(saw_command);
}

}  // namespace
}  // namespace edgefarm

namespace edgefarm {
namespace {

TEST(EdgefarmBinaryTest, WorkerPrintsDetectedTagsWithLabels) {
  const fs::path edgefarm = BinaryDir() / "cli" / "edgefarm";
  if (!fs::exists(edgefarm)) GTEST_SKIP() << "needs " << edgefarm;
  const Output out = RunCapture(Quote(edgefarm) + " worker --print-tags --label site=lab-7");
  ASSERT_EQ(out.exit_code, 0) << out.text;
  EXPECT_NE(out.text.find("arch="), std::string::npos) << out.text;
  EXPECT_NE(out.text.find("cpu.cores="), std::string::npos);
  EXPECT_NE(out.text.find("site=lab-7\n"), std::string::npos);
  EXPECT_NE(out.text.find("native_target="), std::string::npos);
}

TEST(EdgefarmBinaryTest, UsageErrorsExitWithTwo) {
  const fs::path edgefarm = BinaryDir() / "cli" / "edgefarm";
  if (!fs::exists(edgefarm)) GTEST_SKIP() << "needs " << edgefarm;
  EXPECT_EQ(RunCapture(Quote(edgefarm) + " frobnicate").exit_code, 2);
  EXPECT_EQ(RunCapture(Quote(edgefarm) + " worker --slots 0 --coordinator tcp://x:1").exit_code, 2);
  EXPECT_EQ(
      RunCapture(Quote(edgefarm) + " worker --label novalue --coordinator tcp://x:1").exit_code, 2);
  EXPECT_EQ(RunCapture(Quote(edgefarm) + " up --workers 0").exit_code, 2);
  const Output missing = RunCapture(Quote(edgefarm) + " up --once --pipeline /nonexistent.yml");
  EXPECT_EQ(missing.exit_code, 2) << missing.text;
}

}  // namespace
}  // namespace edgefarm
