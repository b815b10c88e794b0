// A farm of real processes for the fault and operator tests: a coordinator and workers each run
// in their own forked process (the `edgefarm coordinator` / `edgefarm worker` command functions),
// talking real ZeroMQ over TCP and HTTP; jobs are real child processes. Short heartbeats (200 ms)
// make the lease rules act within seconds; every wait is WaitFor on an observable condition.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/coordinator/coordinator_main.h"
#include "edgefarm/worker/worker_main.h"
#include "test_support.h"

namespace edgefarm::fault {

namespace fs = std::filesystem;
using nlohmann::json;
using testing::ReadFile;
using testing::TempDir;
using testing::WaitFor;

inline constexpr auto kLong = std::chrono::seconds(60);

using edgefarm::testing::FreeLoopbackPort;

// Forks a child that runs `in_child` (if set), then `command` with `args` (stdout and stderr to
// `log`), and exits with its code.
inline pid_t Spawn(int (*command)(int, char**), std::vector<std::string> args, const fs::path& log,
                   const std::function<void()>& in_child = nullptr) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  ::dup2(fd, 1);
  ::dup2(fd, 2);
  if (in_child) in_child();
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  ::_exit(command(static_cast<int>(args.size()), argv.data()));
}

// True once no process has this pid any more (a zombie nobody reaps counts as gone: it runs
// nothing).
inline bool ProcessGone(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return errno == ESRCH;
  // An exited process not yet reaped still answers kill(); /proc/PID/stat says 'Z'. The process
  // can also vanish while its stat is read (ESRCH from read, which std::ifstream would throw).
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno == ENOENT || errno == ESRCH;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof(buf));
  const int read_errno = errno;
  ::close(fd);
  if (n <= 0) return n < 0 && read_errno == ESRCH;
  const std::string text(buf, static_cast<size_t>(n));
  const size_t paren = text.rfind(')');
  return paren != std::string::npos && paren + 2 < text.size() && text[paren + 2] == 'Z';
}

inline pid_t ReadPid(const fs::path& file) {
  std::ifstream in(file);
  pid_t pid = 0;
  in >> pid;
  return pid;
}

class FarmTest : public ::testing::Test {
 protected:
  void SetUp() override {
    zmq_ = "tcp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
    http_port_ = FreeLoopbackPort();
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

  void StartCoordinator(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"coordinator",
                                     "--data",
                                     (dir_ / "data").string(),
                                     "--listen",
                                     zmq_listen_.empty() ? zmq_ : zmq_listen_,
                                     "--http",
                                     "127.0.0.1:" + std::to_string(http_port_),
                                     "--heartbeat-ms",
                                     "200",
                                     "--lease-ttl-ms",
                                     "2000",
                                     "--log-level",
                                     "info"};
    args.insert(args.end(), extra.begin(), extra.end());
    pids_["coordinator"] =
        Spawn(coordinator::RunCoordinatorCommand, args, dir_ / "coordinator.log");
    ASSERT_TRUE(WaitFor([&] { return fs::exists(dir_ / "data" / "endpoints.json"); }, kLong));
    const json endpoints = json::parse(ReadFile(dir_ / "data" / "endpoints.json"));
    http_url_ = endpoints.at("http").get<std::string>();
    client_ = std::make_unique<httplib::Client>(http_url_);
    client_->set_bearer_token_auth(AdminToken());
  }

  std::string AdminToken() {
    std::string token = ReadFile(dir_ / "data" / "admin.token");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
    return token;
  }

  void StartWorker(const std::string& name, int slots = 1,
                   const std::vector<std::string>& extra = {},
                   const std::function<void()>& in_child = nullptr) {
    fs::create_directories(dir_ / name);
    std::vector<std::string> args = {"worker",
                                     "--coordinator",
                                     worker_endpoint_.empty() ? zmq_ : worker_endpoint_,
                                     "--name",
                                     name,
                                     "--slots",
                                     std::to_string(slots),
                                     "--cache",
                                     (dir_ / name).string(),
                                     "--token-file",
                                     (dir_ / "data" / "worker.token").string()};
    args.insert(args.end(), extra.begin(), extra.end());
    pids_[name] = Spawn(worker::RunWorkerCommand, args, dir_ / (name + ".log"), in_child);
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

  // Waits for a process to exit by itself and returns its exit code (-1: it did not, or was
  // killed by a signal).
  int WaitExit(const std::string& name) {
    auto it = pids_.find(name);
    if (it == pids_.end()) return -1;
    int status = 0;
    bool exited =
        WaitFor([&] { return ::waitpid(it->second, &status, WNOHANG) == it->second; }, kLong);
    if (!exited) return -1;
    pids_.erase(it);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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

  json Get(const std::string& path) {
    auto res = client_->Get(path);
    if (!res || res->status != 200) return json();
    return json::parse(res->body, nullptr, false);
  }

  json Run(const std::string& id) { return Get("/api/v1/runs/" + id); }

  // The job of the run with this name (null if none).
  json Job(const std::string& run_id, const std::string& name) {
    json run = Run(run_id);
    if (!run.is_object()) return json();
    for (const auto& j : run["jobs"]) {
      if (j["name"] == name) return j;
    }
    return json();
  }

  // The worker id of the job's open attempt, or "".
  std::string RunningOn(const std::string& run_id, const std::string& job) {
    json j = Job(run_id, job);
    if (!j.is_object() || j["state"] != "running") return "";
    for (const auto& a : j["attempts"]) {
      if (a["state"] == "running") return a.value("worker", "");
    }
    return "";
  }

  bool RunIs(const std::string& run_id, const std::string& state) {
    json run = Run(run_id);
    return run.is_object() && run["state"] == state;
  }

  // The worker record with this name (null if none).
  json WorkerNamed(const std::string& name) {
    for (const auto& w : Get("/api/v1/workers").value("workers", json::array())) {
      if (w["name"] == name) return w;
    }
    return json();
  }

  TempDir dir_;
  std::string zmq_;
  std::string zmq_listen_;       // where the coordinator binds, when not zmq_
  std::string worker_endpoint_;  // what workers connect to, when not zmq_
  int http_port_ = 0;
  std::string http_url_;
  std::map<std::string, pid_t> pids_;
  std::unique_ptr<httplib::Client> client_;
};

// A job that runs until a marker file appears (so the test decides when it may finish).
inline std::string GatedStep(const std::string& name, const fs::path& gate) {
  return "  - name: " + name + "\n    run: [sh, -c, \"while [ ! -e '" + gate.string() +
         "' ]; do sleep 0.05; done; echo " + name + " done\"]\n    timeout: 2m\n";
}

}  // namespace edgefarm::fault
