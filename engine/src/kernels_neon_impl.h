// NEON tiles shared by kernels_neon.cc (ARMv8.0: SMULL + SADALP) and kernels_neon_dotprod.cc
// (ARMv8.2 SDOT). Only those two files include this header, each compiled with its own -march
// (engine/kernels.cmake), so everything here has internal linkage: the linker can never pick
// a copy built for dotprod to serve the baseline file.
//
// Same shape as the AVX2 tiles (kernels_avx2.cc). A block reader per integer type yields the 32
// weights of one block as two int8x16 halves, the scale of each half and the block bias: every
// type's lane scales (kernels_common.h) are constant over 16 elements, and only Q6_K's differ
// between the two halves. The `Dot` policy turns a half (or, when both halves share a scale, the
// whole block) into an exact int32x4 whose lanes sum to the integer dot product; the f32 part
// is then the scalar path's: integer sum times (weight scale * activation scale), plus bias
// times the activation's per-lane sums. So the plain and dotprod variants agree bit for bit,
// and both agree with the scalar path up to float summation order.
#pragma once

#include <arm_neon.h>

#include <cstring>
#include <type_traits>

#include "kernels_common.h"

namespace edgefarm::engine::kernels {
namespace {  // NOLINT(google-build-namespaces): internal linkage on purpose, see above.

struct NeonBlock {
  int8x16_t q0;  // elements 0..15
  int8x16_t q1;  // elements 16..31
  float s0;      // scale of q0
  float s1;      // scale of q1
  float bias;
};

// fp16 -> f32 with the FCVT instruction (exact, like HalfToFloat).
inline float NeonHalf(const void* p) {
  __fp16 h;
  std::memcpy(&h, p, 2);
  return static_cast<float>(h);
}

inline uint8x16_t NeonLoad(const uint8_t* p) {
  return vld1q_u8(p);
}
inline uint8x16_t Low4(uint8x16_t v) {
  return vandq_u8(v, vdupq_n_u8(0x0f));
}
inline uint8x16_t High4(uint8x16_t v) {
  return vshrq_n_u8(v, 4);
}
inline int8x16_t MinusK(uint8x16_t v, int8_t k) {
  return vsubq_s8(vreinterpretq_s8_u8(v), vdupq_n_s8(k));
}
inline int8x16_t AsS8(uint8x16_t v) {
  return vreinterpretq_s8_u8(v);
}

// Bit j of the low 16 bits -> 0xff in byte j.
inline uint8x16_t BitsToBytes16(uint32_t bits) {
  static constexpr uint8_t kSelect[16] = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
  const uint8x16_t spread = vcombine_u8(vdup_n_u8(static_cast<uint8_t>(bits & 0xff)),
                                        vdup_n_u8(static_cast<uint8_t>((bits >> 8) & 0xff)));
  return vtstq_u8(spread, vld1q_u8(kSelect));
}

inline NeonBlock Uniform(int8x16_t q0, int8x16_t q1, float scale, float bias = 0.0f) {
  return {q0, q1, scale, scale, bias};
}

struct NQ8_0 {
  static constexpr bool kBias = false, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const uint8_t* p = row + b * sizeof(BlockQ8_0);
    return Uniform(AsS8(NeonLoad(p + 2)), AsS8(NeonLoad(p + 18)), NeonHalf(p));
  }
};

struct NQ4_0 {
  static constexpr bool kBias = false, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const uint8_t* p = row + b * sizeof(BlockQ4_0);
    const uint8x16_t v = NeonLoad(p + 2);
    return Uniform(MinusK(Low4(v), 8), MinusK(High4(v), 8), NeonHalf(p));
  }
};

struct NQ5_0 {
  static constexpr bool kBias = false, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockQ5_0*>(row) + b;
    uint32_t qh;
    std::memcpy(&qh, p->qh, 4);
    const uint8x16_t v = NeonLoad(p->qs), bit4 = vdupq_n_u8(16);
    const uint8x16_t lo = vorrq_u8(Low4(v), vandq_u8(BitsToBytes16(qh), bit4));
    const uint8x16_t hi = vorrq_u8(High4(v), vandq_u8(BitsToBytes16(qh >> 16), bit4));
    return Uniform(MinusK(lo, 16), MinusK(hi, 16), NeonHalf(&p->d));
  }
};

struct NQ4_K {
  static constexpr bool kBias = true, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockQ4_K*>(row) + b / 8;
    const int j = static_cast<int>(b % 8);
    const uint8_t* qs = p->qs + 32 * (j / 2);
    uint8x16_t v0 = NeonLoad(qs), v1 = NeonLoad(qs + 16);
    v0 = j % 2 ? High4(v0) : Low4(v0);
    v1 = j % 2 ? High4(v1) : Low4(v1);
    int sc, m;
    Q4KScaleMin(p->scales, j, &sc, &m);
    return Uniform(AsS8(v0), AsS8(v1), NeonHalf(&p->d) * static_cast<float>(sc),
                   -NeonHalf(&p->dmin) * static_cast<float>(m));
  }
};

