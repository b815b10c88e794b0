// Fault tests with real processes: a coordinator and workers each run in their own forked process
// (the `edgefarm coordinator` / `edgefarm worker` command functions), talking real ZeroMQ over TCP
// loopback and HTTP; jobs are real child processes. Faults are real signals: SIGKILL to a worker
// or the coordinator mid-run, SIGSTOP to a worker (from the coordinator's side indistinguishable
// from a network partition). Timing comes from short heartbeats (200 ms) so the lease rules act
// within seconds; every wait is WaitFor on an observable condition, never a sleep.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <functional>
#include <map>
#include <nlohmann/json.hpp>

#include "edgefarm/coordinator/coordinator_main.h"
#include "edgefarm/worker/worker_main.h"
#include "test_support.h"

namespace edgefarm {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

constexpr auto kLong = std::chrono::seconds(60);

// A port that was free a moment ago (the coordinator must come back on the same one).
int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Forks a child that runs `command` with `args` (stdout and stderr to `log`) and exits with its
// code.
pid_t Spawn(int (*command)(int, char**), std::vector<std::string> args, const fs::path& log) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::_exit(command(static_cast<int>(args.size()), argv.data()));
}

class FaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zmq_ = "tcp://127.0.0.1:" + std::to_string(FreePort());
    http_port_ = FreePort();
  }

  void TearDown() override {
    std::vector<std::string> names;
    for (const auto& [name, pid] : pids_) names.push_back(name);
    for (const auto& name : names) Kill(name, SIGKILL);
    if (HasFailure()) {
      for (const auto& entry : fs::directory_iterator(dir_.path())) {
        if (entry.path().extension() == ".log") {
          std::cerr << "--- " << entry.path().filename() << "\n" << ReadFile(entry.path());
        }
      }
    }
  }

  void StartCoordinator() {
    pids_["coordinator"] =
        Spawn(coordinator::RunCoordinatorCommand,
              {"coordinator", "--data", (dir_ / "data").string(), "--listen", zmq_, "--http",
               "127.0.0.1:" + std::to_string(http_port_), "--heartbeat-ms", "200", "--lease-ttl-ms",
               "2000", "--log-level", "info"},
              dir_ / "coordinator.log");
    ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "data" / "endpoints.json"); }, kLong));
    const json endpoints = json::parse(ReadFile(dir_ / "data" / "endpoints.json"));
    client_ = std::make_unique<httplib::Client>(endpoints.at("http").get<std::string>());
    std::string token = ReadFile(dir_ / "data" / "admin.token");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    client_->set_bearer_token_auth(token);
  }

  void StartWorker(const std::string& name, int slots = 1) {
    fs::create_directories(dir_ / name);
    pids_[name] = Spawn(worker::RunWorkerCommand,
                        {"worker", "--coordinator", zmq_, "--name", name, "--slots",
                         std::to_string(slots), "--cache", (dir_ / name).string(), "--token-file",
                         (dir_ / "data" / "worker.token").string()},
                        dir_ / (name + ".log"));
  }

  // Signals a process; SIGKILL also reaps it.
  void Kill(const std::string& name, int signal) {
    auto it = pids_.find(name);
    if (it == pids_.end()) return;
    ::kill(it->second, signal);
    if (signal == SIGKILL) {
      ::waitpid(it->second, nullptr, 0);
      pids_.erase(it);
    }
  }

  std::string Submit(const std::string& yaml) {
    json body = {
        {"pipeline_file", ".edgefarm.yml"}, {"pipeline_yaml", yaml}, {"files", json::object()}};
    auto res = client_->Post("/api/v1/runs", body.dump(), "application/json");
    EXPECT_TRUE(res);
    if (!res) return "";
    EXPECT_EQ(res->status, 201) << res->body;
    return json::parse(res->body, nullptr, false).value("run_id", "");
  }

  json Run(const std::string& id) {
    auto res = client_->Get("/api/v1/runs/" + id);
    if (!res || res->status != 200) return json();
    return json::parse(res->body, nullptr, false);
  }

  // The worker name of the job's open attempt, or "".
  std::string RunningOn(const std::string& run_id, const std::string& job) {
    json run = Run(run_id);
    if (!run.is_object()) return "";
    for (const auto& j : run["jobs"]) {
      if (j["name"] != job || j["state"] != "running") continue;
      for (const auto& a : j["attempts"]) {
        if (a["state"] == "running") return a.value("worker", "");
      }
    }
    return "";
  }

  bool RunIs(const std::string& run_id, const std::string& state) {
    json run = Run(run_id);
    return run.is_object() && run["state"] == state;
  }

  std::string WorkerName(const std::string& worker_id) {
    auto res = client_->Get("/api/v1/workers");
    if (!res) return "";
    for (const auto& w : json::parse(res->body)["workers"]) {
      if (w["id"] == worker_id) return w["name"];
    }
    return worker_id;
  }

  TempDir dir_;
  std::string zmq_;
  int http_port_ = 0;
  std::map<std::string, pid_t> pids_;
  std::unique_ptr<httplib::Client> client_;
};

