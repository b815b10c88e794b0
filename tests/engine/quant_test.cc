// Row quantisers: layouts, exact small cases worked by hand, and error bounds on random rows.
#include "edgefarm/engine/quant.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace edgefarm::engine {
namespace {

std::vector<float> RandomRow(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

std::vector<float> RoundTrip(TensorType type, const std::vector<float>& x) {
  const int64_t n = static_cast<int64_t>(x.size());
  std::vector<uint8_t> q(RowBytes(type, n));
  QuantizeRow(type, x.data(), q.data(), n);
  std::vector<float> y(x.size());
  DequantizeRow(type, q.data(), y.data(), n);
  return y;
}

double RelativeRmse(const std::vector<float>& x, const std::vector<float>& y) {
  double err = 0, ref = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    err += (x[i] - y[i]) * (x[i] - y[i]);
    ref += x[i] * x[i];
  }
  return std::sqrt(err / ref);
}

struct BoundCase {
  TensorType type;
  double max_rel_rmse;
};

class QuantRoundTripTest : public ::testing::TestWithParam<BoundCase> {};

// Expected bounds are loose multiples of each format's typical error on Gaussian weights.
TEST_P(QuantRoundTripTest, ErrorWithinFormatBound) {
  const BoundCase& c = GetParam();
  ASSERT_TRUE(CanQuantize(c.type));
  ASSERT_TRUE(CanDequantize(c.type));
  for (uint32_t seed = 1; seed <= 4; ++seed) {
    const std::vector<float> x = RandomRow(1024, seed, 0.02f * seed);
    EXPECT_LT(RelativeRmse(x, RoundTrip(c.type, x)), c.max_rel_rmse);
  }
}

INSTANTIATE_TEST_SUITE_P(
    AllTypes, QuantRoundTripTest,
    ::testing::Values(BoundCase{TensorType::kF32, 1e-9}, BoundCase{TensorType::kF16, 1e-3},
                      BoundCase{TensorType::kQ8_0, 0.01}, BoundCase{TensorType::kQ5_0, 0.06},
                      BoundCase{TensorType::kQ4_0, 0.12}, BoundCase{TensorType::kQ4_K, 0.10},
                      BoundCase{TensorType::kQ6_K, 0.03},
                      BoundCase{TensorType::kEfI8SymPerChannel, 0.02},
                      BoundCase{TensorType::kEfI4SymG128, 0.15},
                      BoundCase{TensorType::kEfI4AffineG64, 0.12}));

TEST(QuantTest, Q8_0BlockByHand) {
  std::vector<float> x(32, 0.0f);
  x[0] = 1.27f;
  x[1] = -0.5f;
  x[2] = 0.005f;  // 0.5 of a step: roundf rounds half away from zero
  BlockQ8_0 b;
  QuantizeRow(TensorType::kQ8_0, x.data(), &b, 32);
  EXPECT_EQ(b.d, Fp32ToFp16(0.01f));
  EXPECT_EQ(b.qs[0], 127);
  EXPECT_EQ(b.qs[1], -50);
  EXPECT_EQ(b.qs[3], 0);
}

TEST(QuantTest, Q4_0MapsLargestMagnitudeToMinusEight) {
  std::vector<float> x(32, 0.0f);
  x[5] = -2.0f;  // largest magnitude: d = -2 / -8 = 0.25
  x[20] = 1.0f;
  BlockQ4_0 b;
  QuantizeRow(TensorType::kQ4_0, x.data(), &b, 32);
  EXPECT_EQ(Fp16ToFp32(b.d), 0.25f);
  EXPECT_EQ(b.qs[5] & 0x0F, 0);  // -2 / 0.25 = -8 -> code 0
  EXPECT_EQ(b.qs[4] >> 4, 12);   // element 20: 1 / 0.25 = 4 -> code 12
  EXPECT_EQ(b.qs[0] & 0x0F, 8);  // zero -> code 8
}

TEST(QuantTest, Q5_0KeepsFifthBitsInQh) {
  std::vector<float> x(32, 0.0f);
  x[0] = 16.0f;   // largest: d = -1, code = -16 + 16 = 0
  x[1] = -15.0f;  // code 31: fifth bit set
  x[17] = -1.0f;  // code 17: fifth bit set (bit 17 of qh)
  BlockQ5_0 b;
  QuantizeRow(TensorType::kQ5_0, x.data(), &b, 32);
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  EXPECT_EQ(Fp16ToFp32(b.d), -1.0f);
  EXPECT_EQ(qh & 1u, 0u);
  EXPECT_EQ((qh >> 1) & 1u, 1u);
  EXPECT_EQ((qh >> 17) & 1u, 1u);
  std::vector<float> y(32);
  DequantizeRow(TensorType::kQ5_0, &b, y.data(), 32);
  EXPECT_EQ(y[0], 16.0f);
  EXPECT_EQ(y[1], -15.0f);
  EXPECT_EQ(y[17], -1.0f);
  EXPECT_EQ(y[2], 0.0f);
}

TEST(QuantTest, ZeroRowsStayZero) {
  const std::vector<float> zeros(256, 0.0f);
  for (TensorType t : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ4_K,
                       TensorType::kQ6_K, TensorType::kEfI8SymPerChannel, TensorType::kEfI4SymG128,
                       TensorType::kEfI4AffineG64}) {
    for (float v : RoundTrip(t, zeros)) ASSERT_EQ(v, 0.0f) << GetTypeTraits(t)->name;
  }
}

