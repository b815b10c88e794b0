// ZmqTransport: the only coordinator file that includes <zmq.hpp>. cppzmq throws zmq::error_t;
// every call is wrapped so no exception leaves this file.
#include "edgefarm/coordinator/zmq_transport.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <zmq.hpp>

namespace edgefarm::coordinator {

struct ZmqTransport::Impl {
  zmq::context_t context{1};
  zmq::socket_t socket{context, zmq::socket_type::router};
  int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);  // -1: Wake() is a no-op
  ~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
  }
};

void ZmqTransport::Wake() {
  const uint64_t one = 1;
  if (impl_->wake_fd >= 0) (void)!::write(impl_->wake_fd, &one, sizeof one);
}

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

namespace {

// One whole message if one is queued (never blocks); nullopt otherwise. Throws zmq::error_t.
std::optional<InboundMessage> ReadQueued(zmq::socket_t& socket) {
  InboundMessage message;
  bool first = true;
  while (true) {
    zmq::message_t part;
    if (!socket.recv(part, zmq::recv_flags::dontwait)) break;
    if (first) {
      message.identity = part.to_string();
      first = false;
    } else {
      message.frames.push_back(part.to_string());
    }
    if (!part.more()) break;
  }
  if (first) return std::nullopt;
  return message;
}

}  // namespace

// A queued message is taken without polling: the loop drains thousands per iteration, and a poll
// that includes the wake eventfd is a system call each time.
Result<std::optional<InboundMessage>> ZmqTransport::Receive(std::chrono::milliseconds timeout) {
  try {
    if (auto queued = ReadQueued(impl_->socket)) return queued;
    if (timeout.count() <= 0) return std::optional<InboundMessage>();
    zmq::pollitem_t items[] = {{impl_->socket.handle(), 0, ZMQ_POLLIN, 0},
                               {nullptr, impl_->wake_fd, ZMQ_POLLIN, 0}};
    const int count = impl_->wake_fd >= 0 ? 2 : 1;
    if (zmq::poll(items, count, timeout) == 0) return std::optional<InboundMessage>();
    if (count == 2 && (items[1].revents & ZMQ_POLLIN)) {
      uint64_t drained = 0;
      (void)!::read(impl_->wake_fd, &drained, sizeof drained);
    }
    if (!(items[0].revents & ZMQ_POLLIN)) return std::optional<InboundMessage>();
    return ReadQueued(impl_->socket);
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
