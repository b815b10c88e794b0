// The portable reference path: activation quantisers, the per-type block unpacker that defines
// the shared weight shape (kernels_common.h), and scalar tiles. The SIMD paths are tested
// against these, so clarity wins over speed here; the loops are still simple enough for the
// compiler to vectorise with baseline SSE2.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels_common.h"

namespace edgefarm::engine::kernels {
namespace {

float Half(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return HalfToFloat(h);
}

void FillLanes(float lane_scale[8], float s) {
  std::fill(lane_scale, lane_scale + 8, s);
}

// Nibble j of a group packed "low nibbles first": element j < half in the low nibble of qs[j],
// element j >= half in the high nibble of qs[j - half].
int Nibble(const uint8_t* qs, int64_t j, int64_t half) {
  return j < half ? (qs[j] & 0xf) : (qs[j - half] >> 4);
}

void UnpackQ6K(const uint8_t* sb, int j, int8_t q[32], float lane_scale[8]) {
  const auto* b = reinterpret_cast<const BlockQ6_K*>(sb);
  const float d = HalfToFloat(b->d);
  const int h = j / 4, i = j % 4;
  const uint8_t* ql = b->ql + 64 * h + (i & 1) * 32;
  const uint8_t* qh = b->qh + 32 * h;
  const int shift = 2 * i;
  for (int l = 0; l < 32; ++l) {
    const int lo = i < 2 ? (ql[l] & 0xf) : (ql[l] >> 4);
    q[l] = static_cast<int8_t>((lo | (((qh[l] >> shift) & 3) << 4)) - 32);
  }
  const int8_t* sc = b->scales + 8 * h + 2 * i;
  for (int l = 0; l < 8; ++l) lane_scale[l] = d * sc[l / 4];
}

void UnpackQ4K(const uint8_t* sb, int j, int8_t q[32], float lane_scale[8], float* bias) {
  const auto* b = reinterpret_cast<const BlockQ4_K*>(sb);
  int sc = 0, m = 0;
  Q4KScaleMin(b->scales, j, &sc, &m);
  const uint8_t* qs = b->qs + 32 * (j / 2);
  for (int l = 0; l < 32; ++l) q[l] = static_cast<int8_t>(j % 2 ? qs[l] >> 4 : qs[l] & 0xf);
  FillLanes(lane_scale, HalfToFloat(b->d) * static_cast<float>(sc));
  *bias = -HalfToFloat(b->dmin) * static_cast<float>(m);
}

void UnpackI8(const uint8_t* row, int64_t cols, int64_t block, int8_t q[32], float ls[8]) {
  float scale;
  std::memcpy(&scale, row, sizeof(float));
  const auto* qs = reinterpret_cast<const int8_t*>(row + kEfI8RowHeaderBytes);
  for (int64_t l = 0; l < 32; ++l) {
    const int64_t k = block * 32 + l;
    q[l] = k < cols ? qs[k] : 0;
  }
  FillLanes(ls, scale);
}

}  // namespace

void UnpackBlock(TensorType type, const uint8_t* row, int64_t cols, int64_t block, int8_t q[32],
                 float lane_scale[8], float* bias) {
  *bias = 0.0f;
  switch (type) {
    case TensorType::kQ8_0: {
      const uint8_t* b = row + block * sizeof(BlockQ8_0);
      std::memcpy(q, b + 2, 32);
      return FillLanes(lane_scale, Half(b));
    }
    case TensorType::kQ4_0: {
      const uint8_t* b = row + block * sizeof(BlockQ4_0);
      for (int l = 0; l < 32; ++l) q[l] = static_cast<int8_t>(Nibble(b + 2, l, 16) - 8);
      return FillLanes(lane_scale, Half(b));
    }
    case TensorType::kQ5_0: {
      const auto* b = reinterpret_cast<const BlockQ5_0*>(row + block * sizeof(BlockQ5_0));
      uint32_t qh;
      std::memcpy(&qh, b->qh, 4);
      for (int l = 0; l < 32; ++l) {
        q[l] = static_cast<int8_t>((Nibble(b->qs, l, 16) | (((qh >> l) & 1) << 4)) - 16);
      }
      return FillLanes(lane_scale, HalfToFloat(b->d));
    }
    case TensorType::kQ4_K:
      return UnpackQ4K(row + block / 8 * sizeof(BlockQ4_K), static_cast<int>(block % 8), q,
                       lane_scale, bias);
    case TensorType::kQ6_K:
      return UnpackQ6K(row + block / 8 * sizeof(BlockQ6_K), static_cast<int>(block % 8), q,
                       lane_scale);
    case TensorType::kEfI8SymPerChannel:
      return UnpackI8(row, cols, block, q, lane_scale);
    case TensorType::kEfI4SymG128: {
      const auto* b = reinterpret_cast<const BlockEfI4SymG128*>(row) + block / 4;
      for (int l = 0; l < 32; ++l) {
        q[l] = static_cast<int8_t>(Nibble(b->qs, (block % 4) * 32 + l, 64) - 8);
      }
      return FillLanes(lane_scale, HalfToFloat(b->d));
    }
    case TensorType::kEfI4AffineG64: {
      const auto* b = reinterpret_cast<const BlockEfI4AffineG64*>(row) + block / 2;
      for (int l = 0; l < 32; ++l) {
        q[l] = static_cast<int8_t>(Nibble(b->qs, (block % 2) * 32 + l, 32));
      }
      FillLanes(lane_scale, HalfToFloat(b->scale));
      *bias = HalfToFloat(b->bias);
      return;
    }
    default:
      std::memset(q, 0, 32);
      return FillLanes(lane_scale, 0.0f);
  }
}

ActKind ActKindFor(TensorType type) {
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
      return ActKind::kF32;
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return ActKind::kQ8Super256;
    default:
      return ActKind::kQ8Block32;
  }
}

