// Blue-green promotions driven end to end over real parts: two in-process inference servers
// (the serving library, the stories260K fixture models) behind the real traffic router, real
// HTTP traffic from the load generator, the ledger in a real sqlite file. Holds and deadlines run
// on a ManualClock; traffic volumes are counts, never durations.
#include "edgefarm/coordinator/promotion_machine.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <map>

#include "edgefarm/serving/load_generator.h"
#include "local_slots.h"
#include "test_support.h"

namespace edgefarm::coordinator {
namespace {

using serving::Slot;
using test::LocalSlots;
using test::Quiet;
using test::Version;

class PromotionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto router = serving::TrafficRouter::Create(serving::DefaultRouterOptions(), Quiet());
    ASSERT_TRUE(router.ok()) << router.status().ToString();
    router_ = std::move(*router);
    ASSERT_TRUE(router_->Start().ok());
    const auto good = edgefarm::testing::TestData("models/stories260K.gguf");
    const auto candidate = edgefarm::testing::TestData("models/stories260K-ffpad192-f32.gguf");
    serving::FaultOptions faulty;
    faulty.error_rate = 0.5;
    slots_ = std::make_unique<LocalSlots>(
        router_.get(),
        std::map<std::string, Version>{
            {"v1", {good, {}}}, {"v2", {candidate, {}}}, {"v2-faulty", {candidate, faulty}}});
    auto ledger = PromotionLedger::Open(dir_.path() / "promotion.db");
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ledger_ = std::move(*ledger);
    config_.spec.traffic = {{10, 60}, {50, 60}, {100, 60}};
    config_.spec.failure_limit = 1;
    // Latency is judged against a 1 s floor so scheduler noise on a shared CI machine cannot
    // fail a step; error rates are what these tests inject and judge.
    config_.limits.p95_floor_ms = 1000;
    config_.limits.min_requests = 20;
  }

  // v1 live in blue with traffic the router has seen (the baseline).
  void DeployV1() {
    PromotionMachine first(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
    ASSERT_TRUE(first.Begin(Request("p0", "v1", "")).ok());
    DriveUntilTerminal(first);
    ASSERT_EQ(first.state().phase, PromotionPhase::kSucceeded);
    ASSERT_EQ(LiveVersion(first.state()), "v1");
  }

  PromotionState Request(std::string id, std::string version, std::string stable) {
    PromotionState s;
    s.id = std::move(id);
    s.environment = "production";
    s.run_id = "run-1";
    s.triggered_by = "alice";
    s.candidate_version = std::move(version);
    s.stable_version = std::move(stable);
    // p0 (the first deploy) puts v1 in blue; later promotions use the idle green slot.
    s.stable_slot = s.stable_version.empty() ? "green" : "blue";
    s.evidence = R"({"gates":"passed"})";
    return s;
  }

  void Traffic(int requests) {
    serving::LoadOptions load;
    load.url = router_->base_url();
    load.body = R"({"prompt":"Once upon a time","max_tokens":2,"temperature":0})";
    load.concurrency = 4;
    load.requests = requests;
    auto report = serving::RunLoad(load);
    ASSERT_TRUE(report.ok()) << report.status().ToString();
  }

  // Sends traffic for each hold and lets the clock pass it, until the machine stops moving.
  void DriveUntilTerminal(PromotionMachine& m, int max_rounds = 20) {
    for (int i = 0; i < max_rounds && !IsTerminal(m.state().phase); ++i) {
      if (m.state().phase == PromotionPhase::kRamping) Traffic(300);
      if (m.state().phase == PromotionPhase::kPaused) return;
      clock_.Advance(std::chrono::seconds(61));
      ASSERT_TRUE(m.Advance().ok());
    }
  }

  std::vector<LedgerEntry> History() {
    auto history = ledger_->History("production");
    EXPECT_TRUE(history.ok()) << history.status().ToString();
    return history.ok() ? *history : std::vector<LedgerEntry>{};
  }

  edgefarm::testing::TempDir dir_;
  ManualClock clock_;
  std::unique_ptr<serving::TrafficRouter> router_;
  std::unique_ptr<LocalSlots> slots_;
  std::unique_ptr<PromotionLedger> ledger_;
  PromotionConfig config_;
};

TEST_F(PromotionTest, PassingCandidateGoesLiveThroughEveryRampStep) {
  DeployV1();
  Traffic(100);  // production traffic on v1: the live baseline
  PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(m.Begin(Request("p1", "v2", "v1")).ok());
  EXPECT_EQ(m.state().candidate_slot, "green");
  std::vector<int> weights_seen;
  for (int i = 0; i < 20 && !IsTerminal(m.state().phase); ++i) {
    if (m.state().phase == PromotionPhase::kRamping) {
      weights_seen.push_back(router_->candidate_weight());
      Traffic(300);
    }
    clock_.Advance(std::chrono::seconds(61));
    ASSERT_TRUE(m.Advance().ok());
  }
  EXPECT_EQ(weights_seen, (std::vector<int>{10, 50, 100}));
  EXPECT_EQ(m.state().phase, PromotionPhase::kSucceeded) << m.state().reason;
  EXPECT_EQ(LiveVersion(m.state()), "v2");
  EXPECT_EQ(router_->live(), Slot::kGreen);
  EXPECT_EQ(router_->candidate_weight(), 0);
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), "");  // scaled down after the delay
  int analyses = 0;
  for (const auto& e : History()) {
    if (e.promotion_id == "p1" && e.kind == "analysis") ++analyses;
  }
  EXPECT_EQ(analyses, 4);  // pre-promotion + one per step
}

