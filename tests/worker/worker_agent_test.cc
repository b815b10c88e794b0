#include "edgefarm/worker/worker_agent.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>

#include "blob_server.h"
#include "router_peer.h"
#include "test_support.h"

namespace edgefarm::worker {
namespace {

using edgefarm::testing::TempDir;
using edgefarm::testing::WaitFor;

class WorkerAgentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ExecutorOptions options;
    options.scratch_root = dir_ / "scratch";
    options.kill_grace = std::chrono::milliseconds(200);
    executor_ = std::make_unique<JobExecutor>(options, *runner_, cache_, nullptr);
    AgentOptions agent_options{1, "wtok"};
    agent_options.clock = &clock_;
    agent_options.deadline_tick = std::chrono::milliseconds(10);
    agent_ = std::make_unique<WorkerAgent>(agent_options, *executor_, nullptr);
    SessionOptions session_options;
    session_options.endpoint = peer_.endpoint();
    session_options.registration.set_worker_id("w-agent");
    session_options.registration.set_slots(1);
    session_ = std::make_unique<ZmqSession>(session_options, *agent_, clock_, nullptr);
    agent_->AttachSession(session_.get());
    ASSERT_TRUE(session_->Start().ok());
    ASSERT_TRUE(peer_.Receive(v1::Envelope::kRegister));
    Welcome();
  }
  void TearDown() override {
    if (agent_) agent_->Shutdown();
    if (session_) session_->Stop(false);
  }

  void Welcome() {
    v1::Envelope env;
    env.mutable_welcome()->set_heartbeat_interval_ms(60000);
    env.mutable_welcome()->set_blob_url(blobs_.url());
    peer_.Send(env);
  }

  void Assign(const std::string& job_id, std::vector<std::string> argv,
              int64_t deadline_unix_ms = 0) {
    v1::Envelope env;
    env.mutable_assign()->set_deadline_unix_ms(deadline_unix_ms);
    v1::Assign* a = env.mutable_assign();
    a->set_job_id(job_id);
    a->set_attempt(1);
    a->set_lease_token("lease-" + job_id);
    a->mutable_spec()->set_job_id(job_id);
    for (auto& arg : argv) a->mutable_spec()->mutable_command()->add_argv(arg);
    if (deadline_unix_ms > 0) a->mutable_spec()->set_timeout_seconds(3600);
    peer_.Send(env);
  }

  // Messages other than heartbeats, in arrival order, up to and including a JobResult.
  std::vector<v1::Envelope> UntilResult() {
    std::vector<v1::Envelope> seen;
    while (auto env = peer_.Receive()) {
      if (env->has_heartbeat()) continue;
      seen.push_back(*env);
      if (env->has_result()) break;
    }
    return seen;
  }

  // Skips messages until a log chunk carrying `text` arrives; false if none does.
  bool UntilLogContains(const std::string& text) {
    while (auto env = peer_.Receive()) {
      if (env->has_log_chunk() && env->log_chunk().data().find(text) != std::string::npos) {
        return true;
      }
    }
    return false;
  }

  TestBlobServer blobs_{"wtok"};
  RouterPeer peer_;
  TempDir dir_;
  ManualClock clock_;
  InputCache cache_{dir_ / "cache", nullptr};
  std::unique_ptr<ProcessRunner> runner_ = MakeProcessRunner();
  std::unique_ptr<JobExecutor> executor_;
  std::unique_ptr<WorkerAgent> agent_;
  std::unique_ptr<ZmqSession> session_;
};

TEST_F(WorkerAgentTest, AcceptsThenStreamsLogThenReportsResult) {
  Assign("job-1", {"sh", "-c", "echo from the job"});
  const auto seen = UntilResult();
  ASSERT_GE(seen.size(), 3u);
  EXPECT_TRUE(seen.front().has_accept());
  EXPECT_EQ(seen.front().accept().lease_token(), "lease-job-1");
  std::string log;
  for (const auto& env : seen) {
    if (env.has_log_chunk()) log += env.log_chunk().data();
  }
  EXPECT_NE(log.find("from the job"), std::string::npos);
  ASSERT_TRUE(seen.back().has_result());
  EXPECT_EQ(seen.back().result().outcome(), v1::OUTCOME_SUCCEEDED);
  EXPECT_EQ(seen.back().result().log_bytes(), log.size());
}

TEST_F(WorkerAgentTest, RejectsWhenFullAndCancelStopsTheRunningJob) {
  Assign("job-long", {"sleep", "1000"});
  ASSERT_TRUE(peer_.Receive(v1::Envelope::kAccept));
  Assign("job-extra", {"true"});
  auto reject = peer_.Receive(v1::Envelope::kReject);
  ASSERT_TRUE(reject.has_value());
  EXPECT_EQ(reject->reject().job_id(), "job-extra");
  EXPECT_EQ(reject->reject().reason(), "no free slot");
  v1::Envelope cancel;
  cancel.mutable_cancel()->set_job_id("job-long");
  peer_.Send(cancel);
  auto result = peer_.Receive(v1::Envelope::kResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result().outcome(), v1::OUTCOME_CANCELLED);
}

