// JobSlotControl with real parts: serve and route jobs run by real worker processes through a
// real in-process coordinator; traffic is real HTTP through the router job; the promotion machine
// is the real one with a ManualClock for holds and deadlines. Jobs start asynchronously, so every
// wait is WaitFor on what the slots, the router or the scheduler report.
#include "edgefarm/coordinator/job_slot_control.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include "edgefarm/coordinator/promotion_machine.h"
#include "job_slot_fixture.h"

namespace edgefarm::coordinator::test {
namespace {

using edgefarm::testing::WaitFor;
using serving::Slot;

class JobSlotControlTest : public JobSlotFixture {};

TEST_F(JobSlotControlTest, ServesRoutesCountsAndFindsItsJobsAfterACoordinatorRestart) {
  OpenSlots();
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, v1_).ok());
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, v1_).ok());  // idempotent: no second job
  EXPECT_EQ(SlotRuns().size(), 1u);
  ASSERT_TRUE(BecomesReady(Slot::kBlue));
  EXPECT_EQ(JobState(slots_->slot_job(Slot::kBlue)), "running");
  Status pre = slots_->PreCheck(Slot::kBlue);
  ASSERT_TRUE(pre.ok()) << pre.ToString();

  // The router job is started by the first Route and is usable once it answers.
  EXPECT_EQ(slots_->router_url(), "");
  ASSERT_TRUE(WaitFor([&] { return slots_->Route(Slot::kBlue, 0).ok(); }, kLong));
  ASSERT_NE(slots_->router_url(), "");
  EXPECT_TRUE(fs::exists(data_ / "router-production.token"));
  EXPECT_EQ(fs::status(data_ / "router-production.token").permissions() &
                (fs::perms::group_all | fs::perms::others_all),
            fs::perms::none);

  ASSERT_TRUE(slots_->StartSlot(Slot::kGreen, v2_).ok());
  ASSERT_TRUE(BecomesReady(Slot::kGreen));
  ASSERT_TRUE(slots_->Route(Slot::kBlue, 10).ok());
  slots_->ResetStats(Slot::kBlue);
  slots_->ResetStats(Slot::kGreen);
  const serving::LoadReport report = Traffic(100);
  EXPECT_EQ(report.errors, 0);
  // The split is deterministic: exactly 10 of every 100 requests go to the candidate.
  EXPECT_EQ(slots_->Stats(Slot::kGreen).requests, 10u);
  EXPECT_EQ(slots_->Stats(Slot::kBlue).requests, 90u);
  slots_->ResetStats(Slot::kGreen);
  EXPECT_EQ(slots_->Stats(Slot::kGreen).requests, 0u);

  // A coordinator restart: the jobs keep running on the workers, and a new JobSlotControl on the
  // same records finds them instead of starting new ones.
  const auto runs_before = SlotRuns();
  ASSERT_EQ(runs_before.size(), 3u);  // blue, router, green
  const std::string blue_job = slots_->slot_job(Slot::kBlue);
  const std::string router_job = slots_->router_job();
  const std::string router_url = slots_->router_url();
  slots_.reset();
  RestartCoordinator();
  OpenSlots();
  EXPECT_EQ(slots_->slot_job(Slot::kBlue), blue_job);
  EXPECT_EQ(slots_->router_url(), router_url) << "the running router is found by Open";
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, v1_).ok());
  ASSERT_TRUE(slots_->StartSlot(Slot::kGreen, v2_).ok());
  EXPECT_EQ(slots_->slot_job(Slot::kBlue), blue_job);
  ASSERT_TRUE(WaitFor([&] { return slots_->Route(Slot::kBlue, 50).ok(); }, kLong));
  EXPECT_EQ(slots_->router_job(), router_job);
  EXPECT_EQ(slots_->router_url(), router_url);
  EXPECT_TRUE(Ready(Slot::kBlue));
  EXPECT_TRUE(Ready(Slot::kGreen));
  EXPECT_EQ(SlotRuns(), runs_before) << "nothing was started twice";
  Traffic(20);
  EXPECT_EQ(slots_->Stats(Slot::kGreen).requests, 10u);

  // StopSlot cancels the job (and is idempotent); its server goes away.
  const std::string green_job = slots_->slot_job(Slot::kGreen);
  const std::string green_url = slots_->slot_url(Slot::kGreen);
  ASSERT_TRUE(slots_->Route(Slot::kBlue, 0).ok());
  ASSERT_TRUE(slots_->StopSlot(Slot::kGreen).ok());
  ASSERT_TRUE(slots_->StopSlot(Slot::kGreen).ok());
  EXPECT_EQ(slots_->slot_url(Slot::kGreen), "");
  EXPECT_EQ(JobState(green_job), "cancelled");
  ASSERT_TRUE(WaitFor(
      [&] {
        httplib::Client client(green_url);
        client.set_connection_timeout(1, 0);
        return !client.Get("/health");
      },
      kLong));
  EXPECT_EQ(slots_->SlotReady(Slot::kGreen).status().code(), StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Ready(Slot::kBlue));
}

