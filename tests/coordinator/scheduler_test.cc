// Scheduler behaviour with real parts (sqlite file, blob and log directories in a temp dir) and a
// ManualClock driving heartbeats and leases.
#include "scheduler_fixture.h"

namespace edgefarm::coordinator {
namespace {

using std::chrono::milliseconds;

TEST_F(SchedulerTest, RegisterIsAnsweredWithWelcome) {
  auto out = Register("w1", kIntel);
  const v1::Envelope* welcome = Find(out, v1::Envelope::kWelcome);
  ASSERT_NE(welcome, nullptr);
  EXPECT_EQ(welcome->welcome().heartbeat_interval_ms(), 1000u);
  EXPECT_EQ(welcome->welcome().lease_ttl_ms(), 5000u);
  EXPECT_EQ(welcome->welcome().blob_url(), "http://127.0.0.1:1");
  ASSERT_EQ(scheduler_->Workers().size(), 1u);
  EXPECT_EQ(scheduler_->Workers()[0].state, WorkerState::kLive);
}

TEST_F(SchedulerTest, RefusesRegisterWithUnknownTokenOrForeignIdentity) {
  v1::Envelope env;
  env.mutable_register_()->set_worker_id("w1");
  env.mutable_register_()->set_slots(1);
  env.mutable_register_()->set_enrol_token("wrong");
  auto out = Deliver("w1", env);
  const v1::Envelope* error = Find(out, v1::Envelope::kError);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->error().code(), "unauthenticated");
  EXPECT_EQ(error->error().message().find("wrong"), std::string::npos);
  env.mutable_register_()->set_enrol_token(kEnrolToken);
  out = Deliver("someone-else", env);
  ASSERT_NE(Find(out, v1::Envelope::kError), nullptr);
  EXPECT_TRUE(scheduler_->Workers().empty());
}

TEST_F(SchedulerTest, AssignsOnlyToWorkersWhoseTagsMatch) {
  Register("intel", kIntel);
  Register("arm", kArm);
  std::string run = Submit({Job("cell", kArm)});
  auto out = Step();
  EXPECT_TRUE(Assigns(out, "intel").empty());
  auto assigns = Assigns(out, "arm");
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(assigns[0].attempt(), 1u);
  EXPECT_FALSE(assigns[0].lease_token().empty());
  EXPECT_EQ(assigns[0].spec().engine().job_json(), R"({"schema":"edgefarm.job/v1"})");
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kAssigned);
  EXPECT_EQ(JobNamed(run, "cell").worker_id, "arm");
}

TEST_F(SchedulerTest, FillsOnlyFreeSlots) {
  Register("w", kIntel, 2);
  std::string run = Submit({Job("a", kIntel), Job("b", kIntel), Job("c", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 2u);
  EXPECT_EQ(JobNamed(run, "c").state, JobState::kQueued);
  EXPECT_TRUE(Assigns(Step(), "w").empty());
  auto out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  auto next = Assigns(out, "w");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].job_id(), JobNamed(run, "c").id);
}

TEST_F(SchedulerTest, SharedWorkerServesTagClassesInSubmissionOrder) {
  // "w" offers both classes; the older run's job goes first whatever its tags sort like.
  Register("w", {{"arch", "x86_64"}, {"cpu.vendor", "intel"}, {"zz", "1"}});
  std::string first = Submit({Job("first", {{"zz", "1"}})});
  clock_.Advance(milliseconds(1));
  std::string second = Submit({Job("second", {{"arch", "x86_64"}})});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(assigns[0].job_id(), JobNamed(first, "first").id);
  EXPECT_EQ(JobNamed(second, "second").state, JobState::kQueued);
}

