// Resource groups: one job of a group at a time across the farm, in submission order, with a
// bounded queue; rebuilt after a restart. Admission: at most N unfinished jobs per repository.
// A real sqlite store and a ManualClock (no sockets).
#include "scheduler_fixture.h"

namespace edgefarm::coordinator {
namespace {

class SchedulerGroupsTest : public SchedulerTest {
 protected:
  static JobRecord Deploy(const std::string& name, std::vector<std::string> needs = {}) {
    JobRecord job = Job(name, kIntel, std::move(needs));
    job.resource_group = "deploy-production";
    return job;
  }

  std::string SubmitOrError(std::vector<JobRecord> jobs, Status* error,
                            const std::string& repository = "") {
    PlannedRun run;
    run.repository = repository;
    run.name = "groups";
    run.pipeline_file = ".edgefarm.yml";
    run.jobs = std::move(jobs);
    auto id = scheduler_->SubmitRun(std::move(run));
    if (!id.ok()) *error = id.status();
    return id.ok() ? *id : "";
  }

  void Succeed(const v1::Assign& assign) {
    auto out = Deliver("w", ResultFor(assign, v1::OUTCOME_SUCCEEDED));
    ASSERT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  }
};

TEST_F(SchedulerGroupsTest, OneJobOfAGroupRunsAtATimeInSubmissionOrder) {
  Register("w", kIntel, 8);
  std::string first = Submit({Deploy("deploy"), Job("test", kIntel)});
  std::string second = Submit({Deploy("deploy")});
  std::string third = Submit({Deploy("deploy")});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 2u);  // the first deploy and the ungrouped test; not the others
  EXPECT_EQ(JobNamed(second, "deploy").state, JobState::kQueued);
  EXPECT_EQ(JobNamed(third, "deploy").state, JobState::kQueued);
  const v1::Assign* deploy = nullptr;
  for (const auto& a : assigns) {
    if (a.job_id() == JobNamed(first, "deploy").id) deploy = &a;
  }
  ASSERT_NE(deploy, nullptr);
  EXPECT_TRUE(Assigns(Step(), "w").empty());  // nothing else while it runs

  Succeed(*deploy);  // the same iteration hands the group to the next in line
  EXPECT_EQ(JobNamed(second, "deploy").state, JobState::kAssigned);
  EXPECT_EQ(JobNamed(third, "deploy").state, JobState::kQueued);
}

TEST_F(SchedulerGroupsTest, AFailedOrCancelledHolderReleasesTheGroup) {
  Register("w", kIntel, 8);
  std::string first = Submit({Deploy("deploy")});
  std::string second = Submit({Deploy("deploy")});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  ASSERT_TRUE(scheduler_->CancelRun(first).ok());
  auto out = Step();
  ASSERT_EQ(Assigns(out, "w").size(), 1u);
  EXPECT_EQ(Assigns(out, "w")[0].job_id(), JobNamed(second, "deploy").id);
}

TEST_F(SchedulerGroupsTest, TheQueueIsBoundedAndARunBeyondItIsRefusedWhole) {
  options_.resource_group_queue = 1;
  Restart();
  Register("w", kIntel, 8);
  Submit({Deploy("deploy")});  // holds the group
  Submit({Deploy("deploy")});  // waits: the queue is now full
  Status error;
  std::string refused = SubmitOrError({Job("test", kIntel), Deploy("deploy")}, &error);
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(error.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(error.message().find("resource group 'deploy-production'"), std::string::npos)
      << error.message();
  EXPECT_EQ(scheduler_->Runs().size(), 2u);  // nothing of the refused run was stored
}

TEST_F(SchedulerGroupsTest, GroupsSurviveARestartInSubmissionOrder) {
  Register("w", kIntel, 8);
  std::string first = Submit({Deploy("deploy")});
  clock_.Advance(milliseconds(5));
  std::string second = Submit({Deploy("deploy")});
  clock_.Advance(milliseconds(5));
  std::string third = Submit({Deploy("deploy")});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);

  Restart();
  v1::RunningJob running;
  running.set_job_id(assigns[0].job_id());
  running.set_attempt(assigns[0].attempt());
  running.set_lease_token(assigns[0].lease_token());
  auto out = Register("w", kIntel, 8, {running});
  EXPECT_TRUE(Assigns(out, "w").empty());  // the restored holder still holds the group
  EXPECT_EQ(JobNamed(second, "deploy").state, JobState::kQueued);
  Succeed(assigns[0]);
  EXPECT_EQ(JobNamed(second, "deploy").state, JobState::kAssigned);
  EXPECT_EQ(JobNamed(third, "deploy").state, JobState::kQueued);
  EXPECT_EQ(scheduler_->FindRun(first)->state, RunState::kSucceeded);
}

TEST_F(SchedulerGroupsTest, ARepositoryOverItsAdmissionLimitIsRefusedAndCounted) {
  options_.max_queued_per_repo = 3;
  Restart();
  Register("w", kIntel, 1);
  Status error;
  std::string first = SubmitOrError({Job("a", kIntel), Job("b", kIntel)}, &error, "stories");
  ASSERT_FALSE(first.empty()) << error.ToString();
  std::string refused = SubmitOrError({Job("c", kIntel), Job("d", kIntel)}, &error, "stories");
  EXPECT_TRUE(refused.empty());
  EXPECT_EQ(error.code(), StatusCode::kResourceExhausted);
  EXPECT_NE(error.message().find("repository 'stories' has 2 unfinished jobs"), std::string::npos)
      << error.message();
  // Another repository has its own budget.
  EXPECT_FALSE(SubmitOrError({Job("e", kIntel), Job("f", kIntel)}, &error, "other").empty());
  SchedulerLoad load = scheduler_->Load();
  EXPECT_EQ(load.max_queued_per_repo, 3);
  EXPECT_EQ(load.repositories["stories"].unfinished, 2);
  EXPECT_EQ(load.repositories["stories"].refused_runs, 1);
  EXPECT_EQ(load.repositories["other"].unfinished, 2);
  EXPECT_EQ(load.queued, 4);

  // Finished jobs free the budget; the count is rebuilt after a restart.
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  Succeed(assigns[0]);
  Restart();
  EXPECT_EQ(scheduler_->Load().repositories["stories"].unfinished +
                scheduler_->Load().repositories["other"].unfinished,
            3);
  EXPECT_EQ(scheduler_->Load().repositories["stories"].refused_runs, 0);  // since start
}

}  // namespace
}  // namespace edgefarm::coordinator
