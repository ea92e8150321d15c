//===- LinearAvx2.cpp - AVX2/FMA/F16C linear kernels ----------------------===//
///
/// \file
/// Built with -mavx2 -mfma -mf16c and called only when cpuid reports them.
/// Everything here has internal linkage and no std templates, so no
/// AVX2-compiled copy of a shared inline function can leak into portable
/// code.
///
/// int8 x int8: per 4-input group, `vpmaddubsw(|x|, sign(w, x))` then
/// `vpmaddwd(., 1)`: |x| <= 128 and |w| <= 127 (the packed layout's range),
/// so the int16 pair sums (<= 32512) never saturate and the dot is exact.
/// int16 x int8: weights widened with `vpmovsxbw`, `vpmaddwd` with the
/// broadcast 4 activations; int32 lanes flushed to int64 every 64 groups.
///
//===----------------------------------------------------------------------===//
#include "Linear.h"
#include "FastMath.h"
#include "mu/Support/Half.h"
#include "TileLoop.h"

#include <immintrin.h>
#include <limits>

namespace mu {
namespace rt {
namespace cpu {

namespace {

inline int32_t load4(const void *p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

inline void addTo64(int64_t *dst, __m256i v32) {
  __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(v32));
  __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(v32, 1));
  _mm256_storeu_si256(reinterpret_cast<__m256i *>(dst),
                      _mm256_add_epi64(_mm256_loadu_si256(reinterpret_cast<__m256i *>(dst)), lo));
  _mm256_storeu_si256(
      reinterpret_cast<__m256i *>(dst + 4),
      _mm256_add_epi64(_mm256_loadu_si256(reinterpret_cast<__m256i *>(dst + 4)), hi));
}

template <int MR>
inline void tileI8(const int8_t *x, int64_t ldx, const uint8_t *tile, int64_t groups, int64_t *acc,
                   int64_t ldacc) {
  const __m256i ones = _mm256_set1_epi16(1);
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < 16; ++c)
      acc[r * ldacc + c] = 0;
  // Lane sums grow by <= 4 * 128 * 127 per group: flush long before 2^31.
  for (int64_t g0 = 0; g0 < groups; g0 += 16384) {
    int64_t g1 = g0 + 16384 < groups ? g0 + 16384 : groups;
    __m256i a[MR][2];
    for (int r = 0; r < MR; ++r)
      a[r][0] = a[r][1] = _mm256_setzero_si256();
    for (int64_t g = g0; g < g1; ++g) {
      __m256i w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(tile + g * 64));
      __m256i w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i *>(tile + g * 64 + 32));
      for (int r = 0; r < MR; ++r) {
        __m256i xb = _mm256_set1_epi32(load4(x + r * ldx + 4 * g));
        __m256i ax = _mm256_abs_epi8(xb);
        __m256i p0 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w0, xb));
        __m256i p1 = _mm256_maddubs_epi16(ax, _mm256_sign_epi8(w1, xb));
        a[r][0] = _mm256_add_epi32(a[r][0], _mm256_madd_epi16(p0, ones));
        a[r][1] = _mm256_add_epi32(a[r][1], _mm256_madd_epi16(p1, ones));
      }
    }
    for (int r = 0; r < MR; ++r) {
      addTo64(acc + r * ldacc, a[r][0]);
      addTo64(acc + r * ldacc + 8, a[r][1]);
    }
  }
}

void dotI8(const int8_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
           int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  eachTileRows<3>(
      x, m, ldx, w, k, t0, t1, acc, ldacc,
      [&](const int8_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI8<3>(xr, ldx, tile, g, a, ldacc);
      },
      [&](const int8_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI8<1>(xr, ldx, tile, g, a, ldacc);
      });
}

/// Sums adjacent int32 lanes of a (channels 0-3) and b (channels 4-7) into
/// 8 channel sums, in order.
inline __m256i pairSum(__m256i a, __m256i b) {
  return _mm256_permute4x64_epi64(_mm256_hadd_epi32(a, b), 0xD8);
}

