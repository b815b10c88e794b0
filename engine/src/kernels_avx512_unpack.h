// AVX-512 weight unpackers shared by the AVX-512 kernels (kernels_avx512.cc: dot-product tiles;
// kernels_avx512_packed.cc: packed prompt tiles). Include only from files compiled with the
// AVX-512 flags of engine/kernels.cmake.
//
// Each unpacker turns a "pair" of 32-element blocks (64 weights, one zmm) of a row into bytes q
// for VPDPBUSD, a per-lane scale and a per-lane bias (kernels_common.h).
#pragma once

#include <immintrin.h>

#include <cstring>

#include "kernels_common.h"

namespace edgefarm::engine::kernels::avx512 {

struct Pair {
  __m512i q;
  __m512 scale;
  __m512 bias;
};

// How an unpacker's q bytes enter VPDPBUSD (kOffsetShift):
//   kSignedQ: q is signed; activations go in biased to unsigned, corrected per row.
//   0: q is unsigned with no offset (the type has a float bias instead).
//   s > 0: q is unsigned and the weight is q - 2^s; the 2^s * sum(activation) correction comes
//   from the activation's lane_nsum, so it costs nothing per weight row.
constexpr int kSignedQ = -1;

inline uint16_t Bits16(const void* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return h;
}

// [a x 8 lanes, b x 8 lanes] from two fp16 scales.
inline __m512 HalfPair(uint16_t a, uint16_t b) {
  const __m256i h =
      _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_set1_epi16(static_cast<int16_t>(a))),
                              _mm_set1_epi16(static_cast<int16_t>(b)), 1);
  return _mm512_cvtph_ps(h);
}

inline __m512 Halves(float lo, float hi) {
  return _mm512_insertf32x8(_mm512_set1_ps(lo), _mm256_set1_ps(hi), 1);
}

inline __m512i Low4(__m512i v) {
  return _mm512_and_si512(v, _mm512_set1_epi8(0x0f));
}

// [low nibbles of v, high nibbles of v]: 32 packed bytes -> 64 elements in order.
inline __m512i SplitNibbles(__m256i v) {
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(v), v, 1);
  return Low4(_mm512_mask_srli_epi16(z, 0xffff0000u, z, 4));
}

// Two Q4_0-style blocks (16 packed bytes each) -> [A lo, A hi, B lo, B hi] as 0..15.
inline __m512i TwoBlockNibbles(const uint8_t* qa, const uint8_t* qb, bool has_b) {
  const __m256i a =
      _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qa)));
  const __m256i b =
      has_b ? _mm256_broadcastsi128_si256(_mm_loadu_si128(reinterpret_cast<const __m128i*>(qb)))
            : _mm256_setzero_si256();
  const __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
  return Low4(_mm512_mask_srli_epi16(z, 0xff00ff00u, z, 4));
}

struct Q8_0 {
  static constexpr bool kBias = false;
  static constexpr int kOffsetShift = kSignedQ;
  static Pair Load(const uint8_t* row, int64_t cols, int64_t p) {
    const uint8_t* a = row + 2 * p * sizeof(BlockQ8_0);
    const bool has_b = (2 * p + 1) * kBlock < cols;
    const __m256i lo = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + 2));
    const __m256i hi =
        has_b ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a + sizeof(BlockQ8_0) + 2))
              : _mm256_setzero_si256();
    return {_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1),
            HalfPair(Bits16(a), has_b ? Bits16(a + sizeof(BlockQ8_0)) : 0), _mm512_setzero_ps()};
  }
};

struct Q4_0 {
  static constexpr bool kBias = false;
  static constexpr int kOffsetShift = 3;
  static Pair Load(const uint8_t* row, int64_t cols, int64_t p) {
    const uint8_t* a = row + 2 * p * sizeof(BlockQ4_0);
    const uint8_t* b = a + sizeof(BlockQ4_0);
    const bool has_b = (2 * p + 1) * kBlock < cols;
    return {TwoBlockNibbles(a + 2, b + 2, has_b), HalfPair(Bits16(a), has_b ? Bits16(b) : 0),
            _mm512_setzero_ps()};
  }
};

struct Q5_0 {
  static constexpr bool kBias = false;
  static constexpr int kOffsetShift = 4;
  static Pair Load(const uint8_t* row, int64_t cols, int64_t p) {
    const auto* a = reinterpret_cast<const BlockQ5_0*>(row) + 2 * p;
    const BlockQ5_0* b = a + 1;
    const bool has_b = (2 * p + 1) * kBlock < cols;
    uint32_t qa = 0, qb = 0;
    std::memcpy(&qa, a->qh, 4);
    if (has_b) std::memcpy(&qb, b->qh, 4);
    const __mmask64 high = static_cast<__mmask64>(qa) | (static_cast<__mmask64>(qb) << 32);
    const __m512i q = TwoBlockNibbles(a->qs, b->qs, has_b);
    return {_mm512_or_si512(q, _mm512_maskz_set1_epi8(high, 16)), HalfPair(a->d, has_b ? b->d : 0),
            _mm512_setzero_ps()};
  }
};

