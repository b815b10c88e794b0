// Each block's failing positions are the first k entries of a seeded Fisher-Yates shuffle of
// 0..99; we only need to know whether one position is among them, so the shuffle is replayed.
#include "edgefarm/serving/fault_schedule.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <random>

namespace edgefarm::serving {

FaultSchedule::FaultSchedule(double error_rate, uint64_t seed)
    : failures_per_block_(static_cast<int>(
          std::lround(std::clamp(error_rate, 0.0, 1.0) * static_cast<double>(kBlock)))),
      seed_(seed) {}

bool FaultSchedule::ShouldFail(uint64_t request_index) const {
  if (failures_per_block_ <= 0) return false;
  if (failures_per_block_ >= kBlock) return true;
  const uint64_t block = request_index / kBlock;
  const auto position = static_cast<int>(request_index % kBlock);
  // splitmix-style mixing so neighbouring seeds and blocks give unrelated streams.
  uint64_t z = seed_ + 0x9E3779B97F4A7C15ULL * (block + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  std::mt19937_64 rng(z ^ (z >> 31));
  std::array<int, kBlock> order;
  std::iota(order.begin(), order.end(), 0);
  for (int i = kBlock - 1; i > 0; --i) {
    const auto j = static_cast<int>(rng() % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  for (int i = 0; i < failures_per_block_; ++i) {
    if (order[static_cast<size_t>(i)] == position) return true;
  }
  return false;
}

}  // namespace edgefarm::serving