TEST_F(WorkerAgentTest, LogAndResultAreResentAfterReconnectUntilAcknowledged) {
  Assign("job-2", {"sh", "-c", "echo kept for a resend"});
  ASSERT_TRUE(peer_.Receive(v1::Envelope::kResult));
  EXPECT_EQ(agent_->unacknowledged_results(), 1u);
  // A new Welcome (as after a reconnect) brings the log chunks again, then the result.
  Welcome();
  std::vector<v1::Envelope> again;
  while (auto env = peer_.Receive()) {
    if (env->has_heartbeat()) continue;
    again.push_back(*env);
    if (env->has_result()) break;
  }
  ASSERT_GE(again.size(), 2u);
  EXPECT_TRUE(again.front().has_log_chunk());
  EXPECT_EQ(again.front().log_chunk().sequence(), 0u);
  EXPECT_NE(again.front().log_chunk().data().find("kept for a resend"), std::string::npos);
  ASSERT_TRUE(again.back().has_result());
  EXPECT_EQ(again.back().result().job_id(), "job-2");
  v1::Envelope ack;
  ack.mutable_result_ack()->set_job_id("job-2");
  ack.mutable_result_ack()->set_attempt(1);
  ack.mutable_result_ack()->set_accepted(true);
  peer_.Send(ack);
  EXPECT_TRUE(WaitFor([&] { return agent_->unacknowledged_results() == 0; }));
  // Acknowledged: a later Welcome re-sends nothing, so the next message is an Accept.
  Welcome();
  Assign("job-3", {"true"});
  auto next = peer_.Receive();
  while (next && next->has_heartbeat()) next = peer_.Receive();
  ASSERT_TRUE(next.has_value());
  EXPECT_TRUE(next->has_accept()) << proto::BodyName(*next);
}

TEST_F(WorkerAgentTest, ShutdownReportsRunningJobsAsInfrastructureErrors) {
  Assign("job-3", {"sleep", "1000"});
  ASSERT_TRUE(peer_.Receive(v1::Envelope::kAccept));
  ASSERT_TRUE(WaitFor([&] { return agent_->running_jobs() == 1; }));
  agent_->Shutdown();
  auto result = peer_.Receive(v1::Envelope::kResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result().outcome(), v1::OUTCOME_INFRA_ERROR);
}

TEST_F(WorkerAgentTest, JobWhoseDeadlinePassedIsNotStarted) {
  const std::filesystem::path marker = dir_ / "ran";
  Assign("job-late", {"touch", marker.string()}, clock_.UnixMillis() - 1);
  ASSERT_TRUE(peer_.Receive(v1::Envelope::kAccept));
  auto result = peer_.Receive(v1::Envelope::kResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result().outcome(), v1::OUTCOME_TIMED_OUT);
  EXPECT_EQ(result->result().message(), "deadline passed before the job started");
  EXPECT_FALSE(std::filesystem::exists(marker));
}

TEST_F(WorkerAgentTest, JobWithoutATimeoutHasNoDeadline) {
  // The coordinator sends assignment time + timeout, i.e. "now" for a job without a timeout.
  v1::Envelope env;
  v1::Assign* a = env.mutable_assign();
  a->set_job_id("job-untimed");
  a->set_attempt(1);
  a->set_lease_token("lease-untimed");
  a->set_deadline_unix_ms(clock_.UnixMillis() - 1);
  a->mutable_spec()->set_job_id("job-untimed");
  for (const char* arg : {"sh", "-c", "echo ran"})
    a->mutable_spec()->mutable_command()->add_argv(arg);
  peer_.Send(env);
  auto result = peer_.Receive(v1::Envelope::kResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result().outcome(), v1::OUTCOME_SUCCEEDED) << result->result().message();
}

TEST_F(WorkerAgentTest, RunningJobIsStoppedAtItsDeadlineWithTermGraceThenKill) {
  // The job ignores SIGTERM (and so does its sleep), so only the SIGKILL after the grace ends it.
  Assign("job-deadline", {"sh", "-c", "trap '' TERM; echo started; sleep 1000"},
         clock_.UnixMillis() + 60'000);
  ASSERT_TRUE(peer_.Receive(v1::Envelope::kAccept));
  ASSERT_TRUE(UntilLogContains("started"));
  clock_.Advance(std::chrono::seconds(30));  // before the deadline: nothing happens
  EXPECT_EQ(agent_->running_jobs(), 1u);
  clock_.Advance(std::chrono::seconds(31));
  auto result = peer_.Receive(v1::Envelope::kResult);
  ASSERT_TRUE(result.has_value());
  EXPECT_EQ(result->result().outcome(), v1::OUTCOME_TIMED_OUT);
  EXPECT_EQ(result->result().message(), "deadline passed; the job was stopped");
  EXPECT_EQ(result->result().term_signal(), SIGKILL);
}

TEST_F(WorkerAgentTest, DrainRejectsNewJobsAndIsDrainedWhenTheLastResultIsAcknowledged) {
  Assign("job-d", {"sh", "-c", "echo running; read line"});  // stdin is /dev/null: exits at once
  ASSERT_TRUE(peer_.Receive(v1::Envelope::kAccept));
  v1::Envelope drain;
  drain.mutable_drain();
  peer_.Send(drain);
  ASSERT_TRUE(WaitFor([&] { return agent_->FreeSlots() == 0 && !agent_->drained(); }));
  Assign("job-after", {"true"});
  auto reject = peer_.Receive(v1::Envelope::kReject);
  ASSERT_TRUE(reject.has_value());
  EXPECT_EQ(reject->reject().reason(), "worker is draining");
  ASSERT_TRUE(WaitFor([&] { return agent_->unacknowledged_results() == 1; }));
  EXPECT_FALSE(agent_->drained());  // its result is not acknowledged yet
  v1::Envelope ack;
  ack.mutable_result_ack()->set_job_id("job-d");
  ack.mutable_result_ack()->set_attempt(1);
  ack.mutable_result_ack()->set_accepted(true);
  peer_.Send(ack);
  EXPECT_TRUE(agent_->WaitForAcknowledgements(std::chrono::seconds(30)));
  EXPECT_TRUE(WaitFor([&] { return agent_->drained(); }));
}

}  // namespace
}  // namespace edgefarm::worker
