// ggml's K-quants (Q4_K, Q6_K) without an importance matrix: super-blocks of 256 elements.
//
// Q4_K: eight sub-blocks of 32, each with a 6-bit scale and 6-bit min found by a weighted
// least-squares search over 21 candidate grids; the sub-block scales and mins are themselves
// quantised against the super-block's fp16 d and dmin, and the codes recomputed with those.
// Q6_K: sixteen sub-blocks of 16 with int8 scales from an RMSE search over 19 grids.
// The searches are reproduced operation by operation from ggml's reference (make_qkx2_quants,
// make_qx_quants), including its float accumulation order and its round-to-nearest trick, because
// a different rounding anywhere changes the chosen grid and the file's hash. Built with
// -ffp-contract=off.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "quant_internal.h"

namespace edgefarm::engine::internal {
namespace {

constexpr float kGroupMaxEps = 1e-15f;

// Round to nearest, ties to even, by letting a float addition do the rounding (valid for
// |v| < 2^22, which every caller guarantees); ggml uses the same addition.
int NearestInt(float v) {
  const float shifted = v + 12582912.0f;  // 1.5 * 2^23
  int32_t bits;
  std::memcpy(&bits, &shifted, sizeof(bits));
  return (bits & 0x007FFFFF) - 0x00400000;
}

// Weighted min/scale search for an unsigned grid 0..nmax (ggml make_qkx2_quants with use_mad
// false). Returns the scale; *neg_min receives -min (min <= 0).
float SearchScaleMin(int n, int nmax, const float* x, const float* w, uint8_t* codes,
                     float* neg_min, uint8_t* scratch, float rmin, float rdelta, int nstep) {
  float min = x[0];
  float max = x[0];
  float sum_w = w[0];
  float sum_x = sum_w * x[0];
  for (int i = 1; i < n; ++i) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sum_w += w[i];
    sum_x += w[i] * x[i];
  }
  if (min > 0) min = 0;
  if (max == min) {
    std::fill(codes, codes + n, 0);
    *neg_min = -min;
    return 0.0f;
  }
  float iscale = nmax / (max - min);
  float scale = 1 / iscale;
  float best_err = 0;
  for (int i = 0; i < n; ++i) {
    const int l = NearestInt(iscale * (x[i] - min));
    codes[i] = static_cast<uint8_t>(std::max(0, std::min(nmax, l)));
    float diff = scale * codes[i] + min - x[i];
    diff = diff * diff;
    best_err += w[i] * diff;
  }
  for (int is = 0; is <= nstep; ++is) {
    iscale = (rmin + rdelta * is + nmax) / (max - min);
    float sum_l = 0, sum_l2 = 0, sum_xl = 0;
    for (int i = 0; i < n; ++i) {
      int l = NearestInt(iscale * (x[i] - min));
      l = std::max(0, std::min(nmax, l));
      scratch[i] = static_cast<uint8_t>(l);
      sum_l += w[i] * l;
      sum_l2 += w[i] * l * l;
      sum_xl += w[i] * l * x[i];
    }
    const float det = sum_w * sum_l2 - sum_l * sum_l;
    if (!(det > 0)) continue;
    float this_scale = (sum_w * sum_xl - sum_x * sum_l) / det;
    float this_min = (sum_l2 * sum_x - sum_l * sum_xl) / det;
    if (this_min > 0) {
      this_min = 0;
      this_scale = sum_xl / sum_l2;
    }
    float err = 0;
    for (int i = 0; i < n; ++i) {
      float diff = this_scale * scratch[i] + this_min - x[i];
      diff = diff * diff;
      err += w[i] * diff;
    }
    if (err < best_err) {
      std::copy(scratch, scratch + n, codes);
      best_err = err;
      scale = this_scale;
      min = this_min;
    }
  }
  *neg_min = -min;
  return scale;
}

// Symmetric grid -nmax..nmax-1 with x*x weights (ggml make_qx_quants, rmse_type 1, no
// importance). codes receive l + nmax.
float SearchSymmetricScale(int n, int nmax, const float* x, int8_t* codes) {
  float max = 0;
  float amax = 0;
  for (int i = 0; i < n; ++i) {
    const float ax = std::fabs(x[i]);
    if (ax > amax) {
      amax = ax;
      max = x[i];
    }
  }
  if (amax < kGroupMaxEps) {
    std::fill(codes, codes + n, 0);
    return 0.0f;
  }
  auto code_of = [nmax](float v) { return std::max(-nmax, std::min(nmax - 1, NearestInt(v))); };
  float iscale = -nmax / max;
  float sumlx = 0;
  float suml2 = 0;
  for (int i = 0; i < n; ++i) {
    const int l = code_of(iscale * x[i]);
    codes[i] = static_cast<int8_t>(l + nmax);
    const float w = x[i] * x[i];
    sumlx += w * x[i] * l;
    suml2 += w * l * l;
  }
  float scale = suml2 != 0.0f ? sumlx / suml2 : 0.0f;
  float best = scale * sumlx;
  // The 18 candidate scales (is = -9..9 without 0) are summed side by side in vector lanes;
  // each lane's sums still run over i in order with ggml's expressions ((w*x)*l and (w*l)*l), so
  // every sum, and therefore the choice, is bit-identical to trying the candidates one by one.
  // Two padding lanes have scale 0: code 0, sums 0, never chosen.
  using V4f = float __attribute__((vector_size(16)));
  using V4i = int32_t __attribute__((vector_size(16)));
  constexpr int kCandidates = 18;
  constexpr int kVectors = 5;
  V4f cand_iscale[kVectors] = {};
  V4f cand_sumlx[kVectors] = {};
  V4f cand_suml2[kVectors] = {};
  for (int c = 0; c < kCandidates; ++c) {
    const int is = c < 9 ? c - 9 : c - 8;
    cand_iscale[c / 4][c % 4] = -(nmax + 0.1f * is) / max;
  }
  for (int i = 0; i < n; ++i) {
    const float w = x[i] * x[i];
    const float wx = w * x[i];
    for (int v = 0; v < kVectors; ++v) {
      // NearestInt and the clamp of code_of, lane by lane.
      const V4f shifted = cand_iscale[v] * x[i] + 12582912.0f;
      V4i l = ((V4i)shifted & 0x007FFFFF) - 0x00400000;  // vector casts reinterpret bits
      l = l < -nmax ? V4i{} - nmax : l;
      l = l > nmax - 1 ? V4i{} + (nmax - 1) : l;
      const V4f lf = __builtin_convertvector(l, V4f);
      cand_sumlx[v] += wx * lf;
      cand_suml2[v] += (w * lf) * lf;
    }
  }
  int winner = -1;
  for (int c = 0; c < kCandidates; ++c) {
    const float sumlx_c = cand_sumlx[c / 4][c % 4];
    const float suml2_c = cand_suml2[c / 4][c % 4];
    if (suml2_c > 0 && sumlx_c * sumlx_c > best * suml2_c) {
      winner = c;
      scale = sumlx_c / suml2_c;
      best = scale * sumlx_c;
    }
  }
  if (winner >= 0) {
    const float iscale_w = cand_iscale[winner / 4][winner % 4];
    for (int i = 0; i < n; ++i) {
      codes[i] = static_cast<int8_t>(nmax + code_of(iscale_w * x[i]));
    }
  }
  return scale;
}

// The 6-bit scale and min of sub-block j from Q4_K's 12-byte packing.
void UnpackScaleMin(int j, const uint8_t* q, uint8_t* sc, uint8_t* m) {
  if (j < 4) {
    *sc = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *sc = static_cast<uint8_t>((q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4));
    *m = static_cast<uint8_t>((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
  }
}

void PackScaleMins(const float* scales, const float* mins, float max_scale, float max_min,
                   uint8_t* packed) {
  const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
  const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
  for (int j = 0; j < kQK_K / 32; ++j) {
    // ggml stores nearest_int's result in a uint8_t before clamping; keep that truncation.
    const uint8_t ls =
        std::min<uint8_t>(63, static_cast<uint8_t>(NearestInt(inv_scale * scales[j])));
    const uint8_t lm = std::min<uint8_t>(63, static_cast<uint8_t>(NearestInt(inv_min * mins[j])));
    if (j < 4) {
      packed[j] = ls;
      packed[j + 4] = lm;
    } else {
      packed[j + 4] = static_cast<uint8_t>((ls & 0xF) | ((lm & 0xF) << 4));
      packed[j - 4] |= static_cast<uint8_t>((ls >> 4) << 6);
      packed[j] |= static_cast<uint8_t>((lm >> 4) << 6);
    }
  }
}

void QuantizeQ4_KBlock(const float* x, BlockQ4_K* y) {
  uint8_t codes[kQK_K];
  uint8_t scratch[32];
  float weights[32];
  float mins[kQK_K / 32];
  float scales[kQK_K / 32];
  float max_scale = 0;
  float max_min = 0;
  for (int j = 0; j < kQK_K / 32; ++j) {
    const float* xs = x + 32 * j;
    float sum_x2 = 0;
    for (int l = 0; l < 32; ++l) sum_x2 += xs[l] * xs[l];
    const float av_x = std::sqrt(sum_x2 / 32);
    for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(xs[l]);
    scales[j] =
        SearchScaleMin(32, 15, xs, weights, codes + 32 * j, &mins[j], scratch, -1.f, 0.1f, 20);
    if (scales[j] > max_scale) max_scale = scales[j];
    if (mins[j] > max_min) max_min = mins[j];
  }
  PackScaleMins(scales, mins, max_scale, max_min, y->scales);
  y->d = Fp32ToFp16(max_scale / 63.f);
  y->dmin = Fp32ToFp16(max_min / 63.f);
  for (int j = 0; j < kQK_K / 32; ++j) {
    uint8_t sc, m;
    UnpackScaleMin(j, y->scales, &sc, &m);
    const float d = Fp16ToFp32(y->d) * sc;
    if (d == 0.0f) continue;  // keep the search's codes, as ggml does
    const float dm = Fp16ToFp32(y->dmin) * m;
    for (int i = 0; i < 32; ++i) {
      const int l = NearestInt((x[32 * j + i] + dm) / d);
      codes[32 * j + i] = static_cast<uint8_t>(std::max(0, std::min(15, l)));
    }
  }
  uint8_t* q = y->qs;
  for (int j = 0; j < kQK_K; j += 64, q += 32) {
    for (int l = 0; l < 32; ++l)
      q[l] = static_cast<uint8_t>(codes[j + l] | (codes[j + l + 32] << 4));
  }
}

void QuantizeQ6_KBlock(const float* x, BlockQ6_K* y) {
  int8_t codes[kQK_K];
  float scales[kQK_K / 16];
  float max_scale = 0;
  float max_abs_scale = 0;
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    scales[ib] = SearchSymmetricScale(16, 32, x + 16 * ib, codes + 16 * ib);
    const float abs_scale = std::fabs(scales[ib]);
    if (abs_scale > max_abs_scale) {
      max_abs_scale = abs_scale;
      max_scale = scales[ib];
    }
  }
  if (max_abs_scale < kGroupMaxEps) {
    std::memset(y, 0, sizeof(*y));
    return;
  }
  const float iscale = -128.f / max_scale;
  y->d = Fp32ToFp16(1 / iscale);
  for (int ib = 0; ib < kQK_K / 16; ++ib) {
    y->scales[ib] = static_cast<int8_t>(std::min(127, NearestInt(iscale * scales[ib])));
  }
  for (int j = 0; j < kQK_K / 16; ++j) {
    const float d = Fp16ToFp32(y->d) * y->scales[j];
    if (d == 0.0f) continue;
    for (int i = 0; i < 16; ++i) {
      const int l = NearestInt(x[16 * j + i] / d);
      codes[16 * j + i] = static_cast<int8_t>(std::max(-32, std::min(31, l)) + 32);
    }
  }
  uint8_t* ql = y->ql;
  uint8_t* qh = y->qh;
  for (int j = 0; j < kQK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const int c0 = codes[j + l], c1 = codes[j + l + 32];
      const int c2 = codes[j + l + 64], c3 = codes[j + l + 96];
      ql[l] = static_cast<uint8_t>((c0 & 0xF) | ((c2 & 0xF) << 4));
      ql[l + 32] = static_cast<uint8_t>((c1 & 0xF) | ((c3 & 0xF) << 4));
      qh[l] =
          static_cast<uint8_t>((c0 >> 4) | ((c1 >> 4) << 2) | ((c2 >> 4) << 4) | ((c3 >> 4) << 6));
    }
  }
}

}  // namespace

void QuantizeQ4_K(const float* x, BlockQ4_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) QuantizeQ4_KBlock(x + b * kQK_K, y + b);
}

void QuantizeQ6_K(const float* x, BlockQ6_K* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) QuantizeQ6_KBlock(x + b * kQK_K, y + b);
}

void DequantizeQ4_K(const BlockQ4_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(x[b].d);
    const float min = Fp16ToFp32(x[b].dmin);
    const uint8_t* q = x[b].qs;
    for (int j = 0, is = 0; j < kQK_K; j += 64, q += 32, is += 2) {
      uint8_t sc, m;
      UnpackScaleMin(is, x[b].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      UnpackScaleMin(is + 1, x[b].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
    }
  }
}

void DequantizeQ6_K(const BlockQ6_K* x, float* y, int64_t n) {
  for (int64_t b = 0; b < n / kQK_K; ++b) {
    const float d = Fp16ToFp32(x[b].d);
    const uint8_t* ql = x[b].ql;
    const uint8_t* qh = x[b].qh;
    const int8_t* sc = x[b].scales;
    for (int j = 0; j < kQK_K; j += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

}  // namespace edgefarm::engine::internal
