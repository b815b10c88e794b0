// Per-type row quantisers behind QuantizeRow/DequantizeRow (quant.cc dispatches to these).
// All take n, a multiple of the type's block size, and are pure functions.
#pragma once

#include <cstdint>

#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine::internal {

// ggml reference quantisers (quant_ggml.cc, quant_kquants.cc).
void QuantizeQ8_0(const float* x, BlockQ8_0* y, int64_t n);
void QuantizeQ4_0(const float* x, BlockQ4_0* y, int64_t n);
void QuantizeQ5_0(const float* x, BlockQ5_0* y, int64_t n);
void QuantizeQ4_K(const float* x, BlockQ4_K* y, int64_t n);
void QuantizeQ6_K(const float* x, BlockQ6_K* y, int64_t n);
void DequantizeQ8_0(const BlockQ8_0* x, float* y, int64_t n);
void DequantizeQ4_0(const BlockQ4_0* x, float* y, int64_t n);
void DequantizeQ5_0(const BlockQ5_0* x, float* y, int64_t n);
void DequantizeQ4_K(const BlockQ4_K* x, float* y, int64_t n);
void DequantizeQ6_K(const BlockQ6_K* x, float* y, int64_t n);

// edgefarm recipes (quant_edgefarm.cc; docs/formats.md).
void QuantizeEfI8SymPerChannel(const float* x, void* row, int64_t n);
void QuantizeEfI4SymG128(const float* x, BlockEfI4SymG128* y, int64_t n);
void QuantizeEfI4AffineG64(const float* x, BlockEfI4AffineG64* y, int64_t n);
void DequantizeEfI8SymPerChannel(const void* row, float* y, int64_t n);
void DequantizeEfI4SymG128(const BlockEfI4SymG128* x, float* y, int64_t n);
void DequantizeEfI4AffineG64(const BlockEfI4AffineG64* x, float* y, int64_t n);

}  // namespace edgefarm::engine::internal