bool KernelSupports(TensorType type, int64_t cols) {
  if (cols <= 0) return false;
  switch (type) {
    case TensorType::kF32:
    case TensorType::kF16:
    case TensorType::kEfI8SymPerChannel:
      return true;
    case TensorType::kQ8_0:
    case TensorType::kQ4_0:
    case TensorType::kQ5_0:
      return cols % 32 == 0;
    case TensorType::kQ4_K:
    case TensorType::kQ6_K:
      return cols % kQK_K == 0;
    case TensorType::kEfI4SymG128:
      return cols % kGroupI4Sym == 0;
    case TensorType::kEfI4AffineG64:
      return cols % kGroupI4Affine == 0;
    default:
      return false;
  }
}

void StoreActBlockSums(uint8_t* dst, int64_t padded, int64_t block, float d) {
  const auto* qs = reinterpret_cast<const int8_t*>(dst) + block * kBlock;
  auto* lane_d = reinterpret_cast<float*>(dst + padded) + block * 8;
  auto* lane_b = reinterpret_cast<float*>(dst + 2 * padded) + block * 8;
  auto* lane_nsum = reinterpret_cast<int32_t*>(dst + 3 * padded) + block * 8;
  uint8_t* tail = dst + 4 * padded;
  auto* nsum16 = reinterpret_cast<int32_t*>(tail) + block * 2;
  auto* nsum32 = reinterpret_cast<int32_t*>(tail + padded / 4) + block;
  auto* dsum32 = reinterpret_cast<float*>(tail + padded / 4 + padded / 8) + block;
  int sum = 0;
  nsum16[0] = nsum16[1] = 0;
  for (int l = 0; l < 8; ++l) {
    lane_nsum[l] = -(qs[4 * l] + qs[4 * l + 1] + qs[4 * l + 2] + qs[4 * l + 3]);
    nsum16[l / 4] += lane_nsum[l];
    sum -= lane_nsum[l];
  }
  *nsum32 = -sum;
  *dsum32 = d * static_cast<float>(sum);
  for (int l = 0; l < 8; ++l) {
    lane_d[l] = d;
    lane_b[l] = d * static_cast<float>(sum) / 8.0f;
  }
}