TEST_F(JobSlotControlTest, UnknownVersionIsRefused) {
  OpenSlots();
  EXPECT_EQ(slots_->StartSlot(Slot::kBlue, std::string(64, 'a')).code(), StatusCode::kNotFound);
  EXPECT_TRUE(SlotRuns().empty());
  EXPECT_TRUE(slots_->StopSlot(Slot::kBlue).ok());
}

TEST_F(JobSlotControlTest, ARouterJobThatEndedIsStartedAgainWithTheRecordedRouting) {
  OpenSlots();
  ASSERT_TRUE(slots_->StartSlot(Slot::kGreen, v1_).ok());
  ASSERT_TRUE(BecomesReady(Slot::kGreen));
  ASSERT_TRUE(WaitFor([&] { return slots_->Route(Slot::kGreen, 0).ok(); }, kLong));
  const std::string first = slots_->router_job();
  coordinator_->WithScheduler([&](Scheduler& s) { ASSERT_TRUE(s.CancelJob(first).ok()); });
  ASSERT_TRUE(WaitFor([&] { return slots_->Route(Slot::kGreen, 0).ok(); }, kLong));
  EXPECT_NE(slots_->router_job(), first);
  EXPECT_EQ(JobState(first), "cancelled");
  const nlohmann::json routing = Routing();
  EXPECT_EQ(routing.value("live", ""), "green");
  EXPECT_EQ(routing["slots"]["green"].value("upstream", ""), slots_->slot_url(Slot::kGreen));
  EXPECT_EQ(Traffic(10).errors, 0);
  EXPECT_EQ(slots_->Stats(Slot::kGreen).requests, 10u);
}

// A router process that lost the routing set since its start (a new attempt of its job after a
// lost worker starts from its launch flags) is routed again by the next Stats(), which the
// machine calls at the end of every hold; here the router's own admin API stands in for that
// restart by setting another routing behind the slot control's back.
TEST_F(JobSlotControlTest, ARouterReportingAnotherRoutingIsRoutedAgainByStats) {
  OpenSlots();
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, v1_).ok());
  ASSERT_TRUE(BecomesReady(Slot::kBlue));
  ASSERT_TRUE(WaitFor([&] { return slots_->Route(Slot::kBlue, 0).ok(); }, kLong));
  ASSERT_TRUE(slots_->Route(Slot::kBlue, 50).ok());
  ASSERT_EQ(Routing().value("candidate_weight", -1), 50);
  const std::string token =
      edgefarm::testing::ReadFile(data_ / "router-production.token").substr(0, 64);
  httplib::Client router(slots_->router_url());
  auto res = router.Put("/router/routing", {{"Authorization", "Bearer " + token}},
                        R"({"live":"green","candidate_weight":0})", "application/json");
  ASSERT_TRUE(res && res->status == 200);
  ASSERT_EQ(Routing().value("live", ""), "green");
  (void)slots_->Stats(Slot::kGreen);
  const nlohmann::json routing = Routing();
  EXPECT_EQ(routing.value("live", ""), "blue") << routing.dump();
  EXPECT_EQ(routing.value("candidate_weight", -1), 50) << routing.dump();
  EXPECT_EQ(routing["slots"]["blue"].value("upstream", ""), slots_->slot_url(Slot::kBlue));
}

