// Token sampling: argmax, or temperature + top-k with a seeded PRNG so runs are reproducible.
#include <algorithm>
#include <cmath>

#include "edgefarm/engine/generate.h"

namespace edgefarm::engine {

Sampler::Sampler(float temperature, uint64_t seed, int top_k)
    : temperature_(temperature), top_k_(top_k), rng_(seed) {}

int32_t Sampler::Sample(std::span<const float> logits) {
  const int n = static_cast<int>(logits.size());
  if (temperature_ <= 0.0f) {
    return static_cast<int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  candidates_.resize(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    candidates_[static_cast<size_t>(i)] = {logits[static_cast<size_t>(i)], i};
  const int k = top_k_ > 0 ? std::min(top_k_, n) : n;
  std::partial_sort(candidates_.begin(), candidates_.begin() + k, candidates_.end(),
                    [](const auto& a, const auto& b) { return a.first > b.first; });
  const float max = candidates_[0].first;
  double sum = 0.0;
  for (int i = 0; i < k; ++i) {
    auto& c = candidates_[static_cast<size_t>(i)];
    c.first = std::exp((c.first - max) / temperature_);
    sum += c.first;
  }
  double r = std::uniform_real_distribution<double>(0.0, sum)(rng_);
  for (int i = 0; i < k; ++i) {
    r -= candidates_[static_cast<size_t>(i)].first;
    if (r <= 0.0) return candidates_[static_cast<size_t>(i)].second;
  }
  return candidates_[static_cast<size_t>(k - 1)].second;
}

}  // namespace edgefarm::engine
