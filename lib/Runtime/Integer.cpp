//===- Integer.cpp - reference integer arithmetic (the spec) --------------===//
#include "mu/runtime/Integer.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace mu {
namespace rt {

bool quantizeMultiplier(double real, FixedPointMultiplier &out) {
  if (!(real > 0) || real >= double(int64_t(1) << 31) || std::isinf(real))
    return false;
  int exp;
  double frac = std::frexp(real, &exp); // real = frac * 2^exp, frac in [0.5, 1)
  int64_t q = int64_t(std::llround(frac * double(int64_t(1) << 31)));
  if (q == (int64_t(1) << 31)) { // rounding carried into the next power of 2
    q /= 2;
    ++exp;
  }
  int shift = 31 - exp;
  if (shift < 1 || shift > 62)
    return false; // multiplier too small (< 2^-31) or too large
  out.multiplier = int32_t(q);
  out.shift = shift;
  return true;
}

int32_t applyMultiplier(int32_t acc, FixedPointMultiplier m) {
  int64_t r = int64_t(acc) * int64_t(m.multiplier);
  r = (r + (int64_t(1) << (m.shift - 1))) >> m.shift;
  return int32_t(std::clamp<int64_t>(r, std::numeric_limits<int32_t>::min(),
                                     std::numeric_limits<int32_t>::max()));
}

int32_t requantize(int32_t acc, FixedPointMultiplier m, int32_t zeroPoint, int32_t qmin,
                   int32_t qmax) {
  int64_t r = int64_t(applyMultiplier(acc, m)) + zeroPoint;
  return int32_t(std::clamp<int64_t>(r, qmin, qmax));
}

void linearInt(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int8_t *w,
               int64_t n, const int32_t *bias, const FixedPointMultiplier *mult,
               int32_t yZero, int32_t yMin, int32_t yMax, int32_t *y) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < n; ++c) {
      int64_t acc = bias ? bias[c] : 0;
      for (int64_t i = 0; i < k; ++i)
        acc += int64_t(x[r * k + i] - xZero) * int64_t(w[c * k + i]);
      int32_t acc32 = int32_t(std::clamp<int64_t>(acc, std::numeric_limits<int32_t>::min(),
                                                  std::numeric_limits<int32_t>::max()));
      y[r * n + c] = requantize(acc32, mult[c], yZero, yMin, yMax);
    }
}

} // namespace rt
} // namespace mu
