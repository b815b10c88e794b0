// Non-x86 builds: no AVX tiles (the NEON path is not written yet; see docs/kernels.md).
#include "kernels_common.h"

namespace edgefarm::engine::kernels {

TileFn Avx2Tile(TensorType) {
  return nullptr;
}
TileFn Avx512Tile(TensorType) {
  return nullptr;
}

}  // namespace edgefarm::engine::kernels