template <int MR>
inline void tileI16(const int16_t *x, int64_t ldx, const uint8_t *tile, int64_t groups,
                    int64_t *acc, int64_t ldacc) {
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < 16; ++c)
      acc[r * ldacc + c] = 0;
  // A lane gains <= 2 * 32768 * 127 per group; 64 groups keep lane pairs
  // below 2^31.
  for (int64_t g0 = 0; g0 < groups; g0 += 64) {
    int64_t g1 = g0 + 64 < groups ? g0 + 64 : groups;
    __m256i a[MR][4];
    for (int r = 0; r < MR; ++r)
      for (int q = 0; q < 4; ++q)
        a[r][q] = _mm256_setzero_si256();
    for (int64_t g = g0; g < g1; ++g) {
      __m256i wq[4];
      for (int q = 0; q < 4; ++q)
        wq[q] = _mm256_cvtepi8_epi16(
            _mm_loadu_si128(reinterpret_cast<const __m128i *>(tile + g * 64 + 16 * q)));
      for (int r = 0; r < MR; ++r) {
        int64_t xv;
        __builtin_memcpy(&xv, x + r * ldx + 4 * g, 8);
        __m256i xb = _mm256_set1_epi64x(xv);
        for (int q = 0; q < 4; ++q)
          a[r][q] = _mm256_add_epi32(a[r][q], _mm256_madd_epi16(wq[q], xb));
      }
    }
    for (int r = 0; r < MR; ++r) {
      addTo64(acc + r * ldacc, pairSum(a[r][0], a[r][1]));
      addTo64(acc + r * ldacc + 8, pairSum(a[r][2], a[r][3]));
    }
  }
}

void dotI16(const int16_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
            int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  eachTileRows<2>(
      x, m, ldx, w, k, t0, t1, acc, ldacc,
      [&](const int16_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI16<2>(xr, ldx, tile, g, a, ldacc);
      },
      [&](const int16_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI16<1>(xr, ldx, tile, g, a, ldacc);
      });
}

inline float hsum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

/// Eight weights of row c from input i, as float (int8 rows: times their
/// block's scale when block-wise; per-row scales are applied after the dot).
template <FloatWeights::Kind K>
inline __m256 loadW(const FloatWeights &w, int64_t k, int64_t c, int64_t i) {
  if (K == FloatWeights::F16)
    return _mm256_cvtph_ps(_mm_loadu_si128(
        reinterpret_cast<const __m128i *>(static_cast<const uint16_t *>(w.data) + c * k + i)));
  if (K == FloatWeights::F32)
    return _mm256_loadu_ps(static_cast<const float *>(w.data) + c * k + i);
  __m256 v = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64(
      reinterpret_cast<const __m128i *>(static_cast<const int8_t *>(w.data) + c * k + i))));
  if (w.block > 0)
    v = _mm256_mul_ps(v, _mm256_set1_ps(w.scales[c * (k / w.block) + i / w.block]));
  return v;
}

template <FloatWeights::Kind K>
inline float loadW1(const FloatWeights &w, int64_t k, int64_t c, int64_t i) {
  if (K == FloatWeights::F16)
    return _cvtsh_ss(static_cast<const uint16_t *>(w.data)[c * k + i]);
  if (K == FloatWeights::F32)
    return static_cast<const float *>(w.data)[c * k + i];
  float v = float(static_cast<const int8_t *>(w.data)[c * k + i]);
  return w.block > 0 ? v * w.scales[c * (k / w.block) + i / w.block] : v;
}

/// Per-row (or per-tensor) scale of an int8 row, applied after its dot.
template <FloatWeights::Kind K> inline float rowScale(const FloatWeights &w, int64_t c) {
  if (K != FloatWeights::I8 || w.block > 0)
    return 1.0f;
  return w.scales[w.perRow ? c : 0];
}

