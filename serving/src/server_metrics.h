// Prometheus text-format metrics of the inference server (internal to edgefarm_serving).
//
// Thread-safety: every method may be called from any HTTP worker thread (one mutex; the work
// under it is a few additions).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace edgefarm::serving {

class ServerMetrics {
 public:
  // Upper bounds (seconds) of the request-latency histogram; +Inf is implicit.
  static constexpr std::array<double, 12> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1,  0.25,
                                                      0.5,   1.0,  2.5,   5.0,  10.0, 30.0};

  // One finished /v1/completions request.
  void RecordCompletion(int status_code, double seconds, int64_t tokens, bool injected_fault);
  // Any other answered request (health, metrics, unknown paths), counted by path and code.
  void RecordOther(const std::string& path, int status_code);
  // The exposition text, with model labels on the info metric.
  std::string Render(const std::string& model, const std::string& digest) const;

 private:
  mutable std::mutex mu_;
  std::array<uint64_t, kBuckets.size()> bucket_counts_{};  // non-cumulative
  uint64_t count_ = 0;
  double sum_seconds_ = 0;
  uint64_t tokens_ = 0;
  uint64_t injected_faults_ = 0;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // (path, code) -> count
};

}  // namespace edgefarm::serving
