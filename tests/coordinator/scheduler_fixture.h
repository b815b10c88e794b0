// The scheduler test fixture: a Scheduler over real parts (a sqlite file, blob and log directories
// in a temp dir, a fault-injecting Store wrapper) driven by a ManualClock, with helpers that speak
// the worker side of the protocol.
#pragma once

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>

#include <stdexcept>

#include "edgefarm/common/sha256.h"
#include "edgefarm/coordinator/scheduler.h"
#include "edgefarm/coordinator/sqlite_store.h"
#include "test_support.h"

namespace edgefarm::coordinator {

using std::chrono::milliseconds;

inline constexpr char kEnrolToken[] = "enrol-secret-for-tests";

// Store wrapper that can be told to fail commits (fault injection, as leveldb's EnvWrapper).
class FaultyStore final : public Store {
 public:
  explicit FaultyStore(Store* base) : base_(base) {}
  Status Commit(const ChangeSet& c) override {
    if (fail_) return IoError("injected commit failure");
    return base_->Commit(c);
  }
  Result<StoreSnapshot> Load() override { return base_->Load(); }
  Result<std::optional<RunBundle>> LoadRun(const std::string& run_id) override {
    return base_->LoadRun(run_id);
  }
  Result<std::string> RunIdOfJob(const std::string& job_id) override {
    return base_->RunIdOfJob(job_id);
  }
  Result<std::vector<RunListing>> FinishedRuns() override { return base_->FinishedRuns(); }
  Result<std::vector<EventRecord>> Events(int64_t after, int limit) override {
    return base_->Events(after, limit);
  }
  int SchemaVersion() const override { return base_->SchemaVersion(); }
  int64_t TransactionsCommitted() const override { return base_->TransactionsCommitted(); }
  bool fail_ = false;

 private:
  Store* base_;
};

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = SqliteStore::Open(dir_ / "coordinator.db");
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    sqlite_ = std::move(store).value();
    faulty_ = std::make_unique<FaultyStore>(sqlite_.get());
    blobs_ = std::make_unique<BlobStore>(dir_ / "blobs", 1 << 20);
    ASSERT_TRUE(blobs_->Init().ok());
    logs_ = std::make_unique<LogStore>(dir_ / "logs");
    options_.heartbeat_interval = milliseconds(1000);
    options_.missed_heartbeats = 3;
    options_.lease_ttl = milliseconds(5000);
    options_.restart_grace = milliseconds(10000);
    options_.accept_window = milliseconds(60000);  // tests of the window set their own
    options_.blob_url = "http://127.0.0.1:1";
    options_.worker_token_sha256 = Sha256Hex(kEnrolToken);
    Restart();
  }

  // A fresh scheduler over the same store, as after a coordinator restart.
  void Restart() {
    scheduler_ = std::make_unique<Scheduler>(options_, faulty_.get(), blobs_.get(), logs_.get(),
                                             &clock_, logger_);
    auto snapshot = sqlite_->Load();
    ASSERT_TRUE(snapshot.ok()) << snapshot.status().ToString();
    scheduler_->Restore(*snapshot);
    ASSERT_TRUE(scheduler_->Flush().ok());
    scheduler_->TakeOutbox();
  }

  std::vector<Outbound> Deliver(const std::string& identity, const v1::Envelope& env) {
    scheduler_->HandleMessage(identity, env);
    return Step();
  }

  std::vector<Outbound> Step() {
    scheduler_->Tick();
    EXPECT_TRUE(scheduler_->Flush().ok());
    return scheduler_->TakeOutbox();
  }

  std::vector<Outbound> Register(const std::string& id, const Tags& tags, uint32_t slots = 1,
                                 std::vector<v1::RunningJob> running = {}) {
    v1::Envelope env;
    v1::Register* reg = env.mutable_register_();
    reg->set_worker_id(id);
    reg->set_slots(slots);
    reg->set_enrol_token(kEnrolToken);
    for (const auto& [k, v] : tags) (*reg->mutable_tags())[k] = v;
    for (const auto& r : running) *reg->add_running() = r;
    return Deliver(id, env);
  }

  static JobRecord Job(const std::string& name, const Tags& tags,
                       std::vector<std::string> needs = {}) {
    JobRecord job;
    job.name = name;
    job.framework = "llama_cpp";
    job.target = "custom";
    job.required_tags = tags;
    job.needs = std::move(needs);
    job.engine_job_json = R"({"schema":"edgefarm.job/v1"})";
    job.retry_infra = 2;
    return job;
  }

  std::string Submit(std::vector<JobRecord> jobs) {
    PlannedRun run;
    run.name = "test";
    run.pipeline_file = ".edgefarm.yml";
    run.jobs = std::move(jobs);
    auto id = scheduler_->SubmitRun(std::move(run));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    scheduler_->TakeOutbox();
    return id.ok() ? *id : "";
  }

  const JobRecord& JobNamed(const std::string& run_id, const std::string& name) {
    for (const JobRecord* job : scheduler_->JobsOf(run_id)) {
      if (job->name == name) return *job;
    }
    throw std::runtime_error("no job " + name);
  }

  static std::vector<v1::Assign> Assigns(const std::vector<Outbound>& out,
                                         const std::string& worker) {
    std::vector<v1::Assign> assigns;
    for (const auto& o : out) {
      if (o.identity == worker && o.envelope.has_assign()) assigns.push_back(o.envelope.assign());
    }
    return assigns;
  }

  static v1::Envelope ResultFor(const v1::Assign& assign, v1::Outcome outcome,
                                const std::string& token_override = "") {
    v1::Envelope env;
    v1::JobResult* r = env.mutable_result();
    r->set_job_id(assign.job_id());
    r->set_attempt(assign.attempt());
    r->set_lease_token(token_override.empty() ? assign.lease_token() : token_override);
    r->set_outcome(outcome);
    r->set_result_json(R"({"schema":"edgefarm.result/v1"})");
    return env;
  }

  static const v1::Envelope* Find(const std::vector<Outbound>& out, v1::Envelope::BodyCase body) {
    for (const auto& o : out) {
      if (o.envelope.body_case() == body) return &o.envelope;
    }
    return nullptr;
  }

  edgefarm::testing::TempDir dir_;
  ManualClock clock_;
  std::shared_ptr<spdlog::logger> logger_ =
      std::make_shared<spdlog::logger>("test", std::make_shared<spdlog::sinks::null_sink_mt>());
  SchedulerOptions options_;
  std::unique_ptr<SqliteStore> sqlite_;
  std::unique_ptr<FaultyStore> faulty_;
  std::unique_ptr<BlobStore> blobs_;
  std::unique_ptr<LogStore> logs_;
  std::unique_ptr<Scheduler> scheduler_;
};

inline const Tags kIntel = {{"arch", "x86_64"}, {"cpu.vendor", "intel"}};
inline const Tags kArm = {{"arch", "aarch64"}};

}  // namespace edgefarm::coordinator
