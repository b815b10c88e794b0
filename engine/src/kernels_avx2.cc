// AVX2 + FMA + F16C tiles (no VNNI: the baseline for x86-64-v3 machines). Compiled with its own
// -m flags (engine/kernels.cmake), called only after GetCpuFeatures() saw them.
//
// Integer types go one 32-element block (one ymm) per step. Without VPDPBUSD the products use
// VPMADDUBSW, which multiplies unsigned by signed bytes and saturates pairs at int16: taking |q|
// as the unsigned side and moving q's sign onto the activation keeps every pair within
// 2 * 128 * 127 < 32768, so nothing saturates. Float types: R x T FMA accumulators over
// 8-element steps.
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>

#include "kernels_common.h"

namespace edgefarm::engine::kernels {
namespace {

struct Block {
  __m256i q;
  __m256 scale;
  __m256 bias;
};

inline float H(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return _cvtsh_ss(h);
}

inline __m256i LoadU(const void* p) {
  return _mm256_loadu_si256(static_cast<const __m256i*>(p));
}

inline __m256i Low4(__m256i v) {
  return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}
inline __m256i High4(__m256i v) {
  return Low4(_mm256_srli_epi16(v, 4));
}

// 16 packed bytes -> 32 elements [low nibbles, high nibbles].
inline __m256i Nibbles16(const uint8_t* qs) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
  const __m128i m = _mm_set1_epi8(0x0f);
  return _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(v, 4), m), _mm_and_si128(v, m));
}

// Bit j of bits -> 0xff in byte j.
inline __m256i BitsToBytes(uint32_t bits) {
  const __m256i idx = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2,
                                       2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  const __m256i spread = _mm256_shuffle_epi8(_mm256_set1_epi32(static_cast<int>(bits)), idx);
  const __m256i select = _mm256_set1_epi64x(static_cast<int64_t>(0x8040201008040201ull));
  return _mm256_cmpeq_epi8(_mm256_and_si256(spread, select), select);
}

inline Block Make(__m256i q, float scale, float bias = 0.0f) {
  return {q, _mm256_set1_ps(scale), _mm256_set1_ps(bias)};
}

struct Q8_0 {
  static constexpr bool kBias = false;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const uint8_t* p = row + b * sizeof(BlockQ8_0);
    return Make(LoadU(p + 2), H(p));
  }
};

struct Q4_0 {
  static constexpr bool kBias = false;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const uint8_t* p = row + b * sizeof(BlockQ4_0);
    return Make(_mm256_sub_epi8(Nibbles16(p + 2), _mm256_set1_epi8(8)), H(p));
  }
};

struct Q5_0 {
  static constexpr bool kBias = false;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockQ5_0*>(row) + b;
    uint32_t qh;
    std::memcpy(&qh, p->qh, 4);
    const __m256i high = _mm256_and_si256(BitsToBytes(qh), _mm256_set1_epi8(16));
    const __m256i q = _mm256_or_si256(Nibbles16(p->qs), high);
    return Make(_mm256_sub_epi8(q, _mm256_set1_epi8(16)), _cvtsh_ss(p->d));
  }
};

struct Q4_K {
  static constexpr bool kBias = true;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockQ4_K*>(row) + b / 8;
    const int j = static_cast<int>(b % 8);
    const __m256i v = LoadU(p->qs + 32 * (j / 2));
    int sc, m;
    Q4KScaleMin(p->scales, j, &sc, &m);
    return Make(j % 2 ? High4(v) : Low4(v), _cvtsh_ss(p->d) * static_cast<float>(sc),
                -_cvtsh_ss(p->dmin) * static_cast<float>(m));
  }
};

struct Q6_K {
  static constexpr bool kBias = false;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockQ6_K*>(row) + b / 8;
    const int h = static_cast<int>(b % 8) / 4, i = static_cast<int>(b % 4);
    const __m256i ql = LoadU(p->ql + 64 * h + (i & 1) * 32);
    const __m256i lo = i < 2 ? Low4(ql) : High4(ql);
    const __m256i qh = LoadU(p->qh + 32 * h);
    const __m256i bits =
        _mm256_and_si256(_mm256_srl_epi16(qh, _mm_cvtsi32_si128(2 * i)), _mm256_set1_epi8(3));
    const __m256i q =
        _mm256_sub_epi8(_mm256_or_si256(lo, _mm256_slli_epi16(bits, 4)), _mm256_set1_epi8(32));
    const float d = _cvtsh_ss(p->d);
    const int8_t* sc = p->scales + 8 * h + 2 * i;
    const __m256 scale = _mm256_set_m128(_mm_set1_ps(d * static_cast<float>(sc[1])),
                                         _mm_set1_ps(d * static_cast<float>(sc[0])));
    return {q, scale, _mm256_setzero_ps()};
  }
};

struct I8 {
  static constexpr bool kBias = false;
  static Block Load(const uint8_t* row, int64_t cols, int64_t b) {
    float scale;
    std::memcpy(&scale, row, sizeof(float));
    const uint8_t* qs = row + kEfI8RowHeaderBytes + b * kBlock;
    const int64_t left = cols - b * kBlock;
    if (left >= kBlock) return Make(LoadU(qs), scale);
    alignas(32) uint8_t tail[kBlock] = {};
    std::memcpy(tail, qs, static_cast<size_t>(left));
    return Make(LoadU(tail), scale);
  }
};

