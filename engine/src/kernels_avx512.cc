// AVX-512 (F/BW/VL/DQ + VNNI) tiles. Compiled with its own -m flags (engine/kernels.cmake) and
// only called after GetCpuFeatures() saw those features; nothing here runs at static init.
//
// Integer types: each step takes a "pair" of 32-element blocks (64 weights, one zmm). A per-type
// unpacker turns the pair into signed int8 weights q, a per-lane scale and a per-lane bias
// (kernels_common.h). VPDPBUSD multiplies unsigned by signed bytes, so activations are biased
// to unsigned (a + 128, an XOR with 0x80) and the excess 128 * sum(q) is removed by seeding the
// accumulator with its negation, which costs one VPDPBUSD per weight pair amortised over all the
// tokens of the micro-tile. The micro-tile is R rows x T tokens of independent accumulators, so
// each unpacked weight pair is used T times and each activation pair R times.
// Float types: R x T FMA accumulators over 16-element steps, F16 widened with VCVTPH2PS.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels_avx512_unpack.h"
#include "kernels_common.h"

namespace edgefarm::engine::kernels {
namespace {

using namespace avx512;  // NOLINT(google-build-using-namespace): this file's own unpackers

// Horizontal sums of four accumulators in one pass: [sum a, sum b, sum c, sum d]. Used for single
// rows too (Reduce4(a, a, a, a)) so a row's result does not depend on its micro-tile.
inline __m128 Reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  auto half = [](__m512 v) {
    return _mm256_add_ps(_mm512_castps512_ps256(v),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
  };
  const __m256 ab = _mm256_hadd_ps(half(a), half(b));
  const __m256 cd = _mm256_hadd_ps(half(c), half(d));
  const __m256 abcd = _mm256_hadd_ps(ab, cd);
  return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

template <int R, int T>
inline void StoreTile(__m512 (&acc)[R][T], float* out, int64_t ldo) {
  for (int t = 0; t < T; ++t) {
    if constexpr (R == 4) {
      _mm_storeu_ps(out + t * ldo, Reduce4(acc[0][t], acc[1][t], acc[2][t], acc[3][t]));
    } else {
      for (int r = 0; r < R; ++r) {
        out[t * ldo + r] = _mm_cvtss_f32(Reduce4(acc[r][t], acc[r][t], acc[r][t], acc[r][t]));
      }
    }
  }
}

template <class U, int R, int T>
void IntMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  constexpr bool kSigned = U::kOffsetShift == kSignedQ;
  const int64_t padded = PadCols(a.cols);
  const int64_t pairs = padded / kPair;
  const __m512i k80 = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < pairs; ++p) {
    __m512i xa[T], xn[T];
    __m512 xd[T], xb[T];
    for (int t = 0; t < T; ++t) {
      const ActView v = ActAt(act + t * a.act_stride, padded);
      xa[t] = _mm512_loadu_si512(v.qs + kPair * p);
      if constexpr (kSigned) xa[t] = _mm512_xor_si512(xa[t], k80);
      xd[t] = _mm512_loadu_ps(v.lane_d + 16 * p);
      if constexpr (U::kBias) xb[t] = _mm512_loadu_ps(v.lane_b + 16 * p);
      if constexpr (U::kOffsetShift > 0) {
        xn[t] = _mm512_slli_epi32(_mm512_loadu_si512(v.lane_nsum + 16 * p), U::kOffsetShift);
      } else {
        xn[t] = _mm512_setzero_si512();
      }
    }
    for (int r = 0; r < R; ++r) {
      const Pair u = U::Load(w + r * a.w_stride, a.cols, p);
      __m512i neg = _mm512_setzero_si512();
      if constexpr (kSigned) {
        neg = _mm512_sub_epi32(neg, _mm512_dpbusd_epi32(_mm512_setzero_si512(), k80, u.q));
      }
      for (int t = 0; t < T; ++t) {
        const __m512i s =
            kSigned ? _mm512_dpbusd_epi32(neg, xa[t], u.q) : _mm512_dpbusd_epi32(xn[t], u.q, xa[t]);
        acc[r][t] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(u.scale, xd[t]), acc[r][t]);
        if constexpr (U::kBias) acc[r][t] = _mm512_fmadd_ps(u.bias, xb[t], acc[r][t]);
      }
    }
  }
  StoreTile<R, T>(acc, out, a.ldo);
}