TEST_F(SchedulerTest, NeedsWaitAndAFailedNeedSkipsDependents) {
  Register("w", kIntel, 4);
  std::string run = Submit(
      {Job("build", kIntel), Job("test", kIntel, {"build"}), Job("deploy", kIntel, {"test"})});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(JobNamed(run, "test").state, JobState::kWaiting);
  Deliver("w", ResultFor(assigns[0], v1::OUTCOME_FAILED));
  EXPECT_EQ(JobNamed(run, "build").state, JobState::kFailed);
  EXPECT_EQ(JobNamed(run, "test").state, JobState::kSkipped);
  EXPECT_EQ(JobNamed(run, "deploy").state, JobState::kSkipped);
  EXPECT_EQ(scheduler_->FindRun(run)->state, RunState::kFailed);
  EXPECT_GT(scheduler_->FindRun(run)->finished_at_ms, 0);
}

TEST_F(SchedulerTest, SucceededNeedReleasesDependent) {
  Register("w", kIntel, 4);
  std::string run = Submit({Job("build", kIntel), Job("test", kIntel, {"build"})});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  auto next = Assigns(Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED)), "w");
  ASSERT_EQ(next.size(), 1u);
  EXPECT_EQ(next[0].job_id(), JobNamed(run, "test").id);
  Deliver("w", ResultFor(next[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_EQ(scheduler_->FindRun(run)->state, RunState::kSucceeded);
}

TEST_F(SchedulerTest, UnschedulableWithMissingTagsUntilAMatchingWorkerRegisters) {
  Register("cpu", kIntel);
  std::string run = Submit({Job("cuda", {{"gpu.vendor", "nvidia"}})});
  Step();
  const JobRecord& job = JobNamed(run, "cuda");
  EXPECT_EQ(job.state, JobState::kUnschedulable);
  EXPECT_EQ(job.missing_tags, std::vector<std::string>{"gpu.vendor=nvidia"});
  auto out = Register("gpu", {{"gpu.vendor", "nvidia"}});
  auto assigns = Assigns(out, "gpu");
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(JobNamed(run, "cuda").state, JobState::kAssigned);
  EXPECT_TRUE(JobNamed(run, "cuda").missing_tags.empty());
}

TEST_F(SchedulerTest, RequeuesJobOfLostWorkerWithNextAttemptAsInfraFailure) {
  Register("w1", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto first = Assigns(Step(), "w1");
  ASSERT_EQ(first.size(), 1u);
  Register("w2", kIntel);  // busy until w1 is lost? no: w2 is free, but the job is taken
  clock_.Advance(milliseconds(2500));
  v1::Envelope hb;
  hb.mutable_heartbeat();
  Deliver("w2", hb);  // w2 stays live, w1 stays silent
  clock_.Advance(milliseconds(1000));
  auto out = Step();
  auto retry = Assigns(out, "w2");
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].attempt(), 2u);
  EXPECT_NE(retry[0].lease_token(), first[0].lease_token());
  auto attempts = scheduler_->AttemptsOf(JobNamed(run, "cell").id);
  ASSERT_EQ(attempts.size(), 2u);
  EXPECT_EQ(attempts[0]->outcome, "infra_error");
  EXPECT_NE(attempts[0]->reason.find("lost"), std::string::npos);
  EXPECT_EQ(JobNamed(run, "cell").infra_failures, 1);
  EXPECT_EQ(scheduler_->Workers()[0].state, WorkerState::kLost);
  // The lost worker's late result is refused.
  out = Deliver("w1", ResultFor(first[0], v1::OUTCOME_SUCCEEDED));
  ASSERT_NE(Find(out, v1::Envelope::kError), nullptr);
}

TEST_F(SchedulerTest, InfraRetriesAreCapped) {
  Register("w", kIntel);
  JobRecord job = Job("cell", kIntel);
  job.retry_infra = 1;
  std::string run = Submit({job});
  auto assigns = Assigns(Step(), "w");
  for (int attempt = 1; attempt <= 2; ++attempt) {
    ASSERT_EQ(assigns.size(), 1u);
    EXPECT_EQ(assigns[0].attempt(), static_cast<uint32_t>(attempt));
    // The retry is assigned in the same tick that records the failure.
    assigns = Assigns(Deliver("w", ResultFor(assigns[0], v1::OUTCOME_INFRA_ERROR)), "w");
  }
  EXPECT_TRUE(assigns.empty());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kFailed);
  EXPECT_EQ(scheduler_->FindRun(run)->state, RunState::kFailed);
}

