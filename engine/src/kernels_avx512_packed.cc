// AVX-512 prompt-processing tiles on repacked weights (VNNI for the integer types, FMA for
// F32/F16).
//
// The dot-product tiles (kernels_avx512.cc) put 64 consecutive k of one row in a register, which
// costs an unpack per row per 4 tokens and a horizontal sum per output. Here a tile's rows are
// first repacked, 16 rows to a "panel", so that one zmm holds the same 4 consecutive k of all 16
// rows (a 16 x 16 dword transpose, done with gathers). Then VPDPBUSD against the 4 activation
// bytes of a token broadcast to every lane accumulates 16 rows at once: lanes are rows, there are
// no horizontal sums, and the unpack cost is paid once per tile (64 tokens) instead of once per
// 4 tokens. Every type enters as unsigned bytes: signed types (Q8_0, int8) are flipped to q + 128
// and, like the offset types (Q4_0: q - 8, ...), corrected with the activation block sums the
// quantiser stores (nsum16/nsum32), seeded into the integer accumulator. F32/F16 use the same
// layout in f32 with FMAs against broadcast activations.
#include <algorithm>
#include <type_traits>
#include <vector>

#include "kernels_avx512_unpack.h"
#include "kernels_common.h"

namespace edgefarm::engine::kernels {
namespace {

using namespace avx512;  // NOLINT(google-build-using-namespace): the AVX-512 unpackers

constexpr int kLanes = 16;  // rows per panel

// Sub-block: the span sharing one weight scale (16 for Q6_K's sub-scales, else a 32-block).
template <class U>
constexpr int kSub = std::is_same_v<U, Q6_K> ? 16 : 32;
template <class U>
constexpr int kShift = U::kOffsetShift == kSignedQ ? 7 : U::kOffsetShift;

// One zmm as a vector element: std::vector<__m512i> would drop the type's attributes from the
// template argument (-Wignored-attributes); a struct keeps its size and alignment.
struct alignas(64) Zmm {
  __m512i v;
};

struct Panel {
  std::vector<Zmm> q;        // [sub-block][k4 in sub-block] -> 16 rows x 4 bytes
  std::vector<float> scale;  // [sub-block][16 rows]
  std::vector<float> bias;   // [sub-block][16 rows] (types with a bias)
};

// Repacks rows [0, nrows) of w (nrows <= 16; missing rows are zero) into p.
template <class U>
void PackPanel(const TileArgs& a, const uint8_t* w, int64_t nrows, Panel* p) {
  constexpr int kSubsPerPair = static_cast<int>(kPair) / kSub<U>;
  const int64_t pairs = PadCols(a.cols) / kPair;
  p->q.resize(static_cast<size_t>(pairs) * 16);
  p->scale.resize(static_cast<size_t>(pairs) * kSubsPerPair * kLanes);
  if constexpr (U::kBias) p->bias.resize(p->scale.size());
  alignas(64) uint8_t tq[kLanes][64];
  alignas(64) float ts[kLanes][16];
  alignas(64) float tb[kLanes][16];
  // Byte offsets of row r's dword j within tq / ts: r * 64 (+ 4 j via the base pointer).
  const __m512i rows =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(64));
  const __m512i flip = _mm512_set1_epi8(static_cast<char>(U::kOffsetShift == kSignedQ ? 0x80 : 0));
  for (int64_t pi = 0; pi < pairs; ++pi) {
    for (int r = 0; r < kLanes; ++r) {
      Pair u{_mm512_setzero_si512(), _mm512_setzero_ps(), _mm512_setzero_ps()};
      if (r < nrows) {
        u = U::Load(w + r * a.w_stride, a.cols, pi);
        u.q = _mm512_xor_si512(u.q, flip);
      }
      _mm512_store_si512(tq[r], u.q);
      _mm512_store_ps(ts[r], u.scale);
      _mm512_store_ps(tb[r], u.bias);
    }
    for (int j = 0; j < 16; ++j) {
      p->q[pi * 16 + j].v = _mm512_i32gather_epi32(rows, tq[0] + 4 * j, 1);
    }
    for (int s = 0; s < kSubsPerPair; ++s) {
      const int lane = s * (kSub<U> / 4);
      const size_t at = static_cast<size_t>(pi * kSubsPerPair + s) * kLanes;
      _mm512_storeu_ps(&p->scale[at], _mm512_i32gather_ps(rows, &ts[0][lane], 1));
      if constexpr (U::kBias) {
        _mm512_storeu_ps(&p->bias[at], _mm512_i32gather_ps(rows, &tb[0][lane], 1));
      }
    }
  }
}

// G panels (16 rows each) x T tokens; float accumulators are lanes = rows.
template <class U, int G, int T>
void PackedMicro(const TileArgs& a, const Panel* const* panels, const uint8_t* act, float* out,
                 const __mmask16* row_mask) {
  constexpr int kSubK4 = kSub<U> / 4;
  const int64_t padded = PadCols(a.cols);
  const int64_t subs = padded / kSub<U>;
  ActView x[T];
  for (int t = 0; t < T; ++t) x[t] = ActAt(act + t * a.act_stride, padded);
  __m512 acc[G][T];
  for (int g = 0; g < G; ++g) {
    for (int t = 0; t < T; ++t) acc[g][t] = _mm512_setzero_ps();
  }
  for (int64_t s = 0; s < subs; ++s) {
    __m512i iacc[G][T];
    for (int t = 0; t < T; ++t) {
      const int32_t nsum = kSub<U> == 32 ? x[t].nsum32[s] : x[t].nsum16[s];
      const __m512i seed = _mm512_set1_epi32(kShift<U> > 0 ? nsum * (1 << kShift<U>) : 0);
      for (int g = 0; g < G; ++g) iacc[g][t] = seed;
    }
    const Zmm* q[G];
    for (int g = 0; g < G; ++g) q[g] = panels[g]->q.data() + s * kSubK4;
    for (int j = 0; j < kSubK4; ++j) {
      __m512i wq[G];
      for (int g = 0; g < G; ++g) wq[g] = _mm512_load_si512(&q[g][j].v);
      for (int t = 0; t < T; ++t) {
        int32_t four;
        std::memcpy(&four, x[t].qs + s * kSub<U> + 4 * j, 4);
        const __m512i av = _mm512_set1_epi32(four);
        for (int g = 0; g < G; ++g) iacc[g][t] = _mm512_dpbusd_epi32(iacc[g][t], wq[g], av);
      }
    }
    for (int g = 0; g < G; ++g) {
      const __m512 ws = _mm512_loadu_ps(&panels[g]->scale[s * kLanes]);
      for (int t = 0; t < T; ++t) {
        const __m512 d = _mm512_set1_ps(x[t].lane_d[s * kSubK4]);
        acc[g][t] =
            _mm512_fmadd_ps(_mm512_cvtepi32_ps(iacc[g][t]), _mm512_mul_ps(ws, d), acc[g][t]);
      }
      if constexpr (U::kBias) {
        const __m512 wb = _mm512_loadu_ps(&panels[g]->bias[s * kLanes]);
        for (int t = 0; t < T; ++t) {
          acc[g][t] = _mm512_fmadd_ps(wb, _mm512_set1_ps(x[t].dsum32[s]), acc[g][t]);
        }
      }
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int t = 0; t < T; ++t) {
      _mm512_mask_storeu_ps(out + t * a.ldo + g * kLanes, row_mask[g], acc[g][t]);
    }
  }
}

constexpr int kTokens = 6;

template <class U, int G, int T>
void TokenSweep(const TileArgs& a, const Panel* const* panels, float* out, const __mmask16* m) {
  int64_t t = 0;
  for (; t + T <= a.tokens; t += T) {
    PackedMicro<U, G, T>(a, panels, a.act + t * a.act_stride, out + t * a.ldo, m);
  }
  const int64_t left = a.tokens - t;
  const uint8_t* act = a.act + t * a.act_stride;
  float* o = out + t * a.ldo;
  switch (left) {
    case 1:
      return PackedMicro<U, G, 1>(a, panels, act, o, m);
    case 2:
      return PackedMicro<U, G, 2>(a, panels, act, o, m);
    case 3:
      return PackedMicro<U, G, 3>(a, panels, act, o, m);
    case 4:
      return PackedMicro<U, G, 4>(a, panels, act, o, m);
    case 5:
      return PackedMicro<U, G, 5>(a, panels, act, o, m);
    default:
      return;
  }
}

__mmask16 RowMask(int64_t n) {
  return n >= kLanes ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << n) - 1);
}

