#include "edgefarm/worker/zmq_session.h"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <zmq.hpp>

#include "edgefarm/proto/frame_codec.h"
#include "router_peer.h"
#include "test_support.h"

namespace edgefarm::worker {
namespace {

using edgefarm::testing::WaitFor;
using std::chrono::milliseconds;

class RecordingHandler : public SessionHandler {
 public:
  void OnMessage(const v1::Envelope& message) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back(message);
  }
  std::vector<v1::RunningJob> RunningJobs() override {
    v1::RunningJob job;
    job.set_job_id("job-7");
    job.set_attempt(2);
    job.set_lease_token("lease-7");
    return {job};
  }
  uint32_t FreeSlots() override { return 3; }
  bool Saw(v1::Envelope::BodyCase body) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& m : messages_) {
      if (m.body_case() == body) return true;
    }
    return false;
  }

 private:
  std::mutex mu_;
  std::vector<v1::Envelope> messages_;
};

class ZmqSessionTest : public ::testing::Test {
 protected:
  SessionOptions Options(const std::string& endpoint) {
    SessionOptions o;
    o.endpoint = endpoint;
    o.registration.set_worker_id("w-test");
    o.registration.set_name("test worker");
    (*o.registration.mutable_tags())["arch"] = "x86_64";
    (*o.registration.mutable_tags())["cpu.vendor"] = "intel";
    o.registration.set_slots(3);
    o.registration.set_agent_version("0.1.0");
    o.registration.set_enrol_token("enrol-secret");
    o.backoff_initial = milliseconds(250);
    return o;
  }

  // Advances the clock in steps until `peer` yields a message of `body`.
  std::optional<v1::Envelope> AdvanceUntil(RouterPeer& peer, v1::Envelope::BodyCase body,
                                           milliseconds step) {
    for (int i = 0; i < 200; ++i) {
      clock_.Advance(step);
      // A short look per step: the message shows up once enough clock time has passed.
      auto got = peer.Receive(body, milliseconds(50));
      if (got) return got;
    }
    return std::nullopt;
  }

  ManualClock clock_;
  RecordingHandler handler_;
};