/// MR activation rows x NR weight rows, FMA over k in steps of 8.
template <FloatWeights::Kind K, int MR, int NR>
inline void blockF32(const float *x, int64_t ldx, const FloatWeights &w, int64_t k, int64_t c0,
                     const float *bias, float *y, int64_t ldy) {
  __m256 a[MR][NR];
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j)
      a[r][j] = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= k; i += 8) {
    __m256 xv[MR];
    for (int r = 0; r < MR; ++r)
      xv[r] = _mm256_loadu_ps(x + r * ldx + i);
    for (int j = 0; j < NR; ++j) {
      __m256 wv = loadW<K>(w, k, c0 + j, i);
      for (int r = 0; r < MR; ++r)
        a[r][j] = _mm256_fmadd_ps(xv[r], wv, a[r][j]);
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; ++j) {
      float s = hsum(a[r][j]);
      for (int64_t t = i; t < k; ++t)
        s += x[r * ldx + t] * loadW1<K>(w, k, c0 + j, t);
      s *= rowScale<K>(w, c0 + j);
      y[r * ldy + c0 + j] = bias ? s + bias[c0 + j] : s;
    }
}

template <FloatWeights::Kind K, int MR, int NR>
inline void rowsF32(const float *x, int64_t ldx, const FloatWeights &w, int64_t k, int64_t n0,
                    int64_t n1, const float *bias, float *y, int64_t ldy) {
  int64_t c = n0;
  for (; c + NR <= n1; c += NR)
    blockF32<K, MR, NR>(x, ldx, w, k, c, bias, y, ldy);
  for (; c < n1; ++c)
    blockF32<K, MR, 1>(x, ldx, w, k, c, bias, y, ldy);
}

template <FloatWeights::Kind K>
void dotF32Kind(const float *x, int64_t m, int64_t ldx, const FloatWeights &w, int64_t k,
                int64_t n0, int64_t n1, const float *bias, float *y, int64_t ldy) {
  // Decode (one row) over a slice of weights too big to stay in cache
  // between tokens: one weight row at a time, a single sequential stream
  // the hardware prefetcher follows (8 rows at once, 8 streams, ran at half
  // the bandwidth on AMD Zen 4: docs/performance.md). Smaller slices (cache
  // resident, compute-bound): 8 rows at once, 8 independent FMA chains.
  // Prefill: 2 rows x 4 weight rows. Every output is summed the same way
  // whatever the blocking, so the bits do not move.
  constexpr int64_t esz = K == FloatWeights::F32 ? 4 : K == FloatWeights::F16 ? 2 : 1;
  bool stream = (n1 - n0) * k * esz >= (int64_t(256) << 10);
  // Channels in blocks of 64 so a block of weights stays in cache while all
  // rows pass over it.
  for (int64_t b0 = n0; b0 < n1; b0 += 64) {
    int64_t b1 = b0 + 64 < n1 ? b0 + 64 : n1;
    int64_t r = 0;
    for (; r + 2 <= m; r += 2)
      rowsF32<K, 2, 4>(x + r * ldx, ldx, w, k, b0, b1, bias, y + r * ldy, ldy);
    for (; r < m; ++r)
      if (stream)
        rowsF32<K, 1, 1>(x + r * ldx, ldx, w, k, b0, b1, bias, y + r * ldy, ldy);
      else
        rowsF32<K, 1, 8>(x + r * ldx, ldx, w, k, b0, b1, bias, y + r * ldy, ldy);
  }
}

void dotF32(const float *x, int64_t m, int64_t ldx, const FloatWeights &w, int64_t k, int64_t n0,
            int64_t n1, const float *bias, float *y, int64_t ldy) {
  switch (w.kind) {
  case FloatWeights::F32: dotF32Kind<FloatWeights::F32>(x, m, ldx, w, k, n0, n1, bias, y, ldy); return;
  case FloatWeights::F16: dotF32Kind<FloatWeights::F16>(x, m, ldx, w, k, n0, n1, bias, y, ldy); return;
  case FloatWeights::I8: dotF32Kind<FloatWeights::I8>(x, m, ldx, w, k, n0, n1, bias, y, ldy); return;
  }
}