TEST_F(PromotionTest, FaultyCandidateIsRolledBackAndLiveNeverChanges) {
  DeployV1();
  Traffic(100);
  PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(m.Begin(Request("p1", "v2-faulty", "v1")).ok());
  for (int i = 0; i < 20 && !IsTerminal(m.state().phase); ++i) {
    EXPECT_EQ(router_->live(), Slot::kBlue);
    EXPECT_NE(LiveVersion(m.state()), "v2-faulty");
    if (m.state().phase == PromotionPhase::kRamping) Traffic(300);
    clock_.Advance(std::chrono::seconds(61));
    ASSERT_TRUE(m.Advance().ok());
  }
  EXPECT_EQ(m.state().phase, PromotionPhase::kRolledBack);
  EXPECT_EQ(m.state().step, 0) << "rolled back at the first (10 %) step";
  EXPECT_NE(m.state().reason.find("error rate"), std::string::npos) << m.state().reason;
  EXPECT_EQ(LiveVersion(m.state()), "v1");
  EXPECT_EQ(router_->live(), Slot::kBlue);
  EXPECT_EQ(router_->candidate_weight(), 0);
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), "");
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), "v1");
  for (const auto& e : History()) {
    if (e.kind == "live") {
      EXPECT_EQ(e.version, "v1");
    }
  }
}

TEST_F(PromotionTest, ApprovalGatesTheStartAndRefusesTheTriggerer) {
  DeployV1();
  config_.spec.approval.required = true;
  config_.spec.approval.timeout_seconds = 3600;
  PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(m.Begin(Request("p1", "v2", "v1")).ok());
  EXPECT_EQ(m.state().phase, PromotionPhase::kAwaitingApproval);
  ASSERT_TRUE(m.Advance().ok());
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), "") << "nothing starts before approval";
  EXPECT_EQ(m.Decide({"alice", "release-manager", true, "", 0}).code(),
            StatusCode::kPermissionDenied);
  EXPECT_EQ(m.Decide({"dev", "developer", true, "", 0}).code(), StatusCode::kPermissionDenied);
  ASSERT_TRUE(m.Decide({"bob", "release-manager", true, "numbers look good", 0}).ok());
  EXPECT_EQ(m.state().phase, PromotionPhase::kStarting);
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), "v2");
  bool recorded = false;
  for (const auto& e : History()) {
    if (e.kind == "approval.decision") {
      recorded = e.actor == "bob" && e.detail.find("numbers look good") != std::string::npos &&
                 e.detail.find("evidence") != std::string::npos;
    }
  }
  EXPECT_TRUE(recorded);
}

