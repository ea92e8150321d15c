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

#include <vector>

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
      sums[c] = int32_t(uint32_t(rowSum(w, n, k, (t + j) * 16 + c)) * 128u); // wraps as dpbusd does
    __m512i corr = _mm512_load_si512(sums);
    for (int r = 0; r < MR; ++r) {
      __m512i v = _mm512_sub_epi32(a[r][j], corr);
      int64_t *dst = acc + r * ldacc + j * 16;
      _mm512_storeu_si512(dst, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
      _mm512_storeu_si512(dst + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
    }
  }
}

/// As blockI8, over rows already biased to unsigned (x + 128): the
/// broadcasts come straight from memory (no scalar xor, no GPR -> vector
/// move competing with the multiply port).
template <int MR, int NT>
inline void blockU8(const uint8_t *x, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
                    int64_t t, int64_t *acc, int64_t ldacc) {
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
      __m512i xb = _mm512_set1_epi32(load4(x + r * ldx + 4 * g));
      for (int j = 0; j < NT; ++j)
        a[r][j] = _mm512_dpbusd_epi32(a[r][j], xb, wv[j]);
    }
  }
  for (int j = 0; j < NT; ++j) {
    alignas(64) int32_t sums[16];
    for (int c = 0; c < 16; ++c)
      sums[c] = int32_t(uint32_t(rowSum(w, n, k, (t + j) * 16 + c)) * 128u); // wraps as dpbusd does
    __m512i corr = _mm512_load_si512(sums);
    for (int r = 0; r < MR; ++r) {
      __m512i v = _mm512_sub_epi32(a[r][j], corr);
      int64_t *dst = acc + r * ldacc + j * 16;
      _mm512_storeu_si512(dst, _mm512_cvtepi32_epi64(_mm512_castsi512_si256(v)));
      _mm512_storeu_si512(dst + 8, _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(v, 1)));
    }
  }
}

/// MR rows over tiles [t0, t1): 4 tiles per block where they are there.
template <int MR>
inline void rowsU8(const uint8_t *x, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
                   int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  int64_t t = t0;
  for (; t + 4 <= t1; t += 4)
    blockU8<MR, 4>(x, ldx, w, n, k, t, acc + (t - t0) * 16, ldacc);
  for (; t + 2 <= t1; t += 2)
    blockU8<MR, 2>(x, ldx, w, n, k, t, acc + (t - t0) * 16, ldacc);
  for (; t < t1; ++t)
    blockU8<MR, 1>(x, ldx, w, n, k, t, acc + (t - t0) * 16, ldacc);
}

template <int MR>
inline void rowsI8(const int8_t *x, int64_t ldx, const uint8_t *w, int64_t n, int64_t k, int64_t t0,
                   int64_t t1, int64_t *acc, int64_t ldacc) {
  int64_t t = t0;
  // Decode (one row): one 16-channel tile at a time, so the packed weights
  // are read as one sequential stream (4 tiles at once were 4 streams:
  // 13-17% slower decode on AMD Zen 4, docs/performance.md).
  constexpr int NT = MR == 1 ? 1 : 2;
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
  if (m >= 4) {
    // Prefill: bias the rows once per call (m * k bytes against m * k * 16 *
    // (t1 - t0) multiply-adds), then 4 rows x 4 tiles per block.
    thread_local std::vector<uint8_t> biased;
    int64_t kp = groupsOf(k) * 4, rows = m / 4 * 4;
    if (biased.size() < size_t(rows * kp))
      biased.resize(size_t(rows * kp));
    const __m512i flip = _mm512_set1_epi8(char(0x80));
    for (int64_t i = 0; i < rows; ++i) {
      const int8_t *src = x + i * ldx;
      uint8_t *dst = biased.data() + i * kp;
      int64_t j = 0;
      for (; j + 64 <= kp; j += 64)
        _mm512_storeu_si512(dst + j, _mm512_xor_si512(_mm512_loadu_si512(src + j), flip));
      if (j < kp) {
        __mmask64 mk = (~__mmask64(0)) >> (64 - (kp - j));
        _mm512_mask_storeu_epi8(dst + j, mk,
                                _mm512_xor_si512(_mm512_maskz_loadu_epi8(mk, src + j), flip));
      }
    }
    for (; r + 4 <= m; r += 4)
      rowsU8<4>(biased.data() + r * kp, kp, w, n, k, t0, t1, acc + r * ldacc, ldacc);
  }
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

/// The narrow epilogue, 8 channels per step: acc + base fits int32, so
/// `vpmuldq` (low 32 bits of each 64-bit lane, signed) gives the exact
/// 64-bit product; the rounding shift is per lane (`vpsravq`). Clamping the
/// shifted value to int32 and then (plus the zero point) to [lo, hi] equals
/// clamping once to [lo, hi]: [lo, hi] lies inside int32 and |zp| < 2^16.
void requantize(const int64_t *acc, const int64_t *base, const FixedPointMultiplier *m,
                const int32_t *zp, int64_t n, int32_t lo, int32_t hi, void *y, int bytes) {
  static_assert(sizeof(FixedPointMultiplier) == 8, "multiplier, shift as one 64-bit lane");
  const __m512i one = _mm512_set1_epi64(1), vlo = _mm512_set1_epi64(lo),
                vhi = _mm512_set1_epi64(hi);
  for (int64_t c = 0; c < n; c += 8) {
    __mmask8 k = n - c >= 8 ? __mmask8(0xFF) : __mmask8((1u << (n - c)) - 1);
    __m512i v = _mm512_add_epi64(_mm512_maskz_loadu_epi64(k, acc + c),
                                 _mm512_maskz_loadu_epi64(k, base + c));
    __m512i ms = _mm512_maskz_loadu_epi64(k, m + c); // multiplier | shift << 32
    __m512i shift = _mm512_srli_epi64(ms, 32);
    __m512i p = _mm512_mul_epi32(v, ms);
    p = _mm512_add_epi64(p, _mm512_sllv_epi64(one, _mm512_sub_epi64(shift, one)));
    p = _mm512_srav_epi64(p, shift);
    p = _mm512_add_epi64(p, _mm512_cvtepi32_epi64(_mm256_maskz_loadu_epi32(k, zp + c)));
    p = _mm512_min_epi64(_mm512_max_epi64(p, vlo), vhi);
    if (bytes == 1)
      _mm512_mask_cvtepi64_storeu_epi8(static_cast<int8_t *>(y) + c, k, p);
    else
      _mm512_mask_cvtepi64_storeu_epi16(static_cast<int16_t *>(y) + c, k, p);
  }
}

} // namespace

const KernelTable &avx512Kernels() {
  static const KernelTable t{dotI8, dotI16, avx2Kernels().dotF32, avx2Kernels().scores,
                             avx2Kernels().weightedSum, avx2Kernels().quantize,
                             avx2Kernels().dequantize, requantize, avx2Kernels().siluMul,
                             avx2Kernels().geluTanh, avx2Kernels().roundF16,
                             avx2Kernels().expSum};
  return t;
}

} // namespace cpu
} // namespace rt
} // namespace mu
