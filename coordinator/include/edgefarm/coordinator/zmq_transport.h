// Transport over a ZeroMQ ROUTER socket.
//
// Bounded: send and receive high-water marks cap the memory a slow or hostile peer can pin; a
// message to a peer whose queue is full, or to an unknown identity, is dropped (ROUTER_MANDATORY
// turns that into an error we report instead of a silent drop). Incoming messages larger than
// max_message_bytes are refused by libzmq itself (ZMQ_MAXMSGSIZE) and the peer disconnected.
//
// Thread-safety: none, except Wake(); the socket belongs to the thread that calls Receive/Send.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "edgefarm/coordinator/transport.h"

namespace edgefarm::coordinator {

struct ZmqTransportOptions {
  std::string listen = "tcp://127.0.0.1:0";  // port 0 picks a free port
  int high_water_mark = 1000;
  int64_t max_message_bytes = 8 * 1024 * 1024;
};

class ZmqTransport final : public Transport {
 public:
  static Result<std::unique_ptr<ZmqTransport>> Bind(const ZmqTransportOptions& options);
  ~ZmqTransport() override;

  Result<std::optional<InboundMessage>> Receive(std::chrono::milliseconds timeout) override;
  Status Send(const std::string& identity, const std::string& frame) override;
  std::string endpoint() const override { return endpoint_; }
  void Wake() override;  // an eventfd polled together with the socket

 private:
  struct Impl;
  explicit ZmqTransport(std::unique_ptr<Impl> impl, std::string endpoint);
  std::unique_ptr<Impl> impl_;
  std::string endpoint_;
};

}  // namespace edgefarm::coordinator
