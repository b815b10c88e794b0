// A closed-loop HTTP load generator: `concurrency` clients each send one request at a time,
// until `requests` requests have been sent in total or `duration` has passed (whichever is set).
//
// Bounded by construction: loopback targets only (127.0.0.1, ::1, localhost), at most
// kMaxConcurrency clients, kMaxRequests requests and kMaxDuration; a request that fails to
// connect or read counts as an error with its elapsed time as latency. Every request's latency is
// recorded, so percentiles are exact (nearest rank) rather than bucketed.
//
// Thread-safety: RunLoad is reentrant; it blocks the caller until the load is done.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>

#include "edgefarm/common/status.h"

namespace edgefarm::serving {

struct LoadOptions {
  std::string url;              // "http://127.0.0.1:PORT"
  std::string method = "POST";  // POST or GET
  std::string path = "/v1/completions";
  std::string body = R"({"prompt":"Once upon a time","max_tokens":8,"temperature":0})";
  int concurrency = 4;
  int64_t requests = 0;                   // > 0: stop after this many requests
  std::chrono::milliseconds duration{0};  // > 0: stop starting requests after this long
  std::chrono::milliseconds request_timeout{std::chrono::seconds(60)};
};

struct LoadReport {
  int64_t requests = 0;
  int64_t errors = 0;  // status >= 500 or no response (4xx count as errors too: the load is ours)
  double error_rate = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
  double elapsed_s = 0;
  double throughput_rps = 0;             // requests / elapsed_s
  std::map<int, int64_t> status_counts;  // HTTP status -> count; 0 = no response
};

inline constexpr int kMaxConcurrency = 256;
inline constexpr int64_t kMaxRequests = 1'000'000;
inline constexpr std::chrono::milliseconds kMaxDuration{std::chrono::hours(1)};

// Errors: InvalidArgument for a non-loopback or malformed URL, a bad method, or bounds outside
// the limits above (exactly one of requests/duration must be set).
Result<LoadReport> RunLoad(const LoadOptions& options);

}  // namespace edgefarm::serving
