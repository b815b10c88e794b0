// Lease rules with a ManualClock: accept windows, heartbeat renewal against a TTL of about ten
// periods, the coordinator's timeout backstop, stale tokens after expiry, cancel of one job, and
// the unschedulable deadline.
#include "scheduler_fixture.h"

namespace edgefarm::coordinator {
namespace {

class SchedulerLeaseTest : public SchedulerTest {
 protected:
  void SetUp() override {
    SchedulerTest::SetUp();
    options_.missed_heartbeats = 100;  // isolate lease rules from worker loss
    options_.lease_ttl = milliseconds(10000);
    options_.accept_window = milliseconds(2000);
    options_.timeout_grace = milliseconds(1000);
    Restart();
  }

  static v1::RunningJob Running(const v1::Assign& assign) {
    v1::RunningJob job;
    job.set_job_id(assign.job_id());
    job.set_attempt(assign.attempt());
    job.set_lease_token(assign.lease_token());
    return job;
  }

  std::vector<Outbound> Heartbeat(const std::string& worker, std::vector<v1::Assign> held) {
    v1::Envelope hb;
    for (const auto& a : held) *hb.mutable_heartbeat()->add_leases() = Running(a);
    return Deliver(worker, hb);
  }

  std::vector<Outbound> Accept(const std::string& worker, const v1::Assign& assign) {
    v1::Envelope env;
    env.mutable_accept()->set_job_id(assign.job_id());
    env.mutable_accept()->set_attempt(assign.attempt());
    env.mutable_accept()->set_lease_token(assign.lease_token());
    return Deliver(worker, env);
  }
};

TEST_F(SchedulerLeaseTest, AssignNotAcceptedWithinTheWindowIsReclaimed) {
  Register("slow", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto first = Assigns(Step(), "slow");
  ASSERT_EQ(first.size(), 1u);
  clock_.Advance(milliseconds(1500));
  Heartbeat("slow", first);  // renewing the lease does not stand in for Accept
  EXPECT_EQ(JobNamed(run, "cell").attempt, 1u);
  clock_.Advance(milliseconds(600));
  auto out = Heartbeat("slow", first);
  auto again = Assigns(out, "slow");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].attempt(), 2u);
  const AttemptRecord* reclaimed = scheduler_->AttemptsOf(again[0].job_id())[0];
  EXPECT_EQ(reclaimed->outcome, "infra_error");
  EXPECT_NE(reclaimed->reason.find("not accepted within 2000 ms"), std::string::npos);
  EXPECT_NE(Find(out, v1::Envelope::kCancel), nullptr);
  EXPECT_EQ(JobNamed(run, "cell").infra_failures, 1);
  // The late Accept of the first attempt carries a stale lease.
  out = Accept("slow", first[0]);
  ASSERT_NE(Find(out, v1::Envelope::kError), nullptr);
  EXPECT_EQ(Find(out, v1::Envelope::kError)->error().code(), "stale_lease");
}

TEST_F(SchedulerLeaseTest, HeartbeatsKeepAnAcceptedLeaseWellPastTheWindowAndTtl) {
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  Accept("w", assigns[0]);
  for (int i = 0; i < 30; ++i) {  // 30 s: three TTLs, fifteen accept windows
    clock_.Advance(milliseconds(1000));
    auto out = Heartbeat("w", assigns);
    EXPECT_EQ(Find(out, v1::Envelope::kHeartbeatAck)->heartbeat_ack().revoked_jobs_size(), 0);
  }
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kRunning);
  EXPECT_EQ(JobNamed(run, "cell").attempt, 1u);
}

TEST_F(SchedulerLeaseTest, ExpiredLeaseRejectsLateLogChunksAndCompletion) {
  Register("a", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto first = Assigns(Step(), "a");
  ASSERT_EQ(first.size(), 1u);
  Accept("a", first[0]);
  // "a" keeps heartbeating but without the job (as a partitioned job thread would look) while
  // "b" joins; the lease runs out and the job moves to "b".
  Register("b", kIntel);
  clock_.Advance(milliseconds(10001));
  auto out = Heartbeat("b", {});
  auto more = Heartbeat("a", {});
  out.insert(out.end(), more.begin(), more.end());
  std::string holder = "a";
  auto second = Assigns(out, "a");
  if (second.empty()) {
    holder = "b";
    second = Assigns(out, "b");
  }
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt(), 2u);
  EXPECT_EQ(scheduler_->AttemptsOf(first[0].job_id())[0]->reason, "lease expired");
  v1::Envelope chunk;
  chunk.mutable_log_chunk()->set_job_id(first[0].job_id());
  chunk.mutable_log_chunk()->set_attempt(1);
  chunk.mutable_log_chunk()->set_lease_token(first[0].lease_token());
  chunk.mutable_log_chunk()->set_data("late\n");
  out = Deliver("a", chunk);
  ASSERT_NE(Find(out, v1::Envelope::kError), nullptr);
  EXPECT_EQ(Find(out, v1::Envelope::kError)->error().code(), "stale_lease");
  out = Deliver("a", ResultFor(first[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_FALSE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  EXPECT_NE(JobNamed(run, "cell").state, JobState::kSucceeded);
  // The current attempt completes it, once.
  out = Deliver(holder, ResultFor(second[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kSucceeded);
}

TEST_F(SchedulerLeaseTest, CoordinatorTimesOutAJobTheWorkerNeverReports) {
  Register("w", kIntel);
  JobRecord job = Job("cell", kIntel);
  job.timeout_seconds = 10;
  std::string run = Submit({job});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  Accept("w", assigns[0]);
  std::vector<Outbound> out;
  for (int i = 0; i < 11; ++i) {  // 11 s: timeout 10 s + grace 1 s, still heartbeating
    clock_.Advance(milliseconds(1000));
    out = Heartbeat("w", assigns);
    EXPECT_EQ(JobNamed(run, "cell").state, JobState::kRunning);
  }
  clock_.Advance(milliseconds(100));
  out = Heartbeat("w", assigns);
  const v1::Envelope* cancel = Find(out, v1::Envelope::kCancel);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->cancel().job_id(), assigns[0].job_id());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kFailed);  // retry_job defaults to 0
  const AttemptRecord* attempt = scheduler_->AttemptsOf(assigns[0].job_id())[0];
  EXPECT_EQ(attempt->outcome, "timed_out");
  EXPECT_EQ(scheduler_->FindRun(run)->state, RunState::kFailed);
}

TEST_F(SchedulerLeaseTest, JobFailuresRetryOnlyAsOftenAsRetryJobSays) {
  Register("w", kIntel);
  JobRecord job = Job("cell", kIntel);
  job.retry_job = 1;
  std::string run = Submit({job});
  auto first = Assigns(Step(), "w");
  ASSERT_EQ(first.size(), 1u);
  auto second = Assigns(Deliver("w", ResultFor(first[0], v1::OUTCOME_FAILED)), "w");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].attempt(), 2u);
  auto third = Assigns(Deliver("w", ResultFor(second[0], v1::OUTCOME_FAILED)), "w");
  EXPECT_TRUE(third.empty());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kFailed);
  EXPECT_EQ(JobNamed(run, "cell").job_failures, 2);
}

