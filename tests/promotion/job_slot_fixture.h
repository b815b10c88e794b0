// Test fixture for JobSlotControl: a real in-process Coordinator (fixed loopback ports, so a
// restarted one is found again by the same workers) and two real `edgefarm worker` processes
// (forked before any thread exists, running the worker command), each with two job slots and the
// label pool=serving. Slot jobs run the real `edgefarm-engine` binary; the stories260K fixtures
// are uploaded as blobs and are the versions.
//
// The engine binary is BinaryDir()/engine/edgefarm-engine or $EDGEFARM_TEST_ENGINE; tests skip
// when it is missing. Every wait is WaitFor on an observable condition.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spdlog/sinks/null_sink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/coordinator.h"
#include "edgefarm/coordinator/job_slot_control.h"
#include "edgefarm/coordinator/tokens.h"
#include "edgefarm/serving/load_generator.h"
#include "edgefarm/worker/worker_main.h"
#include "test_support.h"

namespace edgefarm::coordinator::test {

namespace fs = std::filesystem;

using edgefarm::testing::FreeLoopbackPort;

class JobSlotFixture : public ::testing::Test {
 protected:
  static constexpr auto kLong = std::chrono::seconds(120);

  void SetUp() override {
    const char* env = std::getenv("EDGEFARM_TEST_ENGINE");
    engine_ = env ? fs::path(env) : edgefarm::testing::BinaryDir() / "engine" / "edgefarm-engine";
    if (!fs::exists(engine_)) GTEST_SKIP() << "needs " << engine_ << " (build it first)";
    data_ = dir_ / "data";
    fs::create_directories(data_);
    ASSERT_TRUE(EnsureTokenFiles(data_).ok());  // the workers read worker.token at start
    zmq_ = "tcp://127.0.0.1:" + std::to_string(FreeLoopbackPort());
    http_port_ = FreeLoopbackPort();
    // Workers first: forking is only safe while this process has no other threads.
    StartWorker("w1");
    StartWorker("w2");
    StartCoordinator();
    blobs_ = std::make_unique<BlobStore>(data_ / "blobs", uint64_t{1} << 30);
    ASSERT_TRUE(blobs_->Init().ok());
    v1_ = Upload("models/stories260K.gguf");
    v2_ = Upload("models/stories260K-ffpad192-f32.gguf");
  }

  void TearDown() override {
    slots_.reset();
    for (auto& [name, pid] : workers_) {
      ::kill(pid, SIGKILL);  // their serve and route jobs die with them (PDEATHSIG)
      ::waitpid(pid, nullptr, 0);
    }
    if (coordinator_) coordinator_->Stop();
    if (HasFailure()) {
      for (const auto& entry : fs::directory_iterator(dir_.path())) {
        if (entry.path().extension() == ".log") {
          std::cerr << "--- " << entry.path().filename() << "\n"
                    << edgefarm::testing::ReadFile(entry.path());
        }
      }
    }
  }

  void StartWorker(const std::string& name) {
    fs::create_directories(dir_ / name);
    std::vector<std::string> args = {"worker",
                                     "--coordinator",
                                     zmq_,
                                     "--name",
                                     name,
                                     "--slots",
                                     "2",
                                     "--label",
                                     "pool=serving",
                                     "--cache",
                                     (dir_ / name).string(),
                                     "--token-file",
                                     (data_ / "worker.token").string(),
                                     "--engine",
                                     engine_.string()};
    const fs::path log = dir_ / (name + ".log");
    const pid_t pid = ::fork();
    if (pid == 0) {
      const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
      ::dup2(fd, 1);
      ::dup2(fd, 2);
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::_exit(worker::RunWorkerCommand(static_cast<int>(args.size()), argv.data()));
    }
    ASSERT_GT(pid, 0);
    workers_[name] = pid;
  }

  void StartCoordinator() {
    CoordinatorOptions options;
    options.data_dir = data_;
    options.zmq_listen = zmq_;
    options.http_port = http_port_;
    options.native_target = "intel-x86";
    coordinator_ = std::make_unique<Coordinator>(options, &coordinator_clock_, Quiet());
    Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
  }

