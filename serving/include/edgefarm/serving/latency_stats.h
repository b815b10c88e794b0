// Latency summaries shared by the router's analysis, the load generator and staging checks.
//
// Percentiles use the nearest-rank method (the smallest sample with at least q of the samples at
// or below it), so a reported p95 is always a latency that was actually observed.
// Thread-safety: free functions over caller-owned data.
#pragma once

#include <vector>

namespace edgefarm::serving {

struct LatencySummary {
  double p50_ms = 0;
  double p95_ms = 0;
  double p99_ms = 0;
  double max_ms = 0;
  double mean_ms = 0;
};

// Nearest-rank percentile of `sorted` (ascending); q in [0, 1]. 0 for an empty vector.
double Percentile(const std::vector<double>& sorted, double q);

// Sorts a copy of `samples_ms` and summarises it; all zeros when empty.
LatencySummary Summarize(std::vector<double> samples_ms);

}  // namespace edgefarm::serving
