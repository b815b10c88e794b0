// A real coordinator and a hand-written DEALER peer speaking the v1 protocol over TCP, plus
// garbage that the coordinator must count and survive.
#include <zmq.hpp>

#include "coordinator_fixture.h"
#include "edgefarm/proto/frame_codec.h"

namespace edgefarm::coordinator {
namespace {

using nlohmann::json;

class FakeWorkerPeer {
 public:
  FakeWorkerPeer(zmq::context_t& context, const std::string& endpoint, const std::string& id)
      : socket_(context, zmq::socket_type::dealer) {
    socket_.set(zmq::sockopt::routing_id, id);
    socket_.set(zmq::sockopt::linger, 0);
    socket_.connect(endpoint);
  }

  void Send(const v1::Envelope& env) { SendRaw({proto::EncodeFrame(env)}); }
  void SendRaw(const std::vector<std::string>& frames) {
    for (size_t i = 0; i < frames.size(); ++i) {
      socket_.send(zmq::buffer(frames[i]),
                   i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
  }

  // The next message with this body, skipping others; nullopt if none arrives within the bound.
  std::optional<v1::Envelope> Expect(v1::Envelope::BodyCase body) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < deadline) {
      zmq::pollitem_t item{socket_.handle(), 0, ZMQ_POLLIN, 0};
      if (zmq::poll(&item, 1, std::chrono::milliseconds(100)) == 0) continue;
      zmq::message_t msg;
      if (!socket_.recv(msg)) continue;
      auto env = proto::DecodeFrame(msg.to_string_view());
      if (env.ok() && env->body_case() == body) return *env;
    }
    return std::nullopt;
  }

 private:
  zmq::socket_t socket_;
};

class CoordinatorIntegrationTest : public CoordinatorFixture {
 protected:
  v1::Envelope RegisterMessage(const std::string& id) {
    v1::Envelope reg;
    reg.mutable_register_()->set_worker_id(id);
    reg.mutable_register_()->set_name("test worker");
    reg.mutable_register_()->set_slots(1);
    reg.mutable_register_()->set_enrol_token(worker_token_);
    (*reg.mutable_register_()->mutable_tags())["arch"] = "x86_64";
    (*reg.mutable_register_()->mutable_tags())["cpu.vendor"] = "intel";
    return reg;
  }
  std::string SubmitCellRun() {
    EXPECT_EQ(PutBlob("model", admin_token_), 201);
    EXPECT_EQ(PutBlob("eval", admin_token_), 201);
    auto res = PostRun(kCellPipeline,
                       {{"models/m.gguf", Sha256Hex("model")}, {"data/e.txt", Sha256Hex("eval")}});
    EXPECT_TRUE(res && res->status == 201);
    return res ? json::parse(res->body, nullptr, false).value("run_id", "") : "";
  }
  static v1::Envelope Succeeded(const v1::Assign& a) {
    v1::Envelope result;
    v1::JobResult* r = result.mutable_result();
    r->set_job_id(a.job_id());
    r->set_attempt(a.attempt());
    r->set_lease_token(a.lease_token());
    r->set_outcome(v1::OUTCOME_SUCCEEDED);
    r->set_result_json(R"({"schema":"edgefarm.result/v1"})");
    return result;
  }

