// Builds for CPUs other than AArch64: no NEON tiles (KernelPathSupported(kNeon) is false).
#include "kernels_common.h"

namespace edgefarm::engine::kernels {

TileFn NeonTile(TensorType, bool) {
  return nullptr;
}
TileFn NeonDotProdTile(TensorType) {
  return nullptr;
}

}  // namespace edgefarm::engine::kernels
