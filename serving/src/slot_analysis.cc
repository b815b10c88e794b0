#include "edgefarm/serving/slot_analysis.h"

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>

namespace edgefarm::serving {
namespace {

std::string Fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.4g", v);
  return buf;
}

}  // namespace

std::string_view VerdictName(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass:
      return "pass";
    case Verdict::kFail:
      return "fail";
    case Verdict::kInconclusive:
      return "inconclusive";
  }
  return "inconclusive";
}

std::string AnalysisResult::ToJson() const {
  nlohmann::json j{{"verdict", std::string(VerdictName(verdict))},
                   {"reasons", reasons},
                   {"measurements", measurements}};
  return j.dump();
}

AnalysisResult CompareSlots(const SlotStats& candidate, const SlotStats& live,
                            const AnalysisLimits& limits) {
  AnalysisResult r;
  r.measurements = {{"candidate_requests", static_cast<double>(candidate.requests)},
                    {"candidate_error_rate", candidate.error_rate},
                    {"candidate_p95_ms", candidate.p95_ms},
                    {"live_requests", static_cast<double>(live.requests)},
                    {"live_error_rate", live.error_rate},
                    {"live_p95_ms", live.p95_ms}};
  if (candidate.requests < limits.min_requests) {
    r.verdict = Verdict::kInconclusive;
    r.reasons.push_back("too few candidate requests: " + std::to_string(candidate.requests) +
                        " < " + std::to_string(limits.min_requests));
    return r;
  }
  bool failed = false;
  bool inconclusive = false;
  if (candidate.error_rate > limits.max_error_rate) {
    failed = true;
    r.reasons.push_back("candidate error rate " + Fmt(candidate.error_rate) + " above limit " +
                        Fmt(limits.max_error_rate));
  }
  if (live.requests < limits.min_requests) {
    inconclusive = true;
    r.reasons.push_back(
        "too few live requests for a latency baseline: " + std::to_string(live.requests) + " < " +
        std::to_string(limits.min_requests));
  } else {
    const double ratio = candidate.p95_ms / std::max(live.p95_ms, limits.p95_floor_ms);
    r.measurements["p95_ratio"] = ratio;
    if (ratio > limits.max_p95_ratio) {
      failed = true;
      r.reasons.push_back("candidate p95 " + Fmt(candidate.p95_ms) + " ms is " + Fmt(ratio) +
                          "x the live p95 " + Fmt(live.p95_ms) + " ms, above limit " +
                          Fmt(limits.max_p95_ratio) + "x");
    }
  }
  r.verdict = failed ? Verdict::kFail : inconclusive ? Verdict::kInconclusive : Verdict::kPass;
  return r;
}

}  // namespace edgefarm::serving
