// The AVX-512 activation quantisers must produce exactly the bytes of the scalar ones (both feed
// the same kernels, and the scalar path is the reference).
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "edgefarm/engine/matmul.h"
#include "kernels_common.h"

namespace edgefarm::engine::kernels {
namespace {

std::vector<float> RandomActivations(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(cols);
  for (float& v : x) v = normal(rng);
  if (cols > 40) {
    for (int k = 0; k < 32; ++k) x[k] = 0.0f;  // a block with scale 0
    x[35] = 0.5f;                              // a few exact values next to the random ones
    x[36] = -1.5f;
    x[37] = 127.0f;
  }
  return x;
}

template <typename Fn>
std::vector<uint8_t> Quantize(Fn fn, const std::vector<float>& x) {
  const int64_t cols = static_cast<int64_t>(x.size());
  std::vector<uint8_t> out(ActTokenBytes(PadCols(cols)), 0xa5);
  fn(x.data(), cols, out.data());
  return out;
}

TEST(QuantizeActTest, Avx512Block32MatchesScalarByteForByte) {
  if (!KernelPathSupported(KernelPath::kAvx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
  uint32_t seed = 1;
  for (int64_t cols : {1, 17, 32, 33, 64, 100, 256, 512, 768}) {
    const std::vector<float> x = RandomActivations(cols, seed++);
    EXPECT_EQ(Quantize(QuantizeActBlock32, x), Quantize(QuantizeActBlock32Avx512, x))
        << "cols " << cols;
  }
}

TEST(QuantizeActTest, Avx512Super256MatchesScalarByteForByte) {
  if (!KernelPathSupported(KernelPath::kAvx512)) GTEST_SKIP() << "no AVX-512 on this CPU";
  uint32_t seed = 100;
  for (int64_t cols : {256, 512, 768}) {
    std::vector<float> x = RandomActivations(cols, seed++);
    x[200] = 9.0f;  // the largest magnitude twice, with both signs: the first one wins
    x[201] = -9.0f;
    EXPECT_EQ(Quantize(QuantizeActSuper256, x), Quantize(QuantizeActSuper256Avx512, x))
        << "cols " << cols;
  }
}

}  // namespace
}  // namespace edgefarm::engine::kernels
