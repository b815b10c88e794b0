// ARMv8.0 NEON tiles (every AArch64 CPU) and the choice between them and the dotprod variant.
//
// Without SDOT an int8 dot product is SMULL (8 x int8*int8 -> int16, exact: |product| <= 2^14),
// SADDLP/SADALP (neighbouring int16 pairs added into int32 lanes, so no int16 sum of products is
// ever formed and no input bytes can overflow; weights come from files) and one ADDP that folds
// pairs of pairs. That leaves lane i holding elements 4i..4i+3 (plus 16+4i..16+4i+3 for a whole
// block), exactly what SDOT leaves there, so the float steps that follow see the same int32x4
// and both variants give bit-identical results. The tiles themselves are in kernels_neon_impl.h.
//
// The activation quantisers here vectorise only the scans and the rounding of the scalar ones
// (kernels_scalar.cc) with the same float operations: FMAXNM ignores a NaN like std::max does
// when the NaN is the new element, FMUL is the same product, FCVTNS rounds to nearest even like
// std::nearbyint. Partial blocks (an int8 row that ends inside a block) take the scalar route.
#include <cmath>
#include <cstring>

#include "kernels_neon_impl.h"

namespace edgefarm::engine::kernels {
namespace {

struct MullDot {
  // Lane i of the result: products 4i..4i+3 of w0*x0, plus those of w1*x1.
  static int32x4_t Sum(int8x16_t w0, int8x16_t x0, const int8x16_t* w1, const int8x16_t* x1) {
    int32x4_t lo = vpaddlq_s16(vmull_s8(vget_low_s8(w0), vget_low_s8(x0)));
    int32x4_t hi = vpaddlq_s16(vmull_high_s8(w0, x0));
    if (w1 != nullptr) {
      lo = vpadalq_s16(lo, vmull_s8(vget_low_s8(*w1), vget_low_s8(*x1)));
      hi = vpadalq_s16(hi, vmull_high_s8(*w1, *x1));
    }
    return vpaddq_s32(lo, hi);
  }
  static int32x4_t Half(int8x16_t w, int8x16_t x) { return Sum(w, x, nullptr, nullptr); }
  static int32x4_t Block(int8x16_t w0, int8x16_t x0, int8x16_t w1, int8x16_t x1) {
    return Sum(w0, x0, &w1, &x1);
  }
};

// Eight f32x4 of one 32-element block.
struct Floats32 {
  float32x4_t v[8];
};

inline Floats32 Load32(const float* x) {
  Floats32 f;
  for (int i = 0; i < 8; ++i) f.v[i] = vld1q_f32(x + 4 * i);
  return f;
}

inline float AbsMax(const Floats32& f) {
  float32x4_t m = vabsq_f32(f.v[0]);
  for (int i = 1; i < 8; ++i) m = vmaxnmq_f32(m, vabsq_f32(f.v[i]));
  return vmaxnmvq_f32(m);
}

// round(f * scale) to int8, at most `hi` (the values are within [-127, 127] by construction).
inline void Round32(const Floats32& f, float scale, int32_t hi, int8_t* q) {
  for (int i = 0; i < 8; i += 2) {
    int32x4_t a = vcvtnq_s32_f32(vmulq_n_f32(f.v[i], scale));
    int32x4_t b = vcvtnq_s32_f32(vmulq_n_f32(f.v[i + 1], scale));
    a = vminq_s32(a, vdupq_n_s32(hi));
    b = vminq_s32(b, vdupq_n_s32(hi));
    const int16x8_t ab = vcombine_s16(vqmovn_s32(a), vqmovn_s32(b));
    vst1_s8(q + 4 * i, vqmovn_s16(ab));
  }
}

}  // namespace

void QuantizeActBlock32Neon(const float* x, int64_t cols, uint8_t* dst) {
  const int64_t padded = PadCols(cols);
  const int64_t full = cols / kBlock;
  if (full * kBlock != cols) {
    // Only int8 rows end inside a block; the scalar quantiser handles that (same bytes).
    QuantizeActBlock32(x, cols, dst);
    return;
  }
  auto* qs = reinterpret_cast<int8_t*>(dst);
  for (int64_t b = 0; b < padded / kBlock; ++b) {
    float d = 0.0f;
    if (b < full) {
      const Floats32 f = Load32(x + b * kBlock);
      d = AbsMax(f) / 127.0f;
      Round32(f, d != 0.0f ? 1.0f / d : 0.0f, 127, qs + b * kBlock);
    } else {
      std::memset(qs + b * kBlock, 0, kBlock);
    }
    StoreActBlockSums(dst, padded, b, HalfToFloat(FloatToHalf(d)));
  }
}

void QuantizeActSuper256Neon(const float* x, int64_t cols, uint8_t* dst) {
  const int64_t padded = PadCols(cols);
  auto* qs = reinterpret_cast<int8_t*>(dst);
  std::memset(dst, 0, ActTokenBytes(padded));
  for (int64_t s = 0; s < cols / kQK_K; ++s) {
    const float* xs = x + s * kQK_K;
    float32x4_t m = vdupq_n_f32(0.0f);
    for (int k = 0; k < kQK_K; k += 4) m = vmaxnmq_f32(m, vabsq_f32(vld1q_f32(xs + k)));
    const float amax = vmaxnmvq_f32(m);
    // As the scalar path: the first element of that magnitude gives the sign.
    float max = 0.0f;
    for (int k = 0; k < kQK_K; ++k) {
      if (std::fabs(xs[k]) == amax) {
        max = xs[k];
        break;
      }
    }
    const float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
    const float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
    for (int b = 0; b < kQK_K / kBlock; ++b) {
      Round32(Load32(xs + b * kBlock), iscale, 127, qs + s * kQK_K + b * kBlock);
      StoreActBlockSums(dst, padded, s * (kQK_K / kBlock) + b, d);
    }
  }
}

TileFn NeonTile(TensorType type, bool dotprod) {
  return dotprod ? NeonDotProdTile(type) : NeonTileFor<MullDot>(type);
}

}  // namespace edgefarm::engine::kernels
