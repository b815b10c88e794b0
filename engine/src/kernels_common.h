// Shared internals of the matmul kernels: the quantised-activation layout, the tile interface
// every kernel path implements, and portable fp16 helpers. Not a public header.
//
// Integer weight types are all reduced to one shape: blocks of 32 int8 weights q with a per-lane
// scale (a lane is 4 consecutive elements, so 8 lanes per block; Q6_K's 16-element sub-scales fit)
// and an optional per-block bias b (Q4_K's -dmin*m, the MLX affine bias):
//   w_i = scale_lane(i) * q_i + b.
// Activations are quantised once per MatMul call into int8 blocks of 32 with a per-block scale
// (Q8_0 style, per-32 scale rounded to fp16 like llama.cpp's block_q8_0, or Q8_K style, one
// scale per 256 like block_q8_K), so a dot product is
//   sum_lanes scale_w * scale_a * isum_lane + sum_blocks b * scale_a * sum(qa).
#pragma once

#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>

#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine::kernels {

// Elements per activation block and per SIMD "pair" step (two blocks, one 512-bit register).
inline constexpr int64_t kBlock = 32;
inline constexpr int64_t kPair = 64;

// One token's quantised activations, `padded` = cols rounded up to kPair, stored contiguously:
//   int8  qs[padded]           quantised values, zero past cols
//   float lane_d[padded / 4]   scale of the block holding elements 4l .. 4l+3
//   float lane_b[padded / 4]   scale * sum(qs of that block) / 8 (8 lanes per block sum to it)
//   int32 lane_nsum[padded / 4] -(qs[4l] + ... + qs[4l+3]), for weights stored with an offset
//   int32 nsum16[padded / 16]   -(sum of qs over each 16 elements)   (packed prompt kernels)
//   int32 nsum32[padded / 32]   -(sum of qs over each 32-element block)
//   float dsum32[padded / 32]   scale * sum(qs) of each block (the bias term's factor)
inline constexpr size_t ActTokenBytes(int64_t padded) {
  return static_cast<size_t>(padded) * 4 + static_cast<size_t>(padded) / 2;
}
inline int64_t PadCols(int64_t cols) {
  return (cols + kPair - 1) / kPair * kPair;
}

struct ActView {
  const int8_t* qs;
  const float* lane_d;
  const float* lane_b;
  const int32_t* lane_nsum;
  const int32_t* nsum16;
  const int32_t* nsum32;
  const float* dsum32;
};
inline ActView ActAt(const uint8_t* act, int64_t padded) {
  const uint8_t* tail = act + 4 * padded;
  return {reinterpret_cast<const int8_t*>(act),
          reinterpret_cast<const float*>(act + padded),
          reinterpret_cast<const float*>(act + 2 * padded),
          reinterpret_cast<const int32_t*>(act + 3 * padded),
          reinterpret_cast<const int32_t*>(tail),
          reinterpret_cast<const int32_t*>(tail + padded / 4),
          reinterpret_cast<const float*>(tail + padded / 4 + padded / 8)};
}

enum class ActKind { kF32, kQ8Block32, kQ8Super256 };

// One rectangle of the output: rows [0, rows) of the weight pointer w and tokens [0, tokens) of
// act; out[t * ldo + r]. act is f32 rows of `cols` (ActKind::kF32, stride in floats = act_stride
// / 4) or quantised tokens (ActTokenBytes apart).
struct TileArgs {
  TensorType type;
  const uint8_t* w;
  size_t w_stride;
  int64_t cols;
  const uint8_t* act;
  size_t act_stride;
  float* out;
  int64_t ldo;
  int64_t rows;
  int64_t tokens;
};
using TileFn = void (*)(const TileArgs&);

// Per-path tile kernels; nullptr where the path lacks the type.
TileFn ScalarTile(TensorType type);
TileFn Avx2Tile(TensorType type);
TileFn Avx512Tile(TensorType type);
// AVX-512 tiles on repacked weights, for many tokens (every MatMul type).
TileFn Avx512PackedTile(TensorType type);
// NEON tiles (aarch64; nullptr elsewhere). `dotprod` picks the variant built for ARMv8.2's SDOT
// (kernels_neon_dotprod.cc); the caller must have seen the CPU report it (CpuFeatures), else the
// tile raises SIGILL. Both variants give bit-identical results (exact integer sums, the same
// float operations).
TileFn NeonTile(TensorType type, bool dotprod);
TileFn NeonDotProdTile(TensorType type);

