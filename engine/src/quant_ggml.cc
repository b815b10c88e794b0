// ggml's 32-element block quantisers (Q8_0, Q4_0, Q5_0) and their inverses.
//
// These reproduce the arithmetic of ggml's quantize_row_*_ref exactly, because llama.cpp model
// files are compared by hash: the same comparisons to pick the block's extreme (strictly greater
// magnitude wins, so the first extreme is kept), the same float operations in the same order,
// truncating conversions where ggml truncates and roundf where it rounds. This file is built with
// -ffp-contract=off so the compiler cannot fuse a multiply-add that ggml does in two roundings.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant_internal.h"

namespace edgefarm::engine::internal {
namespace {

// The value of largest magnitude in a block, keeping its sign; the first one wins on ties.
float SignedAbsMax(const float* x, int n) {
  float amax = 0.0f;
  float max = 0.0f;
  for (int j = 0; j < n; ++j) {
    if (amax < std::fabs(x[j])) {
      amax = std::fabs(x[j]);
      max = x[j];
    }
  }
  return max;
}

// ggml maps a scaled value v in [-m, m] to an unsigned code by truncating v + m + 0.5 and
// clamping above at 2m - 1. Non-finite input (NaN, infinite weights) gives 0 as ggml does on
// x86, without the undefined float-to-int conversion.
uint8_t TruncatedCode(float v, float offset, int max_code) {
  const float s = v + offset;
  if (!(s >= 0.0f)) return 0;
  if (s >= 127.0f) return static_cast<uint8_t>(max_code);
  return static_cast<uint8_t>(std::min(max_code, static_cast<int>(s)));
}

// roundf (half away from zero) into int8, as ggml's Q8_0 stores it.
int8_t RoundedCode(float v) {
  if (!(v == v)) return 0;
  const float r = std::round(v);
  return static_cast<int8_t>(std::clamp(r, -128.0f, 127.0f));
}

}  // namespace

void QuantizeQ8_0(const float* x, BlockQ8_0* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b, x += kQK8_0) {
    float amax = 0.0f;
    for (int j = 0; j < kQK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = Fp32ToFp16(d);
    for (int j = 0; j < kQK8_0; ++j) {
      y[b].qs[j] = RoundedCode(x[j] * id);
    }
  }
}

void QuantizeQ4_0(const float* x, BlockQ4_0* y, int64_t n) {
  constexpr int kHalf = kQK4_0 / 2;
  for (int64_t b = 0; b < n / kQK4_0; ++b, x += kQK4_0) {
    const float d = SignedAbsMax(x, kQK4_0) / -8;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = Fp32ToFp16(d);
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t lo = TruncatedCode(x[j] * id, 8.5f, 15);
      const uint8_t hi = TruncatedCode(x[kHalf + j] * id, 8.5f, 15);
      y[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void QuantizeQ5_0(const float* x, BlockQ5_0* y, int64_t n) {
  constexpr int kHalf = kQK5_0 / 2;
  for (int64_t b = 0; b < n / kQK5_0; ++b, x += kQK5_0) {
    const float d = SignedAbsMax(x, kQK5_0) / -16;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    y[b].d = Fp32ToFp16(d);
    uint32_t qh = 0;
    for (int j = 0; j < kHalf; ++j) {
      const uint8_t lo = TruncatedCode(x[j] * id, 16.5f, 31);
      const uint8_t hi = TruncatedCode(x[kHalf + j] * id, 16.5f, 31);
      y[b].qs[j] = static_cast<uint8_t>((lo & 0x0F) | ((hi & 0x0F) << 4));
      qh |= static_cast<uint32_t>((lo >> 4) & 1u) << j;
      qh |= static_cast<uint32_t>((hi >> 4) & 1u) << (j + kHalf);
    }
    std::memcpy(y[b].qh, &qh, sizeof(qh));  // little-endian, as ggml stores it
  }
}

void DequantizeQ8_0(const BlockQ8_0* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK8_0; ++b, y += kQK8_0) {
    const float d = Fp16ToFp32(x[b].d);
    for (int j = 0; j < kQK8_0; ++j) y[j] = x[b].qs[j] * d;
  }
}

void DequantizeQ4_0(const BlockQ4_0* x, float* y, int64_t n) {
  constexpr int kHalf = kQK4_0 / 2;
  for (int64_t b = 0; b < n / kQK4_0; ++b, y += kQK4_0) {
    const float d = Fp16ToFp32(x[b].d);
    for (int j = 0; j < kHalf; ++j) {
      y[j] = ((x[b].qs[j] & 0x0F) - 8) * d;
      y[j + kHalf] = ((x[b].qs[j] >> 4) - 8) * d;
    }
  }
}

void DequantizeQ5_0(const BlockQ5_0* x, float* y, int64_t n) {
  constexpr int kHalf = kQK5_0 / 2;
  for (int64_t b = 0; b < n / kQK5_0; ++b, y += kQK5_0) {
    const float d = Fp16ToFp32(x[b].d);
    uint32_t qh;
    std::memcpy(&qh, x[b].qh, sizeof(qh));
    for (int j = 0; j < kHalf; ++j) {
      const int lo = (x[b].qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
      const int hi = (x[b].qs[j] >> 4) | static_cast<int>(((qh >> (j + kHalf)) & 1u) << 4);
      y[j] = (lo - 16) * d;
      y[j + kHalf] = (hi - 16) * d;
    }
  }
}

}  // namespace edgefarm::engine::internal
