// DEALER session adapter (the only worker file that includes zmq.hpp).
//
// One thread owns the DEALER socket. Other threads hand frames over through a mutex-guarded
// outbox and poke the thread awake through an inproc PUSH/PULL pair, because ZeroMQ sockets must
// not be shared between threads. Time decisions (heartbeat due, coordinator silent, backoff over)
// read the injected Clock; the poll timeout is capped at poll_tick so that a ManualClock advanced
// by a test is noticed without any real waiting on our side.
#include "edgefarm/worker/zmq_session.h"

#include <spdlog/spdlog.h>

#include <atomic>
#include <deque>
#include <mutex>
#include <random>
#include <thread>
#include <zmq.hpp>

#include "edgefarm/proto/frame_codec.h"

namespace edgefarm::worker {

namespace {
using Millis = std::chrono::milliseconds;
constexpr size_t kMaxOutbox = 100000;  // frames; beyond this the oldest are dropped
}  // namespace

class ZmqSession::Impl {
 public:
  Impl(SessionOptions options, SessionHandler& handler, Clock& clock,
       std::shared_ptr<spdlog::logger> logger)
      : options_(std::move(options)),
        handler_(handler),
        clock_(clock),
        logger_(logger ? std::move(logger) : spdlog::default_logger()),
        backoff_(options_.backoff_initial),
        rng_(std::random_device{}()) {
    interval_ms_ = options_.initial_heartbeat.count();
  }

  ~Impl() { Stop(false); }

  Status Start() {
    try {
      wake_recv_ = zmq::socket_t(ctx_, zmq::socket_type::pull);
      wake_send_ = zmq::socket_t(ctx_, zmq::socket_type::push);
      const std::string wake = "inproc://wake-" + std::to_string(reinterpret_cast<uintptr_t>(this));
      wake_recv_.bind(wake);
      wake_send_.connect(wake);
      Connect();  // validates the endpoint before we report success
    } catch (const zmq::error_t& e) {
      return InvalidArgument("cannot connect to '" + options_.endpoint + "': " + e.what());
    }
    thread_ = std::thread([this] { Loop(); });
    return Status::Ok();
  }

  void Stop(bool say_goodbye) {
    if (!thread_.joinable()) return;
    goodbye_ = say_goodbye;
    stop_ = true;
    Wake();
    thread_.join();
  }

  void Send(v1::Envelope message) {
    std::string frame = proto::EncodeFrame(std::move(message));
    std::lock_guard<std::mutex> lock(mu_);
    if (outbox_.size() >= kMaxOutbox) outbox_.pop_front();
    outbox_.push_back(std::move(frame));
    WakeLocked();
  }

  std::atomic<uint64_t> malformed_{0};
  std::atomic<uint64_t> reconnects_{0};
  std::atomic<uint64_t> registrations_{0};
  std::atomic<bool> welcomed_{false};
  std::atomic<int64_t> interval_ms_{1000};

 private:
  void Wake() {
    std::lock_guard<std::mutex> lock(mu_);
    WakeLocked();
  }
  void WakeLocked() {
    if (!wake_send_) return;
    try {
      wake_send_.send(zmq::const_buffer("", 0), zmq::send_flags::dontwait);
    } catch (const zmq::error_t&) {
      // A full wake queue already guarantees a wake-up.
    }
  }

  void Connect() {
    dealer_ = zmq::socket_t(ctx_, zmq::socket_type::dealer);
    dealer_.set(zmq::sockopt::routing_id, options_.registration.worker_id());
    dealer_.set(zmq::sockopt::linger, 0);
    dealer_.set(zmq::sockopt::sndhwm, 10000);
    dealer_.set(zmq::sockopt::rcvhwm, 10000);
    dealer_.set(zmq::sockopt::maxmsgsize, static_cast<int64_t>(proto::kMaxFrameBytes));
    dealer_.connect(options_.endpoint);
    connected_ = true;
    welcomed_ = false;
    last_heard_ = clock_.SteadyNow();
    SendRegister();
  }

