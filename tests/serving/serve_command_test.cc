// `edgefarm-engine serve` and `edgefarm-engine stage-check` as real child processes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "edgefarm/common/sha256.h"
#include "edgefarm/serving/signing.h"
#include "serving_test_util.h"
#include "test_support.h"

extern char** environ;

namespace edgefarm::serving {
namespace {

using Json = nlohmann::json;
using edgefarm::testing::ReadFile;
using edgefarm::testing::TempDir;
using edgefarm::testing::WaitFor;

std::string EngineBinary() {
  return (edgefarm::testing::BinaryDir() / "engine" / "edgefarm-engine").string();
}

// Spawns the engine with `args`, stdout and stderr appended to `log`.
pid_t Spawn(const std::vector<std::string>& args, const std::filesystem::path& log) {
  std::vector<std::string> all = {EngineBinary()};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  return rc == 0 ? pid : -1;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

TEST(ServeCommandTest, ServesOnAnyPortAnnouncesItAndStopsOnSigterm) {
  TempDir dir;
  const auto ready = dir / "port";
  const pid_t pid = Spawn({"serve", testing::ModelPath().string(), "--port", "0", "--ready-file",
                           ready.string(), "--fault-error-rate", "1"},
                          dir / "log");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(ready); })) << ReadFile(dir / "log");
  const int port = std::stoi(ReadFile(ready));
  ASSERT_GT(port, 0);
  const testing::HttpReply health = testing::Get(port, "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(Json::parse(health.body)["digest"], testing::ModelDigest());
  // Error rate 1: every completion is an injected fault.
  const testing::HttpReply completion = testing::Complete(port, 2);
  EXPECT_EQ(completion.status, 500);
  EXPECT_EQ(Json::parse(completion.body)["error"]["code"], "injected_fault");
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(pid), 0) << ReadFile(dir / "log");
}

TEST(ServeCommandTest, BadFlagsAndMissingModelFail) {
  TempDir dir;
  EXPECT_EQ(WaitExit(Spawn({"serve", testing::ModelPath().string(), "--port", "abc"}, dir / "log")),
            2);
  EXPECT_EQ(WaitExit(Spawn({"serve", testing::ModelPath().string(), "--fault-error-rate", "2"},
                           dir / "log")),
            2);
  EXPECT_EQ(WaitExit(Spawn({"serve", "/nonexistent.gguf", "--port", "0"}, dir / "log")), 1);
}

TEST(StageCheckCommandTest, WritesTheResultAndExitsByVerdict) {
  TempDir dir;
  auto keys = GenerateSigningKey();
  ASSERT_TRUE(keys.ok());
  const std::string digest = testing::ModelDigest();
  Json job{{"schema", "edgefarm.stage/v1"},
           {"model", testing::ModelPath().string()},
           {"expected_digest", digest},
           {"signature", *SignDigest(keys->secret_key_hex, digest)},
           {"public_key", keys->public_key_hex},
           {"integration", {{"requests", 2}, {"max_tokens", 4}}},
           {"load", {{"concurrency", 2}, {"requests", 10}, {"max_error_rate", 0}}},
           {"security", {{"max_bytes", 10000000}}}};
  edgefarm::testing::WriteFile(dir / "good.json", job.dump());
  EXPECT_EQ(WaitExit(Spawn(
                {"stage-check", (dir / "good.json").string(), "--out", (dir / "good").string()},
                dir / "log")),
            0)
      << ReadFile(dir / "log");
  const Json good = Json::parse(ReadFile(dir / "good" / "stage-result.json"));
  EXPECT_EQ(good["passed"], true);
  EXPECT_EQ(good["checks"].size(), 6u);

  job["expected_digest"] = Sha256Hex("tampered");
  edgefarm::testing::WriteFile(dir / "bad.json", job.dump());
  EXPECT_EQ(
      WaitExit(Spawn({"stage-check", (dir / "bad.json").string(), "--out", (dir / "bad").string()},
                     dir / "log")),
      1);
  const Json bad = Json::parse(ReadFile(dir / "bad" / "stage-result.json"));
  EXPECT_EQ(bad["passed"], false);
  EXPECT_EQ(bad["checks"][1]["name"], "security.digest");
  EXPECT_EQ(bad["checks"][1]["passed"], false);

  edgefarm::testing::WriteFile(dir / "broken.json", "{\"schema\": 1}");
  EXPECT_EQ(
      WaitExit(Spawn({"stage-check", (dir / "broken.json").string(), "--out", (dir / "x").string()},
                     dir / "log")),
      2);
  EXPECT_FALSE(std::filesystem::exists(dir / "x" / "stage-result.json"));
  // The secret key never reaches the logs.
  EXPECT_EQ(ReadFile(dir / "log").find(keys->secret_key_hex), std::string::npos);
}

TEST(RouteCommandTest, RoutesBetweenSlotsAndTakesAdminCallsWithTheTokenFile) {
  TempDir dir;
  auto blue = testing::StartServer();
  auto green = testing::StartServer();
  ASSERT_TRUE(blue && green);
  edgefarm::testing::WriteFile(dir / "token", "route-admin-token\n");
  const auto ready = dir / "port";
  const pid_t pid =
      Spawn({"route", "--port", "0", "--blue", blue->base_url(), "--green", green->base_url(),
             "--live", "green", "--weight", "0", "--admin-token-file", (dir / "token").string(),
             "--ready-file", ready.string()},
            dir / "log");
  ASSERT_GT(pid, 0);
  ASSERT_TRUE(WaitFor([&] { return std::filesystem::exists(ready); })) << ReadFile(dir / "log");
  const int port = std::stoi(ReadFile(ready));
  EXPECT_EQ(testing::Complete(port, 2).slot, "green");
  httplib::Client client("127.0.0.1", port);
  auto put = client.Put("/router/routing", {{"Authorization", "Bearer route-admin-token"}},
                        R"({"live":"green","candidate_weight":100})", "application/json");
  ASSERT_TRUE(put);
  EXPECT_EQ(put->status, 200);
  EXPECT_EQ(testing::Complete(port, 2).slot, "blue");
  const Json status = Json::parse(testing::Get(port, "/router/status").body);
  EXPECT_EQ(status["slots"]["green"]["requests"], 1);
  EXPECT_EQ(status["slots"]["blue"]["requests"], 1);
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  EXPECT_EQ(WaitExit(pid), 0);
  EXPECT_EQ(ReadFile(dir / "log").find("route-admin-token"), std::string::npos);
  EXPECT_EQ(WaitExit(Spawn({"route", "--live", "purple"}, dir / "log")), 2);
}

}  // namespace
}  // namespace edgefarm::serving
