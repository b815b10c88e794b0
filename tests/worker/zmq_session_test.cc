#include "edgefarm/worker/zmq_session.h"

#include <gtest/gtest.h>

#include <mutex>
#include <optional>
#include <zmq.hpp>

#include "edgefarm/proto/frame_codec.h"
#include "test_support.h"

namespace edgefarm::worker {
namespace {

using edgefarm::testing::WaitFor;
using std::chrono::milliseconds;

// A hand-written coordinator end: a real ROUTER socket on loopback.
class RouterPeer {
 public:
  explicit RouterPeer(const std::string& endpoint = "tcp://127.0.0.1:0")
      : router_(ctx_, zmq::socket_type::router) {
    router_.set(zmq::sockopt::linger, 0);
    router_.bind(endpoint);
    endpoint_ = router_.get(zmq::sockopt::last_endpoint);
  }
  const std::string& endpoint() const { return endpoint_; }

  // Next decoded message, skipping those whose body is not `want` (if set). nullopt after a
  // generous failure bound.
  std::optional<v1::Envelope> Receive(v1::Envelope::BodyCase want = v1::Envelope::BODY_NOT_SET,
                                      milliseconds bound = std::chrono::seconds(30)) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (std::chrono::steady_clock::now() < deadline) {
      std::vector<zmq::pollitem_t> items = {{router_.handle(), 0, ZMQ_POLLIN, 0}};
      zmq::poll(items, milliseconds(20));
      if (!(items[0].revents & ZMQ_POLLIN)) continue;
      zmq::message_t id, body;
      (void)router_.recv(id);
      (void)router_.recv(body);
      identity_ = id.to_string();
      auto env = proto::DecodeFrame(std::string_view(body.data<char>(), body.size()));
      if (!env.ok()) continue;
      if (want == v1::Envelope::BODY_NOT_SET || env->body_case() == want) return *env;
    }
    return std::nullopt;
  }

  void Send(v1::Envelope env) { SendRaw({proto::EncodeFrame(std::move(env))}); }
  void SendRaw(const std::vector<std::string>& frames) {
    router_.send(zmq::buffer(identity_), zmq::send_flags::sndmore);
    for (size_t i = 0; i < frames.size(); ++i) {
      router_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }
  void Welcome(uint32_t interval_ms) {
    v1::Envelope env;
    env.mutable_welcome()->set_heartbeat_interval_ms(interval_ms);
    env.mutable_welcome()->set_lease_ttl_ms(interval_ms * 3);
    env.mutable_welcome()->set_blob_url("http://127.0.0.1:1");
    Send(env);
  }
  const std::string& identity() const { return identity_; }

 private:
  zmq::context_t ctx_;
  zmq::socket_t router_;
  std::string endpoint_;
  std::string identity_;
};

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

TEST_F(ZmqSessionTest, MalformedEndpointFailsToStart) {
  ZmqSession session(Options("not-an-endpoint"), handler_, clock_, nullptr);
  EXPECT_FALSE(session.Start().ok());
}

}  // namespace
}  // namespace edgefarm::worker
