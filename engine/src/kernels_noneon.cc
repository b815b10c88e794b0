// Builds for CPUs other than AArch64: no NEON tiles (KernelPathSupported(kNeon) is false); the
// NEON activation quantisers (never selected there) forward to the scalar ones.
#include "kernels_common.h"

namespace edgefarm::engine::kernels {

TileFn NeonTile(TensorType, bool) {
  return nullptr;
}
TileFn NeonDotProdTile(TensorType) {
  return nullptr;
}
void QuantizeActBlock32Neon(const float* x, int64_t cols, uint8_t* dst) {
  QuantizeActBlock32(x, cols, dst);
}
void QuantizeActSuper256Neon(const float* x, int64_t cols, uint8_t* dst) {
  QuantizeActSuper256(x, cols, dst);
}

}  // namespace edgefarm::engine::kernels