  void SendRegister() {
    v1::Envelope env;
    *env.mutable_register_() = options_.registration;
    for (const v1::RunningJob& job : handler_.RunningJobs()) {
      *env.mutable_register_()->add_running() = job;
    }
    SendNow(proto::EncodeFrame(std::move(env)));
    ++registrations_;
    logger_->info("registering with {} as {} ({} tags, {} slots)", options_.endpoint,
                  options_.registration.worker_id(), options_.registration.tags_size(),
                  options_.registration.slots());
  }

  bool SendNow(const std::string& frame) {
    try {
      return dealer_.send(zmq::buffer(frame), zmq::send_flags::dontwait).has_value();
    } catch (const zmq::error_t& e) {
      logger_->warn("send failed: {}", e.what());
      return false;
    }
  }

  void Loop() {
    while (!stop_) {
      try {
        PollAndReceive();
        FlushOutbox();
        Tick();
      } catch (const zmq::error_t& e) {
        // A socket-level failure is handled like a silent coordinator: start over.
        logger_->warn("session error: {}; reconnecting", e.what());
        Disconnect();
      }
    }
    SayGoodbye();
  }

  void PollAndReceive() {
    std::vector<zmq::pollitem_t> items = {{wake_recv_.handle(), 0, ZMQ_POLLIN, 0}};
    if (connected_) items.push_back({dealer_.handle(), 0, ZMQ_POLLIN, 0});
    zmq::poll(items, options_.poll_tick);
    if (items[0].revents & ZMQ_POLLIN) {
      zmq::message_t ignored;
      while (wake_recv_.recv(ignored, zmq::recv_flags::dontwait)) {
      }
    }
    if (items.size() > 1 && (items[1].revents & ZMQ_POLLIN)) ReceiveAll();
  }

  void ReceiveAll() {
    while (connected_) {
      zmq::message_t part;
      if (!dealer_.recv(part, zmq::recv_flags::dontwait)) return;
      bool multipart = part.more();
      while (part.more()) {
        if (!dealer_.recv(part, zmq::recv_flags::dontwait)) break;
      }
      if (multipart) {
        CountMalformed("unexpected multipart message");
        continue;
      }
      auto decoded = proto::DecodeFrame(std::string_view(part.data<char>(), part.size()));
      if (!decoded.ok()) {
        CountMalformed(decoded.status().ToString());
        continue;
      }
      last_heard_ = clock_.SteadyNow();
      Handle(*decoded);
    }
  }

  void CountMalformed(const std::string& why) {
    ++malformed_;
    logger_->warn("dropped a malformed frame from the coordinator: {}", why);
  }

  void Handle(const v1::Envelope& env) {
    if (env.has_welcome()) {
      if (env.welcome().heartbeat_interval_ms() > 0) {
        interval_ms_ = env.welcome().heartbeat_interval_ms();
      }
      welcomed_ = true;
      backoff_ = options_.backoff_initial;
      next_heartbeat_ = clock_.SteadyNow() + Jittered();
      logger_->info("welcomed by coordinator; heartbeat every {} ms", interval_ms_.load());
    }
    // The coordinator declared this worker lost (a stall, a partition) or restarted without it:
    // its replies are not_registered. Register again, once per session, carrying the running
    // jobs so they keep their leases; further not_registered replies until the next Welcome are
    // answers to messages already in flight.
    if (env.has_error() && env.error().code() == "not_registered" && welcomed_) {
      logger_->warn("coordinator no longer knows this worker; registering again");
      welcomed_ = false;
      SendRegister();
    }
    handler_.OnMessage(env);
  }

  Millis Jittered() {
    std::uniform_real_distribution<double> factor(0.8, 1.0);
    return Millis(static_cast<int64_t>(static_cast<double>(interval_ms_.load()) * factor(rng_)));
  }

