// The edgefarm recipes: OpenVINO/NNCF-style int8 per channel and int4 symmetric g128, MLX-style
// affine int4 g64. Exact rules in docs/formats.md.
//
// Rounding is round-half-to-even (numpy's and MLX's round). The int4 recipes quantise against the
// fp16-rounded scale (and bias) that is stored, so dequantisation uses exactly the grid the codes
// were chosen on. Non-finite weights never reach a float-to-int conversion: ClampedRound maps NaN
// to the lowest code.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "quant_internal.h"

namespace edgefarm::engine::internal {
namespace {

int ClampedRound(float v, int lo, int hi) {
  const float r = std::nearbyint(v);
  if (!(r >= static_cast<float>(lo))) return lo;
  if (r > static_cast<float>(hi)) return hi;
  return static_cast<int>(r);
}

// Element j of a group of g packed nibbles: low nibble of qs[j] for j < g/2, else the high
// nibble of qs[j - g/2] (the same order as ggml's Q4_0).
void PackNibbles(const uint8_t* codes, int g, uint8_t* qs) {
  for (int j = 0; j < g / 2; ++j) qs[j] = static_cast<uint8_t>(codes[j] | (codes[j + g / 2] << 4));
}

uint8_t Nibble(const uint8_t* qs, int g, int j) {
  return j < g / 2 ? (qs[j] & 0x0F) : (qs[j - g / 2] >> 4);
}

// Smallest and largest of x[0..n), n >= 1.
void MinMax(const float* x, int n, float* min, float* max) {
  *min = x[0];
  *max = x[0];
  for (int j = 1; j < n; ++j) {
    *min = std::min(*min, x[j]);
    *max = std::max(*max, x[j]);
  }
}

}  // namespace

void QuantizeEfI8SymPerChannel(const float* x, void* row, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) amax = std::max(amax, std::fabs(x[i]));
  const float scale = amax / 127.0f;
  auto* out = static_cast<uint8_t*>(row);
  std::memcpy(out, &scale, sizeof(scale));
  auto* q = reinterpret_cast<int8_t*>(out + kEfI8RowHeaderBytes);
  for (int64_t i = 0; i < n; ++i) {
    q[i] = scale > 0.0f ? static_cast<int8_t>(ClampedRound(x[i] / scale, -127, 127)) : 0;
  }
}

void DequantizeEfI8SymPerChannel(const void* row, float* y, int64_t n) {
  const auto* in = static_cast<const uint8_t*>(row);
  float scale;
  std::memcpy(&scale, in, sizeof(scale));
  const auto* q = reinterpret_cast<const int8_t*>(in + kEfI8RowHeaderBytes);
  for (int64_t i = 0; i < n; ++i) y[i] = scale * q[i];
}

void QuantizeEfI4SymG128(const float* x, BlockEfI4SymG128* y, int64_t n) {
  constexpr int kG = kGroupI4Sym;
  for (int64_t b = 0; b < n / kG; ++b, x += kG) {
    float min = 0, max = 0;
    MinMax(x, kG, &min, &max);
    // NNCF's signed scale: the extreme of larger magnitude lands on code -8.
    float scale = (std::fabs(min) >= max ? std::fabs(min) : -max) / 8.0f;
    if (!(std::fabs(scale) >= FLT_EPSILON)) scale = FLT_EPSILON;
    y[b].d = Fp32ToFp16(scale);
    const float d = Fp16ToFp32(y[b].d);
    uint8_t codes[kG];
    for (int j = 0; j < kG; ++j) codes[j] = static_cast<uint8_t>(ClampedRound(x[j] / d, -8, 7) + 8);
    PackNibbles(codes, kG, y[b].qs);
  }
}

void DequantizeEfI4SymG128(const BlockEfI4SymG128* x, float* y, int64_t n) {
  constexpr int kG = kGroupI4Sym;
  for (int64_t b = 0; b < n / kG; ++b, y += kG) {
    const float d = Fp16ToFp32(x[b].d);
    for (int j = 0; j < kG; ++j) y[j] = d * (Nibble(x[b].qs, kG, j) - 8);
  }
}

void QuantizeEfI4AffineG64(const float* x, BlockEfI4AffineG64* y, int64_t n) {
  constexpr int kG = kGroupI4Affine;
  for (int64_t b = 0; b < n / kG; ++b, x += kG) {
    float min = 0, max = 0;
    MinMax(x, kG, &min, &max);
    const float raw_scale = std::max((max - min) / 15.0f, 1e-7f);
    y[b].scale = Fp32ToFp16(raw_scale);
    y[b].bias = Fp32ToFp16(min);
    const float scale = Fp16ToFp32(y[b].scale);
    const float bias = Fp16ToFp32(y[b].bias);
    uint8_t codes[kG];
    for (int j = 0; j < kG; ++j) {
      codes[j] = static_cast<uint8_t>(ClampedRound((x[j] - bias) / scale, 0, 15));
    }
    PackNibbles(codes, kG, y[b].qs);
  }
}

void DequantizeEfI4AffineG64(const BlockEfI4AffineG64* x, float* y, int64_t n) {
  constexpr int kG = kGroupI4Affine;
  for (int64_t b = 0; b < n / kG; ++b, y += kG) {
    const float scale = Fp16ToFp32(x[b].scale);
    const float bias = Fp16ToFp32(x[b].bias);
    for (int j = 0; j < kG; ++j) y[j] = scale * Nibble(x[b].qs, kG, j) + bias;
  }
}

}  // namespace edgefarm::engine::internal
