// The forward pass's own kernels (attention, SwiGLU) against plain double-precision references,
// in both builds (portable and AVX2+FMA), as the kernels' parity tests do for MatMul.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <vector>

#include "forward_attention.h"

namespace edgefarm::engine {
namespace {

struct Case {
  int head_dim;
  int nq;
  int first_pos;
};

// K transposed [hd][k_stride], V [n_ctx][hd], as the context stores them.
struct Cache {
  int n_ctx, hd, k_stride;
  std::vector<float> k_t, v;
};

Cache RandomCache(int n_ctx, int hd, std::mt19937& rng) {
  std::normal_distribution<float> d(0.0f, 1.0f);
  Cache c{n_ctx, hd, AttentionCacheStride(n_ctx), {}, {}};
  c.k_t.resize(static_cast<size_t>(hd) * c.k_stride);
  c.v.resize(static_cast<size_t>(c.k_stride) * hd);
  for (float& x : c.k_t) x = d(rng);
  for (float& x : c.v) x = d(rng);
  return c;
}

std::vector<double> Reference(const Cache& c, const float* q, int pos, float scale) {
  std::vector<double> s(static_cast<size_t>(pos) + 1);
  double max = -1e300;
  for (int j = 0; j <= pos; ++j) {
    double dot = 0;
    for (int e = 0; e < c.hd; ++e)
      dot += double{q[e]} * c.k_t[static_cast<size_t>(e) * c.k_stride + j];
    s[static_cast<size_t>(j)] = dot * scale;
    max = std::max(max, s[static_cast<size_t>(j)]);
  }
  double sum = 0;
  for (double& x : s) sum += (x = std::exp(x - max));
  std::vector<double> out(static_cast<size_t>(c.hd), 0.0);
  for (int j = 0; j <= pos; ++j) {
    for (int e = 0; e < c.hd; ++e) {
      out[static_cast<size_t>(e)] +=
          s[static_cast<size_t>(j)] / sum * c.v[static_cast<size_t>(j) * c.hd + e];
    }
  }
  return out;
}

class AttentionParityTest : public ::testing::TestWithParam<Case> {};

TEST_P(AttentionParityTest, BothBuildsMatchTheReference) {
  const Case& tc = GetParam();
  std::mt19937 rng(static_cast<uint32_t>(tc.head_dim * 1000 + tc.nq * 100 + tc.first_pos));
  const int n_ctx = 64;
  const Cache cache = RandomCache(n_ctx, tc.head_dim, rng);
  const int q_stride = tc.head_dim * 3;  // queries interleaved with other heads, as in the context
  std::vector<float> q(static_cast<size_t>(q_stride) * tc.nq);
  std::normal_distribution<float> d(0.0f, 1.0f);
  for (float& x : q) x = d(rng);
  AttentionParams p;
  p.head_dim = tc.head_dim;
  p.k_stride = cache.k_stride;
  p.q_stride = q_stride;
  p.scale = 1.0f / std::sqrt(static_cast<float>(tc.head_dim));
  std::vector<float> scratch(AttentionScratchFloats(n_ctx, tc.head_dim));
  for (bool simd : {false, true}) {
    p.simd = simd;
    std::vector<float> out(q.size(), -7.0f);
    AttendHead(p, q.data(), tc.nq, tc.first_pos, cache.k_t.data(), cache.v.data(), scratch.data(),
               out.data());
    for (int i = 0; i < tc.nq; ++i) {
      const std::vector<double> ref =
          Reference(cache, &q[static_cast<size_t>(i) * q_stride], tc.first_pos + i, p.scale);
      for (int e = 0; e < tc.head_dim; ++e) {
        ASSERT_NEAR(out[static_cast<size_t>(i) * q_stride + e], ref[static_cast<size_t>(e)], 2e-5)
            << "simd " << simd << " query " << i << " element " << e;
      }
      // Other heads' slots are untouched.
      EXPECT_EQ(out[static_cast<size_t>(i) * q_stride + tc.head_dim], -7.0f);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionParityTest,
                         ::testing::Values(Case{8, 1, 0}, Case{8, 4, 0}, Case{8, 3, 17},
                                           Case{32, 1, 50}, Case{32, 4, 31}, Case{64, 2, 9},
                                           Case{12, 4, 5}, Case{128, 4, 60}));

TEST(SwiGluTest, BothBuildsMatchTheReference) {
  std::mt19937 rng(3);
  std::normal_distribution<float> d(0.0f, 3.0f);
  for (size_t n : {1u, 7u, 8u, 9u, 100u}) {
    std::vector<float> g(n), u(n);
    for (size_t i = 0; i < n; ++i) g[i] = d(rng), u[i] = d(rng);
    if (n > 3) g[0] = -100.0f, g[1] = 100.0f, g[2] = 0.0f, g[3] = -1e-30f;
    for (bool simd : {false, true}) {
      std::vector<float> out = g;
      SwiGlu(out.data(), u.data(), n, simd);
      for (size_t i = 0; i < n; ++i) {
        const double ref = g[i] / (1.0 + std::exp(-double{g[i]})) * u[i];
        ASSERT_NEAR(out[i], ref, 1e-6 * (1 + std::fabs(ref))) << "n " << n << " i " << i;
      }
    }
  }
}

}  // namespace
}  // namespace edgefarm::engine
