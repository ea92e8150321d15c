//===- Integer.cpp - reference integer arithmetic (the spec) --------------===//
#include "mu/runtime/Integer.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <type_traits>
#include <vector>

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

int32_t applyMultiplier(int64_t acc, FixedPointMultiplier m) {
  __int128 r = __int128(acc) * m.multiplier;
  r = (r + (__int128(1) << (m.shift - 1))) >> m.shift;
  if (r > std::numeric_limits<int32_t>::max())
    return std::numeric_limits<int32_t>::max();
  if (r < std::numeric_limits<int32_t>::min())
    return std::numeric_limits<int32_t>::min();
  return int32_t(r);
}

int32_t requantize(int64_t acc, FixedPointMultiplier m, int32_t zeroPoint, int32_t qmin,
                   int32_t qmax) {
  int64_t r = int64_t(applyMultiplier(acc, m)) + zeroPoint;
  return int32_t(std::clamp<int64_t>(r, qmin, qmax));
}

namespace {
template <typename W>
void linearAccImpl(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const W *w,
                   int64_t n, const int32_t *bias, int64_t *acc) {
  // The sums are exact int64. Runs of products are added in int32 when the
  // run is short enough that no int32 partial sum can overflow (8-bit
  // activations: 65k products), which vectorizes; the result is identical.
  int64_t maxX = 0;
  for (int64_t i = 0; i < rows * k; ++i)
    maxX = std::max<int64_t>(maxX, std::abs(int64_t(x[i]) - xZero));
  int64_t maxW = std::is_same<W, int8_t>::value ? 128 : 32768;
  int64_t run = maxX == 0 ? k : std::max<int64_t>(1, (int64_t(1) << 31) / (maxX * maxW) - 1);
  std::vector<int32_t> xs(static_cast<size_t>(k));
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < k; ++i)
      xs[size_t(i)] = x[r * k + i] - xZero;
    for (int64_t c = 0; c < n; ++c) {
      const W *wr = w + c * k;
      int64_t a = bias ? bias[c] : 0;
      if (run == 1) {
        for (int64_t i = 0; i < k; ++i)
          a += int64_t(xs[size_t(i)]) * int64_t(wr[i]);
      } else {
        for (int64_t i0 = 0; i0 < k; i0 += run) {
          int64_t i1 = std::min(k, i0 + run);
          int32_t part = 0;
          for (int64_t i = i0; i < i1; ++i)
            part += xs[size_t(i)] * int32_t(wr[i]);
          a += part;
        }
      }
      acc[r * n + c] = a;
    }
  }
}
} // namespace

void linearAcc(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int8_t *w,
               int64_t n, const int32_t *bias, int64_t *acc) {
  linearAccImpl(x, rows, k, xZero, w, n, bias, acc);
}

void linearAcc(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int16_t *w,
               int64_t n, const int32_t *bias, int64_t *acc) {
  linearAccImpl(x, rows, k, xZero, w, n, bias, acc);
}

void linearInt(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int8_t *w,
               int64_t n, const int32_t *bias, const FixedPointMultiplier *mult,
               int32_t yZero, int32_t yMin, int32_t yMax, int32_t *y) {
  std::vector<int64_t> acc(static_cast<size_t>(n));
  for (int64_t r = 0; r < rows; ++r) {
    linearAcc(x + r * k, 1, k, xZero, w, n, bias, acc.data());
    for (int64_t c = 0; c < n; ++c)
      y[r * n + c] = requantize(acc[size_t(c)], mult[c], yZero, yMin, yMax);
  }
}

} // namespace rt
} // namespace mu
