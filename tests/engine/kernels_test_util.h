// Helpers for the kernel tests: random weight rows with sane scales for every type, and an
// independent float dequantiser written from ggml's / docs/formats.md's layouts (not from the
// kernels' unpackers) so the scalar path is checked against something it does not share code with.
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "edgefarm/engine/tensor_types.h"

namespace edgefarm::engine::testutil {

inline float H2F(uint16_t h) {
  const int sign = h >> 15, exp = (h >> 10) & 31, man = h & 1023;
  float v = exp == 0 ? std::ldexp(static_cast<float>(man), -24)
                     : std::ldexp(static_cast<float>(man + 1024), exp - 25);
  return sign ? -v : v;
}

// A normal fp16 value with magnitude in [lo, hi) and random sign when `signed_`.
inline uint16_t RandomHalf(std::mt19937& rng, float lo, float hi, bool signed_) {
  std::uniform_real_distribution<float> mag(lo, hi);
  float v = mag(rng);
  if (signed_ && (rng() & 1)) v = -v;
  // Encode by search-free rounding: exponent and 10-bit mantissa of a normal value.
  int e = 0;
  const float m = std::frexp(std::fabs(v), &e);  // v = m * 2^e, m in [0.5, 1)
  const int exp = e - 1 + 15;
  const int man = static_cast<int>(std::lround((m * 2.0f - 1.0f) * 1024.0f)) & 1023;
  return static_cast<uint16_t>((v < 0 ? 0x8000 : 0) | (exp << 10) | man);
}

inline size_t BlockBytes(TensorType t) {
  switch (t) {
    case TensorType::kF32:
      return 4;
    case TensorType::kF16:
      return 2;
    case TensorType::kQ8_0:
      return sizeof(BlockQ8_0);
    case TensorType::kQ4_0:
      return sizeof(BlockQ4_0);
    case TensorType::kQ5_0:
      return sizeof(BlockQ5_0);
    case TensorType::kQ4_K:
      return sizeof(BlockQ4_K);
    case TensorType::kQ6_K:
      return sizeof(BlockQ6_K);
    case TensorType::kEfI8SymPerChannel:
      return 1;
    case TensorType::kEfI4SymG128:
      return sizeof(BlockEfI4SymG128);
    case TensorType::kEfI4AffineG64:
      return sizeof(BlockEfI4AffineG64);
    default:
      return 0;
  }
}

inline int64_t BlockElems(TensorType t) {
  switch (t) {
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
      return 32;
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return 256;
    case TensorType::kEfI4SymG128:
      return 128;
    case TensorType::kEfI4AffineG64:
      return 64;
    default:
      return 1;
  }
}

inline size_t RowBytesOf(TensorType t, int64_t cols) {
  const size_t header = t == TensorType::kEfI8SymPerChannel ? kEfI8RowHeaderBytes : 0;
  return header + static_cast<size_t>(cols / BlockElems(t)) * BlockBytes(t);
}

template <typename B>
B* At(uint8_t* row, int64_t i) {
  return reinterpret_cast<B*>(row) + i;
}

// One random row: random bytes, then every scale field overwritten with a sane value.
inline void RandomRow(TensorType t, int64_t cols, std::mt19937& rng, uint8_t* row) {
  const size_t bytes = RowBytesOf(t, cols);
  for (size_t i = 0; i < bytes; ++i) row[i] = static_cast<uint8_t>(rng());
  const int64_t blocks = cols / BlockElems(t);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  switch (t) {
    case TensorType::kF32:
      for (int64_t k = 0; k < cols; ++k) {
        const float v = normal(rng);
        std::memcpy(row + 4 * k, &v, 4);
      }
      break;
    case TensorType::kF16:
      for (int64_t k = 0; k < cols; ++k) {
        const uint16_t h = RandomHalf(rng, 0.01f, 2.0f, true);
        std::memcpy(row + 2 * k, &h, 2);
      }
      break;
    case TensorType::kQ8_0:
      for (int64_t b = 0; b < blocks; ++b)
        At<BlockQ8_0>(row, b)->d = RandomHalf(rng, 1e-3f, 2e-2f, true);
      break;
    case TensorType::kQ4_0:
      for (int64_t b = 0; b < blocks; ++b)
        At<BlockQ4_0>(row, b)->d = RandomHalf(rng, 1e-3f, 2e-2f, true);
      break;
    case TensorType::kQ5_0:
      for (int64_t b = 0; b < blocks; ++b)
        At<BlockQ5_0>(row, b)->d = RandomHalf(rng, 1e-3f, 2e-2f, true);
      break;
    case TensorType::kQ4_K:
      for (int64_t b = 0; b < blocks; ++b) {
        At<BlockQ4_K>(row, b)->d = RandomHalf(rng, 1e-4f, 1e-3f, false);
        At<BlockQ4_K>(row, b)->dmin = RandomHalf(rng, 1e-4f, 1e-3f, false);
      }
      break;
    case TensorType::kQ6_K:
      for (int64_t b = 0; b < blocks; ++b)
        At<BlockQ6_K>(row, b)->d = RandomHalf(rng, 1e-4f, 1e-3f, true);
      break;
    case TensorType::kEfI8SymPerChannel: {
      const float s = 1e-3f + 1e-2f * static_cast<float>(rng() % 100) / 100.0f;
      std::memcpy(row, &s, 4);
      break;
    }
    case TensorType::kEfI4SymG128:
      for (int64_t b = 0; b < blocks; ++b) {
        At<BlockEfI4SymG128>(row, b)->d = RandomHalf(rng, 1e-3f, 2e-2f, true);
      }
      break;
    case TensorType::kEfI4AffineG64:
      for (int64_t b = 0; b < blocks; ++b) {
        At<BlockEfI4AffineG64>(row, b)->scale = RandomHalf(rng, 1e-3f, 2e-2f, false);
        At<BlockEfI4AffineG64>(row, b)->bias = RandomHalf(rng, 1e-2f, 1e-1f, true);
      }
      break;
    default:
      break;
  }
}

// Reference dequantisation of one block of the types whose bit layout needs more than a line.
inline void DequantBlock(const BlockQ5_0& x, float* y) {
  const uint32_t qh =
      x.qh[0] | (x.qh[1] << 8) | (x.qh[2] << 16) | (static_cast<uint32_t>(x.qh[3]) << 24);
  for (int j = 0; j < 16; ++j) {
    const int lo = (x.qs[j] & 15) | (((qh >> j) & 1) << 4);
    const int hi = (x.qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
    y[j] = H2F(x.d) * (lo - 16);
    y[j + 16] = H2F(x.d) * (hi - 16);
  }
}

inline void DequantBlock(const BlockQ4_K& x, float* y) {
  const uint8_t* s = x.scales;
  for (int j = 0; j < 8; ++j) {
    const int sc = j < 4 ? s[j] & 63 : (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
    const int m = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    for (int l = 0; l < 32; ++l) {
      const uint8_t byte = x.qs[(j / 2) * 32 + l];
      const int q = (j % 2) ? byte >> 4 : byte & 15;
      y[j * 32 + l] = H2F(x.d) * sc * q - H2F(x.dmin) * m;
    }
  }
}

inline void DequantBlock(const BlockQ6_K& x, float* y) {
  const float d = H2F(x.d);
  for (int half = 0; half < 2; ++half) {
    const uint8_t* ql = x.ql + 64 * half;
    const uint8_t* qh = x.qh + 32 * half;
    const int8_t* sc = x.scales + 8 * half;
    float* o = y + 128 * half;
    for (int l = 0; l < 32; ++l) {
      const int is = l / 16;
      o[l] = d * sc[is] * (((ql[l] & 15) | ((qh[l] & 3) << 4)) - 32);
      o[l + 32] = d * sc[is + 2] * (((ql[l + 32] & 15) | (((qh[l] >> 2) & 3) << 4)) - 32);
      o[l + 64] = d * sc[is + 4] * (((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32);
      o[l + 96] = d * sc[is + 6] * (((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32);
    }
  }
}

// Float dequantisation straight from the block definitions.
inline void Dequant(TensorType t, const uint8_t* row, int64_t cols, float* y) {
  switch (t) {
    case TensorType::kF32:
      std::memcpy(y, row, 4 * cols);
      return;
    case TensorType::kF16:
      for (int64_t k = 0; k < cols; ++k) {
        uint16_t h;
        std::memcpy(&h, row + 2 * k, 2);
        y[k] = H2F(h);
      }
      return;
    case TensorType::kQ8_0:
      for (int64_t b = 0; b < cols / 32; ++b) {
        const auto* x = reinterpret_cast<const BlockQ8_0*>(row) + b;
        for (int j = 0; j < 32; ++j) y[b * 32 + j] = H2F(x->d) * x->qs[j];
      }
      return;
    case TensorType::kQ4_0:
      for (int64_t b = 0; b < cols / 32; ++b) {
        const auto* x = reinterpret_cast<const BlockQ4_0*>(row) + b;
        for (int j = 0; j < 16; ++j) {
          y[b * 32 + j] = H2F(x->d) * ((x->qs[j] & 15) - 8);
          y[b * 32 + j + 16] = H2F(x->d) * ((x->qs[j] >> 4) - 8);
        }
      }
      return;
    case TensorType::kQ5_0:
      for (int64_t b = 0; b < cols / 32; ++b) {
        DequantBlock(reinterpret_cast<const BlockQ5_0*>(row)[b], y + b * 32);
      }
      return;
    case TensorType::kQ4_K:
      for (int64_t b = 0; b < cols / 256; ++b) {
        DequantBlock(reinterpret_cast<const BlockQ4_K*>(row)[b], y + b * 256);
      }
      return;
    case TensorType::kQ6_K:
      for (int64_t b = 0; b < cols / 256; ++b) {
        DequantBlock(reinterpret_cast<const BlockQ6_K*>(row)[b], y + b * 256);
      }
      return;
    case TensorType::kEfI8SymPerChannel: {
      float s;
      std::memcpy(&s, row, 4);
      for (int64_t k = 0; k < cols; ++k) y[k] = s * static_cast<int8_t>(row[4 + k]);
      return;
    }
    case TensorType::kEfI4SymG128:
      for (int64_t b = 0; b < cols / 128; ++b) {
        const auto* x = reinterpret_cast<const BlockEfI4SymG128*>(row) + b;
        for (int j = 0; j < 64; ++j) {
          y[b * 128 + j] = H2F(x->d) * ((x->qs[j] & 15) - 8);
          y[b * 128 + j + 64] = H2F(x->d) * ((x->qs[j] >> 4) - 8);
        }
      }
      return;
    case TensorType::kEfI4AffineG64:
      for (int64_t b = 0; b < cols / 64; ++b) {
        const auto* x = reinterpret_cast<const BlockEfI4AffineG64*>(row) + b;
        for (int j = 0; j < 32; ++j) {
          y[b * 64 + j] = H2F(x->scale) * (x->qs[j] & 15) + H2F(x->bias);
          y[b * 64 + j + 32] = H2F(x->scale) * (x->qs[j] >> 4) + H2F(x->bias);
        }
      }
      return;
    default:
      return;
  }
}

}  // namespace edgefarm::engine::testutil
