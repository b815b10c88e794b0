// End to end: a real `git push` to a bare repository, then its signed GitHub-style delivery to a
// coordinator running as a child process, produces a run at the pushed commit that a real worker
// (child process, real ZeroMQ/TCP) completes with the real engine; the coordinator's promotion
// service then drives that run, with the commit's author as the one who may not approve it.
//
// The engine binary is BinaryDir()/engine/edgefarm-engine, or $EDGEFARM_TEST_ENGINE when set
// (a build directory that does not build the engine); the test is skipped when neither exists.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/webhook.h"
#include "edgefarm/worker/hardware_detector.h"
#include "git_test_repo.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

namespace fs = std::filesystem;
using edgefarm::testing::BinaryDir;
using edgefarm::testing::ReadFile;
using edgefarm::testing::TestData;
using edgefarm::testing::WaitFor;
using nlohmann::json;

constexpr char kPipeline[] = R"(name: pushed-e2e
on:
  push:
    branches: [main]
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
gates:
  checks: [accuracy_retention >= 0.5]
promotion:
  environment: prod
  traffic: [{weight: 100, hold: 1s}]
  approval: {required: true, role: release-manager, count: 1, timeout: 1h, on_timeout: reject}
steps:
  - name: commit-info
    run: [sh, -c, "echo step-ran"]
    timeout: 1m
timeout: 10m
)";

constexpr char kSecret[] = "e2e-webhook-secret";

using Child = edgefarm::testing::ChildProcess;

TEST(TriggerEndToEndTest, PushThenSignedWebhookRunsOnTheFarm) {
  const fs::path edgefarm = BinaryDir() / "cli" / "edgefarm";
  const char* engine_env = std::getenv("EDGEFARM_TEST_ENGINE");
  const fs::path engine =
      engine_env ? fs::path(engine_env) : BinaryDir() / "engine" / "edgefarm-engine";
  if (!fs::exists(edgefarm) || !fs::exists(engine)) {
    GTEST_SKIP() << "needs " << edgefarm << " and " << engine << " (build them first)";
  }
  edgefarm::testing::TempDir dir;
  GitTestRepo git(dir.path() / "git");
  git.Write(".edgefarm.yml", kPipeline);
  git.Write("models/stories260K.gguf", ReadFile(TestData("models/stories260K.gguf")));
  git.Write("data/genesis.txt", ReadFile(TestData("text/genesis.txt")));
  const std::string commit = git.Commit("Add stories260K");
  git.Push("main");

  const fs::path data = dir.path() / "data";
  fs::create_directories(data);
  const std::string native = worker::NativeTarget(worker::DetectHardware());
  Child coordinator({edgefarm.string(), "coordinator", "--data", data.string(), "--listen",
                     "tcp://127.0.0.1:0", "--http", "127.0.0.1:0", "--native-target", native},
                    dir.path() / "coordinator.log");
  ASSERT_TRUE(coordinator.started());
  ASSERT_TRUE(WaitFor([&] { return fs::exists(data / "endpoints.json"); }))
      << ReadFile(dir.path() / "coordinator.log");
  const json endpoints = json::parse(ReadFile(data / "endpoints.json"));
  std::string admin = ReadFile(data / "admin.token");
  while (!admin.empty() && admin.back() == '\n') admin.pop_back();
  httplib::Client client(endpoints["http"].get<std::string>());
  client.set_read_timeout(60, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer " + admin}};

  json repo = {{"name", "models"}, {"url", git.origin().string()}, {"webhook_secret", kSecret}};
  auto res = client.Post("/api/v1/repos", auth, repo.dump(), "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  const std::string body = json{{"ref", "refs/heads/main"},
                                {"before", std::string(40, '0')},
                                {"after", commit},
                                {"repository", {{"clone_url", git.origin().string()}}}}
                               .dump();
  res = client.Post("/hooks/github",
                    {{"X-GitHub-Event", "push"},
                     {"X-GitHub-Delivery", "e2e-1"},
                     {"X-Hub-Signature-256", "sha256=" + HmacSha256Hex(kSecret, body)}},
                    body, "application/json");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;

  std::string run_id;
  ASSERT_TRUE(WaitFor([&] {
    auto runs = client.Get(("/api/v1/runs?commit=" + commit).c_str(), auth);
    if (!runs || runs->status != 200) return false;
    auto list = json::parse(runs->body)["runs"];
    if (list.empty()) return false;
    run_id = list[0]["id"];
    return true;
  })) << ReadFile(dir.path() / "coordinator.log");

  Child worker({edgefarm.string(), "worker", "--coordinator", endpoints["zmq"].get<std::string>(),
                "--name", "e2e-worker", "--cache", (data / "worker-cache").string(), "--token-file",
                (data / "worker.token").string(), "--engine", engine.string()},
               dir.path() / "worker.log");
  ASSERT_TRUE(worker.started());
  json run;
  const bool finished = WaitFor(
      [&] {
        auto got = client.Get(("/api/v1/runs/" + run_id).c_str(), auth);
        if (!got || got->status != 200) return false;
        run = json::parse(got->body);
        const std::string state = run["state"];
        return state == "succeeded" || state == "failed" || state == "cancelled";
      },
      std::chrono::minutes(8));
  ASSERT_TRUE(finished) << run.dump(2) << "\n" << ReadFile(dir.path() / "worker.log");
  EXPECT_EQ(run["state"], "succeeded") << run.dump(2) << "\n"
                                       << ReadFile(dir.path() / "worker.log");
  EXPECT_EQ(run["trigger"]["commit"], commit);
  EXPECT_EQ(run["trigger"]["ref"], "refs/heads/main");
  EXPECT_EQ(run["trigger"]["message"], "Add stories260K\n");
  ASSERT_EQ(run["jobs"].size(), 2u);
  for (const auto& job : run["jobs"]) {
    EXPECT_EQ(job["state"], "succeeded") << job.dump(2);
    if (job["kind"] == "engine") {
      EXPECT_EQ(job["result"]["schema"], "edgefarm.result/v1");
      EXPECT_FALSE(job["artifacts"].empty());
    }
  }

  // The promotion service drives the pushed run: the commit's author triggered it, so a
  // release-manager token named by the author's email may not approve it.
  json promotion;
  ASSERT_TRUE(WaitFor([&] {
    auto got = client.Get(("/api/v1/runs/" + run_id + "/promotion").c_str(), auth);
    if (!got || got->status != 200) return false;
    promotion = json::parse(got->body);
    const json targets = promotion.value("targets", json::object());
    for (const auto& [target, entry] : targets.items()) {
      if (entry.contains("promotion")) return true;
    }
    return false;
  })) << promotion.dump(2)
      << "\n"
      << ReadFile(dir.path() / "coordinator.log");
  EXPECT_EQ(promotion["submitted_by"], "git:ada@example.com");
  const json& first = promotion["targets"].begin().value()["promotion"];
  EXPECT_EQ(first["phase"], "awaiting_approval") << promotion.dump(2);
  EXPECT_EQ(first["triggered_by"], "git:ada@example.com");
  auto token = client.Post("/api/v1/tokens", auth,
                           json{{"role", "release-manager"}, {"name", "ada@example.com"}}.dump(),
                           "application/json");
  ASSERT_TRUE(token);
  ASSERT_EQ(token->status, 201) << token->body;
  const httplib::Headers ada = {
      {"Authorization", "Bearer " + json::parse(token->body)["token"].get<std::string>()}};
  res = client.Post(("/api/v1/runs/" + run_id + "/approve").c_str(), ada, "{}", "application/json");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 403) << res->body;
}

}  // namespace
}  // namespace edgefarm::coordinator