struct I4Sym {
  static constexpr bool kBias = false;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockEfI4SymG128*>(row) + b / 4;
    const int sub = static_cast<int>(b % 4);
    const __m256i v = LoadU(p->qs + (sub & 1) * 32);
    const __m256i n = sub < 2 ? Low4(v) : High4(v);
    return Make(_mm256_sub_epi8(n, _mm256_set1_epi8(8)), _cvtsh_ss(p->d));
  }
};

struct I4Affine {
  static constexpr bool kBias = true;
  static Block Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockEfI4AffineG64*>(row) + b / 2;
    const __m256i v = LoadU(p->qs);
    return Make(b % 2 ? High4(v) : Low4(v), _cvtsh_ss(p->scale), _cvtsh_ss(p->bias));
  }
};

inline float ReduceAdd(__m256 v) {
  const __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  const __m128 t = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(t, _mm_movehdup_ps(t)));
}

template <class U, int R, int T>
void IntMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  const int64_t padded = PadCols(a.cols);
  const int64_t blocks = (a.cols + kBlock - 1) / kBlock;
  const __m256i ones = _mm256_set1_epi16(1);
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  for (int64_t b = 0; b < blocks; ++b) {
    __m256i xa[T];
    __m256 xd[T], xb[T];
    for (int t = 0; t < T; ++t) {
      const ActView v = ActAt(act + t * a.act_stride, padded);
      xa[t] = LoadU(v.qs + kBlock * b);
      xd[t] = _mm256_loadu_ps(v.lane_d + 8 * b);
      if constexpr (U::kBias) xb[t] = _mm256_loadu_ps(v.lane_b + 8 * b);
    }
    for (int r = 0; r < R; ++r) {
      const Block u = U::Load(w + r * a.w_stride, a.cols, b);
      const __m256i aq = _mm256_abs_epi8(u.q);
      for (int t = 0; t < T; ++t) {
        const __m256i p16 = _mm256_maddubs_epi16(aq, _mm256_sign_epi8(xa[t], u.q));
        const __m256i p32 = _mm256_madd_epi16(p16, ones);
        acc[r][t] =
            _mm256_fmadd_ps(_mm256_cvtepi32_ps(p32), _mm256_mul_ps(u.scale, xd[t]), acc[r][t]);
        if constexpr (U::kBias) acc[r][t] = _mm256_fmadd_ps(u.bias, xb[t], acc[r][t]);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * a.ldo + r] = ReduceAdd(acc[r][t]);
  }
}

template <bool kHalf>
inline __m256 LoadW(const uint8_t* row, int64_t k) {
  if constexpr (kHalf) {
    return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(row + 2 * k)));
  } else {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(row + 4 * k));
  }
}

template <bool kHalf>
inline float LoadW1(const uint8_t* row, int64_t k) {
  if constexpr (kHalf) {
    return H(row + 2 * k);
  } else {
    float f;
    std::memcpy(&f, row + 4 * k, 4);
    return f;
  }
}

template <bool kHalf, int R, int T>
void FloatMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  __m256 acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = _mm256_setzero_ps();
  }
  const float* x[T];
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(act + t * a.act_stride);
  int64_t k = 0;
  for (; k + 8 <= a.cols; k += 8) {
    __m256 xv[T];
    for (int t = 0; t < T; ++t) xv[t] = _mm256_loadu_ps(x[t] + k);
    for (int r = 0; r < R; ++r) {
      const __m256 wv = LoadW<kHalf>(w + r * a.w_stride, k);
      for (int t = 0; t < T; ++t) acc[r][t] = _mm256_fmadd_ps(wv, xv[t], acc[r][t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = ReduceAdd(acc[r][t]);
      for (int64_t j = k; j < a.cols; ++j) s += LoadW1<kHalf>(w + r * a.w_stride, j) * x[t][j];
      out[t * a.ldo + r] = s;
    }
  }
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

// 16 ymm registers: 4 rows x 1 token for generation, 2 x 2 for prompts.
template <class U, int R, int T>
void RowSweep(const TileArgs& a, int64_t t0) {
  const uint8_t* act = a.act + t0 * a.act_stride;
  float* out = a.out + t0 * a.ldo;
  int64_t r = 0;
  for (; r + R <= a.rows; r += R) Micro<U, R, T>(a, a.w + r * a.w_stride, act, out + r);
  for (; r < a.rows; ++r) Micro<U, 1, T>(a, a.w + r * a.w_stride, act, out + r);
}

template <class U>
void Tile(const TileArgs& a) {
  int64_t t = 0;
  for (; t + 2 <= a.tokens; t += 2) RowSweep<U, 2, 2>(a, t);
  if (t < a.tokens) RowSweep<U, 4, 1>(a, t);
}

}  // namespace

TileFn Avx2Tile(TensorType type) {
  return TileForType<Q8_0, Q4_0, Q5_0, Q4_K, Q6_K, I8, I4Sym, I4Affine>(
      type, []<class U>() -> TileFn { return Tile<U>; });
}

}  // namespace edgefarm::engine::kernels