// A coordinator crash after a slot job was submitted but before its id reached the slot record
// leaves a record without a job id (the marker written before submitting). Recovery adopts the
// submitted run (same name, same port) instead of starting a second server.
TEST_F(JobSlotControlTest, ASubmissionWhoseIdWasNotRecordedIsAdopted) {
  OpenSlots();
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, v1_).ok());
  const std::string job = slots_->slot_job(Slot::kBlue);
  ASSERT_FALSE(job.empty());
  slots_.reset();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((data_ / "promotion.db").c_str(), &db), SQLITE_OK);
  EXPECT_EQ(sqlite3_exec(db, "UPDATE slots SET job_id = '', run_id = '' WHERE name = 'blue'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  OpenSlots();
  EXPECT_EQ(slots_->slot_job(Slot::kBlue), "");
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, v1_).ok());
  EXPECT_EQ(slots_->slot_job(Slot::kBlue), job);
  EXPECT_EQ(SlotRuns().size(), 1u);
  ASSERT_TRUE(BecomesReady(Slot::kBlue));
}

TEST_F(JobSlotControlTest, AServerThatKeepsFailingIsRestartedABoundedNumberOfTimes) {
  OpenSlots();
  const std::string garbage = "not a GGUF model";
  const std::string digest = Sha256Hex(garbage);
  ASSERT_TRUE(blobs_->Put(digest, garbage).ok());
  ASSERT_TRUE(slots_->StartSlot(Slot::kBlue, digest).ok());
  const ::testing::AssertionResult ready = BecomesReady(Slot::kBlue);
  ASSERT_FALSE(ready);
  EXPECT_NE(std::string(ready.message()).find("after 3 restarts"), std::string::npos)
      << ready.message();
  EXPECT_EQ(SlotRuns().size(), 4u) << "the first job and three restarts";
  EXPECT_TRUE(slots_->StopSlot(Slot::kBlue).ok());
}

// Drives a promotion machine whose slots are JobSlotControl: phases that wait on jobs are polled;
// each ramp step gets traffic through the router once its weight is applied, then the ManualClock
// passes the hold.
class JobSlotPromotionTest : public JobSlotFixture {
 protected:
  void SetUp() override {
    JobSlotFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    OpenSlots();
    auto ledger = PromotionLedger::Open(dir_ / "ledger.db");
    ASSERT_TRUE(ledger.ok()) << ledger.status().ToString();
    ledger_ = std::move(*ledger);
    config_.spec.traffic = {{10, 60}, {50, 60}, {100, 60}};
    config_.spec.failure_limit = 1;
    config_.limits.p95_floor_ms = 1000;  // judge error rates, not a shared machine's latency
    config_.limits.min_requests = 20;
  }

  PromotionState Request(std::string id, std::string version, std::string stable) {
    PromotionState s;
    s.id = std::move(id);
    s.environment = "production";
    s.run_id = "run-1";
    s.triggered_by = "alice";
    s.candidate_version = std::move(version);
    s.stable_version = std::move(stable);
    s.stable_slot = s.stable_version.empty() ? "green" : "blue";
    s.evidence = R"({"gates":"passed"})";
    return s;
  }