// Maps a weight type to its tile, for the SIMD files whose tiles are one template over a block
// reader per integer type (each ISA file defines its own readers, named after the types they
// read). make.template operator()<U>() returns the tile instantiated for U; float and uint16_t
// stand for F32 and F16 weights. nullptr for the types MatMul does not implement.
template <class RQ8_0, class RQ4_0, class RQ5_0, class RQ4_K, class RQ6_K, class RI8, class RI4Sym,
          class RI4Affine, class Make>
TileFn TileForType(TensorType type, Make make) {
  switch (type) {
    case TensorType::kF32:
      return make.template operator()<float>();
    case TensorType::kF16:
      return make.template operator()<uint16_t>();
    case TensorType::kQ8_0:
      return make.template operator()<RQ8_0>();
    case TensorType::kQ4_0:
      return make.template operator()<RQ4_0>();
    case TensorType::kQ5_0:
      return make.template operator()<RQ5_0>();
    case TensorType::kQ4_K:
      return make.template operator()<RQ4_K>();
    case TensorType::kQ6_K:
      return make.template operator()<RQ6_K>();
    case TensorType::kEfI8SymPerChannel:
      return make.template operator()<RI8>();
    case TensorType::kEfI4SymG128:
      return make.template operator()<RI4Sym>();
    case TensorType::kEfI4AffineG64:
      return make.template operator()<RI4Affine>();
    default:
      return nullptr;
  }
}

// Activation quantisers. The AVX-512 versions produce the same bytes as the scalar ones (same
// float operations, round-to-nearest-even); MatMul uses them on the AVX-512 path.
void QuantizeActBlock32(const float* x, int64_t cols, uint8_t* dst);
void QuantizeActSuper256(const float* x, int64_t cols, uint8_t* dst);
void QuantizeActBlock32Avx512(const float* x, int64_t cols, uint8_t* dst);
void QuantizeActSuper256Avx512(const float* x, int64_t cols, uint8_t* dst);
// NEON versions, byte-identical to the scalar ones as well (the scalar ones where there is no
// NEON); MatMul uses them on the NEON path.
void QuantizeActBlock32Neon(const float* x, int64_t cols, uint8_t* dst);
void QuantizeActSuper256Neon(const float* x, int64_t cols, uint8_t* dst);
// The side arrays of activation block `block` (lane_d ... dsum32) from its scale d and its
// already stored int8 values; shared by the scalar and NEON quantisers.
void StoreActBlockSums(uint8_t* dst, int64_t padded, int64_t block, float d);

// Which activation format a weight type consumes; kF32 also for F16 weights.
ActKind ActKindFor(TensorType type);
// Whether the kernels handle `type` with rows of `cols` elements.
bool KernelSupports(TensorType type, int64_t cols);

// Scalar unpacking of one 32-element block of an integer weight row into the shared shape:
// q[32], lane_scale[8] and the block bias. Used by the scalar path (and as the spec for the SIMD
// unpackers). Elements past cols unpack as 0.
void UnpackBlock(TensorType type, const uint8_t* row, int64_t cols, int64_t block, int8_t q[32],
                 float lane_scale[8], float* bias);

// IEEE binary16 <-> binary32; the narrowing rounds to nearest even (as F16C / ggml).
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f;
  const uint32_t man = h & 0x3ffu;
  if (exp == 0) {
    const float f = std::ldexp(static_cast<float>(man), -24);
    return sign ? -f : f;
  }
  if (exp == 31) return std::bit_cast<float>(sign | 0x7f800000u | (man << 13));
  return std::bit_cast<float>(sign | ((exp + 112) << 23) | (man << 13));
}

inline uint16_t FloatToHalf(float f) {
  uint32_t x = std::bit_cast<uint32_t>(f);
  const auto sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x >= 0x7f800000u) return sign | (x > 0x7f800000u ? 0x7e00 : 0x7c00);
  if (x >= 0x477ff000u) return sign | 0x7c00;
  if (x < 0x38800000u) {
    const auto m = static_cast<uint32_t>(std::nearbyint(std::bit_cast<float>(x) * 0x1p24f));
    return static_cast<uint16_t>(sign | m);
  }
  const uint32_t mant = x & 0x7fffffu;
  uint32_t h = (((x >> 23) - 112) << 10) | (mant >> 13);
  const uint32_t rem = mant & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) ++h;
  return static_cast<uint16_t>(sign | h);
}

// Q4_K's 6-bit packed sub-block scale and min (j < 8).
inline void Q4KScaleMin(const uint8_t* s, int j, int* sc, int* m) {
  if (j < 4) {
    *sc = s[j] & 63;
    *m = s[j + 4] & 63;
  } else {
    *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
    *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
  }
}

}  // namespace edgefarm::engine::kernels