struct NQ6_K {
  static constexpr bool kBias = false, kUniform = false;
  static int8x16_t Half(const uint8_t* ql, const uint8_t* qh, int i) {
    const uint8x16_t l = NeonLoad(ql);
    const uint8x16_t lo = i < 2 ? Low4(l) : High4(l);
    const uint8x16_t bits =
        vandq_u8(vshlq_u8(NeonLoad(qh), vdupq_n_s8(static_cast<int8_t>(-2 * i))), vdupq_n_u8(3));
    return MinusK(vorrq_u8(lo, vshlq_n_u8(bits, 4)), 32);
  }
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockQ6_K*>(row) + b / 8;
    const int h = static_cast<int>(b % 8) / 4, i = static_cast<int>(b % 4);
    const uint8_t* ql = p->ql + 64 * h + (i & 1) * 32;
    const uint8_t* qh = p->qh + 32 * h;
    const float d = NeonHalf(&p->d);
    const int8_t* sc = p->scales + 8 * h + 2 * i;
    return {Half(ql, qh, i), Half(ql + 16, qh + 16, i), d * static_cast<float>(sc[0]),
            d * static_cast<float>(sc[1]), 0.0f};
  }
};

struct NI8 {
  static constexpr bool kBias = false, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t cols, int64_t b) {
    float scale;
    std::memcpy(&scale, row, sizeof(float));
    const uint8_t* qs = row + kEfI8RowHeaderBytes + b * kBlock;
    const int64_t left = cols - b * kBlock;
    if (left >= kBlock) return Uniform(AsS8(NeonLoad(qs)), AsS8(NeonLoad(qs + 16)), scale);
    // The row ends inside this block: never read past it; the padding weighs zero.
    uint8_t tail[kBlock] = {};
    std::memcpy(tail, qs, static_cast<size_t>(left));
    return Uniform(AsS8(NeonLoad(tail)), AsS8(NeonLoad(tail + 16)), scale);
  }
};

struct NI4Sym {
  static constexpr bool kBias = false, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockEfI4SymG128*>(row) + b / 4;
    const int sub = static_cast<int>(b % 4);
    const uint8_t* qs = p->qs + (sub & 1) * 32;
    uint8x16_t v0 = NeonLoad(qs), v1 = NeonLoad(qs + 16);
    v0 = sub < 2 ? Low4(v0) : High4(v0);
    v1 = sub < 2 ? Low4(v1) : High4(v1);
    return Uniform(MinusK(v0, 8), MinusK(v1, 8), NeonHalf(&p->d));
  }
};

struct NI4Affine {
  static constexpr bool kBias = true, kUniform = true;
  static NeonBlock Load(const uint8_t* row, int64_t, int64_t b) {
    const auto* p = reinterpret_cast<const BlockEfI4AffineG64*>(row) + b / 2;
    uint8x16_t v0 = NeonLoad(p->qs), v1 = NeonLoad(p->qs + 16);
    v0 = b % 2 ? High4(v0) : Low4(v0);
    v1 = b % 2 ? High4(v1) : Low4(v1);
    return Uniform(AsS8(v0), AsS8(v1), NeonHalf(&p->scale), NeonHalf(&p->bias));
  }
};

// R rows x T tokens of an integer type; one f32x4 accumulator per output.
template <class Dot, class U, int R, int T>
void NeonIntMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  const int64_t padded = PadCols(a.cols);
  const int64_t blocks = (a.cols + kBlock - 1) / kBlock;
  ActView x[T];
  for (int t = 0; t < T; ++t) x[t] = ActAt(act + t * a.act_stride, padded);
  float32x4_t acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0.0f);
  }
  for (int64_t b = 0; b < blocks; ++b) {
    int8x16_t x0[T], x1[T];
    float xd[T];
    float32x4_t xb[T];
    for (int t = 0; t < T; ++t) {
      x0[t] = vld1q_s8(x[t].qs + kBlock * b);
      x1[t] = vld1q_s8(x[t].qs + kBlock * b + 16);
      xd[t] = x[t].lane_d[8 * b];  // the 8 lanes of a block share the activation scale
      if constexpr (U::kBias) {
        xb[t] = vaddq_f32(vld1q_f32(x[t].lane_b + 8 * b), vld1q_f32(x[t].lane_b + 8 * b + 4));
      }
    }
    for (int r = 0; r < R; ++r) {
      const NeonBlock u = U::Load(w + r * a.w_stride, a.cols, b);
      for (int t = 0; t < T; ++t) {
        if constexpr (U::kUniform) {
          const int32x4_t i = Dot::Block(u.q0, x0[t], u.q1, x1[t]);
          acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(i), u.s0 * xd[t]);
        } else {
          const int32x4_t i0 = Dot::Half(u.q0, x0[t]), i1 = Dot::Half(u.q1, x1[t]);
          acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(i0), u.s0 * xd[t]);
          acc[r][t] = vfmaq_n_f32(acc[r][t], vcvtq_f32_s32(i1), u.s1 * xd[t]);
        }
        if constexpr (U::kBias) acc[r][t] = vfmaq_n_f32(acc[r][t], xb[t], u.bias);
      }
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) out[t * a.ldo + r] = vaddvq_f32(acc[r][t]);
  }
}