TEST_F(ZmqSessionTest, RegisterCarriesIdentityTagsSlotsTokenAndRunningJobs) {
  RouterPeer peer;
  ZmqSession session(Options(peer.endpoint()), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  auto reg = peer.Receive(v1::Envelope::kRegister);
  ASSERT_TRUE(reg.has_value());
  EXPECT_EQ(peer.identity(), "w-test");
  EXPECT_EQ(reg->protocol_version(), proto::kProtocolVersion);
  EXPECT_EQ(reg->register_().worker_id(), "w-test");
  EXPECT_EQ(reg->register_().tags().at("cpu.vendor"), "intel");
  EXPECT_EQ(reg->register_().slots(), 3u);
  EXPECT_EQ(reg->register_().enrol_token(), "enrol-secret");
  ASSERT_EQ(reg->register_().running_size(), 1);
  EXPECT_EQ(reg->register_().running(0).job_id(), "job-7");
  session.Stop();
}

TEST_F(ZmqSessionTest, HeartbeatsFollowTheClockAndCarryLeases) {
  RouterPeer peer;
  ZmqSession session(Options(peer.endpoint()), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  ASSERT_TRUE(peer.Receive(v1::Envelope::kRegister));
  peer.Welcome(1000);
  ASSERT_TRUE(WaitFor([&] { return session.welcomed(); }));
  EXPECT_EQ(session.heartbeat_interval(), milliseconds(1000));
  clock_.Advance(milliseconds(1000));
  auto hb = peer.Receive(v1::Envelope::kHeartbeat);
  ASSERT_TRUE(hb.has_value());
  ASSERT_EQ(hb->heartbeat().leases_size(), 1);
  EXPECT_EQ(hb->heartbeat().leases(0).lease_token(), "lease-7");
  EXPECT_EQ(hb->heartbeat().free_slots(), 3u);
  // A second interval, a second heartbeat.
  clock_.Advance(milliseconds(1000));
  EXPECT_TRUE(peer.Receive(v1::Envelope::kHeartbeat).has_value());
  EXPECT_EQ(session.reconnects(), 0u);
  session.Stop();
}

TEST_F(ZmqSessionTest, MessagesQueuedBeforeWelcomeAreDeliveredAfterIt) {
  RouterPeer peer;
  ZmqSession session(Options(peer.endpoint()), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  v1::Envelope chunk;
  chunk.mutable_log_chunk()->set_job_id("job-7");
  chunk.mutable_log_chunk()->set_data("hello");
  session.Send(chunk);
  ASSERT_TRUE(peer.Receive(v1::Envelope::kRegister));
  peer.Welcome(1000);
  auto got = peer.Receive(v1::Envelope::kLogChunk);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->log_chunk().data(), "hello");
  session.Stop();
}

TEST_F(ZmqSessionTest, GarbageFramesAreCountedAndSurvived) {
  RouterPeer peer;
  ZmqSession session(Options(peer.endpoint()), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  ASSERT_TRUE(peer.Receive(v1::Envelope::kRegister));
  peer.Welcome(1000);
  ASSERT_TRUE(WaitFor([&] { return session.welcomed(); }));
  peer.SendRaw({"\xff\xfe this is not protobuf \x01"});
  v1::Envelope wrong_version;
  wrong_version.mutable_heartbeat_ack();
  std::string frame = proto::EncodeFrame(wrong_version);
  wrong_version.set_protocol_version(99);
  peer.SendRaw({wrong_version.SerializeAsString()});
  peer.SendRaw({frame, frame});   // two frames where one is expected
  peer.SendRaw({std::string()});  // empty envelope: no body
  ASSERT_TRUE(WaitFor([&] { return session.malformed_frames() >= 4; }));
  // Still alive: a valid message gets through and heartbeats continue.
  v1::Envelope assign;
  assign.mutable_assign()->set_job_id("job-9");
  peer.Send(assign);
  EXPECT_TRUE(WaitFor([&] { return handler_.Saw(v1::Envelope::kAssign); }));
  clock_.Advance(milliseconds(1000));
  EXPECT_TRUE(peer.Receive(v1::Envelope::kHeartbeat).has_value());
  session.Stop();
}

TEST_F(ZmqSessionTest, ReconnectsAndRegistersAgainWhenTheCoordinatorGoesSilent) {
  auto peer = std::make_unique<RouterPeer>();
  const std::string endpoint = peer->endpoint();
  ZmqSession session(Options(endpoint), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  ASSERT_TRUE(peer->Receive(v1::Envelope::kRegister));
  peer->Welcome(1000);
  ASSERT_TRUE(WaitFor([&] { return session.welcomed(); }));
  // The coordinator restarts: its socket goes away and a new one binds the same address.
  peer.reset();
  peer = std::make_unique<RouterPeer>(endpoint);
  // Silence for three intervals drops the socket.
  for (int i = 0; i < 4; ++i) clock_.Advance(milliseconds(1000));
  ASSERT_TRUE(WaitFor([&] { return !session.welcomed(); }));
  // Work queued while the coordinator is away is held and delivered after the new Welcome.
  v1::Envelope result;
  result.mutable_result()->set_job_id("job-7");
  session.Send(result);
  auto reg = AdvanceUntil(*peer, v1::Envelope::kRegister, milliseconds(100));
  ASSERT_TRUE(reg.has_value());
  EXPECT_GE(session.reconnects(), 1u);
  EXPECT_EQ(session.registrations(), 1u + session.reconnects());
  ASSERT_EQ(reg->register_().running_size(), 1);
  EXPECT_EQ(reg->register_().running(0).job_id(), "job-7");
  peer->Welcome(1000);
  auto delivered = peer->Receive(v1::Envelope::kResult);
  ASSERT_TRUE(delivered.has_value());
  EXPECT_EQ(delivered->result().job_id(), "job-7");
  session.Stop();
}

TEST_F(ZmqSessionTest, GoodbyeOnCleanStop) {
  RouterPeer peer;
  ZmqSession session(Options(peer.endpoint()), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  ASSERT_TRUE(peer.Receive(v1::Envelope::kRegister));
  peer.Welcome(1000);
  ASSERT_TRUE(WaitFor([&] { return session.welcomed(); }));
  session.Stop(true);
  EXPECT_TRUE(peer.Receive(v1::Envelope::kGoodbye).has_value());
}

TEST_F(ZmqSessionTest, RegistersAgainWhenTheCoordinatorSaysNotRegistered) {
  RouterPeer peer;
  ZmqSession session(Options(peer.endpoint()), handler_, clock_, nullptr);
  ASSERT_TRUE(session.Start().ok());
  ASSERT_TRUE(peer.Receive(v1::Envelope::kRegister));
  peer.Welcome(1000);
  ASSERT_TRUE(WaitFor([&] { return session.welcomed(); }));
  // The coordinator marked this worker lost: every reply is not_registered. Two of them (one per
  // message in flight) give one new Register, carrying the running jobs.
  v1::Envelope error;
  error.mutable_error()->set_code("not_registered");
  error.mutable_error()->set_message("register before sending heartbeat");
  peer.Send(error);
  peer.Send(error);
  auto reg = peer.Receive(v1::Envelope::kRegister);
  ASSERT_TRUE(reg.has_value());
  ASSERT_EQ(reg->register_().running_size(), 1);
  EXPECT_EQ(reg->register_().running(0).job_id(), "job-7");
  EXPECT_FALSE(session.welcomed());
  ASSERT_TRUE(WaitFor([&] { return session.registrations() == 2u; }));
  peer.Welcome(1000);
  ASSERT_TRUE(WaitFor([&] { return session.welcomed(); }));
  EXPECT_EQ(session.registrations(), 2u);
  EXPECT_EQ(session.reconnects(), 0u);
  clock_.Advance(milliseconds(1000));
  EXPECT_TRUE(peer.Receive(v1::Envelope::kHeartbeat).has_value());
  session.Stop();
}

TEST_F(ZmqSessionTest, MalformedEndpointFailsToStart) {
  ZmqSession session(Options("not-an-endpoint"), handler_, clock_, nullptr);
  EXPECT_FALSE(session.Start().ok());
}

}  // namespace
}  // namespace edgefarm::worker
