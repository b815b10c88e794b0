// Builds for CPUs other than x86: the x86 entry points exist but offer no tiles, and the AVX-512
// activation quantisers (never selected there) forward to the scalar ones, whose bytes they are
// specified to reproduce.
#include "kernels_common.h"

namespace edgefarm::engine::kernels {

TileFn Avx2Tile(TensorType) {
  return nullptr;
}
TileFn Avx512Tile(TensorType) {
  return nullptr;
}
TileFn Avx512PackedTile(TensorType) {
  return nullptr;
}
void QuantizeActBlock32Avx512(const float* x, int64_t cols, uint8_t* dst) {
  QuantizeActBlock32(x, cols, dst);
}
void QuantizeActSuper256Avx512(const float* x, int64_t cols, uint8_t* dst) {
  QuantizeActSuper256(x, cols, dst);
}

}  // namespace edgefarm::engine::kernels
