// A hand-written coordinator end for worker tests: a real ROUTER socket on loopback that
// receives decoded Envelopes and sends Envelopes or raw (possibly malformed) frames.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>
#include <zmq.hpp>

#include "edgefarm/proto/frame_codec.h"

namespace edgefarm::worker {

using std::chrono::milliseconds;

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

}  // namespace edgefarm::worker
