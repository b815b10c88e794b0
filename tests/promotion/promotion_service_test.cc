// The coordinator drives promotions (issue 6) end to end: a real run on a real worker process,
// gate verdicts and the Pareto choice stored and served, the stage check as a real job, the
// approval over HTTP with its role rules, the ramp through real servers and the real router with
// real traffic, an automatic rollback of a faulty candidate, an approval timeout, and a restart
// of the coordinator in the middle of a ramp. Holds and deadlines run on the ManualClock.
#include "service_fixture.h"

namespace edgefarm::coordinator::test {
namespace {

using edgefarm::testing::WaitFor;

bool Awaiting(const json& t) {
  return t.value("status", "") == "promoting" && Phase(t) == "awaiting_approval";
}

TEST_F(PromotionServiceTest, PassingCandidateIsStagedApprovedAndRampedLive) {
  SeedStable();
  const std::string run = Submit(ServicePipeline("q8_0", kApproval));
  json target = WaitTarget(run, Awaiting);
  ASSERT_TRUE(target.is_object());
  // Verdicts, the Pareto choice and the staging measurements are stored and served.
  json view = Get("/api/v1/runs/" + run + "/promotion");
  ASSERT_EQ(view["verdicts"].size(), 1u);
  EXPECT_EQ(view["verdicts"][0]["outcome"], "passed") << view.dump(2);
  EXPECT_FALSE(target["recommendation"]["job_id"].get<std::string>().empty());
  EXPECT_EQ(target["staging"]["state"], "passed") << target.dump(2);
  EXPECT_GE(target["staging"]["report"]["checks"].size(), 3u) << target.dump(2);
  EXPECT_TRUE(view["submitted_by"].get<std::string>().find("admin.token") == 0);
  const std::string candidate = target["artifact"]["digest"];

  // The submitter (admin) and a developer may not approve; a release manager may.
  int status = 0;
  json reply = Post("/api/v1/runs/" + run + "/approve", admin_, {{"comment", "mine"}}, &status);
  EXPECT_EQ(status, 403) << reply.dump();
  Post("/api/v1/runs/" + run + "/approve", NewToken("developer", "dev"), json::object(), &status);
  EXPECT_EQ(status, 403);
  const std::string rm = NewToken("release-manager", "rm");
  reply = Post("/api/v1/runs/" + run + "/approve", rm, {{"comment", "ship it"}}, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  Post("/api/v1/runs/" + run + "/approve", rm, json::object(), &status);
  EXPECT_EQ(status, 409);  // nothing awaits approval any more

  for (int step = 0; step < 3; ++step) {
    target =
        WaitTarget(run, [&](const json& t) { return Phase(t) == "ramping" && Step(t) == step; });
    ASSERT_TRUE(target.is_object());
    PassStep(run, step);
  }
  target = WaitTarget(run, [](const json& t) { return Phase(t) == "scale_down"; });
  ASSERT_TRUE(target.is_object());
  clock_.Advance(std::chrono::seconds(61));
  target = WaitTarget(run, [](const json& t) { return Phase(t) == "succeeded"; });
  ASSERT_TRUE(target.is_object());
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), candidate);
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), "");  // the old slot was scaled down

  json envs = Get("/api/v1/environments");
  ASSERT_EQ(envs["environments"].size(), 1u) << envs.dump(2);
  EXPECT_EQ(envs["environments"][0]["live_version"], candidate);
  json history = Get("/api/v1/environments/prod/history");
  std::vector<int> weights;
  bool approved_by_rm = false;
  for (const auto& e : history["entries"]) {
    if (e["kind"] == "ramp") weights.push_back(e["detail"].value("weight", 0));
    if (e["kind"] == "approval.decision") {
      approved_by_rm = e["actor"].get<std::string>().rfind("rm:", 0) == 0;
    }
  }
  EXPECT_EQ(weights, (std::vector<int>{10, 50, 100})) << history.dump(2);
  EXPECT_TRUE(approved_by_rm) << history.dump(2);

  // After the switch a release manager rolls back by hand (a developer may not): the version
  // live before comes back in the idle slot and takes all traffic; the candidate is scaled down.
  const std::string promotion_id = target["promotion"]["id"];
  Post("/api/v1/environments/prod/rollback", NewToken("developer", "dev2"), json::object(),
       &status);
  EXPECT_EQ(status, 403);
  reply = Post("/api/v1/environments/prod/rollback", rm, {{"reason", "regression"}}, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  EXPECT_EQ(reply["rollback_of"], promotion_id);
  auto live_env = [&] { return Get("/api/v1/environments")["environments"][0]; };
  ASSERT_TRUE(WaitFor([&] { return live_env()["live_version"] == stable_; })) << live_env();
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(WaitFor([&] { return live_env()["promotion"]["phase"] == "succeeded"; }))
      << live_env();
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), stable_);
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), "");
}

