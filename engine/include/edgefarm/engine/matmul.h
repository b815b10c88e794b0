// Matrix multiplication of quantised weights with f32 activations, and the kernel paths.
//
// Every type has a portable scalar reference and SIMD paths (AVX2, AVX-512/VNNI on x86; NEON on
// ARM) chosen at run time from the CPU's features. Tests compare every SIMD path against the
// scalar reference; benchmarks print both.
// Thread-safety: MatMul is reentrant; parallelism comes from the ThreadPool passed in.
#pragma once

#include <cstdint>
#include <string_view>

#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine {

class ThreadPool;

enum class KernelPath { kAuto, kScalar, kAvx2, kAvx512, kNeon };

std::string_view KernelPathName(KernelPath path);
// The best path this CPU supports.
KernelPath DetectKernelPath();
// Whether the CPU (and this build) supports `path`.
bool KernelPathSupported(KernelPath path);

// A weight matrix as stored in GGUF: `rows` rows of `cols` elements, row r at data + r*row_stride.
struct WeightView {
  TensorType type = TensorType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  size_t row_stride = 0;  // RowBytes(type, cols)
};

// out[t * rows + r] = sum_k W[r][k] * x[t * cols + k] for t < n_tokens, r < rows.
// x and out are row-major f32. pool may be null (single-threaded). path kAuto picks the best.
void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* out, ThreadPool* pool,
            KernelPath path = KernelPath::kAuto);

}  // namespace edgefarm::engine