/// Scores with q held in NV registers (d == 8 * NV).
template <int NV>
void scoresReg(const float *q, const float *k, int64_t T, float scale, float *scores) {
  __m256 qv[NV];
  for (int j = 0; j < NV; ++j)
    qv[j] = _mm256_loadu_ps(q + 8 * j);
  for (int64_t t = 0; t < T; ++t) {
    const float *kr = k + t * 8 * NV;
    __m256 a0 = _mm256_mul_ps(qv[0], _mm256_loadu_ps(kr));
    __m256 a1 = _mm256_setzero_ps();
    for (int j = 1; j < NV; ++j) {
      if (j % 2)
        a1 = _mm256_fmadd_ps(qv[j], _mm256_loadu_ps(kr + 8 * j), a1);
      else
        a0 = _mm256_fmadd_ps(qv[j], _mm256_loadu_ps(kr + 8 * j), a0);
    }
    scores[t] = hsum(_mm256_add_ps(a0, a1)) * scale;
  }
}

void scores(const float *q, const float *k, int64_t T, int64_t d, float scale, float *out) {
  switch (d) {
  case 32: scoresReg<4>(q, k, T, scale, out); return;
  case 64: scoresReg<8>(q, k, T, scale, out); return;
  case 128: scoresReg<16>(q, k, T, scale, out); return;
  default: break;
  }
  for (int64_t t = 0; t < T; ++t) {
    const float *kr = k + t * d;
    __m256 s0 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= d; i += 8)
      s0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + i), _mm256_loadu_ps(kr + i), s0);
    float s = hsum(s0);
    for (; i < d; ++i)
      s += q[i] * kr[i];
    out[t] = s * scale;
  }
}

/// acc (d == 8 * NV floats) kept in registers over all T rows of v.
template <int NV> void weightedSumReg(const float *p, const float *v, int64_t T, float *acc) {
  __m256 a[NV];
  for (int j = 0; j < NV; ++j)
    a[j] = _mm256_loadu_ps(acc + 8 * j);
  for (int64_t t = 0; t < T; ++t) {
    if (p[t] == 0.0f)
      continue;
    __m256 pv = _mm256_set1_ps(p[t]);
    for (int j = 0; j < NV; ++j)
      a[j] = _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + t * 8 * NV + 8 * j), a[j]);
  }
  for (int j = 0; j < NV; ++j)
    _mm256_storeu_ps(acc + 8 * j, a[j]);
}

void weightedSum(const float *p, const float *v, int64_t T, int64_t d, float *acc) {
  switch (d) {
  case 32: weightedSumReg<4>(p, v, T, acc); return;
  case 64: weightedSumReg<8>(p, v, T, acc); return;
  case 128: weightedSumReg<16>(p, v, T, acc); return;
  default: break;
  }
  for (int64_t t = 0; t < T; ++t) {
    if (p[t] == 0.0f)
      continue;
    __m256 pv = _mm256_set1_ps(p[t]);
    int64_t i = 0;
    for (; i + 8 <= d; i += 8)
      _mm256_storeu_ps(acc + i, _mm256_fmadd_ps(pv, _mm256_loadu_ps(v + t * d + i),
                                                _mm256_loadu_ps(acc + i)));
    for (; i < d; ++i)
      acc[i] += p[t] * v[t * d + i];
  }
}

/// 8 int32 already inside the int8/int16 range, stored narrowed (the packs
/// saturate, a no-op here).
inline void storeNarrow(void *q, int bytes, int64_t i, __m256i v) {
  __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  if (bytes == 1)
    _mm_storel_epi64(reinterpret_cast<__m128i *>(static_cast<int8_t *>(q) + i),
                     _mm_packs_epi16(w, w));
  else
    _mm_storeu_si128(reinterpret_cast<__m128i *>(static_cast<int16_t *>(q) + i), w);
}

