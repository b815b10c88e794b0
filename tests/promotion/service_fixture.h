// Test fixture for the coordinator's promotion service: a real Coordinator (in this process, data
// in a temp dir, ManualClock for promotion holds and deadlines) with a real `edgefarm worker`
// process running the real engine, so matrix cells and stage checks are real jobs. The
// environment's slots are real inference servers behind the real traffic router, started in this
// process from the coordinator's blob store (BlobSlots), standing in for serve jobs on workers.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <sys/wait.h>

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/blob_store.h"
#include "edgefarm/coordinator/coordinator.h"
#include "edgefarm/coordinator/promotion_service.h"
#include "edgefarm/serving/inference_server.h"
#include "edgefarm/serving/load_generator.h"
#include "edgefarm/worker/hardware_detector.h"
#include "local_slots.h"
#include "test_support.h"

namespace edgefarm::coordinator::test {

namespace fs = std::filesystem;
using nlohmann::json;

using edgefarm::testing::ChildProcess;

// Slots over real in-process servers and router; versions are blob digests (the model is the
// blob's file), plus the explicitly registered ones. Outlives coordinator restarts, as serve
// jobs on workers outlive a coordinator.
class BlobSlots {
 public:
  explicit BlobSlots(fs::path blobs_dir) : blobs_(std::move(blobs_dir), uint64_t{1} << 30) {
    auto router = serving::TrafficRouter::Create(serving::DefaultRouterOptions(), Quiet());
    EXPECT_TRUE(router.ok());
    router_ = std::move(*router);
    EXPECT_TRUE(router_->Start().ok());
  }

  void Register(const std::string& version, fs::path model) { paths_[version] = std::move(model); }

  Status Start(Slot slot, const std::string& version) {
    std::lock_guard lock(mu_);
    auto& running = servers_[slot];
    if (running.server && running.version == version) return Status::Ok();
    fs::path model;
    if (auto it = paths_.find(version); it != paths_.end()) {
      model = it->second;
    } else {
      EF_ASSIGN_OR_RETURN(model, blobs_.PathOf(version));
    }
    serving::ServerOptions options = serving::DefaultServerOptions();
    if (auto f = faults_.find(version); f != faults_.end()) options.fault = f->second;
    EF_ASSIGN_OR_RETURN(auto server, serving::InferenceServer::Load(model, options, Quiet()));
    EF_RETURN_IF_ERROR(server->Start());
    EF_RETURN_IF_ERROR(router_->SetUpstream(slot, server->base_url()));
    running = {version, std::move(server)};
    ++starts;
    return Status::Ok();
  }
  bool IsRunning(Slot slot) {
    std::lock_guard lock(mu_);
    return servers_[slot].server != nullptr;
  }
  Status Stop(Slot slot) {
    std::lock_guard lock(mu_);
    servers_[slot] = {};
    return router_->SetUpstream(slot, "");
  }
  std::string VersionIn(Slot slot) {
    std::lock_guard lock(mu_);
    return servers_[slot].server ? servers_[slot].version : "";
  }
  void SetFault(const std::string& version, const SlotFault& fault) {
    std::lock_guard lock(mu_);
    serving::FaultOptions options;
    options.error_rate = fault.error_rate;
    options.latency_ms = fault.latency_ms;
    faults_[version] = options;
  }
  serving::TrafficRouter& router() { return *router_; }
  int starts = 0;

 private:
  struct Running {
    std::string version;
    std::unique_ptr<serving::InferenceServer> server;
  };
  BlobStore blobs_;
  std::unique_ptr<serving::TrafficRouter> router_;
  std::mutex mu_;
  std::map<std::string, fs::path> paths_;
  std::map<std::string, serving::FaultOptions> faults_;
  std::map<Slot, Running> servers_;
};

// What the service's factory hands out: a view of the fixture's BlobSlots.
class BlobSlotsView final : public EnvironmentSlots {
 public:
  explicit BlobSlotsView(BlobSlots* slots) : slots_(slots) {}
  Status StartSlot(Slot slot, const std::string& version) override {
    return slots_->Start(slot, version);
  }
  Result<bool> SlotReady(Slot slot) override { return slots_->IsRunning(slot); }
  Status PreCheck(Slot slot) override {
    return slots_->IsRunning(slot) ? Status::Ok() : FailedPrecondition("slot not running");
  }
  Status StopSlot(Slot slot) override { return slots_->Stop(slot); }
  Status Route(Slot live, int weight) override { return slots_->router().SetRouting(live, weight); }
  serving::SlotStats Stats(Slot slot) override { return slots_->router().Snapshot(slot); }
  void ResetStats(Slot slot) override { slots_->router().ResetStats(slot); }
  std::string router_url() const override { return slots_->router().base_url(); }
  Status SetFault(const std::string& version, const SlotFault& fault) override {
    slots_->SetFault(version, fault);
    return Status::Ok();
  }

