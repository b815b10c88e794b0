// The coordinator's side of the worker session, as (identity, bytes) messages.
//
// The real adapter is ZmqTransport (a ROUTER socket); the core never sees ZeroMQ. A received
// message carries every frame after the identity so the caller can count and drop messages of an
// unexpected shape.
//
// Thread-safety: none, except Wake(). One thread (the coordinator loop) owns a Transport and calls
// it; other threads (HTTP handlers that staged work for the loop) call Wake().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "edgefarm/common/status.h"

namespace edgefarm::coordinator {

struct InboundMessage {
  std::string identity;
  std::vector<std::string> frames;  // frames after the identity; a well-formed message has one
};

class Transport {
 public:
  virtual ~Transport() = default;
  // Waits up to timeout for a message; nullopt when none arrived (or the wait was interrupted).
  virtual Result<std::optional<InboundMessage>> Receive(std::chrono::milliseconds timeout) = 0;
  // Queues one frame to the peer with this identity. An unknown or unreachable peer, or a full
  // queue, drops the message (Unavailable) rather than blocking the loop.
  virtual Status Send(const std::string& identity, const std::string& frame) = 0;
  // The bound endpoint with the real port ("tcp://127.0.0.1:5555").
  virtual std::string endpoint() const = 0;

  // Makes a Receive that is waiting (or the next one) return at once with nullopt. The one call
  // that any thread may make, concurrently with the owner's Receive.
  virtual void Wake() {}
};

}  // namespace edgefarm::coordinator
