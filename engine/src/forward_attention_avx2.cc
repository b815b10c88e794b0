// AVX2+FMA build of the attention kernel (compiled with -mavx2 -mfma; called only when the CPU
// has both, see forward_attention.cc).
#define EF_ATTENTION_FN AttendHeadAvx2
#define EF_SWIGLU_FN SwiGluAvx2
#include "forward_attention_impl.h"