// A job that runs until a marker file appears (so the test decides when it may finish).
std::string GatedStep(const std::string& name, const fs::path& gate) {
  return "  - name: " + name + "\n    run: [sh, -c, \"while [ ! -e '" + gate.string() +
         "' ]; do sleep 0.05; done; echo " + name + " done\"]\n    timeout: 2m\n";
}

TEST_F(FaultTest, SigkilledWorkersJobCompletesOnAnotherWorker) {
  StartCoordinator();
  StartWorker("alpha");
  const fs::path gate = dir_ / "gate";
  const std::string run = Submit("name: kill-worker\nsteps:\n" + GatedStep("long", gate));
  std::string first;
  ASSERT_TRUE(WaitFor([&] { return !(first = RunningOn(run, "long")).empty(); }, kLong));
  StartWorker("beta");
  Kill("alpha", SIGKILL);
  testing::WriteFile(gate, "open");
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong)) << Run(run).dump(2);
  const json attempts = Run(run)["jobs"][0]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << attempts.dump(2);
  EXPECT_EQ(attempts[0]["outcome"], "infra_error");
  EXPECT_NE(attempts[0]["reason"].get<std::string>().find("lost"), std::string::npos);
  EXPECT_EQ(attempts[1]["outcome"], "succeeded");
  EXPECT_NE(attempts[0]["worker"], attempts[1]["worker"]);
}

TEST_F(FaultTest, SigkilledCoordinatorRestartsAndEveryJobSucceedsExactlyOnce) {
  StartCoordinator();
  StartWorker("alpha", 2);
  StartWorker("beta", 2);
  const fs::path gate = dir_ / "gate";
  std::string yaml = "name: kill-coordinator\nsteps:\n";
  for (int i = 0; i < 3; ++i) {
    yaml += "  - name: quick" + std::to_string(i) + "\n    run: [sh, -c, \"echo quick\"]\n";
  }
  for (int i = 0; i < 3; ++i) yaml += GatedStep("gated" + std::to_string(i), gate);
  const std::string run = Submit(yaml);
  ASSERT_TRUE(WaitFor(
      [&] {
        json r = Run(run);
        int running = 0;
        for (const auto& j : r["jobs"]) running += j["state"] == "running" ? 1 : 0;
        return running >= 2;
      },
      kLong));
  Kill("coordinator", SIGKILL);
  fs::remove(dir_ / "data" / "endpoints.json");
  testing::WriteFile(gate, "open");  // the jobs finish while the coordinator is down
  StartCoordinator();
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong)) << Run(run).dump(2);
  for (const auto& job : Run(run)["jobs"]) {
    int successes = 0;
    for (const auto& a : job["attempts"]) successes += a["outcome"] == "succeeded" ? 1 : 0;
    EXPECT_EQ(successes, 1) << job.dump(2);
    EXPECT_EQ(job["state"], "succeeded");
  }
}

TEST_F(FaultTest, PartitionedWorkersLateCompletionIsRejected) {
  // Network namespaces with veth need privileges this test usually lacks; a stopped process
  // (SIGSTOP) looks exactly like a partition from the coordinator's side, and when it resumes its
  // messages arrive late, as after a healed partition.
  StartCoordinator();
  StartWorker("alpha");
  const fs::path gate = dir_ / "gate";
  const std::string run = Submit("name: partition\nsteps:\n" + GatedStep("long", gate));
  ASSERT_TRUE(WaitFor([&] { return !RunningOn(run, "long").empty(); }, kLong));
  Kill("alpha", SIGSTOP);
  StartWorker("beta");
  // alpha is declared lost, the job is re-queued and runs on beta.
  ASSERT_TRUE(WaitFor(
      [&] {
        json r = Run(run);
        return r.is_object() && r["jobs"][0]["attempts"].size() == 2u &&
               r["jobs"][0]["state"] == "running";
      },
      kLong))
      << Run(run).dump(2);
  testing::WriteFile(gate, "open");  // both copies of the job can now finish
  ASSERT_TRUE(WaitFor([&] { return RunIs(run, "succeeded"); }, kLong));
  Kill("alpha", SIGCONT);  // the partition heals; alpha's completion arrives late
  ASSERT_TRUE(WaitFor(
      [&] {
        return ReadFile(dir_ / "alpha.log").find("refused result") != std::string::npos ||
               ReadFile(dir_ / "alpha.log").find("no longer owns") != std::string::npos;
      },
      kLong))
      << ReadFile(dir_ / "alpha.log");
  const json attempts = Run(run)["jobs"][0]["attempts"];
  ASSERT_EQ(attempts.size(), 2u) << attempts.dump(2);
  EXPECT_EQ(attempts[0]["outcome"], "infra_error");
  EXPECT_EQ(attempts[1]["outcome"], "succeeded");
  EXPECT_EQ(Run(run)["state"], "succeeded");
}

}  // namespace
}  // namespace edgefarm