struct Q4_K {
  static constexpr bool kBias = true;
  static constexpr int kOffsetShift = 0;
  static Pair Load(const uint8_t* row, int64_t, int64_t p) {
    const auto* b = reinterpret_cast<const BlockQ4_K*>(row) + p / 4;
    const int i = static_cast<int>(p % 4);
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs + 32 * i));
    // All eight 6-bit scales and mins at once (the packing of Q4KScaleMin, word-wise): bytes
    // 0-3 of sc / mn are sub-blocks 0-3, bytes 4-7 sub-blocks 4-7.
    uint32_t u[3];
    std::memcpy(u, b->scales, sizeof(u));
    const uint64_t sc =
        (u[0] & 0x3f3f3f3fu) |
        (static_cast<uint64_t>((u[2] & 0x0f0f0f0fu) | ((u[0] >> 2) & 0x30303030u)) << 32);
    const uint64_t mn =
        (u[1] & 0x3f3f3f3fu) |
        (static_cast<uint64_t>(((u[2] >> 4) & 0x0f0f0f0fu) | ((u[1] >> 2) & 0x30303030u)) << 32);
    const auto sc2 = static_cast<uint32_t>((sc >> (16 * i)) & 0xffffu);
    const auto mn2 = static_cast<uint32_t>((mn >> (16 * i)) & 0xffffu);
    // [sc_2i, sc_2i+1, m_2i, m_2i+1] * [d, d, -dmin, -dmin]
    const __m128 q =
        _mm_cvtepi32_ps(_mm_cvtepu8_epi32(_mm_cvtsi32_si128(static_cast<int>(sc2 | (mn2 << 16)))));
    uint32_t dd;
    std::memcpy(&dd, &b->d, 4);  // d and dmin are adjacent fp16
    const __m128 ds = _mm_cvtph_ps(_mm_cvtsi32_si128(static_cast<int>(dd)));  // [d, dmin, 0, 0]
    const __m128 f = _mm_mul_ps(_mm_mul_ps(q, _mm_permute_ps(ds, 0x50)), _mm_setr_ps(1, 1, -1, -1));
    const __m512 f4 = _mm512_castps128_ps512(f);
    const __m512i lo = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    const __m512i hi = _mm512_setr_epi32(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    return {SplitNibbles(v), _mm512_permutexvar_ps(lo, f4), _mm512_permutexvar_ps(hi, f4)};
  }
};

struct Q6_K {
  static constexpr bool kBias = false;
  static constexpr int kOffsetShift = 5;
  static Pair Load(const uint8_t* row, int64_t, int64_t p) {
    const auto* b = reinterpret_cast<const BlockQ6_K*>(row) + p / 4;
    const int h = static_cast<int>(p % 4) / 2, hi = static_cast<int>(p % 2);
    const __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
    const __m512i lo = Low4(hi ? _mm512_srli_epi16(ql, 4) : ql);
    __m256i qh = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qh + 32 * h));
    if (hi) qh = _mm256_srli_epi16(qh, 4);
    __m512i bits = _mm512_inserti64x4(_mm512_castsi256_si512(qh), _mm256_srli_epi16(qh, 2), 1);
    bits = _mm512_slli_epi16(_mm512_and_si512(bits, _mm512_set1_epi8(3)), 4);
    // Four 16-element sub-scales, each spread over 4 lanes.
    int32_t s4;
    std::memcpy(&s4, b->scales + 8 * h + 4 * hi, 4);
    const __m128i idx = _mm_setr_epi8(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
    const __m128i spread = _mm_shuffle_epi8(_mm_cvtsi32_si128(s4), idx);
    const __m512 sc = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(spread));
    return {_mm512_or_si512(lo, bits), _mm512_mul_ps(sc, _mm512_set1_ps(_cvtsh_ss(b->d))),
            _mm512_setzero_ps()};
  }
};

struct I8 {
  static constexpr bool kBias = false;
  static constexpr int kOffsetShift = kSignedQ;
  static Pair Load(const uint8_t* row, int64_t cols, int64_t p) {
    float scale;
    std::memcpy(&scale, row, sizeof(float));
    const uint8_t* qs = row + kEfI8RowHeaderBytes + 64 * p;
    const int64_t left = cols - 64 * p;
    const __mmask64 m = left >= 64 ? ~0ull : (1ull << left) - 1;
    return {_mm512_maskz_loadu_epi8(m, qs), _mm512_set1_ps(scale), _mm512_setzero_ps()};
  }
};

struct I4Sym {
  static constexpr bool kBias = false;
  static constexpr int kOffsetShift = 3;
  static Pair Load(const uint8_t* row, int64_t, int64_t p) {
    const auto* b = reinterpret_cast<const BlockEfI4SymG128*>(row) + p / 2;
    const __m512i v = _mm512_loadu_si512(b->qs);
    return {Low4(p % 2 ? _mm512_srli_epi16(v, 4) : v), _mm512_set1_ps(_cvtsh_ss(b->d)),
            _mm512_setzero_ps()};
  }
};

struct I4Affine {
  static constexpr bool kBias = true;
  static constexpr int kOffsetShift = 0;
  static Pair Load(const uint8_t* row, int64_t, int64_t p) {
    const auto* b = reinterpret_cast<const BlockEfI4AffineG64*>(row) + p;
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b->qs));
    return {SplitNibbles(v), _mm512_set1_ps(_cvtsh_ss(b->scale)),
            _mm512_set1_ps(_cvtsh_ss(b->bias))};
  }
};

}  // namespace edgefarm::engine::kernels::avx512
