//===- LinearAvx512.cpp - AVX-512 VNNI linear kernels ---------------------===//
///
/// \file
/// Built with AVX-512 F/BW/VL/VNNI flags and called only when cpuid reports
/// them (internal linkage only, as LinearAvx2.cpp).
///
/// int8 x int8: `vpdpbusd` on (x + 128) as unsigned bytes times the signed
/// weights of a 16-channel x 4-input block (one 64-byte load), minus
/// 128 * rowsum afterwards: exact while K <= 65536 (longer rows use the
/// AVX2 kernel). int16 x int8: weights widened to int16, `vpdpwssd` with the
/// broadcast activation pairs, lanes flushed to int64 every 64 groups.
/// Float linears use the AVX2/FMA kernel.
///
//===----------------------------------------------------------------------===//
#include "Linear.h"
#include "TileLoop.h"

#include <immintrin.h>

namespace mu {
namespace rt {
namespace cpu {

namespace {

inline int32_t load4(const void *p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline int32_t rowSum(const uint8_t *w, int64_t n, int64_t k, int64_t r) {
  int64_t np = (n + 15) / 16 * 16;
  int32_t s;
  __builtin_memcpy(&s, w + np * groupsOf(k) * 4 + 4 * r, 4);
  return s;
}

/// MR rows x NT tiles (16 channels each), all K.
template <int MR, int NT>
inline void blockI8(const int8_t *x, int64_t ldx, const uint8_t *w, int64_t n, int64_t k, int64_t t,
                    int64_t *acc, int64_t ldacc) {
  int64_t groups = groupsOf(k);
  const uint8_t *tile[NT];
  for (int j = 0; j < NT; ++j)
    tile[j] = w + (t + j) * groups * 64;
  __m512i a[MR][NT];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NT; ++j)
      a[r][j] = _mm512_setzero_si512();
  for (int64_t g = 0; g < groups; ++g) {
    __m512i wv[NT];
    for (int j = 0; j < NT; ++j)
      wv[j] = _mm512_loadu_si512(tile[j] + g * 64);
    for (int r = 0; r < MR; ++r) {
      __m512i xb = _mm512_set1_epi32(load4(x + r * ldx + 4 * g) ^ int32_t(0x80808080u));
      for (int j = 0; j < NT; ++j)
        a[r][j] = _mm512_dpbusd_epi32(a[r][j], xb, wv[j]);
    }
  }
  for (int j = 0; j < NT; ++j) {
    alignas(64) int32_t sums[16];
    for (int c = 0; c < 16; ++c)
      sums[c] = rowSum(w, n, k, (t + j) * 16 + c) * 128;
    __m512i corr = _mm512_load_si512(sums);
    for (int r = 0; r < MR; ++r) {
      __m512i v = _mm512_sub_epi32(a[r][j], corr);
      int64_t *dst = acc + r * ldacc + j * 16;
      _mm512_storeu_si512(dst, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
      _mm512_storeu_si512(dst + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
    }
  }
}

template <int MR>
inline void rowsI8(const int8_t *x, int64_t ldx, const uint8_t *w, int64_t n, int64_t k, int64_t t0,
                   int64_t t1, int64_t *acc, int64_t ldacc) {
  int64_t t = t0;
  constexpr int NT = MR == 1 ? 4 : 2;
  for (; t + NT <= t1; t += NT)
    blockI8<MR, NT>(x, ldx, w, n, k, t, acc + (t - t0) * 16, ldacc);
  for (; t < t1; ++t)
    blockI8<MR, 1>(x, ldx, w, n, k, t, acc + (t - t0) * 16, ldacc);
}

void dotI8(const int8_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
           int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  if (groupsOf(k) > 16384) { // lane sums of (x + 128) * w could pass 2^31
    avx2Kernels().dotI8(x, m, ldx, w, n, k, t0, t1, acc, ldacc);
    return;
  }
  int64_t r = 0;
  for (; r + 4 <= m; r += 4)
    rowsI8<4>(x + r * ldx, ldx, w, n, k, t0, t1, acc + r * ldacc, ldacc);
  for (; r < m; ++r)
    rowsI8<1>(x + r * ldx, ldx, w, n, k, t0, t1, acc + r * ldacc, ldacc);
}

/// 16 int32 lanes (channel c in lanes 2c, 2c+1) -> 8 int64 channel sums
/// added to dst.
inline void pairAdd64(int64_t *dst, __m512i v) {
  __m512i lo = _mm512_srai_epi64(_mm512_slli_epi64(v, 32), 32);
  __m512i hi = _mm512_srai_epi64(v, 32);
  _mm512_storeu_si512(dst, _mm512_add_epi64(_mm512_loadu_si512(dst), _mm512_add_epi64(lo, hi)));
}

template <int MR>
inline void tileI16(const int16_t *x, int64_t ldx, const uint8_t *tile, int64_t groups,
                    int64_t *acc, int64_t ldacc) {
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < 16; ++c)
      acc[r * ldacc + c] = 0;
  for (int64_t g0 = 0; g0 < groups; g0 += 64) {
    int64_t g1 = g0 + 64 < groups ? g0 + 64 : groups;
    __m512i a[MR][2];
    for (int r = 0; r < MR; ++r)
      a[r][0] = a[r][1] = _mm512_setzero_si512();
    for (int64_t g = g0; g < g1; ++g) {
      __m512i w0 = _mm512_cvtepi8_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(tile + g * 64)));
      __m512i w1 = _mm512_cvtepi8_epi16(
          _mm256_loadu_si256(reinterpret_cast<const __m256i *>(tile + g * 64 + 32)));
      for (int r = 0; r < MR; ++r) {
        long long xv;
        __builtin_memcpy(&xv, x + r * ldx + 4 * g, 8);
        __m512i xb = _mm512_set1_epi64(xv);
        a[r][0] = _mm512_dpwssd_epi32(a[r][0], w0, xb);
        a[r][1] = _mm512_dpwssd_epi32(a[r][1], w1, xb);
      }
    }
    for (int r = 0; r < MR; ++r) {
      pairAdd64(acc + r * ldacc, a[r][0]);
      pairAdd64(acc + r * ldacc + 8, a[r][1]);
    }
  }
}

void dotI16(const int16_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
            int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  eachTileRows<4>(
      x, m, ldx, w, k, t0, t1, acc, ldacc,
      [&](const int16_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI16<4>(xr, ldx, tile, g, a, ldacc);
      },
      [&](const int16_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI16<1>(xr, ldx, tile, g, a, ldacc);
      });
}

} // namespace

const KernelTable &avx512Kernels() {
  static const KernelTable t{dotI8, dotI16, avx2Kernels().dotF32, avx2Kernels().scores,
                             avx2Kernels().weightedSum, avx2Kernels().quantize,
                             avx2Kernels().dequantize};
  return t;
}

} // namespace cpu
} // namespace rt
} // namespace mu