TEST_F(PromotionTest, ApprovalTimeoutRejectsWithoutStarting) {
  DeployV1();
  config_.spec.approval.required = true;
  config_.spec.approval.timeout_seconds = 600;
  PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(m.Begin(Request("p1", "v2", "v1")).ok());
  clock_.Advance(std::chrono::seconds(599));
  ASSERT_TRUE(m.Advance().ok());
  EXPECT_EQ(m.state().phase, PromotionPhase::kAwaitingApproval);
  clock_.Advance(std::chrono::seconds(1));
  ASSERT_TRUE(m.Advance().ok());
  EXPECT_EQ(m.state().phase, PromotionPhase::kRejected);
  EXPECT_NE(m.state().reason.find("timed out"), std::string::npos);
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), "");
  EXPECT_EQ(LiveVersion(m.state()), "v1");
}

TEST_F(PromotionTest, ResumesARampFromTheLedgerAfterTheMachineIsGone) {
  DeployV1();
  Traffic(100);
  {
    PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
    ASSERT_TRUE(m.Begin(Request("p1", "v2", "v1")).ok());
    for (int i = 0; i < 10 && !(m.state().phase == PromotionPhase::kRamping && m.state().step == 1);
         ++i) {
      if (m.state().phase == PromotionPhase::kRamping) Traffic(300);
      clock_.Advance(std::chrono::seconds(61));
      ASSERT_TRUE(m.Advance().ok());
    }
    ASSERT_EQ(m.state().step, 1);
  }  // the machine is gone mid-ramp; only the ledger file remains
  ledger_.reset();
  auto reopened = PromotionLedger::Open(dir_.path() / "promotion.db");
  ASSERT_TRUE(reopened.ok());
  ledger_ = std::move(*reopened);
  auto row = ledger_->Promotion("p1");
  ASSERT_TRUE(row.ok() && row->has_value());
  auto stored = PromotionStateFromJson((*row)->state_json);
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->phase, PromotionPhase::kRamping);
  EXPECT_EQ(stored->step, 1);
  const int starts_before = slots_->starts;
  PromotionMachine resumed(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(resumed.Resume(*stored).ok());
  EXPECT_EQ(router_->candidate_weight(), 50);
  DriveUntilTerminal(resumed);
  EXPECT_EQ(resumed.state().phase, PromotionPhase::kSucceeded) << resumed.state().reason;
  EXPECT_EQ(slots_->starts, starts_before) << "the running candidate was reused, not restarted";
  EXPECT_EQ(LiveVersion(resumed.state()), "v2");
}

TEST_F(PromotionTest, ManualRollbackDuringScaleDownRestoresTheWarmSlot) {
  DeployV1();
  Traffic(100);
  config_.spec.traffic = {{100, 60}};
  PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(m.Begin(Request("p1", "v2", "v1")).ok());
  for (int i = 0; i < 10 && m.state().phase != PromotionPhase::kScaleDown; ++i) {
    if (m.state().phase == PromotionPhase::kRamping) Traffic(100);
    clock_.Advance(std::chrono::seconds(61));
    ASSERT_TRUE(m.Advance().ok());
  }
  ASSERT_EQ(m.state().phase, PromotionPhase::kScaleDown);
  EXPECT_EQ(router_->live(), Slot::kGreen);
  ASSERT_TRUE(m.Rollback("bob", "customer reports").ok());
  EXPECT_EQ(m.state().phase, PromotionPhase::kRolledBack);
  EXPECT_EQ(router_->live(), Slot::kBlue);
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), "v1");
  auto history = History();
  EXPECT_EQ(history.back().kind, "state");
  EXPECT_EQ(m.Rollback("bob", "again").code(), StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace edgefarm::coordinator