template <bool kHalf>
inline __m512 LoadW(const uint8_t* row, int64_t k, __mmask16 m) {
  if constexpr (kHalf) {
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, row + 2 * k));
  } else {
    return _mm512_maskz_loadu_ps(m, row + 4 * k);
  }
}

template <bool kHalf>
inline __m512 LoadW(const uint8_t* row, int64_t k) {
  if constexpr (kHalf) {
    return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + 2 * k)));
  } else {
    return _mm512_loadu_ps(row + 4 * k);
  }
}

template <bool kHalf, int R, int T>
void FloatMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  __m512 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm512_setzero_ps();
  }
  const float* x[T];
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(act + t * a.act_stride);
  int64_t k = 0;
  for (; k + 16 <= a.cols; k += 16) {
    __m512 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm512_loadu_ps(x[t] + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = LoadW<kHalf>(w + r * a.w_stride, k);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  if (k < a.cols) {
    const auto m = static_cast<__mmask16>((1u << (a.cols - k)) - 1);
    __m512 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm512_maskz_loadu_ps(m, x[t] + k);
    for (int r = 0; r < R; ++r) {
      const __m512 wv = LoadW<kHalf>(w + r * a.w_stride, k, m);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm512_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  StoreTile<R, T>(acc, out, a.ldo);
}

template <class U, int R, int T>
void Micro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  if constexpr (std::is_same_v<U, float>) {
    FloatMicro<false, R, T>(a, w, act, out);
  } else if constexpr (std::is_same_v<U, uint16_t>) {
    FloatMicro<true, R, T>(a, w, act, out);
  } else {
    IntMicro<U, R, T>(a, w, act, out);
  }
}

constexpr int kRows = 4;

template <class U, int T>
void RowSweep(const TileArgs& a, int64_t t0) {
  const uint8_t* act = a.act + t0 * a.act_stride;
  float* out = a.out + t0 * a.ldo;
  int64_t r = 0;
  for (; r + kRows <= a.rows; r += kRows) Micro<U, kRows, T>(a, a.w + r * a.w_stride, act, out + r);
  for (; r < a.rows; ++r) Micro<U, 1, T>(a, a.w + r * a.w_stride, act, out + r);
}

// Token blocking: 4 tokens per micro-tile (3 for types with a bias term, which need more
// registers per token).
template <class U>
void Tile(const TileArgs& a) {
  constexpr bool kBias = [] {
    if constexpr (std::is_class_v<U>) return U::kBias;
    return false;
  }();
  constexpr int kTokens = kBias ? 3 : 4;
  int64_t t = 0;
  for (; t + kTokens <= a.tokens; t += kTokens) RowSweep<U, kTokens>(a, t);
  switch (a.tokens - t) {
    case 1:
      return RowSweep<U, 1>(a, t);
    case 2:
      return RowSweep<U, 2>(a, t);
    case 3:
      if constexpr (kTokens > 3) return RowSweep<U, 3>(a, t);
      return;
    default:
      return;
  }
}

}  // namespace

namespace {

// Side arrays of one 32-block from its int8 values (same arithmetic as the scalar StoreBlock, so
// both quantisers produce identical bytes).
void StoreBlockSide(uint8_t* dst, int64_t padded, int64_t block, float d, __m256i q8) {
  const __m256i lanes = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), q8);
  uint8_t* tail = dst + 4 * padded;
  _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 3 * padded) + block,
                      _mm256_sub_epi32(_mm256_setzero_si256(), lanes));
  // [l0+l1, l2+l3, l4+l5, l6+l7] -> [sum l0..l3, sum l4..l7, ...]
  const __m128i pairs =
      _mm_hadd_epi32(_mm256_castsi256_si128(lanes), _mm256_extracti128_si256(lanes, 1));
  const __m128i quads = _mm_hadd_epi32(pairs, pairs);
  const int32_t s0 = _mm_cvtsi128_si32(quads), s1 = _mm_extract_epi32(quads, 1);
  const int sum = s0 + s1;
  auto* nsum16 = reinterpret_cast<int32_t*>(tail) + block * 2;
  nsum16[0] = -s0;
  nsum16[1] = -s1;
  reinterpret_cast<int32_t*>(tail + padded / 4)[block] = -sum;
  reinterpret_cast<float*>(tail + padded / 4 + padded / 8)[block] = d * static_cast<float>(sum);
  _mm256_storeu_ps(reinterpret_cast<float*>(dst + padded) + block * 8, _mm256_set1_ps(d));
  _mm256_storeu_ps(reinterpret_cast<float*>(dst + 2 * padded) + block * 8,
                   _mm256_set1_ps(d * static_cast<float>(sum) / 8.0f));
}