template <class U>
void PackedTile(const TileArgs& a) {
  thread_local Panel panel[2];
  const Panel* panels[2] = {&panel[0], &panel[1]};
  for (int64_t r0 = 0; r0 < a.rows; r0 += 2 * kLanes) {
    const int64_t left = a.rows - r0;
    const __mmask16 masks[2] = {RowMask(left), RowMask(std::max<int64_t>(0, left - kLanes))};
    PackPanel<U>(a, a.w + r0 * a.w_stride, std::min<int64_t>(left, kLanes), &panel[0]);
    if (left > kLanes) {
      PackPanel<U>(a, a.w + (r0 + kLanes) * a.w_stride, std::min<int64_t>(left - kLanes, kLanes),
                   &panel[1]);
      TokenSweep<U, 2, kTokens>(a, panels, a.out + r0, masks);
    } else {
      TokenSweep<U, 1, kTokens>(a, panels, a.out + r0, masks);
    }
  }
}

// Float weights: the same lanes-are-rows scheme with FMAs. A panel is [k][16 rows] of f32: each
// row's next 16 values are read contiguously (F16 widened), then transposed through L1.
template <bool kHalf>
void PackFloatPanel(const TileArgs& a, const uint8_t* w, int64_t nrows, std::vector<float>* panel) {
  panel->resize(static_cast<size_t>(a.cols) * kLanes);
  alignas(64) float tmp[kLanes][16];
  const __m512i rows =
      _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                         _mm512_set1_epi32(64));
  float* dst = panel->data();
  for (int64_t k0 = 0; k0 < a.cols; k0 += 16) {
    const int64_t n = std::min<int64_t>(16, a.cols - k0);
    const auto km = static_cast<__mmask16>(n >= 16 ? 0xffff : (1u << n) - 1);
    for (int r = 0; r < kLanes; ++r) {
      __m512 v = _mm512_setzero_ps();
      if (r < nrows) {
        const uint8_t* row = w + r * a.w_stride;
        if constexpr (kHalf) {
          v = _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(km, row + 2 * k0));
        } else {
          v = _mm512_maskz_loadu_ps(km, row + 4 * k0);
        }
      }
      _mm512_store_ps(tmp[r], v);
    }
    for (int64_t j = 0; j < n; ++j) {
      _mm512_storeu_ps(dst + (k0 + j) * kLanes, _mm512_i32gather_ps(rows, &tmp[0][j], 1));
    }
  }
}