template <bool kHalf>
inline float32x4_t NeonLoadW(const uint8_t* row, int64_t k) {
  if constexpr (kHalf) {
    uint16_t h[4];
    std::memcpy(h, row + 2 * k, sizeof(h));
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h)));
  } else {
    float f[4];
    std::memcpy(f, row + 4 * k, sizeof(f));
    return vld1q_f32(f);
  }
}

template <bool kHalf>
inline float NeonLoadW1(const uint8_t* row, int64_t k) {
  if constexpr (kHalf) {
    return NeonHalf(row + 2 * k);
  } else {
    float f;
    std::memcpy(&f, row + 4 * k, 4);
    return f;
  }
}

// R rows x T tokens of F32/F16 weights against f32 activations, 4 elements per FMA.
template <bool kHalf, int R, int T>
void NeonFloatMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  const float* x[T];
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(act + t * a.act_stride);
  float32x4_t acc[R][T];
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) acc[r][t] = vdupq_n_f32(0.0f);
  }
  int64_t k = 0;
  for (; k + 4 <= a.cols; k += 4) {
    float32x4_t xv[T];
    for (int t = 0; t < T; ++t) xv[t] = vld1q_f32(x[t] + k);
    for (int r = 0; r < R; ++r) {
      const float32x4_t wv = NeonLoadW<kHalf>(w + r * a.w_stride, k);
      for (int t = 0; t < T; ++t) acc[r][t] = vfmaq_f32(acc[r][t], wv, xv[t]);
    }
  }
  for (int r = 0; r < R; ++r) {
    for (int t = 0; t < T; ++t) {
      float s = vaddvq_f32(acc[r][t]);
      for (int64_t j = k; j < a.cols; ++j) s += NeonLoadW1<kHalf>(w + r * a.w_stride, j) * x[t][j];
      out[t * a.ldo + r] = s;
    }
  }
}

template <class Dot, class U, int R, int T>
void NeonMicro(const TileArgs& a, const uint8_t* w, const uint8_t* act, float* out) {
  if constexpr (std::is_same_v<U, float>) {
    NeonFloatMicro<false, R, T>(a, w, act, out);
  } else if constexpr (std::is_same_v<U, uint16_t>) {
    NeonFloatMicro<true, R, T>(a, w, act, out);
  } else {
    NeonIntMicro<Dot, U, R, T>(a, w, act, out);
  }
}

template <class Dot, class U, int R, int T>
void NeonRowSweep(const TileArgs& a, int64_t t0) {
  const uint8_t* act = a.act + t0 * a.act_stride;
  float* out = a.out + t0 * a.ldo;
  int64_t r = 0;
  for (; r + R <= a.rows; r += R) NeonMicro<Dot, U, R, T>(a, a.w + r * a.w_stride, act, out + r);
  for (; r < a.rows; ++r) NeonMicro<Dot, U, 1, T>(a, a.w + r * a.w_stride, act, out + r);
}

// 32 q registers: 4 rows x 2 tokens for prompts (8 accumulators, 4 activation halves), 4 x 1 for
// generation and the odd token.
template <class Dot, class U>
void NeonTileImpl(const TileArgs& a) {
  int64_t t = 0;
  for (; t + 2 <= a.tokens; t += 2) NeonRowSweep<Dot, U, 4, 2>(a, t);
  if (t < a.tokens) NeonRowSweep<Dot, U, 4, 1>(a, t);
}

template <class Dot>
TileFn NeonTileFor(TensorType type) {
  return TileForType<NQ8_0, NQ4_0, NQ5_0, NQ4_K, NQ6_K, NI8, NI4Sym, NI4Affine>(
      type, []<class U>() -> TileFn { return NeonTileImpl<Dot, U>; });
}

}  // namespace
}  // namespace edgefarm::engine::kernels
