// ZmqTransport: the only coordinator file that includes <zmq.hpp>. cppzmq throws zmq::error_t;
// every call is wrapped so no exception leaves this file.
#include "edgefarm/coordinator/zmq_transport.h"

#include <zmq.hpp>

namespace edgefarm::coordinator {

struct ZmqTransport::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::router};
};

ZmqTransport::ZmqTransport(std::unique_ptr<Impl> impl, std::string endpoint)
    : impl_(std::move(impl)), endpoint_(std::move(endpoint)) {}

ZmqTransport::~ZmqTransport() {
  if (impl_) {
    try {
      impl_->socket.set(zmq::sockopt::linger, 0);
      impl_->socket.close();
      impl_->context.close();
    } catch (const zmq::error_t&) {
      // Shutting down; nothing useful to do with a close error.
    }
  }
}

Result<std::unique_ptr<ZmqTransport>> ZmqTransport::Bind(const ZmqTransportOptions& options) {
  try {
    auto impl = std::make_unique<Impl>();
    impl->socket.set(zmq::sockopt::sndhwm, options.high_water_mark);
    impl->socket.set(zmq::sockopt::rcvhwm, options.high_water_mark);
    impl->socket.set(zmq::sockopt::maxmsgsize, options.max_message_bytes);
    impl->socket.set(zmq::sockopt::router_mandatory, 1);
    // A worker that reconnects (new socket, same routing id) takes its identity over at once
    // instead of being ignored until the old connection is noticed dead.
    impl->socket.set(zmq::sockopt::router_handover, 1);
    impl->socket.set(zmq::sockopt::linger, 0);
    impl->socket.bind(options.listen);
    std::string endpoint = impl->socket.get(zmq::sockopt::last_endpoint);
    return std::unique_ptr<ZmqTransport>(new ZmqTransport(std::move(impl), endpoint));
  } catch (const zmq::error_t& e) {
    return IoError("cannot bind ZeroMQ ROUTER to " + options.listen + ": " + e.what());
  }
}

Result<std::optional<InboundMessage>> ZmqTransport::Receive(std::chrono::milliseconds timeout) {
  try {
    zmq::pollitem_t item{impl_->socket.handle(), 0, ZMQ_POLLIN, 0};
    if (zmq::poll(&item, 1, timeout) == 0) return std::optional<InboundMessage>();
    InboundMessage message;
    bool first = true;
    while (true) {
      zmq::message_t part;
      if (!impl_->socket.recv(part, zmq::recv_flags::dontwait)) break;
      if (first) {
        message.identity = part.to_string();
        first = false;
      } else {
        message.frames.push_back(part.to_string());
      }
      if (!part.more()) break;
    }
    if (first) return std::optional<InboundMessage>();
    return std::optional<InboundMessage>(std::move(message));
  } catch (const zmq::error_t& e) {
    if (e.num() == EINTR) return std::optional<InboundMessage>();
    return IoError(std::string("ZeroMQ receive: ") + e.what());
  }
}

Status ZmqTransport::Send(const std::string& identity, const std::string& frame) {
  try {
    zmq::message_t id(identity.data(), identity.size());
    zmq::message_t body(frame.data(), frame.size());
    if (!impl_->socket.send(id, zmq::send_flags::sndmore | zmq::send_flags::dontwait)) {
      return Unavailable("peer's queue is full");
    }
    if (!impl_->socket.send(body, zmq::send_flags::dontwait)) {
      return Unavailable("peer's queue is full");
    }
    return Status::Ok();
  } catch (const zmq::error_t& e) {
    // EHOSTUNREACH: ROUTER_MANDATORY says the identity is not connected.
    return Unavailable(std::string("cannot send to peer: ") + e.what());
  }
}

}  // namespace edgefarm::coordinator
