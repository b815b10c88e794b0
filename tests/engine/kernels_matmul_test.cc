// MatMul for every weight type and kernel path: the scalar path against an independent float
// reference (within the activation-quantisation error bound), every SIMD path against the scalar
// path, edge shapes, and bit-identical results for 1 vs 2 threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "edgefarm/engine/matmul.h"
#include "edgefarm/engine/quant.h"
#include "edgefarm/engine/thread_pool.h"
#include "kernels_test_util.h"

namespace edgefarm::engine {
namespace {

using testutil::Dequant;
using testutil::RandomRow;
using testutil::RowBytesOf;

struct Problem {
  TensorType type;
  int64_t rows, cols, tokens;
  std::vector<uint8_t> weights;
  std::vector<float> x;
  WeightView View() const { return {type, rows, cols, weights.data(), RowBytesOf(type, cols)}; }
};

Problem MakeProblem(TensorType type, int64_t rows, int64_t cols, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  Problem p{type, rows, cols, tokens, {}, {}};
  const size_t stride = RowBytesOf(type, cols);
  p.weights.resize(stride * rows);
  for (int64_t r = 0; r < rows; ++r) RandomRow(type, cols, rng, p.weights.data() + r * stride);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  p.x.resize(tokens * cols);
  for (float& v : p.x) v = normal(rng);
  // Edge: a token whose first 32 activations are zero (a block with scale 0).
  if (tokens > 1)
    std::fill(p.x.begin() + cols, p.x.begin() + cols + std::min<int64_t>(cols, 32), 0.0f);
  return p;
}

bool QuantisesActivations(TensorType t) {
  return t != TensorType::kF32 && t != TensorType::kF16;
}
int64_t ActBlock(TensorType t) {
  return t == TensorType::kQ4_K || t == TensorType::kQ6_K ? 256 : 32;
}

// Float reference and an error bound: |sum w x| magnitude plus, for quantised activations, the
// worst case of the rounding (half a step of the block's scale, plus the scale's fp16 rounding).
struct Reference {
  std::vector<double> value, magnitude, quant_bound;
};

Reference ComputeReference(const Problem& p) {
  Reference ref;
  ref.value.resize(p.rows * p.tokens);
  ref.magnitude.resize(p.rows * p.tokens);
  ref.quant_bound.resize(p.rows * p.tokens);
  std::vector<float> w(p.cols);
  const size_t stride = RowBytesOf(p.type, p.cols);
  for (int64_t r = 0; r < p.rows; ++r) {
    Dequant(p.type, p.weights.data() + r * stride, p.cols, w.data());
    for (int64_t t = 0; t < p.tokens; ++t) {
      const float* x = &p.x[t * p.cols];
      double v = 0, mag = 0, bound = 0;
      const int64_t blk = ActBlock(p.type);
      for (int64_t b0 = 0; b0 < p.cols; b0 += blk) {
        const int64_t b1 = std::min(p.cols, b0 + blk);
        double amax = 0;
        for (int64_t k = b0; k < b1; ++k) amax = std::max(amax, std::fabs(double(x[k])));
        for (int64_t k = b0; k < b1; ++k) {
          v += double(w[k]) * x[k];
          mag += std::fabs(double(w[k]) * x[k]);
          bound += std::fabs(double(w[k])) * amax / 127.0 * 0.6;
        }
      }
      ref.value[t * p.rows + r] = v;
      ref.magnitude[t * p.rows + r] = mag;
      ref.quant_bound[t * p.rows + r] = QuantisesActivations(p.type) ? bound : 0.0;
    }
  }
  return ref;
}

std::vector<float> RunMatMul(const Problem& p, KernelPath path, ThreadPool* pool = nullptr) {
  std::vector<float> out(p.rows * p.tokens, -12345.0f);
  MatMul(p.View(), p.x.data(), p.tokens, out.data(), pool, path);
  return out;
}

struct TypeCase {
  TensorType type;
  std::vector<int64_t> cols;
};

std::string Name(TensorType t) {
  switch (t) {
    case TensorType::kF32:
      return "F32";
    case TensorType::kF16:
      return "F16";
    case TensorType::kQ8_0:
      return "Q8_0";
    case TensorType::kQ4_0:
      return "Q4_0";
    case TensorType::kQ5_0:
      return "Q5_0";
    case TensorType::kQ4_K:
      return "Q4_K";
    case TensorType::kQ6_K:
      return "Q6_K";
    case TensorType::kEfI8SymPerChannel:
      return "EfI8SymPerChannel";
    case TensorType::kEfI4SymG128:
      return "EfI4SymG128";
    case TensorType::kEfI4AffineG64:
      return "EfI4AffineG64";
    default:
      return "Other";
  }
}

const std::vector<TypeCase>& Cases() {
  static const std::vector<TypeCase> cases = {
      {TensorType::kF32, {1, 7, 33, 512}},    {TensorType::kF16, {1, 9, 40, 512}},
      {TensorType::kQ8_0, {32, 96, 512}},     {TensorType::kQ4_0, {32, 96, 512}},
      {TensorType::kQ5_0, {32, 96, 512}},     {TensorType::kQ4_K, {256, 768}},
      {TensorType::kQ6_K, {256, 768}},        {TensorType::kEfI8SymPerChannel, {1, 33, 100, 512}},
      {TensorType::kEfI4SymG128, {128, 384}}, {TensorType::kEfI4AffineG64, {64, 192}},
  };
  return cases;
}

class MatMulTypeTest : public ::testing::TestWithParam<TypeCase> {};

constexpr int64_t kRows[] = {1, 3, 7, 67};
constexpr int64_t kTokens[] = {1, 3, 17};

TEST_P(MatMulTypeTest, ScalarMatchesFloatReference) {
  uint32_t seed = 1;
  for (int64_t cols : GetParam().cols) {
    for (int64_t rows : kRows) {
      for (int64_t tokens : kTokens) {
        const Problem p = MakeProblem(GetParam().type, rows, cols, tokens, seed++);
        const Reference ref = ComputeReference(p);
        const std::vector<float> out = RunMatMul(p, KernelPath::kScalar);
        for (size_t i = 0; i < out.size(); ++i) {
          const double tol = ref.quant_bound[i] + 1e-4 * ref.magnitude[i] + 1e-6;
          ASSERT_NEAR(out[i], ref.value[i], tol)
              << "rows " << rows << " cols " << cols << " tokens " << tokens << " i " << i;
        }
      }
    }
  }
}

void ExpectPathMatchesScalar(const TypeCase& c, KernelPath path) {
  if (!KernelPathSupported(path)) {
    GTEST_SKIP() << KernelPathName(path) << " not supported by this CPU";
  }
  uint32_t seed = 1000;
  for (int64_t cols : c.cols) {
    for (int64_t rows : kRows) {
      for (int64_t tokens : kTokens) {
        const Problem p = MakeProblem(c.type, rows, cols, tokens, seed++);
        const Reference ref = ComputeReference(p);
        const std::vector<float> scalar = RunMatMul(p, KernelPath::kScalar);
        const std::vector<float> simd = RunMatMul(p, path);
        for (size_t i = 0; i < simd.size(); ++i) {
          const double tol = 1e-5 * (ref.magnitude[i] + ref.quant_bound[i]) + 1e-6;
          ASSERT_NEAR(simd[i], scalar[i], tol)
              << KernelPathName(path) << " rows " << rows << " cols " << cols << " tokens "
              << tokens << " i " << i;
        }
      }
    }
  }
}

TEST_P(MatMulTypeTest, Avx2MatchesScalar) {
  ExpectPathMatchesScalar(GetParam(), KernelPath::kAvx2);
}

TEST_P(MatMulTypeTest, Avx512MatchesScalar) {
  ExpectPathMatchesScalar(GetParam(), KernelPath::kAvx512);
}

TEST_P(MatMulTypeTest, OneAndTwoThreadsGiveIdenticalResults) {
  ThreadPool one(1), two(2);
  const int64_t cols = GetParam().cols.back();
  for (int64_t tokens : {int64_t{1}, int64_t{70}}) {
    const Problem p = MakeProblem(GetParam().type, 301, cols, tokens, 77);
    for (KernelPath path : {KernelPath::kScalar, KernelPath::kAuto}) {
      EXPECT_EQ(RunMatMul(p, path, &one), RunMatMul(p, path, &two))
          << KernelPathName(path) << " " << tokens;
      EXPECT_EQ(RunMatMul(p, path, nullptr), RunMatMul(p, path, &two))
          << KernelPathName(path) << " " << tokens;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatMulTypeTest, ::testing::ValuesIn(Cases()),
                         [](const auto& info) { return Name(info.param.type); });

// The block layouts the kernels (and this test's Dequant) assume must be the ones the formats
// code writes: dequantise rows produced by QuantizeRow both ways and require identical floats,
// then check MatMul on those rows against the float reference.
TEST_P(MatMulTypeTest, LayoutsMatchTheFormatsQuantiser) {
  const TensorType type = GetParam().type;
  ASSERT_TRUE(CanQuantize(type));
  const int64_t cols = GetParam().cols.back(), rows = 37, tokens = 5;
  std::mt19937 rng(99);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  Problem p{type, rows, cols, tokens, {}, {}};
  const size_t stride = RowBytesOf(type, cols);
  ASSERT_EQ(stride, RowBytes(type, cols));
  p.weights.resize(stride * rows);
  std::vector<float> src(cols), theirs(cols), ours(cols);
  for (int64_t r = 0; r < rows; ++r) {
    for (float& v : src) v = normal(rng) * (1.0f + static_cast<float>(r % 5));
    QuantizeRow(type, src.data(), p.weights.data() + r * stride, cols);
    DequantizeRow(type, p.weights.data() + r * stride, theirs.data(), cols);
    Dequant(type, p.weights.data() + r * stride, cols, ours.data());
    ASSERT_EQ(ours, theirs) << "row " << r;
  }
  p.x.resize(tokens * cols);
  for (float& v : p.x) v = normal(rng);
  const Reference ref = ComputeReference(p);
  for (KernelPath path : {KernelPath::kScalar, KernelPath::kAuto}) {
    const std::vector<float> out = RunMatMul(p, path);
    for (size_t i = 0; i < out.size(); ++i) {
      ASSERT_NEAR(out[i], ref.value[i], ref.quant_bound[i] + 1e-4 * ref.magnitude[i] + 1e-6)
          << KernelPathName(path) << " i " << i;
    }
  }
}

TEST(MatMulTest, ReportsSupportedTypesAndShapes) {
  EXPECT_TRUE(MatMulSupports(TensorType::kQ8_0, 64));
  EXPECT_FALSE(MatMulSupports(TensorType::kQ8_0, 48));
  EXPECT_FALSE(MatMulSupports(TensorType::kQ4_K, 128));
  EXPECT_TRUE(MatMulSupports(TensorType::kEfI8SymPerChannel, 17));
  EXPECT_FALSE(MatMulSupports(TensorType::kQ4_1, 64));
  EXPECT_FALSE(MatMulSupports(TensorType::kF32, 0));
}

TEST(MatMulTest, UnsupportedWeightsYieldNaNInsteadOfReadingGarbage) {
  std::vector<uint8_t> w(20 * 4);
  const WeightView view{TensorType::kQ4_1, 4, 32, w.data(), 20};
  std::vector<float> x(32, 1.0f), out(4, 0.0f);
  MatMul(view, x.data(), 1, out.data(), nullptr);
  for (float v : out) EXPECT_TRUE(std::isnan(v));
}

TEST(MatMulTest, PathsHaveNamesAndScalarIsAlwaysSupported) {
  EXPECT_EQ(KernelPathName(KernelPath::kScalar), "scalar");
  EXPECT_EQ(KernelPathName(KernelPath::kAvx512), "avx512");
  EXPECT_TRUE(KernelPathSupported(KernelPath::kScalar));
  EXPECT_TRUE(KernelPathSupported(DetectKernelPath()));
  EXPECT_NE(DetectKernelPath(), KernelPath::kAuto);
}

TEST(MatMulTest, UnsupportedPathFallsBackToAWorkingOne) {
  const Problem p = MakeProblem(TensorType::kQ8_0, 5, 64, 2, 3);
  EXPECT_EQ(RunMatMul(p, KernelPath::kNeon), RunMatMul(p, DetectKernelPath()));
}

}  // namespace
}  // namespace edgefarm::engine
