// ARMv8.0 NEON tiles (every AArch64 CPU) and the choice between them and the dotprod variant.
//
// Without SDOT an int8 dot product is SMULL (8 x int8*int8 -> int16, exact: |product| <= 2^14),
// SADDLP/SADALP (neighbouring int16 pairs added into int32 lanes, so no int16 sum of products is
// ever formed and no input bytes can overflow; weights come from files) and one ADDP that folds
// pairs of pairs. That leaves lane i holding elements 4i..4i+3 (plus 16+4i..16+4i+3 for a whole
// block), exactly what SDOT leaves there, so the float steps that follow see the same int32x4
// and both variants give bit-identical results. The tiles themselves are in kernels_neon_impl.h.
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

}  // namespace

TileFn NeonTile(TensorType type, bool dotprod) {
  return dotprod ? NeonDotProdTile(type) : NeonTileFor<MullDot>(type);
}

}  // namespace edgefarm::engine::kernels
