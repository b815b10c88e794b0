// Type traits and IEEE binary16 conversion.
//
// The fp16 conversions are plain integer code (no F16C), rounding to nearest even exactly as
// ggml's GGML_FP32_TO_FP16 does on every platform, so quantised blocks match llama.cpp's bit for
// bit wherever they are computed. NaN becomes the canonical quiet NaN 0x7E00 (with its sign), as
// ggml's portable path does.
#include "edgefarm/engine/tensor_types.h"

#include <array>
#include <cstring>
#include <limits>

namespace edgefarm::engine {
namespace {

struct TypeEntry {
  TensorType type;
  TypeTraits traits;
};

constexpr std::array kTypes = {
    TypeEntry{TensorType::kF32, {"f32", 1, 4}},
    TypeEntry{TensorType::kF16, {"f16", 1, 2}},
    TypeEntry{TensorType::kQ4_0, {"q4_0", 32, 18}},
    TypeEntry{TensorType::kQ4_1, {"q4_1", 32, 20}},
    TypeEntry{TensorType::kQ5_0, {"q5_0", 32, 22}},
    TypeEntry{TensorType::kQ5_1, {"q5_1", 32, 24}},
    TypeEntry{TensorType::kQ8_0, {"q8_0", 32, 34}},
    TypeEntry{TensorType::kQ8_1, {"q8_1", 32, 36}},
    TypeEntry{TensorType::kQ2_K, {"q2_K", 256, 84}},
    TypeEntry{TensorType::kQ3_K, {"q3_K", 256, 110}},
    TypeEntry{TensorType::kQ4_K, {"q4_K", 256, 144}},
    TypeEntry{TensorType::kQ5_K, {"q5_K", 256, 176}},
    TypeEntry{TensorType::kQ6_K, {"q6_K", 256, 210}},
    TypeEntry{TensorType::kQ8_K, {"q8_K", 256, 292}},
    TypeEntry{TensorType::kI8, {"i8", 1, 1}},
    TypeEntry{TensorType::kI16, {"i16", 1, 2}},
    TypeEntry{TensorType::kI32, {"i32", 1, 4}},
    TypeEntry{TensorType::kI64, {"i64", 1, 8}},
    TypeEntry{TensorType::kF64, {"f64", 1, 8}},
    TypeEntry{TensorType::kBF16, {"bf16", 1, 2}},
    TypeEntry{TensorType::kEfI8SymPerChannel, {"ef_i8_sym_pc", 1, 1, kEfI8RowHeaderBytes}},
    TypeEntry{TensorType::kEfI4SymG128, {"ef_i4_sym_g128", kGroupI4Sym, sizeof(BlockEfI4SymG128)}},
    TypeEntry{TensorType::kEfI4AffineG64,
              {"ef_i4_affine_g64", kGroupI4Affine, sizeof(BlockEfI4AffineG64)}},
};

uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof(u));
  return u;
}

float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof(f));
  return f;
}

}  // namespace

std::optional<TypeTraits> GetTypeTraits(TensorType type) {
  for (const TypeEntry& e : kTypes) {
    if (e.type == type) return e.traits;
  }
  return std::nullopt;
}

std::optional<TensorType> TensorTypeFromId(uint32_t id) {
  for (const TypeEntry& e : kTypes) {
    if (static_cast<uint32_t>(e.type) == id) return e.type;
  }
  return std::nullopt;
}

size_t RowBytes(TensorType type, int64_t n) {
  std::optional<TypeTraits> t = GetTypeTraits(type);
  if (!t || n < 0 || n % t->block_size != 0) return 0;
  const uint64_t blocks = static_cast<uint64_t>(n / t->block_size);
  // Guard the multiplication for hostile shapes; callers treat 0 as "unusable".
  if (blocks > (std::numeric_limits<uint64_t>::max() >> 8) / t->type_size) return 0;
  return t->row_header_bytes + blocks * t->type_size;
}

float Fp16ToFp32(Fp16 h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return BitsToFloat(sign | 0x7F800000u | (mant << 13));  // inf / NaN
  if (exp != 0) return BitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
  if (mant == 0) return BitsToFloat(sign);  // signed zero
  // Subnormal half: normalise into a float32 (always representable exactly).
  int e = 113;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return BitsToFloat(sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3FFu) << 13));
}

Fp16 Fp32ToFp16(float f) {
  const uint32_t x = FloatBits(f);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7FFFFFFFu;
  if (abs > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (abs >= 0x477FF000u) return sign | 0x7C00u;  // rounds to >= 65520: infinity
  const int32_t exp = static_cast<int32_t>(abs >> 23) - 127;
  if (exp >= -14) {
    // Normal half: drop 13 mantissa bits with round-to-nearest-even; a carry into the exponent
    // is the correct result.
    const uint32_t rebased = abs - (112u << 23);
    const uint32_t lsb = (rebased >> 13) & 1u;
    return sign | static_cast<uint16_t>((rebased + 0xFFFu + lsb) >> 13);
  }
  if (exp < -25) return sign;  // below half the smallest subnormal: zero
  // Subnormal half: value = m * 2^-24 with m = mant24 >> shift, rounded to nearest even.
  const uint32_t mant = (abs & 0x7FFFFFu) | 0x800000u;
  const int shift = -exp - 1;  // 14..24
  const uint32_t q = mant >> shift;
  const uint32_t rem = mant & ((1u << shift) - 1u);
  const uint32_t half = 1u << (shift - 1);
  const uint32_t rounded = q + ((rem > half || (rem == half && (q & 1u))) ? 1u : 0u);
  return sign | static_cast<uint16_t>(rounded);
}

}  // namespace edgefarm::engine