// Nothing served the environment before: the run's unoptimised model is seeded as the stable
// version, started in blue after the approval (not before), and the candidate ramps against it.
TEST_F(PromotionServiceTest, FirstPromotionOfAnEnvironmentRampsAgainstTheBaseline) {
  const std::string run = Submit(ServicePipeline("q8_0", kApproval));
  json target = WaitTarget(run, Awaiting);
  ASSERT_TRUE(target.is_object());
  EXPECT_EQ(target["baseline"]["digest"], model_digest_) << target.dump(2);
  EXPECT_EQ(target["promotion"]["stable_version"], model_digest_) << target.dump(2);
  EXPECT_TRUE(target["promotion"]["stable_is_baseline"].get<bool>());
  EXPECT_EQ(target["promotion"]["live_version"], "");  // nothing serves before the approval
  EXPECT_EQ(slots_->starts, 0);
  const std::string candidate = target["artifact"]["digest"];
  int status = 0;
  Post("/api/v1/runs/" + run + "/approve", NewToken("release-manager", "rm"), json::object(),
       &status);
  ASSERT_EQ(status, 200);
  for (int step = 0; step < 3; ++step) {
    ASSERT_TRUE(WaitTarget(run, [&](const json& t) {
                  return Phase(t) == "ramping" && Step(t) == step;
                }).is_object());
    EXPECT_EQ(slots_->VersionIn(Slot::kBlue), model_digest_);
    EXPECT_EQ(slots_->VersionIn(Slot::kGreen), candidate);
    PassStep(run, step);
  }
  ASSERT_TRUE(WaitTarget(run, [](const json& t) { return Phase(t) == "scale_down"; }).is_object());
  clock_.Advance(std::chrono::seconds(61));
  ASSERT_TRUE(WaitTarget(run, [](const json& t) { return Phase(t) == "succeeded"; }).is_object());
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), candidate);
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), "");
  std::vector<std::string> kinds;
  const json history = Get("/api/v1/environments/prod/history");
  for (const auto& e : history["entries"]) {
    if (e["kind"] == "baseline") {
      EXPECT_EQ(e["version"], model_digest_);
    }
    if (e["kind"] == "baseline" || e["kind"] == "ramp" || e["kind"] == "live") {
      kinds.push_back(
          e["kind"].get<std::string>() +
          (e["kind"] == "ramp" ? std::to_string(e["detail"]["weight"].get<int>()) : ""));
    }
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"baseline", "ramp10", "ramp50", "ramp100", "live"}));
  EXPECT_EQ(Get("/api/v1/environments")["environments"][0]["live_version"], candidate);
}

TEST_F(PromotionServiceTest, FaultyCandidateIsRolledBackAndLiveNeverChanges) {
  SeedStable();
  const std::string run = Submit(ServicePipeline("q4_0", kApproval));
  json target = WaitTarget(run, Awaiting);
  ASSERT_TRUE(target.is_object());
  const std::string candidate = target["artifact"]["digest"];
  int status = 0;
  json reply = Post("/api/v1/environments/prod/fault", admin_,
                    {{"version", candidate}, {"error_rate", 0.5}, {"latency_ms", 0}}, &status);
  ASSERT_EQ(status, 200) << reply.dump();
  Post("/api/v1/runs/" + run + "/approve", NewToken("release-manager", "rm"), json::object(),
       &status);
  ASSERT_EQ(status, 200);
  target = WaitTarget(run, [](const json& t) { return Phase(t) == "ramping"; });
  ASSERT_TRUE(target.is_object());
  EXPECT_EQ(Get("/api/v1/environments")["environments"][0]["live_version"], stable_);
  Traffic(60);
  clock_.Advance(std::chrono::seconds(61));
  target = WaitTarget(run, [](const json& t) { return Phase(t) == "rolled_back"; });
  ASSERT_TRUE(target.is_object());
  EXPECT_EQ(Get("/api/v1/environments")["environments"][0]["live_version"], stable_);
  EXPECT_EQ(slots_->VersionIn(Slot::kBlue), stable_);
  EXPECT_EQ(slots_->VersionIn(Slot::kGreen), "");  // the candidate was stopped
  bool candidate_live = false, rollback = false;
  json history = Get("/api/v1/environments/prod/history");
  for (const auto& e : history["entries"]) {
    candidate_live = candidate_live || (e["kind"] == "live" && e["version"] == candidate);
    rollback = rollback || e["kind"] == "rollback";
  }
  EXPECT_FALSE(candidate_live) << history.dump(2);
  EXPECT_TRUE(rollback) << history.dump(2);
}

TEST_F(PromotionServiceTest, ApprovalTimeoutRejectsWithoutStartingAnything) {
  SeedStable();
  const std::string run = Submit(ServicePipeline("q8_0", kApproval));
  ASSERT_TRUE(WaitTarget(run, Awaiting).is_object());
  const int starts = slots_->starts;
  clock_.Advance(std::chrono::hours(1) + std::chrono::seconds(1));
  json target = WaitTarget(run, [](const json& t) { return Phase(t) == "rejected"; });
  ASSERT_TRUE(target.is_object());
  EXPECT_NE(target["promotion"]["reason"].get<std::string>().find("timed out"), std::string::npos)
      << target.dump(2);
  EXPECT_EQ(slots_->starts, starts);
  int status = 0;
  Post("/api/v1/runs/" + run + "/approve", NewToken("release-manager", "rm"), json::object(),
       &status);
  EXPECT_EQ(status, 409);
}