inline __mmask16 TailMask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xffff)
                 : (n <= 0 ? static_cast<__mmask16>(0) : static_cast<__mmask16>((1u << n) - 1));
}

inline __m256i PackInt8(__m512i a, __m512i b) {
  return _mm256_set_m128i(_mm512_cvtsepi32_epi8(b), _mm512_cvtsepi32_epi8(a));
}

}  // namespace

void QuantizeActBlock32Avx512(const float* x, int64_t cols, uint8_t* dst) {
  const int64_t padded = PadCols(cols);
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t b = 0; b < padded / kBlock; ++b) {
    const int64_t k = b * kBlock;
    const __m512 v0 = _mm512_maskz_loadu_ps(TailMask(cols - k), x + k);
    const __m512 v1 = _mm512_maskz_loadu_ps(TailMask(cols - k - 16), x + k + 16);
    const float amax = _mm512_reduce_max_ps(
        _mm512_max_ps(_mm512_and_ps(v0, abs_mask), _mm512_and_ps(v1, abs_mask)));
    const float d = amax / 127.0f;
    const __m512 id = _mm512_set1_ps(d != 0.0f ? 1.0f / d : 0.0f);
    // VCVTPS2DQ rounds to nearest even under the default MXCSR, as std::nearbyint does.
    const __m256i q8 = PackInt8(_mm512_cvtps_epi32(_mm512_mul_ps(v0, id)),
                                _mm512_cvtps_epi32(_mm512_mul_ps(v1, id)));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), q8);
    StoreBlockSide(dst, padded, b, HalfToFloat(FloatToHalf(d)), q8);
  }
}

void QuantizeActSuper256Avx512(const float* x, int64_t cols, uint8_t* dst) {
  const int64_t padded = PadCols(cols);
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(0x7fffffff));
  for (int64_t s = 0; s < cols / kQK_K; ++s) {
    const float* xs = x + s * kQK_K;
    __m512 m = _mm512_setzero_ps();
    for (int i = 0; i < kQK_K; i += 16)
      m = _mm512_max_ps(m, _mm512_and_ps(_mm512_loadu_ps(xs + i), abs_mask));
    const float amax = _mm512_reduce_max_ps(m);
    // The signed value of the first element of largest magnitude, as the scalar quantiser picks.
    float max = 0.0f;
    for (int i = 0; i < kQK_K && amax != 0.0f; i += 16) {
      const __mmask16 hit = _mm512_cmp_ps_mask(_mm512_and_ps(_mm512_loadu_ps(xs + i), abs_mask),
                                               _mm512_set1_ps(amax), _CMP_EQ_OQ);
      if (hit != 0) {
        max = xs[i + __builtin_ctz(hit)];
        break;
      }
    }
    const float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
    const float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
    const __m512 vs = _mm512_set1_ps(iscale);
    const __m512i top = _mm512_set1_epi32(127);
    for (int b = 0; b < kQK_K / kBlock; ++b) {
      const float* xb = xs + b * kBlock;
      const __m256i q8 = PackInt8(
          _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(xb))), top),
          _mm512_min_epi32(_mm512_cvtps_epi32(_mm512_mul_ps(vs, _mm512_loadu_ps(xb + 16))), top));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + s * kQK_K + b * kBlock), q8);
      StoreBlockSide(dst, padded, s * (kQK_K / kBlock) + b, d, q8);
    }
  }
}

TileFn Avx512Tile(TensorType type) {
  return TileForType<Q8_0, Q4_0, Q5_0, Q4_K, Q6_K, I8, I4Sym, I4Affine>(
      type, []<class U>() -> TileFn { return Tile<U>; });
}

}  // namespace edgefarm::engine::kernels