void QuantizeActBlock32(const float* x, int64_t cols, uint8_t* dst) {
  const int64_t padded = PadCols(cols);
  auto* qs = reinterpret_cast<int8_t*>(dst);
  for (int64_t b = 0; b < padded / kBlock; ++b) {
    const int64_t begin = b * kBlock, end = std::min(cols, begin + kBlock);
    float amax = 0.0f;
    for (int64_t k = begin; k < end; ++k) amax = std::max(amax, std::fabs(x[k]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    for (int64_t k = begin; k < begin + kBlock; ++k) {
      qs[k] = static_cast<int8_t>(k < end ? static_cast<int>(std::nearbyint(x[k] * id)) : 0);
    }
    // llama.cpp keeps the activation scale as fp16 (block_q8_0); do the same so the dot
    // products see the same rounding.
    StoreActBlockSums(dst, padded, b, HalfToFloat(FloatToHalf(d)));
  }
}

void QuantizeActSuper256(const float* x, int64_t cols, uint8_t* dst) {
  const int64_t padded = PadCols(cols);
  auto* qs = reinterpret_cast<int8_t*>(dst);
  std::memset(dst, 0, ActTokenBytes(padded));
  for (int64_t s = 0; s < cols / kQK_K; ++s) {
    const float* xs = x + s * kQK_K;
    float amax = 0.0f, max = 0.0f;
    for (int k = 0; k < kQK_K; ++k) {
      if (std::fabs(xs[k]) > amax) {
        amax = std::fabs(xs[k]);
        max = xs[k];
      }
    }
    // As block_q8_K: the scale carries the sign of the largest-magnitude value.
    const float iscale = amax != 0.0f ? -127.0f / max : 0.0f;
    const float d = amax != 0.0f ? 1.0f / iscale : 0.0f;
    for (int b = 0; b < kQK_K / kBlock; ++b) {
      for (int l = 0; l < kBlock; ++l) {
        const int64_t k = s * kQK_K + b * kBlock + l;
        qs[k] = static_cast<int8_t>(std::min(127, static_cast<int>(std::nearbyint(iscale * x[k]))));
      }
      StoreActBlockSums(dst, padded, s * (kQK_K / kBlock) + b, d);
    }
  }
}

namespace {

// A weight row unpacked once and reused across tokens.
struct UnpackedRow {
  std::vector<int8_t> q;
  std::vector<float> lane_scale;
  std::vector<float> bias;
};

void UnpackRow(const TileArgs& a, const uint8_t* row, UnpackedRow* u) {
  const int64_t blocks = PadCols(a.cols) / kBlock;
  u->q.assign(blocks * kBlock, 0);
  u->lane_scale.assign(blocks * 8, 0.0f);
  u->bias.assign(blocks, 0.0f);
  const int64_t real_blocks = (a.cols + kBlock - 1) / kBlock;
  for (int64_t b = 0; b < real_blocks; ++b) {
    UnpackBlock(a.type, row, a.cols, b, &u->q[b * kBlock], &u->lane_scale[b * 8], &u->bias[b]);
  }
}

float DotUnpacked(const UnpackedRow& u, const ActView& x, int64_t blocks) {
  float acc = 0.0f;
  for (int64_t b = 0; b < blocks; ++b) {
    for (int64_t l = b * 8; l < b * 8 + 8; ++l) {
      int isum = 0;
      for (int64_t e = 4 * l; e < 4 * l + 4; ++e) isum += u.q[e] * x.qs[e];
      acc += static_cast<float>(isum) * (u.lane_scale[l] * x.lane_d[l]);
      acc += u.bias[b] * x.lane_b[l];
    }
  }
  return acc;
}

void IntTile(const TileArgs& a) {
  const int64_t padded = PadCols(a.cols);
  thread_local UnpackedRow u;
  for (int64_t r = 0; r < a.rows; ++r) {
    UnpackRow(a, a.w + r * a.w_stride, &u);
    for (int64_t t = 0; t < a.tokens; ++t) {
      const ActView x = ActAt(a.act + t * a.act_stride, padded);
      a.out[t * a.ldo + r] = DotUnpacked(u, x, padded / kBlock);
    }
  }
}

template <bool kHalf>
void FloatTile(const TileArgs& a) {
  for (int64_t r = 0; r < a.rows; ++r) {
    const uint8_t* row = a.w + r * a.w_stride;
    for (int64_t t = 0; t < a.tokens; ++t) {
      const auto* x = reinterpret_cast<const float*>(a.act + t * a.act_stride);
      float acc = 0.0f;
      for (int64_t k = 0; k < a.cols; ++k) {
        float w;
        if constexpr (kHalf) {
          uint16_t h;
          std::memcpy(&h, row + 2 * k, 2);
          w = HalfToFloat(h);
        } else {
          std::memcpy(&w, row + 4 * k, 4);
        }
        acc += w * x[k];
      }
      a.out[t * a.ldo + r] = acc;
    }
  }
}

}  // namespace

TileFn ScalarTile(TensorType type) {
  if (type == TensorType::kF32) return FloatTile<false>;
  if (type == TensorType::kF16) return FloatTile<true>;
  if (!KernelSupports(type, kQK_K * 2)) return nullptr;
  return IntTile;
}

}  // namespace edgefarm::engine::kernels