// A worker shutting down refuses with Reject.draining: it is marked draining and the job goes to
// another worker instead of burning its retries on refusals.
TEST_F(SchedulerTest, ADrainingRefusalStopsAssignmentsToThatWorker) {
  Register("w1", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w1");
  ASSERT_EQ(assigns.size(), 1u);
  v1::Envelope reject;
  reject.mutable_reject()->set_job_id(assigns[0].job_id());
  reject.mutable_reject()->set_attempt(assigns[0].attempt());
  reject.mutable_reject()->set_lease_token(assigns[0].lease_token());
  reject.mutable_reject()->set_reason("worker is draining");
  reject.mutable_reject()->set_draining(true);
  EXPECT_TRUE(Assigns(Deliver("w1", reject), "w1").empty());
  EXPECT_TRUE(Assigns(Step(), "w1").empty());
  EXPECT_EQ(scheduler_->Workers()[0].state, WorkerState::kDraining);
  assigns = Assigns(Register("w2", kIntel), "w2");
  if (assigns.empty()) assigns = Assigns(Step(), "w2");
  ASSERT_EQ(assigns.size(), 1u);
  EXPECT_EQ(assigns[0].attempt(), 2u);
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kAssigned);
}

TEST_F(SchedulerTest, StaleLeaseResultIsRejected) {
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  auto out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED, "not-the-lease"));
  const v1::Envelope* ack = Find(out, v1::Envelope::kResultAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_FALSE(ack->result_ack().accepted());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kAssigned);
  out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  ack = Find(out, v1::Envelope::kResultAck);
  ASSERT_NE(ack, nullptr);
  EXPECT_TRUE(ack->result_ack().accepted());
  EXPECT_EQ(JobNamed(run, "cell").state, JobState::kSucceeded);
  EXPECT_EQ(JobNamed(run, "cell").result_json, R"({"schema":"edgefarm.result/v1"})");
  // A repeated result (lost ack) is acknowledged again and changes nothing.
  out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
}

TEST_F(SchedulerTest, ResultNamingAnUnuploadedArtifactIsRefused) {
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  v1::Envelope env = ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED);
  v1::Artifact* artifact = env.mutable_result()->add_artifacts();
  artifact->set_name("model.gguf");
  artifact->set_digest(Sha256Hex("model bytes"));
  auto out = Deliver("w", env);
  EXPECT_FALSE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  ASSERT_TRUE(blobs_->Put(Sha256Hex("model bytes"), "model bytes").ok());
  artifact->set_name("../escape");
  out = Deliver("w", env);
  EXPECT_FALSE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  artifact->set_name("out/model.gguf");
  out = Deliver("w", env);
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  ASSERT_EQ(JobNamed(run, "cell").artifacts.size(), 1u);
}

TEST_F(SchedulerTest, HeartbeatsRenewLeasesAndSilenceExpiresThem) {
  options_.missed_heartbeats = 100;  // isolate lease expiry from worker loss
  Restart();
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  v1::Envelope hb;
  v1::RunningJob* lease = hb.mutable_heartbeat()->add_leases();
  lease->set_job_id(assigns[0].job_id());
  lease->set_attempt(1);
  lease->set_lease_token(assigns[0].lease_token());
  for (int i = 0; i < 3; ++i) {
    clock_.Advance(milliseconds(4000));
    auto out = Deliver("w", hb);
    ASSERT_NE(Find(out, v1::Envelope::kHeartbeatAck), nullptr);
    EXPECT_EQ(Find(out, v1::Envelope::kHeartbeatAck)->heartbeat_ack().revoked_jobs_size(), 0);
  }
  EXPECT_EQ(JobNamed(run, "cell").attempt, 1u);
  clock_.Advance(milliseconds(5001));
  auto out = Step();
  auto retry = Assigns(out, "w");
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_EQ(retry[0].attempt(), 2u);
  // The old lease is now revoked.
  out = Deliver("w", hb);
  ASSERT_EQ(Find(out, v1::Envelope::kHeartbeatAck)->heartbeat_ack().revoked_jobs_size(), 1);
}

