// Causal attention of a block of queries over one KV head's cache (internal to the forward pass).
//
// Layouts: K is stored transposed, k_t[e * k_stride + j] for position j and head element e;
// V row-major, v[j * head_dim + e]. k_stride is AttentionCacheStride(n_ctx), a multiple of the
// key block so the score loop may read whole blocks past the last position (those lanes are
// masked). AttendHead picks an AVX2+FMA build of the kernel at run time when the CPU has it and
// `simd` is set, else the portable build. Thread-safety: pure function over its arguments.
#pragma once

#include <cstddef>

namespace edgefarm::engine {

inline constexpr int kAttentionQueryBlock = 4;  // queries sharing each loaded key row
inline constexpr int kAttentionKeyBlock = 16;   // positions per register block of scores

struct AttentionParams {
  int head_dim = 0;
  int k_stride = 0;  // AttentionCacheStride(n_ctx)
  int q_stride = 0;  // floats between consecutive queries (and outputs)
  float scale = 1.0f;
  bool simd = true;
};

inline int AttentionCacheStride(int n_ctx) {
  return (n_ctx + kAttentionKeyBlock - 1) / kAttentionKeyBlock * kAttentionKeyBlock;
}

// Scratch floats one thread needs for AttendHead.
inline size_t AttentionScratchFloats(int n_ctx, int head_dim) {
  return static_cast<size_t>(kAttentionQueryBlock) *
         (static_cast<size_t>(AttentionCacheStride(n_ctx)) + 2 * static_cast<size_t>(head_dim));
}

// For the nq (1..kAttentionQueryBlock) queries q[i * q_stride ...] at positions first_pos + i,
// writes softmax(q.K^T * scale) V over positions [0, first_pos + i] to out[i * q_stride ...].
void AttendHead(const AttentionParams& p, const float* q, int nq, int first_pos, const float* k_t,
                const float* v, float* scratch, float* out);

// g[i] = silu(g[i]) * u[i], the SwiGLU gate; same run-time choice of build as AttendHead.
void SwiGlu(float* g, const float* u, size_t n, bool simd);

namespace attention_internal {
void SwiGluAvx2(float* g, const float* u, size_t n);
void SwiGluGeneric(float* g, const float* u, size_t n);
void AttendHeadAvx2(const AttentionParams& p, const float* q, int nq, int first_pos,
                    const float* k_t, const float* v, float* scratch, float* out);
void AttendHeadGeneric(const AttentionParams& p, const float* q, int nq, int first_pos,
                       const float* k_t, const float* v, float* scratch, float* out);
}  // namespace attention_internal

}  // namespace edgefarm::engine