TEST(QuantTest, NonFiniteInputDoesNotCrash) {
  std::vector<float> x = RandomRow(256, 9);
  x[3] = std::numeric_limits<float>::quiet_NaN();
  x[100] = std::numeric_limits<float>::infinity();
  for (TensorType t : {TensorType::kQ8_0, TensorType::kQ4_0, TensorType::kQ5_0, TensorType::kQ4_K,
                       TensorType::kQ6_K, TensorType::kEfI8SymPerChannel, TensorType::kEfI4SymG128,
                       TensorType::kEfI4AffineG64}) {
    EXPECT_EQ(RoundTrip(t, x).size(), x.size());
  }
}

TEST(QuantTest, EfI8SymPerChannelLayout) {
  std::vector<float> x = {0.5f, -1.27f, 0.01f, 0.0f};
  std::vector<uint8_t> q(RowBytes(TensorType::kEfI8SymPerChannel, 4));
  ASSERT_EQ(q.size(), 8u);
  QuantizeRow(TensorType::kEfI8SymPerChannel, x.data(), q.data(), 4);
  float scale;
  std::memcpy(&scale, q.data(), 4);
  EXPECT_FLOAT_EQ(scale, 0.01f);
  EXPECT_EQ(static_cast<int8_t>(q[4]), 50);
  EXPECT_EQ(static_cast<int8_t>(q[5]), -127);
  EXPECT_EQ(static_cast<int8_t>(q[6]), 1);
  EXPECT_EQ(static_cast<int8_t>(q[7]), 0);
}

TEST(QuantTest, EfI4SymUsesNncfSignedScale) {
  std::vector<float> x(128, 0.0f);
  x[0] = 0.8f;   // largest magnitude positive: scale = -0.8 / 8 = -0.1, 0.8 -> code -8
  x[1] = -0.3f;  // -0.3 / -0.1 = 3
  x[70] = 0.1f;  // -1
  BlockEfI4SymG128 b;
  QuantizeRow(TensorType::kEfI4SymG128, x.data(), &b, 128);
  EXPECT_EQ(b.d, Fp32ToFp16(-0.1f));
  EXPECT_EQ(b.qs[0] & 0x0F, 0);   // -8 + 8
  EXPECT_EQ(b.qs[1] & 0x0F, 11);  // 3 + 8
  EXPECT_EQ(b.qs[6] >> 4, 7);     // element 70 -> high nibble of qs[6]: -1 + 8
  std::vector<float> y(128);
  DequantizeRow(TensorType::kEfI4SymG128, &b, y.data(), 128);
  EXPECT_NEAR(y[0], 0.8f, 1e-3);
  EXPECT_NEAR(y[1], -0.3f, 1e-3);
}

TEST(QuantTest, EfI4AffineUsesMinAsBias) {
  std::vector<float> x(64);
  for (int i = 0; i < 64; ++i) x[i] = -1.0f + (i % 16) * 0.25f;  // exactly on a 16-level grid
  BlockEfI4AffineG64 b;
  QuantizeRow(TensorType::kEfI4AffineG64, x.data(), &b, 64);
  EXPECT_EQ(Fp16ToFp32(b.scale), 0.25f);
  EXPECT_EQ(Fp16ToFp32(b.bias), -1.0f);
  std::vector<float> y(64);
  DequantizeRow(TensorType::kEfI4AffineG64, &b, y.data(), 64);
  EXPECT_EQ(y, x);
}

}  // namespace
}  // namespace edgefarm::engine
