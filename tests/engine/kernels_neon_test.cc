// The NEON kernels against the scalar reference, for every MatMul weight type, on random data
// and edge shapes (see Cases()). Both NEON variants are checked where the CPU allows: plain
// ARMv8.0 (SMULL/SADALP) always, SDOT when the CPU reports dotprod, and the two must agree bit for
// bit. Also: the NEON activation quantisers write the scalar ones' bytes, run-time detection
// (against what the runner says the emulated CPU has), MatMul's dispatch to kNeon (whose output
// must equal the tile's on scalar-quantised activations), 1 vs 2 threads, and empty shapes.
//
// AArch64 only. scripts/cross-arm64-test.sh cross-compiles it with the kernel sources and runs it
// under qemu-aarch64 as a Cortex-A53 (no dotprod) and as `max` (dotprod). It does not use
// GoogleTest: Debian has no arm64 gtest for the cross toolchain, and building one on every run
// would cost more than the test. Exit status: 0 all passed, 1 a check failed (each is printed).
//
// Usage: kernels_neon_test [--expect-dotprod=0|1]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu_features.h"
#include "edgefarm/engine/matmul.h"
#include "edgefarm/engine/thread_pool.h"
#include "kernels_common.h"
#include "kernels_test_util.h"

namespace edgefarm::engine {
namespace {

using testutil::Dequant;
using testutil::RandomRow;
using testutil::RowBytesOf;

int g_checks = 0;
int g_failures = 0;

void Check(bool ok, const std::string& what) {
  ++g_checks;
  if (ok) return;
  ++g_failures;
  if (g_failures <= 20) std::printf("FAIL: %s\n", what.c_str());
}

const char* Name(TensorType t) {
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

struct Problem {
  TensorType type;
  int64_t rows, cols, tokens;
  std::vector<uint8_t> weights;
  std::vector<float> x;
  WeightView View() const { return {type, rows, cols, weights.data(), RowBytesOf(type, cols)}; }
  std::string Label() const {
    return std::string(Name(type)) + " rows " + std::to_string(rows) + " cols " +
           std::to_string(cols) + " tokens " + std::to_string(tokens);
  }
};

Problem MakeProblem(TensorType type, int64_t rows, int64_t cols, int64_t tokens, uint32_t seed) {
  std::mt19937 rng(seed);
  Problem p{type, rows, cols, tokens, {}, {}};
  const size_t stride = RowBytesOf(type, cols);
  p.weights.resize(stride * rows + 1);
  for (int64_t r = 0; r < rows; ++r) RandomRow(type, cols, rng, p.weights.data() + r * stride);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  p.x.resize(tokens * cols);
  for (float& v : p.x) v = normal(rng);
  // Edge: a token whose first 32 activations are zero (an activation block with scale 0).
  if (tokens > 1) {
    std::fill(p.x.begin() + cols, p.x.begin() + cols + std::min<int64_t>(cols, 32), 0.0f);
  }
  return p;
}

// Per output: sum |w x| and the worst-case activation rounding (as kernels_matmul_test.cc), which
// scale the tolerance between two implementations of the same quantised dot product.
std::vector<double> ToleranceScale(const Problem& p) {
  const bool quantised = p.type != TensorType::kF32 && p.type != TensorType::kF16;
  const int64_t blk = p.type == TensorType::kQ4_K || p.type == TensorType::kQ6_K ? 256 : 32;
  std::vector<double> scale(p.rows * p.tokens);
  std::vector<float> w(p.cols);
  const size_t stride = RowBytesOf(p.type, p.cols);
  for (int64_t r = 0; r < p.rows; ++r) {
    Dequant(p.type, p.weights.data() + r * stride, p.cols, w.data());
    for (int64_t t = 0; t < p.tokens; ++t) {
      const float* x = &p.x[t * p.cols];
      double mag = 0, bound = 0;
      for (int64_t b0 = 0; b0 < p.cols; b0 += blk) {
        const int64_t b1 = std::min(p.cols, b0 + blk);
        double amax = 0;
        for (int64_t k = b0; k < b1; ++k) amax = std::max(amax, std::fabs(double(x[k])));
        for (int64_t k = b0; k < b1; ++k) {
          mag += std::fabs(double(w[k]) * x[k]);
          bound += std::fabs(double(w[k])) * amax / 127.0 * 0.6;
        }
      }
      scale[t * p.rows + r] = mag + (quantised ? bound : 0.0);
    }
  }
  return scale;
}

std::vector<float> RunMatMul(const Problem& p, KernelPath path, ThreadPool* pool = nullptr) {
  std::vector<float> out(p.rows * p.tokens, -12345.0f);
  MatMul(p.View(), p.x.data(), p.tokens, out.data(), pool, path);
  return out;
}

// One NEON tile over the whole problem (no MatMul split), with the activations quantised as
// MatMul quantises them on this path.
std::vector<float> RunNeonTile(const Problem& p, bool dotprod) {
  using kernels::ActKind;
  std::vector<float> out(p.rows * p.tokens, -12345.0f);
  kernels::TileArgs a{
      p.type, p.weights.data(), RowBytesOf(p.type, p.cols), p.cols, nullptr, 0, out.data(), p.rows,
      p.rows, p.tokens};
  const ActKind kind = kernels::ActKindFor(p.type);
  std::vector<uint8_t> act;
  if (kind == ActKind::kF32) {
    a.act = reinterpret_cast<const uint8_t*>(p.x.data());
    a.act_stride = static_cast<size_t>(p.cols) * sizeof(float);
  } else {
    const int64_t padded = kernels::PadCols(p.cols);
    a.act_stride = kernels::ActTokenBytes(padded);
    act.resize(a.act_stride * std::max<int64_t>(p.tokens, 1));
    auto* fn =
        kind == ActKind::kQ8Super256 ? kernels::QuantizeActSuper256 : kernels::QuantizeActBlock32;
    for (int64_t t = 0; t < p.tokens; ++t) {
      fn(p.x.data() + t * p.cols, p.cols, act.data() + t * a.act_stride);
    }
    a.act = act.data();
  }
  kernels::TileFn tile = kernels::NeonTile(p.type, dotprod);
  Check(tile != nullptr, p.Label() + ": no NEON tile");
  if (tile != nullptr) tile(a);
  return out;
}

struct TypeCase {
  TensorType type;
  std::vector<int64_t> cols;
};

// Edge sizes: one block, odd block counts, and for the per-element types lengths that are not
// multiples of the 4-float / 16-byte vector width (the tails).
const std::vector<TypeCase>& Cases() {
  static const std::vector<TypeCase> cases = {
      {TensorType::kF32, {1, 3, 4, 5, 7, 8, 33, 515}},
      {TensorType::kF16, {1, 2, 5, 9, 40, 515}},
      {TensorType::kQ8_0, {32, 96, 160, 512}},
      {TensorType::kQ4_0, {32, 96, 160, 512}},
      {TensorType::kQ5_0, {32, 96, 160, 512}},
      {TensorType::kQ4_K, {256, 768}},
      {TensorType::kQ6_K, {256, 768}},
      {TensorType::kEfI8SymPerChannel, {1, 7, 16, 31, 32, 33, 100, 512}},
      {TensorType::kEfI4SymG128, {128, 384}},
      {TensorType::kEfI4AffineG64, {64, 192, 320}},
  };
  return cases;
}

constexpr int64_t kRows[] = {1, 3, 4, 5, 67};
constexpr int64_t kTokens[] = {1, 2, 3, 17};

void CompareToScalar(const Problem& p, const std::vector<float>& scalar,
                     const std::vector<float>& neon, const std::vector<double>& scale,
                     const char* variant) {
  for (size_t i = 0; i < neon.size(); ++i) {
    const double tol = 1e-5 * scale[i] + 1e-6;
    if (!(std::fabs(double(neon[i]) - scalar[i]) <= tol)) {
      Check(false, p.Label() + " " + variant + " i " + std::to_string(i) + ": " +
                       std::to_string(neon[i]) + " vs scalar " + std::to_string(scalar[i]));
      return;
    }
  }
  Check(true, "");
}

void CheckProblem(const Problem& p, bool dotprod) {
  const std::vector<double> scale = ToleranceScale(p);
  const std::vector<float> scalar = RunMatMul(p, KernelPath::kScalar);
  const std::vector<float> plain = RunNeonTile(p, false);
  CompareToScalar(p, scalar, plain, scale, "neon");
  const std::vector<float> via_matmul = RunMatMul(p, KernelPath::kNeon);
  if (dotprod) {
    const std::vector<float> sdot = RunNeonTile(p, true);
    CompareToScalar(p, scalar, sdot, scale, "neon+dotprod");
    Check(sdot == plain, p.Label() + ": dotprod and plain NEON differ");
    Check(via_matmul == sdot, p.Label() + ": MatMul(kNeon) is not the dotprod tile");
  } else {
    Check(via_matmul == plain, p.Label() + ": MatMul(kNeon) is not the plain tile");
  }
}

void CheckAllTypes(bool dotprod) {
  uint32_t seed = 1;
  for (const TypeCase& c : Cases()) {
    const int before = g_failures;
    for (int64_t cols : c.cols) {
      for (int64_t rows : kRows) {
        for (int64_t tokens : kTokens)
          CheckProblem(MakeProblem(c.type, rows, cols, tokens, seed++), dotprod);
      }
    }
    std::printf("%-18s %s\n", Name(c.type), g_failures == before ? "ok" : "FAILED");
  }
}

// Extreme bytes: every Q8_0 / int8 weight -128 against activations that quantise to -127 (the
// largest products). An int16 sum of two such products would overflow; SADALP and SDOT must not.
void CheckExtremes(bool dotprod) {
  for (TensorType type : {TensorType::kQ8_0, TensorType::kEfI8SymPerChannel}) {
    Problem p = MakeProblem(type, 5, 512, 3, 4242);
    const size_t stride = RowBytesOf(type, p.cols);
    for (int64_t r = 0; r < p.rows; ++r) {
      uint8_t* row = p.weights.data() + r * stride;
      if (type == TensorType::kQ8_0) {
        for (int64_t b = 0; b < p.cols / 32; ++b) {
          auto* block = reinterpret_cast<BlockQ8_0*>(row) + b;
          block->d = kernels::FloatToHalf(0.01f);  // positive, so the exact sum is positive
          std::memset(block->qs, 0x80, 32);
        }
      } else {
        std::memset(row + kEfI8RowHeaderBytes, 0x80, p.cols);
      }
    }
    std::fill(p.x.begin(), p.x.end(), -1.0f);
    CheckProblem(p, dotprod);
    // Every product is (-128 w-scale) * (-127 x-scale) > 0: a wrapped int16 sum turns negative.
    const std::vector<float> out = RunNeonTile(p, false);
    Check(out[0] > 0.0f, std::string(Name(type)) + ": extreme products wrapped");
  }
}

void CheckEmptyShapes() {
  Problem p = MakeProblem(TensorType::kQ4_0, 4, 64, 2, 7);
  std::vector<float> out(8, 7.0f);
  MatMul(p.View(), p.x.data(), 0, out.data(), nullptr, KernelPath::kNeon);
  Check(std::all_of(out.begin(), out.end(), [](float v) { return v == 7.0f; }),
        "MatMul with 0 tokens wrote output");
  for (bool dotprod : {false, true}) {
    if (dotprod && !GetCpuFeatures().neon_dotprod) continue;
    kernels::TileArgs a{
        p.type, p.weights.data(), RowBytesOf(p.type, p.cols), p.cols, nullptr, 0, out.data(), 4, 0,
        0};
    kernels::NeonTile(p.type, dotprod)(a);  // 0 rows x 0 tokens: must touch nothing
    Check(out[0] == 7.0f, "a 0 x 0 NEON tile wrote output");
  }
  const WeightView zero_cols{TensorType::kF32, 2, 0, p.weights.data(), 0};
  MatMul(zero_cols, p.x.data(), 1, out.data(), nullptr, KernelPath::kNeon);
  Check(std::isnan(out[0]) && std::isnan(out[1]), "0 columns should yield NaN (unsupported)");
}

void CheckThreads() {
  ThreadPool two(2);
  for (TensorType type : {TensorType::kF16, TensorType::kQ4_0, TensorType::kQ6_K}) {
    for (int64_t tokens : {int64_t{1}, int64_t{70}}) {
      const Problem p = MakeProblem(type, 301, 256, tokens, 77);
      Check(RunMatMul(p, KernelPath::kNeon, nullptr) == RunMatMul(p, KernelPath::kNeon, &two),
            p.Label() + ": 1 and 2 threads differ");
    }
  }
}

std::vector<float> RandomActivations(int64_t cols, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 2.0f);
  std::vector<float> x(cols);
  for (float& v : x) v = normal(rng);
  if (cols >= 64) {
    std::fill(x.begin(), x.begin() + 32, 0.0f);  // a block with scale 0
    // A block whose scale is exactly 1, so these land on ties: round half to even.
    const float exact[] = {127.0f, 0.5f, -1.5f, 2.5f, -0.5f, 126.5f};
    std::copy(std::begin(exact), std::end(exact), x.begin() + 32);
    for (int64_t k = 32 + 6; k < 64; ++k) x[k] = std::fmod(x[k], 100.0f);
  }
  return x;
}

using QuantizeFn = void (*)(const float*, int64_t, uint8_t*);

std::vector<uint8_t> Quantize(QuantizeFn fn, const std::vector<float>& x) {
  const auto cols = static_cast<int64_t>(x.size());
  std::vector<uint8_t> out(kernels::ActTokenBytes(kernels::PadCols(cols)), 0xa5);
  fn(x.data(), cols, out.data());
  return out;
}

// The NEON activation quantisers must write the scalar ones' bytes, side arrays included.
void CheckActivationQuantisers() {
  uint32_t seed = 500;
  for (int64_t cols : {1, 17, 32, 33, 64, 100, 256, 512, 768}) {
    const std::vector<float> x = RandomActivations(cols, seed++);
    Check(Quantize(kernels::QuantizeActBlock32, x) == Quantize(kernels::QuantizeActBlock32Neon, x),
          "QuantizeActBlock32Neon differs from scalar, cols " + std::to_string(cols));
  }
  for (int64_t cols : {256, 512, 768}) {
    std::vector<float> x = RandomActivations(cols, seed++);
    if (cols == 512) {
      // The largest magnitude twice with opposite signs: the first one sets the sign.
      x[300] = -50.0f;
      x[400] = 50.0f;
    }
    Check(
        Quantize(kernels::QuantizeActSuper256, x) == Quantize(kernels::QuantizeActSuper256Neon, x),
        "QuantizeActSuper256Neon differs from scalar, cols " + std::to_string(cols));
  }
  std::printf("activation quantisers %s\n", g_failures == 0 ? "ok" : "checked (see failures)");
}

void CheckDetection(int expect_dotprod) {
  const CpuFeatures& f = GetCpuFeatures();
  Check(f.neon, "GetCpuFeatures().neon is false on AArch64");
  Check(KernelPathSupported(KernelPath::kNeon), "kNeon not supported");
  Check(DetectKernelPath() == KernelPath::kNeon, "auto path is not neon");
  if (expect_dotprod >= 0) {
    Check(f.neon_dotprod == (expect_dotprod == 1),
          "dotprod detected " + std::to_string(f.neon_dotprod) + ", expected " +
              std::to_string(expect_dotprod));
  }
  std::printf("cpu: neon %d, dotprod %d, auto path %s\n", f.neon, f.neon_dotprod,
              std::string(KernelPathName(DetectKernelPath())).c_str());
}

}  // namespace
}  // namespace edgefarm::engine

int main(int argc, char** argv) {
  using namespace edgefarm::engine;  // NOLINT(google-build-using-namespace): test main only
  int expect_dotprod = -1;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--expect-dotprod=0") {
      expect_dotprod = 0;
    } else if (arg == "--expect-dotprod=1") {
      expect_dotprod = 1;
    } else {
      std::fprintf(stderr, "usage: %s [--expect-dotprod=0|1]\n", argv[0]);
      return 2;
    }
  }
  CheckDetection(expect_dotprod);
  const bool dotprod = GetCpuFeatures().neon_dotprod;
  CheckActivationQuantisers();
  CheckAllTypes(dotprod);
  CheckExtremes(dotprod);
  CheckEmptyShapes();
  CheckThreads();
  std::printf("%d checks, %d failed (variants: plain%s)\n", g_checks, g_failures,
              dotprod ? " + dotprod" : "");
  return g_failures == 0 ? 0 : 1;
}