/// Scalar tail, the same steps as the vector body (and as quantizeValue):
/// f32 division, round half to even, clamp, NaN -> clamp(zp).
inline int32_t quantizeOne(float v, float s, int32_t z, int32_t lo, int32_t hi) {
  float q = __builtin_nearbyintf(v / s);
  if (q != q)
    return z < lo ? lo : z > hi ? hi : z;
  float l = float(lo - z), h = float(hi - z);
  q = q < l ? l : q > h ? h : q;
  return int32_t(q) + z;
}

void quantize(const float *x, int64_t rows, int64_t count, const float *scale, const int32_t *zp,
              bool perChannel, int32_t lo, int32_t hi, void *q, int bytes) {
  // clamp(q + z, lo, hi) == clamp(q, lo - z, hi - z) + z, all exact in f32
  // for 16-bit ranges; NaN lanes take clamp(z, lo, hi).
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = 0;
    for (; c + 8 <= count; c += 8) {
      int64_t i = r * count + c;
      __m256 s = perChannel ? _mm256_loadu_ps(scale + c) : _mm256_set1_ps(scale[0]);
      __m256i z = perChannel ? _mm256_loadu_si256(reinterpret_cast<const __m256i *>(zp + c))
                             : _mm256_set1_epi32(zp[0]);
      __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
      v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      __m256 nan = _mm256_cmp_ps(v, v, _CMP_UNORD_Q);
      __m256 l = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(lo), z));
      __m256 h = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_set1_epi32(hi), z));
      v = _mm256_min_ps(_mm256_max_ps(v, l), h);
      __m256i out = _mm256_add_epi32(_mm256_cvtps_epi32(v), z);
      __m256i zc = _mm256_min_epi32(_mm256_max_epi32(z, _mm256_set1_epi32(lo)), _mm256_set1_epi32(hi));
      out = _mm256_blendv_epi8(out, zc, _mm256_castps_si256(nan));
      storeNarrow(q, bytes, i, out);
    }
    for (; c < count; ++c) {
      int64_t i = r * count + c, k = perChannel ? c : 0;
      int32_t v = quantizeOne(x[i], scale[k], zp[k], lo, hi);
      if (bytes == 1)
        static_cast<int8_t *>(q)[i] = int8_t(v);
      else
        static_cast<int16_t *>(q)[i] = int16_t(v);
    }
  }
}

void dequantize(const void *q, int bytes, int64_t rows, int64_t count, const float *scale,
                const int32_t *zp, bool perChannel, float *x) {
  for (int64_t r = 0; r < rows; ++r) {
    int64_t c = 0;
    for (; c + 8 <= count; c += 8) {
      int64_t i = r * count + c;
      __m256i v = bytes == 1 ? _mm256_cvtepi8_epi32(_mm_loadl_epi64(
                                   reinterpret_cast<const __m128i *>(static_cast<const int8_t *>(q) + i)))
                             : _mm256_cvtepi16_epi32(_mm_loadu_si128(
                                   reinterpret_cast<const __m128i *>(static_cast<const int16_t *>(q) + i)));
      __m256i z = perChannel ? _mm256_loadu_si256(reinterpret_cast<const __m256i *>(zp + c))
                             : _mm256_set1_epi32(zp[0]);
      __m256 s = perChannel ? _mm256_loadu_ps(scale + c) : _mm256_set1_ps(scale[0]);
      _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_sub_epi32(v, z)), s));
    }
    for (; c < count; ++c) {
      int64_t i = r * count + c, k = perChannel ? c : 0;
      int32_t v = bytes == 1 ? static_cast<const int8_t *>(q)[i] : static_cast<const int16_t *>(q)[i];
      x[i] = float(v - zp[k]) * scale[k];
    }
  }
}

