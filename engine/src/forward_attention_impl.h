// The attention kernel body, compiled twice: forward_attention.cc (portable) and
// forward_attention_avx2.cc (-mavx2 -mfma). Written as fixed-size loops over register blocks
// (kAttentionQueryBlock queries x kAttentionKeyBlock positions) that the compiler unrolls and
// vectorises without re-associating any sum the scalar order would not.
// Include only from those two files, after defining EF_ATTENTION_FN and EF_SWIGLU_FN to the
// functions' names.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "forward_attention.h"

namespace edgefarm::engine::attention_internal {
namespace {

// Eight floats as one value; the compiler maps it to one AVX register or two SSE registers.
typedef float V8 __attribute__((vector_size(32)));

inline V8 Load8(const float* p) {
  V8 v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}
inline void Store8(float* p, V8 v) {
  std::memcpy(p, &v, sizeof(v));
}

// scores[i][j] = (q_i . K_j) for j in [0, n_keys_padded), QB queries at once: each key row block
// is loaded once and multiplied into QB register accumulators.
// One query (token generation): eight accumulators over 64 positions hide the FMA latency that
// the two accumulators of a 16-position block would expose.
int ScoresWide(const float* q, int hd, const float* k_t, int k_stride, int n_keys, float* scores) {
  int j0 = 0;
  for (; j0 + 64 <= n_keys; j0 += 64) {
    V8 acc[8] = {};
    for (int e = 0; e < hd; ++e) {
      const float* kr = k_t + static_cast<size_t>(e) * k_stride + j0;
      const float qv = q[e];
      for (int c = 0; c < 8; ++c) acc[c] += qv * Load8(kr + 8 * c);
    }
    for (int c = 0; c < 8; ++c) Store8(scores + j0 + 8 * c, acc[c]);
  }
  return j0;
}

template <int QB>
void Scores(const float* qs, int hd, const float* k_t, int k_stride, int n_keys, float* scores,
            int s_stride) {
  static_assert(kAttentionKeyBlock == 16, "two V8 per key block");
  const int start = QB == 1 ? ScoresWide(qs, hd, k_t, k_stride, n_keys, scores) : 0;
  for (int j0 = start; j0 < n_keys; j0 += kAttentionKeyBlock) {
    V8 acc[QB][2] = {};
    for (int e = 0; e < hd; ++e) {
      const float* kr = k_t + static_cast<size_t>(e) * k_stride + j0;
      const V8 k0 = Load8(kr);
      const V8 k1 = Load8(kr + 8);
      for (int i = 0; i < QB; ++i) {
        const float qv = qs[i * hd + e];
        acc[i][0] += qv * k0;
        acc[i][1] += qv * k1;
      }
    }
    for (int i = 0; i < QB; ++i) {
      Store8(scores + i * s_stride + j0, acc[i][0]);
      Store8(scores + i * s_stride + j0 + 8, acc[i][1]);
    }
  }
}

// out[e0 .. e0 + 8*NC) = sum_j p[j] * v[j][e0 ..], accumulators in registers.
template <int NC>
void WeightedSumChunk(const float* p, int n, const float* v, int hd, int e0, float* out) {
  V8 acc[NC] = {};
  for (int j = 0; j < n; ++j) {
    const float pj = p[j];
    const float* vr = v + static_cast<size_t>(j) * hd + e0;
    for (int c = 0; c < NC; ++c) acc[c] += pj * Load8(vr + 8 * c);
  }
  for (int c = 0; c < NC; ++c) Store8(out + e0 + 8 * c, acc[c]);
}

void WeightedSum(const float* p, int n, const float* v, int hd, float* out) {
  int e0 = 0;
  for (; e0 + 32 <= hd; e0 += 32) WeightedSumChunk<4>(p, n, v, hd, e0, out);
  for (; e0 + 8 <= hd; e0 += 8) WeightedSumChunk<1>(p, n, v, hd, e0, out);
  if (e0 < hd) {  // head sizes that are not a multiple of 8
    for (int e = e0; e < hd; ++e) out[e] = 0.0f;
    for (int j = 0; j < n; ++j) {
      for (int e = e0; e < hd; ++e) out[e] += p[j] * v[static_cast<size_t>(j) * hd + e];
    }
  }
}

typedef int32_t I8 __attribute__((vector_size(32)));

// exp(x) for eight lanes by Cody-Waite range reduction and Cephes' degree-6 polynomial (about
// 1 ulp). Written on vector types rather than as a scalar function for the auto-vectoriser: a
// scalar clamp gets if-converted into computing both arms, and the discarded arm produces
// denormals whose microcode assists cost ~70x the whole computation.
inline V8 FastExp8(V8 x) {
  x = x < -87.0f ? V8{} - 87.0f : x;
  x = x > 88.0f ? V8{} + 88.0f : x;
  // Round x·log2(e) to the nearest integer by adding 1.5·2^23: the integer lands in the low
  // mantissa bits.
  const V8 shifted = x * 1.44269504088896341f + 12582912.0f;
  const V8 n = shifted - 12582912.0f;
  const I8 n_int = __builtin_bit_cast(I8, shifted) - 0x4B400000;
  const V8 r = x - n * 0.693359375f + n * 2.12194440e-4f;
  V8 p = V8{} + 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  const V8 y = p * r * r + r + 1.0f;
  const I8 bits = (n_int + 127) << 23;
  return y * __builtin_bit_cast(V8, bits);
}

// dst[i] = f(src[i]) for eight lanes at a time; the tail goes through a zero-padded block.
template <typename F>
void Map8(const float* src, float* dst, int64_t n, F f) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) Store8(dst + i, f(Load8(src + i), i));
  if (i < n) {
    float tmp[8] = {};
    std::memcpy(tmp, src + i, sizeof(float) * static_cast<size_t>(n - i));
    Store8(tmp, f(Load8(tmp), i));
    std::memcpy(dst + i, tmp, sizeof(float) * static_cast<size_t>(n - i));
  }
}