  int64_t BadFrames() {
    auto res = client_->Get("/api/v1/health");
    return res ? json::parse(res->body)["bad_frames"].get<int64_t>() : -1;
  }
  zmq::context_t context_{1};
};

TEST_F(CoordinatorIntegrationTest, SurvivesGarbageFrames) {
  FakeWorkerPeer peer(context_, zmq_endpoint_, "garbage");
  peer.SendRaw({"\xff\xfe not protobuf"});
  v1::Envelope wrong_version;
  wrong_version.mutable_heartbeat();
  wrong_version.set_protocol_version(7);
  peer.SendRaw({wrong_version.SerializeAsString()});
  peer.SendRaw({std::string()});                                // empty: no body
  peer.SendRaw({"a", "b", "c"});                                // unexpected multipart shape
  peer.SendRaw({std::string(proto::kMaxFrameBytes + 1, 'x')});  // oversize
  ASSERT_TRUE(edgefarm::testing::WaitFor([&] { return BadFrames() == 5; })) << BadFrames();
  // Still serving: a well-formed but unregistered heartbeat is answered.
  v1::Envelope hb;
  hb.mutable_heartbeat();
  peer.Send(hb);
  auto error = peer.Expect(v1::Envelope::kError);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->error().code(), "not_registered");
}

TEST_F(CoordinatorIntegrationTest, WorkerSessionRunsAJobToCompletion) {
  FakeWorkerPeer peer(context_, zmq_endpoint_, "w1");
  peer.SendRaw({"garbage before register"});
  v1::Envelope reg;
  reg.mutable_register_()->set_worker_id("w1");
  reg.mutable_register_()->set_name("test worker");
  reg.mutable_register_()->set_slots(1);
  reg.mutable_register_()->set_enrol_token(worker_token_);
  (*reg.mutable_register_()->mutable_tags())["arch"] = "x86_64";
  (*reg.mutable_register_()->mutable_tags())["cpu.vendor"] = "intel";
  peer.Send(reg);
  auto welcome = peer.Expect(v1::Envelope::kWelcome);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(welcome->welcome().blob_url(), http_url_);

  ASSERT_EQ(PutBlob("model", admin_token_), 201);
  ASSERT_EQ(PutBlob("eval", admin_token_), 201);
  auto res = PostRun(kCellPipeline,
                     {{"models/m.gguf", Sha256Hex("model")}, {"data/e.txt", Sha256Hex("eval")}});
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 201) << res->body;
  const std::string run_id = json::parse(res->body)["run_id"];

  auto assign = peer.Expect(v1::Envelope::kAssign);
  ASSERT_TRUE(assign.has_value());
  const v1::Assign& a = assign->assign();
  EXPECT_EQ(a.attempt(), 1u);
  EXPECT_EQ(a.spec().run_id(), run_id);
  EXPECT_EQ(a.spec().engine().framework(), "llama_cpp");
  auto job_json = json::parse(a.spec().engine().job_json());
  EXPECT_EQ(job_json["schema"], "edgefarm.job/v1");
  std::map<std::string, std::string> inputs;
  for (const auto& in : a.spec().inputs()) inputs[in.name()] = in.digest();
  EXPECT_EQ(inputs["model"], Sha256Hex("model"));
  EXPECT_EQ(inputs["eval_text"], Sha256Hex("eval"));

  v1::Envelope accept;
  accept.mutable_accept()->set_job_id(a.job_id());
  accept.mutable_accept()->set_attempt(1);
  accept.mutable_accept()->set_lease_token(a.lease_token());
  peer.Send(accept);
  uint64_t offset = 0, seq = 0;
  for (const std::string line : {"quantising\n", "benchmarking\n", "done\n"}) {
    v1::Envelope chunk;
    v1::LogChunk* c = chunk.mutable_log_chunk();
    c->set_job_id(a.job_id());
    c->set_attempt(1);
    c->set_lease_token(a.lease_token());
    c->set_sequence(seq++);
    c->set_offset(offset);
    c->set_data(line);
    offset += line.size();
    peer.Send(chunk);
  }
  const std::string artifact = "quantised model";
  ASSERT_EQ(PutBlob(artifact, worker_token_), 201);
  v1::Envelope result;
  v1::JobResult* r = result.mutable_result();
  r->set_job_id(a.job_id());
  r->set_attempt(1);
  r->set_lease_token(a.lease_token());
  r->set_outcome(v1::OUTCOME_SUCCEEDED);
  r->set_result_json(R"({"schema":"edgefarm.result/v1","metrics":{"speedup":2.5}})");
  r->mutable_usage()->set_peak_rss_bytes(1234);
  r->mutable_usage()->set_user_cpu_seconds(1.0);
  r->set_log_bytes(offset);
  v1::Artifact* art = r->add_artifacts();
  art->set_name("model.gguf");
  art->set_digest(Sha256Hex(artifact));
  art->set_size(artifact.size());
  peer.Send(result);
  auto ack = peer.Expect(v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted()) << ack->result_ack().reason();

