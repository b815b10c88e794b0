// The per-position statistics of the evaluator: NLL, KL divergence, percentiles.
#include <algorithm>
#include <cmath>

#include "edgefarm/engine/evaluator.h"

namespace edgefarm::engine {
namespace {

// log(sum(exp(x))) with the max subtracted; returns the max through `max_out`.
double LogSumExp(std::span<const float> x, float* max_out) {
  const float max = *std::max_element(x.begin(), x.end());
  double sum = 0.0;
  for (float v : x) sum += std::exp(static_cast<double>(v - max));
  *max_out = max;
  return std::log(sum) + max;
}

}  // namespace

double NegLogLikelihood(std::span<const float> logits, int32_t target) {
  float max = 0;
  return LogSumExp(logits, &max) - logits[static_cast<size_t>(target)];
}

double KlDivergence(std::span<const float> base_logits, std::span<const float> logits) {
  float max_b = 0;
  float max_m = 0;
  const double lse_b = LogSumExp(base_logits, &max_b);
  const double lse_m = LogSumExp(logits, &max_m);
  double kld = 0.0;
  for (size_t i = 0; i < logits.size(); ++i) {
    const double log_pb = base_logits[i] - lse_b;
    const double log_pm = logits[i] - lse_m;
    kld += std::exp(log_pb) * (log_pb - log_pm);
  }
  return std::max(kld, 0.0);
}

double SortedPercentile(std::span<const float> sorted, double fraction) {
  if (sorted.empty()) return 0.0;
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  double p = fraction * static_cast<double>(sorted.size() - 1);
  const size_t ip = static_cast<size_t>(p);
  p -= static_cast<double>(ip);
  return (1 - p) * sorted[ip] + p * sorted[std::min(ip + 1, sorted.size() - 1)];
}

}  // namespace edgefarm::engine