  void FlushOutbox() {
    if (!connected_ || !welcomed_) return;
    std::lock_guard<std::mutex> lock(mu_);
    while (!outbox_.empty()) {
      if (!SendNow(outbox_.front())) return;  // HWM reached; try again next round
      outbox_.pop_front();
    }
  }

  void Tick() {
    const auto now = clock_.SteadyNow();
    if (!connected_) {
      if (now >= reconnect_at_) {
        ++reconnects_;
        Connect();
      }
      return;
    }
    if (welcomed_ && now >= next_heartbeat_) {
      SendHeartbeat();
      next_heartbeat_ = now + Jittered();
    }
    const auto silence_limit = Millis(interval_ms_.load() * options_.silent_intervals);
    if (now - last_heard_ > silence_limit) {
      logger_->warn("coordinator silent for {} ms; reconnecting in {} ms",
                    std::chrono::duration_cast<Millis>(now - last_heard_).count(),
                    backoff_.count());
      Disconnect();
    }
  }

  void Disconnect() {
    try {
      dealer_.close();
    } catch (const zmq::error_t&) {
    }
    connected_ = false;
    welcomed_ = false;
    reconnect_at_ = clock_.SteadyNow() + backoff_;
    backoff_ = std::min(backoff_ * 2, options_.backoff_max);
  }

  void SendHeartbeat() {
    v1::Envelope env;
    v1::Heartbeat* hb = env.mutable_heartbeat();
    for (const v1::RunningJob& job : handler_.RunningJobs()) *hb->add_leases() = job;
    hb->set_free_slots(handler_.FreeSlots());
    SendNow(proto::EncodeFrame(std::move(env)));
  }

  void SayGoodbye() {
    if (!connected_) return;
    try {
      if (goodbye_ && welcomed_) {
        FlushOutbox();
        v1::Envelope env;
        env.mutable_goodbye();
        dealer_.set(zmq::sockopt::linger, 1000);
        SendNow(proto::EncodeFrame(std::move(env)));
      }
      dealer_.close();
    } catch (const zmq::error_t&) {
    }
    connected_ = false;
  }

  const SessionOptions options_;
  SessionHandler& handler_;
  Clock& clock_;
  std::shared_ptr<spdlog::logger> logger_;
  zmq::context_t ctx_;
  zmq::socket_t dealer_;
  zmq::socket_t wake_recv_;
  zmq::socket_t wake_send_;  // guarded by mu_
  std::mutex mu_;
  std::deque<std::string> outbox_;  // guarded by mu_
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> goodbye_{true};
  // Owned by the session thread after Start().
  bool connected_ = false;
  Millis backoff_;
  std::chrono::steady_clock::time_point last_heard_;
  std::chrono::steady_clock::time_point next_heartbeat_;
  std::chrono::steady_clock::time_point reconnect_at_;
  std::mt19937 rng_;
};

ZmqSession::ZmqSession(SessionOptions options, SessionHandler& handler, Clock& clock,
                       std::shared_ptr<spdlog::logger> logger)
    : impl_(std::make_unique<Impl>(std::move(options), handler, clock, std::move(logger))) {}

ZmqSession::~ZmqSession() {
  impl_->Stop(false);
}

Status ZmqSession::Start() {
  return impl_->Start();
}
void ZmqSession::Stop(bool say_goodbye) {
  impl_->Stop(say_goodbye);
}
void ZmqSession::Send(v1::Envelope message) {
  impl_->Send(std::move(message));
}
uint64_t ZmqSession::malformed_frames() const {
  return impl_->malformed_;
}
uint64_t ZmqSession::reconnects() const {
  return impl_->reconnects_;
}
uint64_t ZmqSession::registrations() const {
  return impl_->registrations_;
}
bool ZmqSession::welcomed() const {
  return impl_->welcomed_;
}
std::chrono::milliseconds ZmqSession::heartbeat_interval() const {
  return std::chrono::milliseconds(impl_->interval_ms_.load());
}

}  // namespace edgefarm::worker
