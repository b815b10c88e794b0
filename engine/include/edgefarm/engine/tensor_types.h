// Tensor element types and their block layouts.
//
// The ggml types (F32 ... Q6_K) use exactly ggml's numeric ids and byte layouts, so GGUF files we
// write load in llama.cpp and files llama.cpp writes load here. The edgefarm types (ids >= 1000)
// hold the OpenVINO- and MLX-style recipes; they are documented in docs/formats.md and only
// edgefarm reads them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace edgefarm::engine {

enum class TensorType : uint32_t {
  kF32 = 0,
  kF16 = 1,
  kQ4_0 = 2,
  kQ4_1 = 3,
  kQ5_0 = 6,
  kQ5_1 = 7,
  kQ8_0 = 8,
  kQ8_1 = 9,
  kQ2_K = 10,
  kQ3_K = 11,
  kQ4_K = 12,
  kQ5_K = 13,
  kQ6_K = 14,
  kQ8_K = 15,
  kI8 = 24,
  kI16 = 25,
  kI32 = 26,
  kI64 = 27,
  kF64 = 28,
  kBF16 = 30,
  // edgefarm-only types (docs/formats.md).
  kEfI8SymPerChannel = 1000,  // OpenVINO int8_sym_pc
  kEfI4SymG128 = 1001,        // OpenVINO int4_sym_g128
  kEfI4AffineG64 = 1002,      // MLX int4_affine_g64
};

inline constexpr int kQK8_0 = 32;
inline constexpr int kQK4_0 = 32;
inline constexpr int kQK5_0 = 32;
inline constexpr int kQK_K = 256;
inline constexpr int kKScaleSize = 12;

using Fp16 = uint16_t;  // IEEE 754 binary16 bits

#pragma pack(push, 1)
struct BlockQ8_0 {
  Fp16 d;
  int8_t qs[kQK8_0];
};
static_assert(sizeof(BlockQ8_0) == 34);

struct BlockQ4_0 {
  Fp16 d;
  uint8_t qs[kQK4_0 / 2];
};
static_assert(sizeof(BlockQ4_0) == 18);

// 5-bit: the low nibbles as in Q4_0, the fifth bits of element j in bit j of qh (little-endian
// uint32). llama.cpp's Q4_K_M uses it for rows that are not a multiple of 256.
struct BlockQ5_0 {
  Fp16 d;
  uint8_t qh[4];
  uint8_t qs[kQK5_0 / 2];
};
static_assert(sizeof(BlockQ5_0) == 22);

struct BlockQ4_K {
  Fp16 d;
  Fp16 dmin;
  uint8_t scales[kKScaleSize];
  uint8_t qs[kQK_K / 2];
};
static_assert(sizeof(BlockQ4_K) == 144);

struct BlockQ6_K {
  uint8_t ql[kQK_K / 2];
  uint8_t qh[kQK_K / 4];
  int8_t scales[kQK_K / 16];
  Fp16 d;
};
static_assert(sizeof(BlockQ6_K) == 210);

// Activation-side block for K-quant dot products (as ggml's block_q8_K).
struct BlockQ8_K {
  float d;
  int8_t qs[kQK_K];
  int16_t bsums[kQK_K / 16];
};
static_assert(sizeof(BlockQ8_K) == 292);

// OpenVINO/NNCF-style INT4 symmetric, group size 128: w = d * q, q in [-8, 7] stored as q + 8,
// element j in the low nibble of qs[j] for j < 64 and the high nibble of qs[j - 64] otherwise.
inline constexpr int kGroupI4Sym = 128;
struct BlockEfI4SymG128 {
  Fp16 d;
  uint8_t qs[kGroupI4Sym / 2];
};
static_assert(sizeof(BlockEfI4SymG128) == 66);

// MLX-style affine INT4, group size 64: w = scale * q + bias, q in [0, 15], same nibble order.
inline constexpr int kGroupI4Affine = 64;
struct BlockEfI4AffineG64 {
  Fp16 scale;
  Fp16 bias;
  uint8_t qs[kGroupI4Affine / 2];
};
static_assert(sizeof(BlockEfI4AffineG64) == 36);
#pragma pack(pop)

// OpenVINO/NNCF-style INT8 symmetric per output channel (kEfI8SymPerChannel) has no blocks: each
// row is a float32 scale followed by the row's int8 values (w = scale * q, q in [-127, 127]).
inline constexpr size_t kEfI8RowHeaderBytes = sizeof(float);

struct TypeTraits {
  std::string_view name;        // "f32", "q8_0", ... as llama.cpp prints them
  int64_t block_size;           // elements per block
  size_t type_size;             // bytes per block
  size_t row_header_bytes = 0;  // bytes before each row's blocks (kEfI8SymPerChannel only)
};

// Traits of a type; std::nullopt for ids this build does not know (hostile or newer files).
std::optional<TypeTraits> GetTypeTraits(TensorType type);
std::optional<TensorType> TensorTypeFromId(uint32_t id);

// Bytes of a row of n elements (header included); 0 when n is not a multiple of the block size.
size_t RowBytes(TensorType type, int64_t n);

float Fp16ToFp32(Fp16 h);
Fp16 Fp32ToFp16(float f);  // round to nearest even, as ggml's GGML_FP32_TO_FP16

}  // namespace edgefarm::engine
