// QuantizeRow / DequantizeRow: dispatch on the tensor type to the per-type row functions.
#include "edgefarm/engine/quant.h"

#include <cstring>

#include "quant_internal.h"

namespace edgefarm::engine {

bool CanQuantize(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
    case TensorType::kEfI8SymPerChannel:
    case TensorType::kEfI4SymG128:
    case TensorType::kEfI4AffineG64:
      return true;
    default:
      return false;
  }
}

bool CanDequantize(TensorType type) {
  return CanQuantize(type) || type == TensorType::kBF16;
}

void QuantizeRow(TensorType type, const float* src, void* dst, int64_t n) {
  using namespace internal;  // NOLINT(google-build-using-namespace): local dispatch table
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::kF16: {
      auto* out = static_cast<Fp16*>(dst);
      for (int64_t i = 0; i < n; ++i) out[i] = Fp32ToFp16(src[i]);
      return;
    }
    case TensorType::kQ8_0:
      return QuantizeQ8_0(src, static_cast<BlockQ8_0*>(dst), n);
    case TensorType::kQ4_0:
      return QuantizeQ4_0(src, static_cast<BlockQ4_0*>(dst), n);
    case TensorType::kQ5_0:
      return QuantizeQ5_0(src, static_cast<BlockQ5_0*>(dst), n);
    case TensorType::kQ4_K:
      return QuantizeQ4_K(src, static_cast<BlockQ4_K*>(dst), n);
    case TensorType::kQ6_K:
      return QuantizeQ6_K(src, static_cast<BlockQ6_K*>(dst), n);
    case TensorType::kEfI8SymPerChannel:
      return QuantizeEfI8SymPerChannel(src, dst, n);
    case TensorType::kEfI4SymG128:
      return QuantizeEfI4SymG128(src, static_cast<BlockEfI4SymG128*>(dst), n);
    case TensorType::kEfI4AffineG64:
      return QuantizeEfI4AffineG64(src, static_cast<BlockEfI4AffineG64*>(dst), n);
    default:
      return;  // callers check CanQuantize first
  }
}

void DequantizeRow(TensorType type, const void* src, float* dst, int64_t n) {
  using namespace internal;  // NOLINT(google-build-using-namespace)
  switch (type) {
    case TensorType::kF32:
      std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
      return;
    case TensorType::kF16: {
      const auto* in = static_cast<const Fp16*>(src);
      for (int64_t i = 0; i < n; ++i) dst[i] = Fp16ToFp32(in[i]);
      return;
    }
    case TensorType::kBF16: {
      const auto* in = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) {
        const uint32_t bits = static_cast<uint32_t>(in[i]) << 16;
        std::memcpy(&dst[i], &bits, sizeof(float));
      }
      return;
    }
    case TensorType::kQ8_0:
      return DequantizeQ8_0(static_cast<const BlockQ8_0*>(src), dst, n);
    case TensorType::kQ4_0:
      return DequantizeQ4_0(static_cast<const BlockQ4_0*>(src), dst, n);
    case TensorType::kQ5_0:
      return DequantizeQ5_0(static_cast<const BlockQ5_0*>(src), dst, n);
    case TensorType::kQ4_K:
      return DequantizeQ4_K(static_cast<const BlockQ4_K*>(src), dst, n);
    case TensorType::kQ6_K:
      return DequantizeQ6_K(static_cast<const BlockQ6_K*>(src), dst, n);
    case TensorType::kEfI8SymPerChannel:
      return DequantizeEfI8SymPerChannel(src, dst, n);
    case TensorType::kEfI4SymG128:
      return DequantizeEfI4SymG128(static_cast<const BlockEfI4SymG128*>(src), dst, n);
    case TensorType::kEfI4AffineG64:
      return DequantizeEfI4AffineG64(static_cast<const BlockEfI4AffineG64*>(src), dst, n);
    default:
      return;  // callers check CanDequantize first
  }
}

}  // namespace edgefarm::engine
