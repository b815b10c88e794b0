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
// kAuto resolves to DetectKernelPath(), which honours EDGEFARM_KERNEL_PATH=scalar|avx2|avx512|neon
// (read once) when the CPU supports it. kNeon uses the ARMv8.2 dot-product instructions where the
// CPU has them (chosen at run time) and plain ARMv8.0 NEON otherwise.

// Whether MatMul handles weights of `type` with rows of `cols` elements: F32, F16, Q8_0, Q4_0,
// Q5_0, Q4_K, Q6_K and the edgefarm types, cols a multiple of the type's block size.
bool MatMulSupports(TensorType type, int64_t cols);

// A weight matrix as stored in GGUF: `rows` rows of `cols` elements, row r at data + r*row_stride.
struct WeightView {
  TensorType type = TensorType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
  const uint8_t* data = nullptr;
  size_t row_stride = 0;  // RowBytes(type, cols)
};

// out[t * rows + r] = sum_k W[r][k] * x[t * cols + k] for t < n_tokens, r < rows.
// x and out are row-major f32. pool may be null (single-threaded). path kAuto picks the best; a
// path the CPU lacks falls back to the best supported one. Weights that !MatMulSupports() yield
// NaN outputs (callers check MatMulSupports when they load a model). Activations are quantised
// per call (Q8_0-style blocks of 32, or Q8_K-style per 256 for Q4_K/Q6_K) as llama.cpp does, so
// results differ from an f32 dot product by that quantisation error. Uses a thread-local scratch
// buffer of about 3 bytes per activation element.
void MatMul(const WeightView& w, const float* x, int64_t n_tokens, float* out, ThreadPool* pool,
            KernelPath path = KernelPath::kAuto);

}  // namespace edgefarm::engine
