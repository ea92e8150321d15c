//===- Rows.cpp - the interpreter's per-row float loops -------------------===//
///
/// \file
/// See Rows.h. Portable C++; the compiler vectorizes what it can.
///
//===----------------------------------------------------------------------===//
#include "Rows.h"

#include "mu/Support/Half.h"
#include "mu/runtime/Packing.h"

#include <cmath>

namespace mu {
namespace rt {
namespace cpu {

namespace {
/// Eight partial sums in a fixed order: vectorizable, no serial chain of
/// dependent adds, the same result on every thread count.
template <typename Term> double sum8(int64_t d, Term term) {
  double part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= d; i += 8)
    for (int j = 0; j < 8; ++j)
      part[j] += term(i + j);
  for (; i < d; ++i)
    part[i % 8] += term(i);
  return ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
}
} // namespace

void normRows(const float *x, const float *w, const float *b, float *y, int64_t r0, int64_t r1,
              int64_t d, float eps, bool layerNorm) {
  for (int64_t r = r0; r < r1; ++r) {
    const float *xr = x + r * d;
    float *yr = y + r * d;
    double mean = 0;
    if (layerNorm)
      mean = sum8(d, [&](int64_t i) { return double(xr[i]); }) / d;
    double ss = sum8(d, [&](int64_t i) {
      double c = xr[i] - mean;
      return c * c;
    });
    double inv = 1.0 / std::sqrt(ss / d + eps);
    for (int64_t i = 0; i < d; ++i) {
      double v = (xr[i] - mean) * inv;
      if (w)
        v *= w[i];
      if (b)
        v += b[i];
      yr[i] = float(v);
    }
  }
}

void ropeRows(const float *x, const float *cos, const float *sin, float *y, int64_t rows,
              int64_t S, int64_t d, bool interleaved) {
  int64_t h = d / 2;
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t i = 0; i < S; ++i) {
      const float *xr = x + (r * S + i) * d, *cr = cos + i * d, *sr = sin + i * d;
      float *yr = y + (r * S + i) * d;
      if (interleaved) {
        for (int64_t j = 0; j < d; ++j) {
          float rot = (j % 2 == 0) ? -xr[j + 1] : xr[j - 1];
          yr[j] = float(double(xr[j]) * double(cr[j]) + double(rot) * double(sr[j]));
        }
        continue;
      }
      // The two halves as separate loops: no branch per element.
      for (int64_t j = 0; j < h; ++j)
        yr[j] = float(double(xr[j]) * double(cr[j]) + double(-xr[j + h]) * double(sr[j]));
      for (int64_t j = h; j < d; ++j)
        yr[j] = float(double(xr[j]) * double(cr[j]) + double(xr[j - h]) * double(sr[j]));
    }
}

void addF32(const float *a, const float *b, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] + b[i];
}

void mulF32(const float *a, const float *b, float *y, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = a[i] * b[i];
}

void dequantRowI8(const int8_t *q, int64_t n, double scale, double zp, float *y) {
  for (int64_t i = 0; i < n; ++i)
    y[i] = float((double(q[i]) - zp) * scale);
}

void packedRowI8(const uint8_t *packed, int64_t n, int64_t k, int64_t r, double scale,
                 int8_t *row, float *y32, uint16_t *y16) {
  unpackI8Row(packed, n, k, r, row);
  if (y32)
    return dequantRowI8(row, k, scale, 0.0, y32);
  for (int64_t e = 0; e < k; ++e)
    y16[e] = floatToHalf(float(double(row[e]) * scale));
}

} // namespace cpu
} // namespace rt
} // namespace mu
