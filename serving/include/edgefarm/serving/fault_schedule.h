// Deterministic fault injection for the inference server (tests and staging rehearsals).
//
// The n-th request (0-based, in arrival order) fails when the schedule says so. Requests are
// grouped in blocks of 100; in each block exactly round(error_rate * 100) positions fail, chosen
// by a PRNG seeded from (seed, block). So every complete block of 100 requests carries exactly the
// configured error fraction, the failing positions look random, and the same seed always yields
// the same positions.
//
// Thread-safety: ShouldFail() is const and safe from many threads (each call derives its block's
// permutation from scratch; a block is 100 entries, cheap next to a completion).
#pragma once

#include <cstdint>

namespace edgefarm::serving {

struct FaultOptions {
  double error_rate = 0.0;  // 0..1, fraction of /v1/completions answered with 500
  int latency_ms = 0;       // added before every /v1/completions answer
  uint64_t seed = 1;
};

class FaultSchedule {
 public:
  static constexpr int kBlock = 100;
  FaultSchedule(double error_rate, uint64_t seed);
  bool ShouldFail(uint64_t request_index) const;
  int failures_per_block() const { return failures_per_block_; }

 private:
  int failures_per_block_;
  uint64_t seed_;
};

}  // namespace edgefarm::serving
