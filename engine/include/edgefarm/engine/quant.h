// Row-level quantisation and dequantisation for every TensorType the engine writes.
//
// The ggml types follow ggml's reference quantisers (ggml-quants.c, no importance matrix) bit
// for bit, so a tensor quantised here hashes identically to llama-quantize's. The edgefarm types
// follow docs/formats.md. Thread-safety: pure functions.
#pragma once

#include <cstdint>

#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine {

// Whether QuantizeRow/DequantizeRow support `type`.
bool CanQuantize(TensorType type);
bool CanDequantize(TensorType type);

// Quantises n floats (n a multiple of the type's block size) into RowBytes(type, n) bytes.
void QuantizeRow(TensorType type, const float* src, void* dst, int64_t n);
// Inverse of QuantizeRow: RowBytes(type, n) bytes into n floats.
void DequantizeRow(TensorType type, const void* src, float* dst, int64_t n);

}  // namespace edgefarm::engine