TEST_F(SchedulerTest, OneTransactionPerTick) {
  for (const char* w : {"a", "b", "c"}) Register(w, kIntel);
  Submit({Job("1", kIntel), Job("2", kIntel), Job("3", kIntel)});
  const int64_t before = sqlite_->TransactionsCommitted();
  auto out = Step();
  EXPECT_EQ(out.size(), 3u);
  EXPECT_EQ(sqlite_->TransactionsCommitted(), before + 1);
}

// Run ids sort by creation time (so the store's b-trees keyed by them grow at one edge) and stay
// unique when many runs are created in the same millisecond, also across a restart.
TEST_F(SchedulerTest, RunIdsSortByCreationAndAreUniqueWithinAMillisecond) {
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(Submit({Job("cell", kIntel)}));
  clock_.Advance(milliseconds(1));
  ids.push_back(Submit({Job("cell", kIntel)}));
  Restart();  // a new sequence, the same millisecond
  std::vector<std::string> after_restart;
  for (int i = 0; i < 50; ++i) after_restart.push_back(Submit({Job("cell", kIntel)}));
  clock_.Advance(milliseconds(1));
  after_restart.push_back(Submit({Job("cell", kIntel)}));

  // "run-", 11 hex digits of the millisecond, 5 of the sequence.
  auto millis = [](const std::string& id) { return id.substr(4, 11); };
  auto seq = [](const std::string& id) { return std::stoul(id.substr(15), nullptr, 16); };
  for (const auto& id : ids) ASSERT_TRUE(id.starts_with("run-") && id.size() == 20u) << id;
  for (size_t i = 1; i < 50; ++i) {
    EXPECT_EQ(millis(ids[i]), millis(ids[0]));
    EXPECT_EQ(seq(ids[i]), (seq(ids[i - 1]) + 1) & 0xFFFFFu) << "the sequence orders them";
  }
  EXPECT_LT(ids[49], ids[50]) << "a later millisecond sorts after";
  EXPECT_EQ(millis(after_restart[0]), millis(ids[50]));
  EXPECT_LT(ids[50], after_restart[50]);
  std::set<std::string> all(ids.begin(), ids.end());
  all.insert(after_restart.begin(), after_restart.end());
  EXPECT_EQ(all.size(), ids.size() + after_restart.size());
}

TEST_F(SchedulerTest, NothingIsSentBeforeItIsCommitted) {
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  faulty_->fail_ = true;
  scheduler_->Tick();
  EXPECT_FALSE(scheduler_->Flush().ok());
  EXPECT_TRUE(scheduler_->TakeOutbox().empty());
  faulty_->fail_ = false;
  auto out = Step();
  ASSERT_EQ(Assigns(out, "w").size(), 1u);
  // And the assignment really is in the store.
  auto snapshot = sqlite_->Load();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->attempts.size(), 1u);
  EXPECT_EQ(snapshot->attempts[0].worker_id, "w");
}

