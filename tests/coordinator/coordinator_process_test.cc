// `edgefarm coordinator` as a real child process: it writes endpoints.json, serves, and exits 0 on
// SIGTERM; a restart on the same data dir keeps its tokens.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/coordinator_main.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

namespace fs = std::filesystem;

// Forks a child that runs the command and exits with its code.
pid_t StartChild(const fs::path& data) {
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<std::string> args = {
        "coordinator", "--data",      data.string(), "--listen", "tcp://127.0.0.1:0",
        "--http",      "127.0.0.1:0", "--log-level", "warn"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    _exit(RunCoordinatorCommand(static_cast<int>(argv.size()), argv.data()));
  }
  return pid;
}

int StopChild(pid_t pid, int signal) {
  kill(pid, signal);
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CoordinatorProcessTest, ServesUntilSignalledAndKeepsTokensAcrossRestarts) {
  edgefarm::testing::TempDir dir;
  const fs::path data = dir / "data";
  std::string first_token;
  for (int signal : {SIGTERM, SIGINT}) {
    fs::remove(data / "endpoints.json");
    pid_t pid = StartChild(data);
    ASSERT_GT(pid, 0);
    // If an assertion below fails, do not leave the child running.
    std::unique_ptr<pid_t, void (*)(pid_t*)> reaper(&pid, [](pid_t* p) {
      if (*p > 0) StopChild(*p, SIGKILL);
    });
    ASSERT_TRUE(edgefarm::testing::WaitFor([&] { return fs::exists(data / "endpoints.json"); }));
    auto endpoints = nlohmann::json::parse(edgefarm::testing::ReadFile(data / "endpoints.json"));
    httplib::Client client(endpoints.at("http").get<std::string>());
    auto health = client.Get("/api/v1/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
    std::string token = edgefarm::testing::ReadFile(data / "admin.token");
    if (first_token.empty()) first_token = token;
    EXPECT_EQ(token, first_token);
    EXPECT_EQ(StopChild(pid, signal), 0);
    pid = 0;
  }
}

}  // namespace
}  // namespace edgefarm::coordinator
