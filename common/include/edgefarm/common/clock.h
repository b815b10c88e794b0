// Time as an injectable dependency.
//
// Everything that waits on time (heartbeats, leases, timeouts, backoff) takes a Clock& so tests
// can drive time explicitly with ManualClock instead of sleeping. SystemClock is the one real
// adapter. Both are thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace edgefarm {

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, for deadlines and durations.
  virtual std::chrono::steady_clock::time_point SteadyNow() const = 0;
  // Wall-clock time in milliseconds since the Unix epoch, for records shown to people.
  virtual int64_t UnixMillis() const = 0;
};

class SystemClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::now();
  }
  int64_t UnixMillis() const override;

  // The process-wide instance.
  static SystemClock& Instance();
};

// A clock that moves only when told to. Starts at an arbitrary fixed point.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(int64_t unix_millis = 1'700'000'000'000) : unix_millis_(unix_millis) {}

  std::chrono::steady_clock::time_point SteadyNow() const override {
    return std::chrono::steady_clock::time_point(std::chrono::milliseconds(steady_millis_.load()));
  }
  int64_t UnixMillis() const override { return unix_millis_.load(); }

  void Advance(std::chrono::milliseconds by) {
    steady_millis_ += by.count();
    unix_millis_ += by.count();
  }

 private:
  std::atomic<int64_t> steady_millis_{1'000'000};
  std::atomic<int64_t> unix_millis_;
};

}  // namespace edgefarm
