// A blue/green traffic router: an HTTP reverse proxy (cpp-httplib) in front of two upstream
// slots with a weighted split, and per-slot traffic statistics for canary analysis.
//
// Routing: one slot is live, the other is the candidate; `candidate_weight` percent of requests
// (0..100) go to the candidate. The split is a deterministic weighted round robin: of every 100
// consecutive requests after SetRouting(), exactly `candidate_weight` go to the candidate, spread
// evenly (request n goes to the candidate when floor((n+1)w/100) > floor(nw/100)).
//
// Proxied routes: POST /v1/completions (split as above) and GET /health (always the live slot,
// outside the split), forwarded to the chosen slot's upstream
// with the body and status unchanged plus an `X-Edgefarm-Slot: blue|green` header. A slot
// without an upstream, or an upstream that cannot be reached, is answered 502 with an error JSON
// and counted as an error of that slot. GET /router/status returns the routing and both slots'
// snapshots as JSON; GET /router/metrics the same in Prometheus text (per-slot request and error
// counters since start, window latency quantiles, the weight and the live slot).
//
// Admin API (only when RouterOptions::admin_token is set; `Authorization: Bearer <token>`,
// 401 otherwise; 400 with an error JSON for a bad body; 200 with the /router/status JSON):
//   PUT  /router/routing  {"live": "blue"|"green", "candidate_weight": 0..100}
//   PUT  /router/upstream {"slot": "blue"|"green", "url": "http://HOST:PORT" | ""}
//   POST /router/reset    {"slot": "blue"|"green"}   (forget the slot's samples)
// The token never appears in responses or logs.
//
// Statistics: per slot, every proxied /v1/completions request's latency (ms, measured at the
// router) and whether it failed (5xx or upstream failure), kept over a sliding time window (clock
// injectable) and capped in count; Snapshot() summarises the window. Health probes are not
// counted, so they can neither dilute latencies nor stand in for real traffic.
//
// Thread-safety: all public methods may be called from any thread while the router serves.
// Lifetime: Stop() (or the destructor) stops accepting, finishes in-flight requests and joins.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "edgefarm/common/clock.h"
#include "edgefarm/common/status.h"
#include "edgefarm/serving/slot_analysis.h"

namespace spdlog {
class logger;
}

namespace edgefarm::serving {

enum class Slot { kBlue = 0, kGreen = 1 };
std::string_view SlotName(Slot slot);  // "blue" | "green"
Result<Slot> ParseSlot(std::string_view name);
inline Slot OtherSlot(Slot slot) {
  return slot == Slot::kBlue ? Slot::kGreen : Slot::kBlue;
}

// The deterministic weighted split on its own (the router holds one). Not thread-safe; the
// router calls it under its lock.
class WeightedSplit {
 public:
  // weight in [0, 100]; restarts the sequence.
  void Reset(int candidate_weight);
  // True when the next request goes to the candidate.
  bool NextIsCandidate();
  int weight() const { return weight_; }

 private:
  int weight_ = 0;
  uint64_t n_ = 0;
};

struct RouterOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int http_threads = 16;
  std::chrono::milliseconds window{std::chrono::minutes(5)};
  size_t max_samples_per_slot = 100000;
  int upstream_connect_timeout_ms = 2000;
  int upstream_read_timeout_ms = 60000;
  size_t max_body_bytes = 1 << 20;
  // Non-empty: enables the admin API below, which requires `Authorization: Bearer <token>`.
  std::string admin_token;
};
RouterOptions DefaultRouterOptions();

class TrafficRouter {
 public:
  // `clock` (may be null = the system clock) must outlive the router; it times the window.
  static Result<std::unique_ptr<TrafficRouter>> Create(const RouterOptions& options,
                                                       std::shared_ptr<spdlog::logger> logger,
                                                       const Clock* clock = nullptr);
  ~TrafficRouter();
  TrafficRouter(const TrafficRouter&) = delete;
  TrafficRouter& operator=(const TrafficRouter&) = delete;

  // Errors: IoError when the address cannot be bound, FailedPrecondition when started twice.
  Status Start();
  void Stop();
  int port() const;
  std::string base_url() const;

  // `base_url` is "http://HOST:PORT" (loopback or any host), or empty to detach the slot.
  // Errors: InvalidArgument for anything else.
  Status SetUpstream(Slot slot, std::string_view base_url);
  // Errors: InvalidArgument for a weight outside [0, 100].
  Status SetRouting(Slot live, int candidate_weight);
  Slot live() const;
  int candidate_weight() const;

  SlotStats Snapshot(Slot slot) const;
  // Forgets a slot's samples (e.g. when a new version starts in it).
  void ResetStats(Slot slot);

 private:
  struct Impl;
  explicit TrafficRouter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace edgefarm::serving
