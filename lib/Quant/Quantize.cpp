//===- Quantize.cpp - quantization math -----------------------------------===//
#include "mu/Quant/Quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mu {
namespace quant {

int64_t quantizeSymmetric(double v, double scale, int bits) {
  int64_t m = qmax(bits);
  if (scale <= 0)
    return 0;
  double r = std::nearbyint(v / scale);
  return int64_t(std::clamp<double>(r, double(-m), double(m)));
}

namespace {

double rowError(const float *w, int64_t n, double scale, int bits) {
  double e = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = w[i] - double(quantizeSymmetric(w[i], scale, bits)) * scale;
    e += d * d;
  }
  return e;
}

RowQuantResult quantizeRows(const float *w, int64_t rows, int64_t cols, int bits, bool search) {
  RowQuantResult r;
  r.q.resize(size_t(rows * cols));
  r.scales.resize(size_t(rows));
  double signal = 0, noise = 0;
  int64_t m = qmax(bits);
  for (int64_t row = 0; row < rows; ++row) {
    const float *x = w + row * cols;
    double amax = 0;
    for (int64_t i = 0; i < cols; ++i)
      amax = std::max(amax, double(std::fabs(x[i])));
    double best = amax / double(m);
    if (amax == 0) {
      best = 1.0; // all-zero row: any scale reproduces it exactly
    } else if (search) {
      double bestErr = rowError(x, cols, best, bits);
      // Coarse grid over clipping ranges [0.5, 1] * max|w|, then a finer
      // grid around the best coarse point.
      double bestFrac = 1.0;
      for (int k = 1; k <= 25; ++k) {
        double frac = 1.0 - 0.02 * k;
        double e = rowError(x, cols, amax * frac / double(m), bits);
        if (e < bestErr) {
          bestErr = e;
          bestFrac = frac;
        }
      }
      for (int k = -4; k <= 4; ++k) {
        double frac = bestFrac + 0.005 * k;
        if (frac <= 0 || frac > 1.0 || k == 0)
          continue;
        double e = rowError(x, cols, amax * frac / double(m), bits);
        if (e < bestErr) {
          bestErr = e;
          bestFrac = frac;
        }
      }
      best = amax * bestFrac / double(m);
    }
    // Store the scale as float and quantize with exactly that value, so the
    // runtime's (q * scale) reconstruction matches what was optimized.
    float s = float(best);
    r.scales[size_t(row)] = s;
    for (int64_t i = 0; i < cols; ++i) {
      int64_t q = quantizeSymmetric(x[i], s, bits);
      r.q[size_t(row * cols + i)] = int32_t(q);
      double d = x[i] - double(q) * s;
      signal += double(x[i]) * x[i];
      noise += d * d;
    }
  }
  r.sqnrDb = noise == 0 ? std::numeric_limits<double>::infinity()
                        : 10.0 * std::log10(signal / noise);
  return r;
}

} // namespace

RowQuantResult quantizeRowsMse(const float *w, int64_t rows, int64_t cols, int bits) {
  return quantizeRows(w, rows, cols, bits, true);
}

RowQuantResult quantizeRowsMaxAbs(const float *w, int64_t rows, int64_t cols, int bits) {
  return quantizeRows(w, rows, cols, bits, false);
}

} // namespace quant
} // namespace mu
