// Canary analysis: compares the candidate slot's traffic statistics with the live slot's.
//
// Rules, in order (every rule that applies adds a reason, so a verdict explains itself):
//   - candidate with fewer than min_requests requests -> inconclusive (never pass on missing data)
//   - candidate error rate above max_error_rate       -> fail
//   - live slot with fewer than min_requests requests -> inconclusive (no baseline for latency)
//   - candidate p95 / max(live p95, p95_floor_ms) above max_p95_ratio -> fail
//   - otherwise pass.
// Fail wins over inconclusive when both apply, except that a candidate without enough requests
// is never judged at all (a handful of early errors is noise, not evidence).
// Thread-safety: pure functions over values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace edgefarm::serving {

// Traffic statistics of one slot over the router's sliding window.
struct SlotStats {
  uint64_t requests = 0;
  uint64_t errors = 0;  // 5xx answers and upstream failures
  double error_rate = 0;
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
};

struct AnalysisLimits {
  double max_error_rate = 0.05;
  double max_p95_ratio = 1.5;
  uint64_t min_requests = 20;
  double p95_floor_ms = 1.0;  // live p95 below this counts as this, so a ratio stays meaningful
};

enum class Verdict { kPass, kFail, kInconclusive };
std::string_view VerdictName(Verdict verdict);  // "pass" | "fail" | "inconclusive"

struct AnalysisResult {
  Verdict verdict = Verdict::kInconclusive;
  std::vector<std::string> reasons;            // empty only for a clean pass
  std::map<std::string, double> measurements;  // candidate/live figures and the p95 ratio
  std::string ToJson() const;                  // {"verdict","reasons":[..],"measurements":{..}}
};

AnalysisResult CompareSlots(const SlotStats& candidate, const SlotStats& live,
                            const AnalysisLimits& limits);

}  // namespace edgefarm::serving