  void RestartCoordinator() {
    coordinator_->Stop();
    coordinator_.reset();
    StartCoordinator();
  }

  std::string Upload(const std::string& fixture) {
    const std::string content = edgefarm::testing::ReadFile(edgefarm::testing::TestData(fixture));
    EXPECT_FALSE(content.empty()) << fixture;
    const std::string digest = Sha256Hex(content);
    EXPECT_TRUE(blobs_->Put(digest, content).ok());
    return digest;
  }

  static std::shared_ptr<spdlog::logger> Quiet() {
    return std::make_shared<spdlog::logger>("slots-test",
                                            std::make_shared<spdlog::sinks::null_sink_mt>());
  }

  JobSlotDeps Deps() {
    JobSlotDeps deps;
    deps.with_scheduler = [this](const std::function<void(Scheduler&)>& fn) {
      coordinator_->WithScheduler(fn);
    };
    deps.blobs = blobs_.get();
    deps.state_db = data_ / "promotion.db";
    deps.clock = &coordinator_clock_;
    deps.logger = Quiet();
    deps.engine = engine_.string();
    deps.serve_threads = 2;
    return deps;
  }

  void OpenSlots() {
    auto slots = JobSlotControl::Open("production", {{"pool", "serving"}}, Deps());
    ASSERT_TRUE(slots.ok()) << slots.status().ToString();
    slots_ = std::move(*slots);
  }

  bool Ready(serving::Slot slot) {
    auto ready = slots_->SlotReady(slot);
    return ready.ok() && *ready;
  }

  // Waits until the slot is ready; fails at once when SlotReady gives up (an error).
  ::testing::AssertionResult BecomesReady(serving::Slot slot) {
    Result<bool> ready = false;
    edgefarm::testing::WaitFor(
        [&] {
          ready = slots_->SlotReady(slot);
          return !ready.ok() || *ready;
        },
        kLong);
    if (!ready.ok()) return ::testing::AssertionFailure() << ready.status().ToString();
    if (!*ready) return ::testing::AssertionFailure() << "not ready in time";
    return ::testing::AssertionSuccess();
  }

  // The router's routing as it reports it: {"live": ..., "candidate_weight": ...}.
  nlohmann::json Routing() {
    if (slots_->router_url().empty()) return nullptr;
    httplib::Client client(slots_->router_url());
    auto res = client.Get("/router/status");
    if (!res || res->status != 200) return nullptr;
    return nlohmann::json::parse(res->body, nullptr, false);
  }

  serving::LoadReport Traffic(int requests) {
    serving::LoadOptions load;
    load.url = slots_->router_url();
    load.body = R"({"prompt":"Once upon a time","max_tokens":2,"temperature":0})";
    load.concurrency = 4;
    load.requests = requests;
    auto report = serving::RunLoad(load);
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? *report : serving::LoadReport{};
  }

  // Runs (by id) whose name starts with "env/production/", and job states by job id.
  std::map<std::string, std::string> SlotRuns() {
    std::map<std::string, std::string> out;
    coordinator_->WithScheduler([&](Scheduler& s) {
      for (const RunRecord* run : s.Runs()) {
        if (run->name.rfind("env/production/", 0) == 0) out[run->id] = run->name;
      }
    });
    return out;
  }
  std::string JobState(const std::string& job_id) {
    std::string state;
    coordinator_->WithScheduler([&](Scheduler& s) {
      if (const JobRecord* job = s.FindJob(job_id)) state = std::string(ToString(job->state));
    });
    return state;
  }

  edgefarm::testing::TempDir dir_;
  fs::path data_, engine_;
  std::string zmq_;
  int http_port_ = 0;
  // Steady time stands still (no worker is ever judged lost while a test is slow); Unix time
  // starts at the real now because workers compare job deadlines with their own clocks.
  ManualClock coordinator_clock_{SystemClock::Instance().UnixMillis()};
  std::map<std::string, pid_t> workers_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<JobSlotControl> slots_;
  std::string v1_, v2_;
};

}  // namespace edgefarm::coordinator::test
