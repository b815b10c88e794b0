// The worker's side of the coordinator session: one ZeroMQ DEALER socket whose routing id is the
// worker id, speaking edgefarm.v1 Envelopes (one frame per message).
//
// Life cycle: connect, send Register (tags, slots, version, running jobs, enrol token), wait for
// Welcome, then send a Heartbeat (carrying the leases of running jobs) every
// heartbeat_interval_ms, jittered down by up to 20 % so a fleet does not beat in step. When the
// coordinator has been silent for `silent_intervals` heartbeat intervals the socket is thrown
// away and, after an exponential backoff, a new one connects and registers again, reporting the
// jobs still running. Messages queued with Send() are held until a Welcome arrives (the
// coordinator ignores an unregistered peer) and survive reconnects. Frames that do not decode
// are counted and dropped. All timing reads the injected Clock.
//
// Thread-safety: Send() and the accessors may be called from any thread. The handler is called
// on the session's own thread only. The enrol token is never logged.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/v1/farm.pb.h"

namespace spdlog {
class logger;
}

namespace edgefarm::worker {

struct SessionOptions {
  std::string endpoint;       // "tcp://127.0.0.1:5555"
  v1::Register registration;  // everything but `running`, which the handler supplies
  std::chrono::milliseconds initial_heartbeat{1000};  // until a Welcome says otherwise
  int silent_intervals = 3;
  std::chrono::milliseconds backoff_initial{250};
  std::chrono::milliseconds backoff_max{8000};
  // Longest real-time wait between looks at the clock (a ManualClock moves without waking us).
  std::chrono::milliseconds poll_tick{20};
};

// What the session needs from the worker. Called on the session thread; must not block long.
class SessionHandler {
 public:
  virtual ~SessionHandler() = default;
  // Every decoded message from the coordinator (Welcome included).
  virtual void OnMessage(const v1::Envelope& message) = 0;
  // Jobs running now, for Register.running and Heartbeat.leases.
  virtual std::vector<v1::RunningJob> RunningJobs() = 0;
  virtual uint32_t FreeSlots() = 0;
};

class ZmqSession {
 public:
  // handler, clock and logger must outlive the session.
  ZmqSession(SessionOptions options, SessionHandler& handler, Clock& clock,
             std::shared_ptr<spdlog::logger> logger);
  ~ZmqSession();  // Stop(false) if still running
  ZmqSession(const ZmqSession&) = delete;
  ZmqSession& operator=(const ZmqSession&) = delete;

  // Starts the session thread. Fails if the endpoint is malformed or ZeroMQ refuses a socket.
  Status Start();
  // Stops the thread; with say_goodbye a Goodbye is sent first (best effort).
  void Stop(bool say_goodbye = true);

  // Queues a message for the coordinator (stamped with the protocol version).
  void Send(v1::Envelope message);

  uint64_t malformed_frames() const;
  uint64_t reconnects() const;
  uint64_t registrations() const;
  bool welcomed() const;
  std::chrono::milliseconds heartbeat_interval() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefarm::worker
