// Fairness across runs: fewest-running first, pipeline priority, per-run concurrency caps, and
// priority/caps surviving a restart.
#include "scheduler_fixture.h"

namespace edgefarm::coordinator {
namespace {

class SchedulerFairnessTest : public SchedulerTest {
 protected:
  std::string SubmitWith(int jobs, int priority, int max_running, const Tags& tags = kIntel) {
    PlannedRun run;
    run.name = "fair";
    run.pipeline_file = ".edgefarm.yml";
    run.priority = priority;
    run.max_running = max_running;
    for (int i = 0; i < jobs; ++i) run.jobs.push_back(Job("j" + std::to_string(i), tags));
    auto id = scheduler_->SubmitRun(std::move(run));
    EXPECT_TRUE(id.ok()) << id.status().ToString();
    scheduler_->TakeOutbox();
    clock_.Advance(milliseconds(1));  // later runs are younger
    return id.ok() ? *id : "";
  }

  std::map<std::string, int> AssignedPerRun(const std::vector<Outbound>& out) {
    std::map<std::string, int> per_run;
    for (const auto& o : out) {
      if (!o.envelope.has_assign()) continue;
      per_run[scheduler_->FindJob(o.envelope.assign().job_id())->run_id] += 1;
    }
    return per_run;
  }
};

TEST_F(SchedulerFairnessTest, RunsShareMatchingWorkersFewestRunningFirst) {
  const std::string older = SubmitWith(10, 50, 0);
  const std::string newer = SubmitWith(10, 50, 0);
  // Six free slots appear with both runs waiting.
  auto per_run = AssignedPerRun(Register("w", kIntel, 6));
  EXPECT_EQ(per_run[older], 3);
  EXPECT_EQ(per_run[newer], 3);
}

TEST_F(SchedulerFairnessTest, HigherPriorityRunIsServedFirst) {
  const std::string normal = SubmitWith(3, 50, 0);
  const std::string urgent = SubmitWith(3, 90, 0);
  auto out = Register("w", kIntel, 4);
  auto per_run = AssignedPerRun(out);
  EXPECT_EQ(per_run[urgent], 3);
  EXPECT_EQ(per_run[normal], 1);
}

TEST_F(SchedulerFairnessTest, ConcurrencyCapHoldsARunBackWhileOthersUseTheSlots) {
  const std::string capped = SubmitWith(5, 90, 2);
  const std::string other = SubmitWith(5, 50, 0);
  auto out = Register("w", kIntel, 5);
  auto per_run = AssignedPerRun(out);
  EXPECT_EQ(per_run[capped], 2);
  EXPECT_EQ(per_run[other], 3);
  // A finished job of the capped run frees its turn: the next one goes to it again.
  v1::Assign done;
  for (const auto& a : Assigns(out, "w")) {
    if (scheduler_->FindJob(a.job_id())->run_id == capped) done = a;
  }
  per_run = AssignedPerRun(Deliver("w", ResultFor(done, v1::OUTCOME_SUCCEEDED)));
  EXPECT_EQ(per_run[capped], 1);
  EXPECT_EQ(per_run[other], 0);
}

TEST_F(SchedulerFairnessTest, PriorityAndCapSurviveARestart) {
  const std::string capped = SubmitWith(4, 70, 1);
  Restart();
  ASSERT_NE(scheduler_->FindRun(capped), nullptr);
  EXPECT_EQ(scheduler_->FindRun(capped)->priority, 70);
  EXPECT_EQ(scheduler_->FindRun(capped)->max_running, 1);
  auto per_run = AssignedPerRun(Register("w", kIntel, 4));
  EXPECT_EQ(per_run[capped], 1);
}

}  // namespace
}  // namespace edgefarm::coordinator