 private:
  BlobSlots* slots_;
};

// One real cell on stories260K (small benchmark and evaluation), lenient gates, a short stage
// and a three-step ramp with approval; `scheme` makes the candidate's digest.
inline std::string ServicePipeline(const std::string& scheme, const std::string& approval) {
  return R"(name: promote-e2e
model:
  path: models/stories260K.gguf
  eval_text: data/genesis.txt
matrix:
  framework: [llama_cpp]
  target: [native]
recipes:
  llama_cpp: {scheme: )" +
         scheme + R"(, pure: false}
benchmark: {prompt_tokens: 8, gen_tokens: 4, repetitions: 1, threads: 1}
eval: {ctx: 64, max_chunks: 2}
gates:
  checks: [accuracy_retention >= 0.5]
staging:
  integration: {requests: 2}
  load: {concurrency: 1, duration: 1s, max_error_rate: 0.01, max_p95_ms: 5000}
promotion:
  environment: prod
  traffic:
    - {weight: 10, hold: 60s}
    - {weight: 50, hold: 60s}
    - {weight: 100, hold: 60s}
  failure_limit: 1
  approval: )" +
         approval + "\ntimeout: 10m\n";
}

// The phase and ramp step of a target's promotion ("" and -1 when it has none).
inline std::string Phase(const json& target) {
  return target.contains("promotion") && target["promotion"].is_object()
             ? target["promotion"].value("phase", "")
             : "";
}
inline int Step(const json& target) {
  return target.contains("promotion") && target["promotion"].is_object()
             ? target["promotion"].value("step", -1)
             : -1;
}

inline constexpr char kApproval[] =
    "{required: true, role: release-manager, count: 1, timeout: 1h, on_timeout: reject}";

class PromotionServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    edgefarm_ = edgefarm::testing::BinaryDir() / "cli" / "edgefarm";
    engine_ = edgefarm::testing::BinaryDir() / "engine" / "edgefarm-engine";
    if (!fs::exists(edgefarm_) || !fs::exists(engine_)) {
      GTEST_SKIP() << "needs " << edgefarm_ << " and " << engine_ << " (build them first)";
    }
    data_ = dir_.path() / "data";
    slots_ = std::make_unique<BlobSlots>(data_ / "blobs");
    stable_model_ = edgefarm::testing::TestData("models/stories260K-ffpad192-f32.gguf");
    stable_ = Sha256Hex(edgefarm::testing::ReadFile(stable_model_));
    slots_->Register(stable_, stable_model_);
    options_.data_dir = data_;
    options_.native_target = worker::NativeTarget(worker::DetectHardware());
    options_.promotion_setup = [this](PromotionServiceOptions& o) {
      if (job_slots_) {     // the coordinator's own slots, running the engine under test
        o.clock = &clock_;  // holds and deadlines; the scheduler keeps real time (below)
        o.engine = engine_.string();
        o.slots = JobSlotFactory(o);
      } else {
        o.slots = [this](const std::string&, const std::map<std::string, std::string>&)
            -> Result<std::unique_ptr<EnvironmentSlots>> {
          return std::unique_ptr<EnvironmentSlots>(std::make_unique<BlobSlotsView>(slots_.get()));
        };
      }
      o.tick_interval = std::chrono::milliseconds(20);
      o.limits.min_requests = 5;
      o.limits.p95_floor_ms = 1000;  // scheduler noise on a shared machine must not fail a step
      o.scale_down_delay_ms = 60 * 1000;
    };
    StartCoordinator();
    worker_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{edgefarm_.string(), "worker", "--coordinator", zmq_, "--name",
                                 "w1", "--slots", job_slots_ ? "4" : "1", "--cache",
                                 (dir_.path() / "cache").string(), "--token-file",
                                 (data_ / "worker.token").string(), "--engine", engine_.string()},
        dir_.path() / "worker.log");
    ASSERT_TRUE(worker_->started());
    ASSERT_TRUE(edgefarm::testing::WaitFor([&] {
      auto w = Get("/api/v1/workers");
      return w.contains("workers") && !w["workers"].empty();
    })) << WorkerLog();
    model_digest_ =
        Upload(edgefarm::testing::ReadFile(edgefarm::testing::TestData("models/stories260K.gguf")));
    text_digest_ =
        Upload(edgefarm::testing::ReadFile(edgefarm::testing::TestData("text/genesis.txt")));
  }

  void TearDown() override {
    worker_.reset();
    if (coordinator_) coordinator_->Stop();
  }

  void StartCoordinator() {
    // With slots as jobs on the worker, the scheduler runs on real time: the worker heartbeats in
    // real time, and a 61 s jump of the ManualClock would make it miss 3 heartbeats, be declared
    // lost and have its serve and router jobs ended and retried. Only the promotion service
    // (holds, deadlines, approvals) runs on the ManualClock then.
    const Clock* scheduler_clock = job_slots_ ? static_cast<const Clock*>(&SystemClock::Instance())
                                              : static_cast<const Clock*>(&clock_);
    coordinator_ = std::make_unique<Coordinator>(options_, scheduler_clock, CoordinatorLog());
    Status started = coordinator_->Start();
    ASSERT_TRUE(started.ok()) << started.ToString();
    admin_ = Trim(edgefarm::testing::ReadFile(data_ / "admin.token"));
    auto endpoints = json::parse(edgefarm::testing::ReadFile(data_ / "endpoints.json"));
    zmq_ = endpoints.at("zmq");
    client_ = std::make_unique<httplib::Client>(endpoints.at("http").get<std::string>());
    client_->set_read_timeout(60, 0);
  }

  // The live environment "prod" has the stable version in blue (an earlier promotion).
  void SeedStable() {
    ASSERT_TRUE(slots_->Start(Slot::kBlue, stable_).ok());
    auto ledger = PromotionLedger::Open(data_ / "promotion.db");
    ASSERT_TRUE(ledger.ok());
    PromotionState seed;
    seed.id = "prom-seed";
    seed.environment = "prod";
    seed.candidate_version = stable_;
    seed.candidate_slot = "blue";
    seed.stable_slot = "green";
    seed.phase = PromotionPhase::kSucceeded;
    ASSERT_TRUE((*ledger)->Commit({seed.id, "prod", PromotionStateToJson(seed), 0, 0}, {}).ok());
  }

  static std::string Trim(std::string s) {
    while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
    return s;
  }
  std::string WorkerLog() { return edgefarm::testing::ReadFile(dir_.path() / "worker.log"); }
  // The coordinator's log goes to a file in the temp dir, shown (its tail) when a wait fails.
  std::shared_ptr<spdlog::logger> CoordinatorLog() {
    if (!coordinator_log_) {
      coordinator_log_ = std::make_shared<spdlog::logger>(
          "coordinator", std::make_shared<spdlog::sinks::basic_file_sink_mt>(
                             (dir_.path() / "coordinator.log").string()));
      coordinator_log_->flush_on(spdlog::level::info);
    }
    return coordinator_log_;
  }
  std::string CoordinatorLogTail() {
    const std::string log = edgefarm::testing::ReadFile(dir_.path() / "coordinator.log");
    return log.size() > 6000 ? log.substr(log.size() - 6000) : log;
  }
  httplib::Headers Auth(const std::string& token) const {
    return {{"Authorization", "Bearer " + token}};
  }

  json Get(const std::string& path, int* status = nullptr) {
    auto res = client_->Get(path.c_str(), Auth(admin_));
    if (!res) return nullptr;
    if (status) *status = res->status;
    return json::parse(res->body, nullptr, false);
  }
  json Post(const std::string& path, const std::string& token, const json& body, int* status) {
    auto res = client_->Post(path.c_str(), Auth(token), body.dump(), "application/json");
    *status = res ? res->status : -1;
    return res ? json::parse(res->body, nullptr, false) : json(nullptr);
  }
  std::string Upload(const std::string& data) {
    const std::string digest = Sha256Hex(data);
    auto res = client_->Put(("/api/v1/blobs/" + digest).c_str(), Auth(admin_), data,
                            "application/octet-stream");
    EXPECT_TRUE(res && res->status == 201);
    return digest;
  }
  std::string NewToken(const std::string& role, const std::string& name) {
    int status = 0;
    json reply = Post("/api/v1/tokens", admin_, {{"role", role}, {"name", name}}, &status);
    EXPECT_EQ(status, 201) << reply.dump();
    return reply.value("token", "");
  }

  // Submits the pipeline as admin; returns the run id.
  std::string Submit(const std::string& yaml) {
    int status = 0;
    json reply =
        Post("/api/v1/runs", admin_,
             {{"pipeline_file", ".edgefarm.yml"},
              {"pipeline_yaml", yaml},
              {"files",
               {{"models/stories260K.gguf", model_digest_}, {"data/genesis.txt", text_digest_}}}},
             &status);
    EXPECT_EQ(status, 201) << reply.dump();
    return reply.value("run_id", "");
  }

  // The run's one target entry of GET /runs/{id}/promotion once `pred` holds for it.
  json WaitTarget(const std::string& run, const std::function<bool(const json&)>& pred) {
    json last;
    bool ok = edgefarm::testing::WaitFor(
        [&] {
          last = Get("/api/v1/runs/" + run + "/promotion");
          if (!last.is_object() || !last.contains("targets") || last["targets"].empty()) {
            return false;
          }
          return pred(last["targets"].begin().value());
        },
        std::chrono::minutes(3));
    EXPECT_TRUE(ok) << last.dump(2) << "\n"
                    << WorkerLog() << "\ncoordinator:\n"
                    << CoordinatorLogTail();
    return ok ? last["targets"].begin().value() : json(nullptr);
  }

  // Completions through the environment's router (the test's, or the router job's).
  void Traffic(int requests) {
    serving::LoadOptions load;
    load.url = slots_->router().base_url();
    if (job_slots_) {
      json envs = Get("/api/v1/environments");
      ASSERT_TRUE(envs.contains("environments") && !envs["environments"].empty());
      load.url = envs["environments"][0].value("router_url", "");
      ASSERT_FALSE(load.url.empty()) << envs.dump(2);
    }
    load.body = R"({"prompt":"Once upon a time","max_tokens":2,"temperature":0})";
    load.concurrency = 4;
    load.requests = requests;
    ASSERT_TRUE(serving::RunLoad(load).ok());
  }

  // Sends traffic through the router (enough for the 10 % step to give the candidate more than
  // min_requests), passes the hold, waits for the machine to leave `step`.
  void PassStep(const std::string& run, int step) {
    if (job_slots_) {
      // The router job applies the step's weight on a later tick than the phase change.
      const int weight = std::vector<int>{10, 50, 100}.at(step);
      ASSERT_TRUE(edgefarm::testing::WaitFor([&] {
        json envs = Get("/api/v1/environments");
        if (!envs.contains("environments") || envs["environments"].empty()) return false;
        const std::string url = envs["environments"][0].value("router_url", "");
        if (url.empty()) return false;
        httplib::Client router(url);
        auto res = router.Get("/router/status");
        if (!res || res->status != 200) return false;
        json status = json::parse(res->body, nullptr, false);
        return status.is_object() && status.value("candidate_weight", -1) == weight;
      })) << "the router never took weight "
          << weight;
    }
    Traffic(120);
    clock_.Advance(std::chrono::seconds(61));
    WaitTarget(run, [&](const json& t) { return Phase(t) != "ramping" || Step(t) > step; });
  }

  bool job_slots_ = false;  // set before SetUp: slots are serve and route jobs on the worker
  edgefarm::testing::TempDir dir_;
  fs::path data_, edgefarm_, engine_, stable_model_;
  std::string stable_, admin_, zmq_, model_digest_, text_digest_;
  // Starts at the real time: workers compare job deadlines (set on this clock) with their own.
  ManualClock clock_{SystemClock().UnixMillis()};
  CoordinatorOptions options_;
  std::unique_ptr<BlobSlots> slots_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<ChildProcess> worker_;
  std::unique_ptr<httplib::Client> client_;
  std::shared_ptr<spdlog::logger> coordinator_log_;
};

}  // namespace edgefarm::coordinator::test