TEST_F(PromotionServiceTest, CoordinatorRestartedDuringARampResumesIt) {
  SeedStable();
  const std::string run = Submit(ServicePipeline("q8_0", kApproval));
  ASSERT_TRUE(WaitTarget(run, Awaiting).is_object());
  int status = 0;
  Post("/api/v1/runs/" + run + "/approve", NewToken("release-manager", "rm"), json::object(),
       &status);
  ASSERT_EQ(status, 200);
  ASSERT_TRUE(WaitTarget(run, [](const json& t) { return Phase(t) == "ramping"; }).is_object());
  PassStep(run, 0);
  ASSERT_TRUE(WaitTarget(run, [](const json& t) {
                return Phase(t) == "ramping" && Step(t) == 1;
              }).is_object());
  const int starts = slots_->starts;
  // The coordinator goes away mid-ramp; the slots (jobs on workers) keep serving.
  coordinator_->Stop();
  coordinator_.reset();
  StartCoordinator();
  json target = WaitTarget(run, [](const json& t) { return Phase(t) == "ramping"; });
  ASSERT_TRUE(target.is_object());
  EXPECT_EQ(Step(target), 1);
  for (int step = 1; step < 3; ++step) {
    ASSERT_TRUE(WaitTarget(run, [&](const json& t) {
                  return Phase(t) == "ramping" && Step(t) == step;
                }).is_object());
    PassStep(run, step);
  }
  ASSERT_TRUE(WaitTarget(run, [](const json& t) { return Phase(t) == "scale_down"; }).is_object());
  EXPECT_EQ(slots_->starts, starts);  // the running candidate was reused, not started again
  bool resumed = false;
  json history = Get("/api/v1/environments/prod/history");
  for (const auto& e : history["entries"]) {
    resumed = resumed || e["detail"].dump().find("resumed after a restart") != std::string::npos;
  }
  EXPECT_TRUE(resumed) << history.dump(2);
}

// The coordinator's own slots: serve and route jobs on the worker (JobSlotControl). The first
// promotion goes live (directly as a first deploy, or through the ramp against the run's seeded
// baseline), the next candidate ramps through the router job. The scheduler runs on real time
// here (see StartCoordinator): it once shared the ManualClock, whose 61 s jumps made the worker
// miss its heartbeats, so its serve and router jobs were ended and retried mid-promotion (the
// "PUT <router>/router/upstream: Read" failures and the ramp step without candidate requests).
class JobSlotsPromotionTest : public PromotionServiceTest {
 protected:
  void SetUp() override {
    job_slots_ = true;
    PromotionServiceTest::SetUp();
  }
  // Approves the run's promotion as a release manager and waits until it is live, passing every
  // ramp step on the way (none for a first deploy; the first promotion ramps against the run's
  // baseline model once the service seeds it).
  void ApproveUntilLive(const std::string& run) {
    ASSERT_TRUE(WaitTarget(run, Awaiting).is_object());
    int status = 0;
    json reply = Post("/api/v1/runs/" + run + "/approve", NewToken("release-manager", "rm-" + run),
                      json::object(), &status);
    ASSERT_EQ(status, 200) << reply.dump();
    for (;;) {
      json target = WaitTarget(
          run, [](const json& t) { return Phase(t) == "ramping" || Phase(t) == "scale_down"; });
      ASSERT_TRUE(target.is_object());
      if (Phase(target) == "scale_down") break;
      PassStep(run, Step(target));
    }
    clock_.Advance(std::chrono::seconds(61));
    ASSERT_TRUE(WaitTarget(run, [](const json& t) { return Phase(t) == "succeeded"; }).is_object());
  }
};

TEST_F(JobSlotsPromotionTest, FirstPromotionThenARampThroughTheRouterJob) {
  const std::string first = Submit(ServicePipeline("q8_0", kApproval));
  ApproveUntilLive(first);
  const std::string second = Submit(ServicePipeline("q4_0", kApproval));
  json target = WaitTarget(second, Awaiting);
  ASSERT_TRUE(target.is_object());
  const std::string candidate = target["artifact"]["digest"];
  const std::string promotion = target.value("promotion_id", "");
  ApproveUntilLive(second);
  json envs = Get("/api/v1/environments");
  EXPECT_EQ(envs["environments"][0]["live_version"], candidate) << envs.dump(2);
  std::vector<int> weights;  // of the second promotion: it ramps against the first's version
  json history = Get("/api/v1/environments/prod/history");
  for (const auto& e : history["entries"]) {
    if (e["kind"] == "ramp" && e["promotion_id"] == promotion) {
      weights.push_back(e["detail"].value("weight", 0));
    }
  }
  EXPECT_EQ(weights, (std::vector<int>{10, 50, 100})) << history.dump(2);
}

}  // namespace
}  // namespace edgefarm::coordinator::test