template <int G, int T>
void FloatPackedMicro(const TileArgs& a, const std::vector<float>* const* panels,
                      const uint8_t* act, float* out, const __mmask16* row_mask) {
  const float* x[T];
  for (int t = 0; t < T; ++t) x[t] = reinterpret_cast<const float*>(act + t * a.act_stride);
  const float* p[G];
  for (int g = 0; g < G; ++g) p[g] = panels[g]->data();
  __m512 acc[G][T];
  for (int g = 0; g < G; ++g) {
    for (int t = 0; t < T; ++t) acc[g][t] = _mm512_setzero_ps();
  }
  for (int64_t k = 0; k < a.cols; ++k) {
    __m512 wv[G];
    for (int g = 0; g < G; ++g) wv[g] = _mm512_loadu_ps(p[g] + k * kLanes);
    for (int t = 0; t < T; ++t) {
      const __m512 xv = _mm512_set1_ps(x[t][k]);
      for (int g = 0; g < G; ++g) acc[g][t] = _mm512_fmadd_ps(wv[g], xv, acc[g][t]);
    }
  }
  for (int g = 0; g < G; ++g) {
    for (int t = 0; t < T; ++t) {
      _mm512_mask_storeu_ps(out + t * a.ldo + g * kLanes, row_mask[g], acc[g][t]);
    }
  }
}

constexpr int kFloatTokens = 12;

template <int G>
void FloatTokenSweep(const TileArgs& a, const std::vector<float>* const* panels, float* out,
                     const __mmask16* m) {
  int64_t t = 0;
  for (; t + kFloatTokens <= a.tokens; t += kFloatTokens) {
    FloatPackedMicro<G, kFloatTokens>(a, panels, a.act + t * a.act_stride, out + t * a.ldo, m);
  }
  for (; t + 4 <= a.tokens; t += 4) {
    FloatPackedMicro<G, 4>(a, panels, a.act + t * a.act_stride, out + t * a.ldo, m);
  }
  for (; t < a.tokens; ++t) {
    FloatPackedMicro<G, 1>(a, panels, a.act + t * a.act_stride, out + t * a.ldo, m);
  }
}

template <bool kHalf>
void FloatPackedTile(const TileArgs& a) {
  thread_local std::vector<float> panel[2];
  const std::vector<float>* panels[2] = {&panel[0], &panel[1]};
  for (int64_t r0 = 0; r0 < a.rows; r0 += 2 * kLanes) {
    const int64_t left = a.rows - r0;
    const __mmask16 masks[2] = {RowMask(left), RowMask(std::max<int64_t>(0, left - kLanes))};
    PackFloatPanel<kHalf>(a, a.w + r0 * a.w_stride, std::min<int64_t>(left, kLanes), &panel[0]);
    if (left > kLanes) {
      PackFloatPanel<kHalf>(a, a.w + (r0 + kLanes) * a.w_stride,
                            std::min<int64_t>(left - kLanes, kLanes), &panel[1]);
      FloatTokenSweep<2>(a, panels, a.out + r0, masks);
    } else {
      FloatTokenSweep<1>(a, panels, a.out + r0, masks);
    }
  }
}

}  // namespace

TileFn Avx512PackedTile(TensorType type) {
  return TileForType<Q8_0, Q4_0, Q5_0, Q4_K, Q6_K, I8, I4Sym, I4Affine>(
      type, []<class U>() -> TileFn {
        if constexpr (std::is_same_v<U, float>) {
          return FloatPackedTile<false>;
        } else if constexpr (std::is_same_v<U, uint16_t>) {
          return FloatPackedTile<true>;
        } else {
          return PackedTile<U>;
        }
      });
}

}  // namespace edgefarm::engine::kernels
