// The attention kernel body, compiled twice: forward_attention.cc (portable) and
// forward_attention_avx2.cc (-mavx2 -mfma). Written as fixed-size loops over register blocks
// (kAttentionQueryBlock queries x kAttentionKeyBlock positions) that the compiler unrolls and
// vectorises without re-associating any sum the scalar order would not.
// Include only from those two files, after defining EF_ATTENTION_FN to the function's name.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "forward_attention.h"

namespace edgefarm::engine::attention_internal {
namespace {

// scores[i][j] = (q_i . K_j) for j in [0, n_keys_padded), QB queries at once.
template <int QB>
void Scores(const float* qs, int hd, const float* k_t, int k_stride, int n_keys, float* scores,
            int s_stride) {
  constexpr int JB = kAttentionKeyBlock;
  for (int j0 = 0; j0 < n_keys; j0 += JB) {
    float acc[QB][JB] = {};
    for (int e = 0; e < hd; ++e) {
      const float* kr = k_t + static_cast<size_t>(e) * k_stride + j0;
      for (int i = 0; i < QB; ++i) {
        const float qv = qs[i * hd + e];
        for (int jj = 0; jj < JB; ++jj) acc[i][jj] += qv * kr[jj];
      }
    }
    for (int i = 0; i < QB; ++i) std::memcpy(scores + i * s_stride + j0, acc[i], sizeof(acc[i]));
  }
}

// In place: scores row -> probabilities over [0, n_valid), zero over [n_valid, n_total).
void Softmax(float* s, int n_valid, int n_total) {
  float max = s[0];
  for (int j = 1; j < n_valid; ++j) max = std::max(max, s[j]);
  float sum = 0.0f;
  for (int j = 0; j < n_valid; ++j) {
    s[j] = std::exp(s[j] - max);
    sum += s[j];
  }
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
    float* a = acc;
    std::fill(a, a + hd, 0.0f);
    const float* s = scores + i * s_stride;
    const int n_valid = first_pos + i + 1;
    for (int j = 0; j < n_valid; ++j) {
      const float pj = s[j];
      const float* vr = v + static_cast<size_t>(j) * hd;
      for (int e = 0; e < hd; ++e) a[e] += pj * vr[e];
    }
    std::memcpy(out + i * p.q_stride, a, sizeof(float) * hd);
  }
}

}  // namespace

void EF_ATTENTION_FN(const AttentionParams& p, const float* q, int nq, int first_pos,
                     const float* k_t, const float* v, float* scratch, float* out) {
  if (nq == 1) {
    Attend<1>(p, q, nq, first_pos, k_t, v, scratch, out);
  } else {
    Attend<kAttentionQueryBlock>(p, q, nq, first_pos, k_t, v, scratch, out);
  }
}

}  // namespace edgefarm::engine::attention_internal