// In place: scores row -> probabilities over [0, n_valid), zero over [n_valid, n_total).
void Softmax(float* s, int n_valid, int n_total) {
  // Eight running lanes for the max and the sum, so both reductions vectorise.
  float lane_max[8];
  float lane_sum[8] = {};
  for (int k = 0; k < 8; ++k) lane_max[k] = s[0];
  int j8 = n_valid / 8 * 8;
  for (int j = 0; j < j8; j += 8) {
    for (int k = 0; k < 8; ++k) lane_max[k] = std::max(lane_max[k], s[j + k]);
  }
  float max = s[0];
  for (int k = 0; k < 8; ++k) max = std::max(max, lane_max[k]);
  for (int j = j8; j < n_valid; ++j) max = std::max(max, s[j]);
  Map8(s, s, n_valid, [max](V8 v, int64_t) { return FastExp8(v - max); });
  for (int j = 0; j < j8; j += 8) {
    for (int k = 0; k < 8; ++k) lane_sum[k] += s[j + k];
  }
  float sum = 0.0f;
  for (int k = 0; k < 8; ++k) sum += lane_sum[k];
  for (int j = j8; j < n_valid; ++j) sum += s[j];
  const float inv = 1.0f / sum;
  for (int j = 0; j < n_valid; ++j) s[j] *= inv;
  for (int j = n_valid; j < n_total; ++j) s[j] = 0.0f;
}

template <int QB>
void Attend(const AttentionParams& p, const float* q, int nq, int first_pos, const float* k_t,
            const float* v, float* scratch, float* out) {
  const int hd = p.head_dim;
  const int n_keys = first_pos + nq;  // keys the last query sees
  const int n_keys_padded = AttentionCacheStride(n_keys);
  const int s_stride = AttentionCacheStride(p.k_stride);
  float* scores = scratch;
  float* qs = scratch + static_cast<size_t>(kAttentionQueryBlock) * s_stride;
  float* acc = qs + static_cast<size_t>(kAttentionQueryBlock) * hd;
  for (int i = 0; i < QB; ++i) {
    for (int e = 0; e < hd; ++e) qs[i * hd + e] = i < nq ? q[i * p.q_stride + e] * p.scale : 0.0f;
  }
  Scores<QB>(qs, hd, k_t, p.k_stride, n_keys_padded, scores, s_stride);
  for (int i = 0; i < nq; ++i) Softmax(scores + i * s_stride, first_pos + i + 1, n_keys);
  for (int i = 0; i < nq; ++i) {
    WeightedSum(scores + i * s_stride, first_pos + i + 1, v, hd, acc);
    std::memcpy(out + i * p.q_stride, acc, sizeof(float) * hd);
  }
}

}  // namespace

void EF_SWIGLU_FN(float* g, const float* u, size_t n) {
  Map8(g, g, static_cast<int64_t>(n), [u, n](V8 gv, int64_t i) {
    V8 uv;
    if (i + 8 <= static_cast<int64_t>(n)) {
      uv = Load8(u + i);
    } else {
      float tmp[8] = {};
      std::memcpy(tmp, u + i, sizeof(float) * static_cast<size_t>(static_cast<int64_t>(n) - i));
      uv = Load8(tmp);
    }
    return gv / (1.0f + FastExp8(-gv)) * uv;
  });
}

void EF_ATTENTION_FN(const AttentionParams& p, const float* q, int nq, int first_pos,
                     const float* k_t, const float* v, float* scratch, float* out) {
  if (nq == 1) {
    Attend<1>(p, q, nq, first_pos, k_t, v, scratch, out);
  } else {
    Attend<kAttentionQueryBlock>(p, q, nq, first_pos, k_t, v, scratch, out);
  }
}

}  // namespace edgefarm::engine::attention_internal