  auto run = GetJson("/api/v1/runs/" + run_id);
  EXPECT_EQ(run["state"], "succeeded");
  auto job = run["jobs"][0];
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["worker"], "w1");
  EXPECT_EQ(job["result"]["metrics"]["speedup"], 2.5);
  ASSERT_EQ(job["attempts"].size(), 1u);
  EXPECT_EQ(job["attempts"][0]["outcome"], "succeeded");
  EXPECT_EQ(job["attempts"][0]["peak_rss_bytes"], 1234);
  EXPECT_EQ(job["attempts"][0]["log_bytes"], offset);
  EXPECT_EQ(job["artifacts"][0]["digest"], Sha256Hex(artifact));
  auto log = client_->Get(
      ("/api/v1/jobs/" + job["id"].get<std::string>() + "/log?offset=11").c_str(), Admin());
  ASSERT_TRUE(log);
  EXPECT_EQ(log->body, "benchmarking\ndone\n");
  EXPECT_EQ(log->get_header_value("X-Edgefarm-Log-Complete"), "true");
  auto workers = GetJson("/api/v1/workers");
  ASSERT_EQ(workers["workers"].size(), 1u);
  EXPECT_EQ(workers["workers"][0]["state"], "live");
  EXPECT_EQ(workers["workers"][0]["running"], 0);
  EXPECT_GE(BadFrames(), 1);
}

TEST_F(CoordinatorIntegrationTest, RunningJobSurvivesACoordinatorRestart) {
  auto peer = std::make_unique<FakeWorkerPeer>(context_, zmq_endpoint_, "w1");
  peer->Send(RegisterMessage("w1"));
  ASSERT_TRUE(peer->Expect(v1::Envelope::kWelcome).has_value());
  const std::string run_id = SubmitCellRun();
  auto assign = peer->Expect(v1::Envelope::kAssign);
  ASSERT_TRUE(assign.has_value());
  const v1::Assign a = assign->assign();
  v1::Envelope accept;
  accept.mutable_accept()->set_job_id(a.job_id());
  accept.mutable_accept()->set_attempt(1);
  accept.mutable_accept()->set_lease_token(a.lease_token());
  peer->Send(accept);
  ASSERT_TRUE(edgefarm::testing::WaitFor(
      [&] { return GetJson("/api/v1/jobs/" + a.job_id())["state"] == "running"; }));

  StopCoordinator();
  peer.reset();
  StartCoordinator();  // same data dir, new ports
  EXPECT_EQ(GetJson("/api/v1/jobs/" + a.job_id())["state"], "running");
  peer = std::make_unique<FakeWorkerPeer>(context_, zmq_endpoint_, "w1");
  v1::Envelope reg = RegisterMessage("w1");
  v1::RunningJob* running = reg.mutable_register_()->add_running();
  running->set_job_id(a.job_id());
  running->set_attempt(1);
  running->set_lease_token(a.lease_token());
  peer->Send(reg);
  auto welcome = peer->Expect(v1::Envelope::kWelcome);
  ASSERT_TRUE(welcome.has_value());
  EXPECT_EQ(welcome->welcome().unknown_jobs_size(), 0);
  peer->Send(Succeeded(a));
  auto ack = peer->Expect(v1::Envelope::kResultAck);
  ASSERT_TRUE(ack.has_value());
  EXPECT_TRUE(ack->result_ack().accepted()) << ack->result_ack().reason();
  auto run = GetJson("/api/v1/runs/" + run_id);
  EXPECT_EQ(run["state"], "succeeded");
  EXPECT_EQ(run["jobs"][0]["attempts"].size(), 1u);  // not run again
}

}  // namespace
}  // namespace edgefarm::coordinator
