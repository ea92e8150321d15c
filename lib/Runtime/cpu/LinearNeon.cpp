//===- LinearNeon.cpp - AArch64 NEON dot-product linear kernels -----------===//
///
/// \file
/// Built with -march=armv8.2-a+dotprod and called only when the CPU reports
/// the dot-product extension (HWCAP_ASIMDDP); internal linkage only.
///
/// int8 x int8: `sdot` on one 16-byte block (4 channels x 4 inputs) against
/// the 4 broadcast activations: exact signed products, no offsets; int32
/// lanes flushed to int64 every 16384 groups. int16 x int8: weights widened
/// with `sxtl`, `smlal` per channel, lanes added long into int64 every 128
/// groups. Float kernels and the rest are the portable ones.
///
//===----------------------------------------------------------------------===//
#include "Linear.h"
#include "TileLoop.h"

#include <arm_neon.h>

namespace mu {
namespace rt {
namespace cpu {

namespace {

inline int32_t load4(const void *p) {
  int32_t v;
  __builtin_memcpy(&v, p, 4);
  return v;
}

template <int MR>
inline void tileI8(const int8_t *x, int64_t ldx, const uint8_t *tile, int64_t groups, int64_t *acc,
                   int64_t ldacc) {
  for (int r = 0; r < MR; ++r)
    for (int c = 0; c < 16; ++c)
      acc[r * ldacc + c] = 0;
  for (int64_t g0 = 0; g0 < groups; g0 += 16384) {
    int64_t g1 = g0 + 16384 < groups ? g0 + 16384 : groups;
    int32x4_t a[MR][4];
    for (int r = 0; r < MR; ++r)
      for (int q = 0; q < 4; ++q)
        a[r][q] = vdupq_n_s32(0);
    for (int64_t g = g0; g < g1; ++g) {
      const int8_t *wg = reinterpret_cast<const int8_t *>(tile + g * 64);
      int8x16_t w[4] = {vld1q_s8(wg), vld1q_s8(wg + 16), vld1q_s8(wg + 32), vld1q_s8(wg + 48)};
      for (int r = 0; r < MR; ++r) {
        int8x16_t xb = vreinterpretq_s8_s32(vdupq_n_s32(load4(x + r * ldx + 4 * g)));
        for (int q = 0; q < 4; ++q)
          a[r][q] = vdotq_s32(a[r][q], w[q], xb);
      }
    }
    for (int r = 0; r < MR; ++r)
      for (int q = 0; q < 4; ++q) {
        int64_t *dst = acc + r * ldacc + 4 * q;
        dst[0] += vgetq_lane_s32(a[r][q], 0);
        dst[1] += vgetq_lane_s32(a[r][q], 1);
        dst[2] += vgetq_lane_s32(a[r][q], 2);
        dst[3] += vgetq_lane_s32(a[r][q], 3);
      }
  }
}

void dotI8(const int8_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
           int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  eachTileRows<4>(
      x, m, ldx, w, k, t0, t1, acc, ldacc,
      [&](const int8_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI8<4>(xr, ldx, tile, g, a, ldacc);
      },
      [&](const int8_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI8<1>(xr, ldx, tile, g, a, ldacc);
      });
}

inline void tileI16(const int16_t *x, const uint8_t *tile, int64_t groups, int64_t *acc) {
  for (int c = 0; c < 16; ++c)
    acc[c] = 0;
  // A lane gains <= 32768 * 127 per group: 128 groups stay far below 2^31.
  for (int64_t g0 = 0; g0 < groups; g0 += 128) {
    int64_t g1 = g0 + 128 < groups ? g0 + 128 : groups;
    int32x4_t a[16];
    for (int c = 0; c < 16; ++c)
      a[c] = vdupq_n_s32(0);
    for (int64_t g = g0; g < g1; ++g) {
      const int8_t *wg = reinterpret_cast<const int8_t *>(tile + g * 64);
      int16x4_t xv = vld1_s16(x + 4 * g);
      for (int q = 0; q < 4; ++q) {
        int8x16_t wq = vld1q_s8(wg + 16 * q);
        int16x8_t lo = vmovl_s8(vget_low_s8(wq)), hi = vmovl_high_s8(wq);
        a[4 * q + 0] = vmlal_s16(a[4 * q + 0], vget_low_s16(lo), xv);
        a[4 * q + 1] = vmlal_s16(a[4 * q + 1], vget_high_s16(lo), xv);
        a[4 * q + 2] = vmlal_s16(a[4 * q + 2], vget_low_s16(hi), xv);
        a[4 * q + 3] = vmlal_s16(a[4 * q + 3], vget_high_s16(hi), xv);
      }
    }
    for (int c = 0; c < 16; ++c)
      acc[c] += vaddlvq_s32(a[c]);
  }
}

void dotI16(const int16_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n, int64_t k,
            int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc) {
  eachTileRows<1>(
      x, m, ldx, w, k, t0, t1, acc, ldacc,
      [&](const int16_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI16(xr, tile, g, a);
      },
      [&](const int16_t *xr, const uint8_t *tile, int64_t g, int64_t *a) {
        tileI16(xr, tile, g, a);
      });
}

} // namespace

const KernelTable &neonKernels() {
  const KernelTable &p = portableKernels();
  static const KernelTable t{dotI8,         dotI16,     p.dotF32,    p.scores,
                             p.weightedSum, p.quantize, p.dequantize, nullptr, p.siluMul,
                             p.geluTanh};
  return t;
}

} // namespace cpu
} // namespace rt
} // namespace mu
