// NEON tiles for CPUs with the ARMv8.2 dot-product extension (Cortex-A55/A76 and later, Neoverse,
// Apple M1+). Compiled with -march=armv8.2-a+dotprod (engine/kernels.cmake) and only called after
// GetCpuFeatures() saw HWCAP_ASIMDDP. SDOT adds four int8 products straight into each int32
// lane, which is exactly the shared weight shape's 4-element lane (kernels_common.h).
#include "kernels_neon_impl.h"

namespace edgefarm::engine::kernels {
namespace {

struct SdotDot {
  static int32x4_t Half(int8x16_t w, int8x16_t x) { return vdotq_s32(vdupq_n_s32(0), w, x); }
  static int32x4_t Block(int8x16_t w0, int8x16_t x0, int8x16_t w1, int8x16_t x1) {
    return vdotq_s32(vdotq_s32(vdupq_n_s32(0), w0, x0), w1, x1);
  }
};

}  // namespace

TileFn NeonDotProdTile(TensorType type) {
  return NeonTileFor<SdotDot>(type);
}

}  // namespace edgefarm::engine::kernels
