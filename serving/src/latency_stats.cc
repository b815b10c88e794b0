#include "edgefarm/serving/latency_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace edgefarm::serving {

double Percentile(const std::vector<double>& sorted, double q) {
  if (sorted.empty()) return 0;
  const double clamped = std::clamp(q, 0.0, 1.0);
  // Nearest rank: ceil(q * n), 1-based; q = 0 maps to the smallest sample.
  const auto n = static_cast<double>(sorted.size());
  size_t rank = static_cast<size_t>(std::ceil(clamped * n));
  if (rank == 0) rank = 1;
  return sorted[std::min(rank, sorted.size()) - 1];
}

LatencySummary Summarize(std::vector<double> samples_ms) {
  LatencySummary s;
  if (samples_ms.empty()) return s;
  std::sort(samples_ms.begin(), samples_ms.end());
  s.p50_ms = Percentile(samples_ms, 0.50);
  s.p95_ms = Percentile(samples_ms, 0.95);
  s.p99_ms = Percentile(samples_ms, 0.99);
  s.max_ms = samples_ms.back();
  s.mean_ms = std::accumulate(samples_ms.begin(), samples_ms.end(), 0.0) /
              static_cast<double>(samples_ms.size());
  return s;
}

}  // namespace edgefarm::serving