TEST_F(SchedulerTest, RestartKeepsAttemptsThatReconnectingWorkersReport) {
  Register("keeper", kIntel);
  Register("goner", kArm);
  std::string run = Submit({Job("kept", kIntel), Job("lost", kArm)});
  auto out = Step();
  auto kept = Assigns(out, "keeper");
  ASSERT_EQ(kept.size(), 1u);
  ASSERT_EQ(Assigns(out, "goner").size(), 1u);
  v1::Envelope accept;
  accept.mutable_accept()->set_job_id(kept[0].job_id());
  accept.mutable_accept()->set_attempt(1);
  accept.mutable_accept()->set_lease_token(kept[0].lease_token());
  Deliver("keeper", accept);
  EXPECT_EQ(JobNamed(run, "kept").state, JobState::kRunning);

  Restart();
  EXPECT_EQ(JobNamed(run, "kept").state, JobState::kRunning);
  v1::RunningJob running;
  running.set_job_id(kept[0].job_id());
  running.set_attempt(1);
  running.set_lease_token(kept[0].lease_token());
  out = Register("keeper", kIntel, 1, {running});
  ASSERT_NE(Find(out, v1::Envelope::kWelcome), nullptr);
  EXPECT_EQ(Find(out, v1::Envelope::kWelcome)->welcome().unknown_jobs_size(), 0);
  // "goner" counts as registered during the grace but is sent nothing until it speaks.
  std::string later = Submit({Job("later", kArm)});
  EXPECT_TRUE(Assigns(Step(), "goner").empty());
  EXPECT_EQ(JobNamed(later, "later").state, JobState::kQueued);
  clock_.Advance(milliseconds(10001));  // past the restart grace; "goner" never came back
  v1::Envelope hb;
  *hb.mutable_heartbeat()->add_leases() = running;
  Deliver("keeper", hb);
  EXPECT_EQ(JobNamed(run, "kept").state, JobState::kRunning);
  EXPECT_EQ(JobNamed(run, "lost").state, JobState::kUnschedulable);
  EXPECT_EQ(JobNamed(later, "later").state, JobState::kUnschedulable);
  EXPECT_EQ(scheduler_->AttemptsOf(JobNamed(run, "lost").id)[0]->outcome, "infra_error");
  out = Deliver("keeper", ResultFor(kept[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
}

// A restart reloads only unfinished runs; finished ones are read from the store when asked for,
// and a result repeated for one of their attempts (its ack lost in the crash) is still a duplicate.
TEST_F(SchedulerTest, FinishedRunsAreReadFromTheStoreAfterARestart) {
  Register("w", kIntel);
  std::string done = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  std::string open = Submit({Job("waits", kArm)});
  ASSERT_EQ(scheduler_->FindRun(done)->state, RunState::kSucceeded);

  Restart();
  auto snapshot = sqlite_->Load();
  ASSERT_TRUE(snapshot.ok());
  ASSERT_EQ(snapshot->runs.size(), 1u);  // only the unfinished run is reloaded
  EXPECT_EQ(snapshot->runs[0].id, open);

  const RunRecord* run = scheduler_->FindRun(done);
  ASSERT_NE(run, nullptr);
  EXPECT_EQ(run->state, RunState::kSucceeded);
  EXPECT_EQ(JobNamed(done, "cell").state, JobState::kSucceeded);
  const JobRecord* job = scheduler_->FindJob(assigns[0].job_id());
  ASSERT_NE(job, nullptr);
  auto attempts = scheduler_->AttemptsOf(job->id);
  ASSERT_EQ(attempts.size(), 1u);
  EXPECT_EQ(attempts[0]->worker_id, "w");
  EXPECT_EQ(attempts[0]->outcome, "succeeded");
  EXPECT_EQ(scheduler_->JobCounts(done).total, 1);
  EXPECT_EQ(scheduler_->JobCounts(done).done, 1);
  auto runs = scheduler_->Runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(scheduler_->FindRun("run-none"), nullptr);
  EXPECT_EQ(scheduler_->FindJob("run-none-0"), nullptr);

  Register("w", kIntel);
  auto out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  ASSERT_NE(Find(out, v1::Envelope::kResultAck), nullptr);
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED, "forged-token"));
  EXPECT_FALSE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
}

TEST_F(SchedulerTest, LogChunksAreAppendedInOrderAndGapsRefused) {
  Register("w", kIntel);
  std::string run = Submit({Job("cell", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  auto chunk = [&](uint64_t seq, uint64_t offset, const std::string& data) {
    v1::Envelope env;
    v1::LogChunk* c = env.mutable_log_chunk();
    c->set_job_id(assigns[0].job_id());
    c->set_attempt(1);
    c->set_lease_token(assigns[0].lease_token());
    c->set_sequence(seq);
    c->set_offset(offset);
    c->set_data(data);
    return Deliver("w", env);
  };
  EXPECT_EQ(Find(chunk(0, 0, "hello "), v1::Envelope::kError), nullptr);
  EXPECT_EQ(Find(chunk(1, 6, "world\n"), v1::Envelope::kError), nullptr);
  EXPECT_EQ(Find(chunk(1, 6, "world\n"), v1::Envelope::kError), nullptr);  // duplicate
  EXPECT_NE(Find(chunk(3, 20, "gap"), v1::Envelope::kError), nullptr);
  EXPECT_EQ(logs_->Read(assigns[0].job_id(), 1, 0, 100).value(), "hello world\n");
  Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_EQ(scheduler_->AttemptsOf(assigns[0].job_id())[0]->log_bytes, 12u);
}

TEST_F(SchedulerTest, CancellingARunStopsRunningAndQueuedJobs) {
  Register("w", kIntel);
  std::string run = Submit({Job("a", kIntel), Job("b", kIntel), Job("c", kIntel, {"a"})});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  ASSERT_TRUE(scheduler_->CancelRun(run).ok());
  auto out = scheduler_->TakeOutbox();
  const v1::Envelope* cancel = Find(out, v1::Envelope::kCancel);
  ASSERT_NE(cancel, nullptr);
  EXPECT_EQ(cancel->cancel().job_id(), assigns[0].job_id());
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_EQ(JobNamed(run, name).state, JobState::kCancelled) << name;
  }
  EXPECT_EQ(scheduler_->FindRun(run)->state, RunState::kCancelled);
  // The worker's report of the cancelled attempt is acknowledged; nothing is assigned again.
  out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_CANCELLED));
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  EXPECT_TRUE(Assigns(out, "w").empty());
  EXPECT_EQ(scheduler_->CancelRun("run-unknown").code(), StatusCode::kNotFound);
}

TEST_F(SchedulerTest, DrainingWorkerKeepsItsJobButGetsNoNewOnes) {
  Register("w", kIntel, 2);
  std::string run = Submit({Job("a", kIntel)});
  auto assigns = Assigns(Step(), "w");
  ASSERT_EQ(assigns.size(), 1u);
  ASSERT_TRUE(scheduler_->DrainWorker("w").ok());
  EXPECT_NE(Find(scheduler_->TakeOutbox(), v1::Envelope::kDrain), nullptr);
  std::string second = Submit({Job("b", kIntel)});
  Step();
  EXPECT_EQ(JobNamed(second, "b").state, JobState::kUnschedulable);
  auto out = Deliver("w", ResultFor(assigns[0], v1::OUTCOME_SUCCEEDED));
  EXPECT_TRUE(Find(out, v1::Envelope::kResultAck)->result_ack().accepted());
  EXPECT_TRUE(Assigns(out, "w").empty());
  EXPECT_EQ(scheduler_->Workers()[0].state, WorkerState::kDraining);
}

TEST_F(SchedulerTest, MessagesFromUnregisteredPeersAskThemToRegister) {
  v1::Envelope hb;
  hb.mutable_heartbeat();
  auto out = Deliver("stranger", hb);
  const v1::Envelope* error = Find(out, v1::Envelope::kError);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->error().code(), "not_registered");
}

}  // namespace
}  // namespace edgefarm::coordinator