TEST_F(SchedulerLeaseTest, CancellingOneJobStopsItsAttemptAndSkipsDependents) {
  Register("w", kIntel, 2);
  std::string run = Submit({Job("a", kIntel), Job("b", kIntel), Job("c", kIntel, {"a"})});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 2u);
  const std::string a_id = JobNamed(run, "a").id;
  ASSERT_TRUE(scheduler_->CancelJob(a_id).ok());
  auto out = scheduler_->TakeOutbox();
  const v1::Envelope* cancel = Find(out, v1::Envelope::kCancel);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->cancel().job_id(), a_id);
  EXPECT_EQ(JobNamed(run, "a").state, JobState::kCancelled);
  EXPECT_EQ(JobNamed(run, "c").state, JobState::kSkipped);
  EXPECT_EQ(JobNamed(run, "b").state, JobState::kAssigned);  // untouched
  EXPECT_EQ(scheduler_->AttemptsOf(a_id)[0]->outcome, "cancelled");
  EXPECT_TRUE(scheduler_->CancelJob(a_id).ok());  // idempotent
  EXPECT_EQ(scheduler_->CancelJob("no-such-job").code(), StatusCode::kNotFound);
}

TEST_F(SchedulerLeaseTest, UnschedulableJobFailsAfterTheDeadlineWithTheMissingTags) {
  options_.unschedulable_deadline = milliseconds(60000);
  Restart();
  Register("x86", kIntel);
  std::string run = Submit({Job("arm-cell", kArm), Job("after", kArm, {"arm-cell"})});
  Step();
  EXPECT_EQ(JobNamed(run, "arm-cell").state, JobState::kUnschedulable);
  EXPECT_EQ(JobNamed(run, "arm-cell").missing_tags, std::vector<std::string>{"arch=aarch64"});
  clock_.Advance(milliseconds(59000));
  Heartbeat("x86", {});
  EXPECT_EQ(JobNamed(run, "arm-cell").state, JobState::kUnschedulable);
  clock_.Advance(milliseconds(1001));
  Heartbeat("x86", {});
  EXPECT_EQ(JobNamed(run, "arm-cell").state, JobState::kFailed);
  EXPECT_EQ(JobNamed(run, "after").state, JobState::kSkipped);
  EXPECT_EQ(scheduler_->FindRun(run)->state, RunState::kFailed);
}

TEST_F(SchedulerLeaseTest, RestoredAttemptsKeepTheirTimeoutBackstop) {
  Register("w", kIntel);
  JobRecord job = Job("cell", kIntel);
  job.timeout_seconds = 5;
  std::string run = Submit({job});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  Accept("w", assigns[0]);
  clock_.Advance(milliseconds(3000));
  Restart();  // the coordinator restarts; the worker reconnects with its job
  auto out = Register("w", kIntel, 1, {Running(assigns[0])});
  EXPECT_EQ(Find(out, v1::Envelope::kWelcome)->welcome().unknown_jobs_size(), 0);
  clock_.Advance(milliseconds(2500));  // 5.5 s since the start: within timeout + grace
  Heartbeat("w", assigns);
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kRunning);
  clock_.Advance(milliseconds(600));
  Heartbeat("w", assigns);
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kFailed);
  EXPECT_EQ(scheduler_->AttemptsOf(assigns[0].job_id())[0]->outcome, "timed_out");
}

TEST_F(SchedulerLeaseTest, WorkerRestoredAfterARestartMustRegisterBeforeItsHeartbeatsCount) {
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  Accept("w", assigns[0]);
  Restart();
  // Its old session's heartbeat is answered with not_registered: results it sent just before the
  // crash may be lost, and it re-sends them only after a new Welcome.
  auto out = Heartbeat("w", assigns);
  ASSERT_NE(Find(out, v1::Envelope::kError), nullptr);
  EXPECT_EQ(Find(out, v1::Envelope::kError)->error().code(), "not_registered");
  out = Register("w", kIntel, 1, {Running(assigns[0])});
  ASSERT_NE(Find(out, v1::Envelope::kWelcome), nullptr);
  EXPECT_EQ(Find(out, v1::Envelope::kWelcome)->welcome().unknown_jobs_size(), 0);
  out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kSucceeded);
}

}  // namespace
}  // namespace edgefarm::coordinator