  // Until the machine is terminal; the weights each ramp step was served with are collected.
  void Drive(PromotionMachine& m, std::vector<int>* weights) {
    int served_step = -1;
    const bool done = WaitFor(
        [&] {
          const PromotionState& s = m.state();
          if (IsTerminal(s.phase) || s.phase == PromotionPhase::kPaused) return true;
          if (s.phase == PromotionPhase::kRamping && served_step != s.step) {
            const nlohmann::json routing = Routing();
            const int weight = config_.spec.traffic[static_cast<size_t>(s.step)].weight;
            if (routing.is_object() && routing.value("candidate_weight", -1) == weight) {
              weights->push_back(weight);
              Traffic(200);
              served_step = s.step;
              clock_.Advance(std::chrono::seconds(61));
            }
          } else if (s.phase == PromotionPhase::kScaleDown) {
            // Only once the switch is applied: the router may still be starting (first deploy).
            const nlohmann::json routing = Routing();
            if (routing.is_object() && routing.value("live", "") == s.candidate_slot &&
                routing.value("candidate_weight", -1) == 0) {
              clock_.Advance(std::chrono::seconds(61));
            }
          }
          (void)m.Advance();  // errors (a router still starting) are retried by the machine
          return IsTerminal(m.state().phase);
        },
        std::chrono::minutes(4));
    ASSERT_TRUE(done) << "stuck in " << ToString(m.state().phase) << ": " << m.state().reason;
  }

  ManualClock clock_;
  std::unique_ptr<PromotionLedger> ledger_;
  PromotionConfig config_;
};

TEST_F(JobSlotPromotionTest, CandidateGoesLiveThroughEveryStepAndAFaultyOneIsRolledBack) {
  std::vector<int> weights;
  {
    PromotionMachine first(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
    ASSERT_TRUE(first.Begin(Request("p0", v1_, "")).ok());
    Drive(first, &weights);
    ASSERT_EQ(first.state().phase, PromotionPhase::kSucceeded) << first.state().reason;
    ASSERT_EQ(LiveVersion(first.state()), v1_);
  }
  Traffic(100);  // production traffic on v1: the live baseline

  PromotionMachine m(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  ASSERT_TRUE(m.Begin(Request("p1", v2_, v1_)).ok());
  EXPECT_EQ(m.state().candidate_slot, "green");
  weights.clear();
  Drive(m, &weights);
  EXPECT_EQ(weights, (std::vector<int>{10, 50, 100}));
  ASSERT_EQ(m.state().phase, PromotionPhase::kSucceeded) << m.state().reason;
  EXPECT_EQ(LiveVersion(m.state()), v2_);
  nlohmann::json routing = Routing();
  EXPECT_EQ(routing.value("live", ""), "green");
  EXPECT_EQ(routing.value("candidate_weight", -1), 0);
  EXPECT_EQ(slots_->slot_url(Slot::kBlue), "") << "the old slot was scaled down";

  // v1 again, now served with 50 % injected errors, into the idle blue slot.
  Traffic(100);
  slots_->SetFault(v1_, {0.5, 0});
  PromotionMachine faulty(config_, ledger_.get(), slots_.get(), &clock_, Quiet());
  PromotionState request = Request("p2", v1_, v2_);
  request.stable_slot = "green";
  ASSERT_TRUE(faulty.Begin(request).ok());
  EXPECT_EQ(faulty.state().candidate_slot, "blue");
  weights.clear();
  Drive(faulty, &weights);
  EXPECT_EQ(faulty.state().phase, PromotionPhase::kRolledBack) << faulty.state().reason;
  EXPECT_EQ(LiveVersion(faulty.state()), v2_);
  routing = Routing();
  EXPECT_EQ(routing.value("live", ""), "green");
  EXPECT_EQ(routing.value("candidate_weight", -1), 0);
  EXPECT_EQ(slots_->slot_url(Slot::kBlue), "") << "the faulty candidate was stopped";
  EXPECT_TRUE(Ready(Slot::kGreen));
  // The seeded fault schedule and the deterministic split make this exact: the smoke request of
  // the pre-promotion check passes, and the 10 % step sees 12 errors in its 20 requests.
  EXPECT_EQ(weights, (std::vector<int>{10}));
  EXPECT_NE(faulty.state().reason.find("error rate"), std::string::npos) << faulty.state().reason;
  auto history = ledger_->History("production");
  ASSERT_TRUE(history.ok());
  for (const auto& e : *history) {
    if (e.kind == "live" && e.promotion_id == "p2") ADD_FAILURE() << "p2 went live: " << e.detail;
  }
}

}  // namespace
}  // namespace edgefarm::coordinator::test
