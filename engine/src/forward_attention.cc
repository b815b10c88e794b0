// Portable build of the attention kernel and the run-time choice between it and the AVX2 build.
#define EF_ATTENTION_FN AttendHeadGeneric
#define EF_SWIGLU_FN SwiGluGeneric
#include "forward_attention_impl.h"

namespace edgefarm::engine {
namespace {

bool HasAvx2Fma() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  return has;
#else
  return false;
#endif
}

}  // namespace

void AttendHead(const AttentionParams& p, const float* q, int nq, int first_pos, const float* k_t,
                const float* v, float* scratch, float* out) {
#if defined(__x86_64__) || defined(__i386__)
  if (p.simd && HasAvx2Fma()) {
    attention_internal::AttendHeadAvx2(p, q, nq, first_pos, k_t, v, scratch, out);
    return;
  }
#endif
  attention_internal::AttendHeadGeneric(p, q, nq, first_pos, k_t, v, scratch, out);
}

void SwiGlu(float* g, const float* u, size_t n, bool simd) {
#if defined(__x86_64__) || defined(__i386__)
  if (simd && HasAvx2Fma()) {
    attention_internal::SwiGluAvx2(g, u, n);
    return;
  }
#endif
  attention_internal::SwiGluGeneric(g, u, n);
}

}  // namespace edgefarm::engine