/// fm::exp, 8 lanes: the same operations in the same order.
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(fm::kExpLo)), _mm256_set1_ps(fm::kExpHi));
  const __m256 round = _mm256_set1_ps(fm::kRound);
  __m256 n = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(fm::kLog2e)), round), round);
  __m256 r = _mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(fm::kLn2Hi)));
  r = _mm256_sub_ps(r, _mm256_mul_ps(n, _mm256_set1_ps(fm::kLn2Lo)));
  __m256 p = _mm256_set1_ps(fm::kP0);
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(fm::kP1));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(fm::kP2));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(fm::kP3));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(fm::kP4));
  p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(fm::kP5));
  __m256 y = _mm256_mul_ps(p, _mm256_mul_ps(r, r));
  y = _mm256_add_ps(y, r);
  y = _mm256_add_ps(y, _mm256_set1_ps(1.0f));
  __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(y, _mm256_castsi256_ps(bits));
}

void siluMul(const float *g, const float *u, float *y, int64_t n) {
  const __m256 sign = _mm256_set1_ps(-0.0f), one = _mm256_set1_ps(1.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 gv = _mm256_loadu_ps(g + i);
    __m256 e = exp8(_mm256_xor_ps(gv, sign));
    __m256 s = _mm256_div_ps(gv, _mm256_add_ps(one, e));
    _mm256_storeu_ps(y + i, _mm256_mul_ps(s, _mm256_loadu_ps(u + i)));
  }
  for (; i < n; ++i)
    y[i] = fm::siluMul(g[i], u[i]);
}

void geluTanh(const float *x, float *y, int64_t n) {
  const __m256 one = _mm256_set1_ps(1.0f), cubic = _mm256_set1_ps(fm::kGeluCubic),
               scale = _mm256_set1_ps(fm::kGeluScale);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    __m256 z = _mm256_mul_ps(v, v);
    z = _mm256_mul_ps(z, v);
    z = _mm256_mul_ps(z, cubic);
    z = _mm256_add_ps(z, v);
    z = _mm256_mul_ps(z, scale);
    _mm256_storeu_ps(y + i, _mm256_div_ps(v, _mm256_add_ps(one, exp8(z))));
  }
  for (; i < n; ++i)
    y[i] = fm::geluTanh(x[i]);
}

float expSum(float *p, int64_t n, float mx) {
  const __m256 ninf = _mm256_set1_ps(-std::numeric_limits<float>::infinity()),
               m = _mm256_set1_ps(mx);
  __m256 acc = _mm256_setzero_ps();
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(p + i);
    __m256 e = _mm256_andnot_ps(_mm256_cmp_ps(v, ninf, _CMP_EQ_OQ), exp8(_mm256_sub_ps(v, m)));
    _mm256_storeu_ps(p + i, e);
    acc = _mm256_add_ps(acc, e);
  }
  float lane[8];
  _mm256_storeu_ps(lane, acc);
  float s = ((lane[0] + lane[4]) + (lane[1] + lane[5])) + ((lane[2] + lane[6]) + (lane[3] + lane[7]));
  for (; i < n; ++i) {
    float e = p[i] == -std::numeric_limits<float>::infinity() ? 0.0f : fm::exp(p[i] - mx);
    p[i] = e;
    s += e;
  }
  return s;
}

/// F16C conversions round to nearest even and overflow to inf as the
/// reference does; NaN lanes (whose payload F16C keeps) take the reference's
/// scalar path.
void roundF16(const float *x, float *y, int64_t n) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    __m256 v = _mm256_loadu_ps(x + i);
    if (_mm256_movemask_ps(_mm256_cmp_ps(v, v, _CMP_UNORD_Q)))
      for (int j = 0; j < 8; ++j)
        y[i + j] = halfToFloat(floatToHalf(x[i + j]));
    else
      _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(v, _MM_FROUND_TO_NEAREST_INT)));
  }
  for (; i < n; ++i)
    y[i] = halfToFloat(floatToHalf(x[i]));
}

} // namespace

const KernelTable &avx2Kernels() {
  static const KernelTable t{dotI8,    dotI16,     dotF32,  scores,  weightedSum,
                             quantize, dequantize, nullptr, siluMul, geluTanh,
                             roundF16, expSum};
  return t;
}

} // namespace cpu
} // namespace rt
} // namespace mu
