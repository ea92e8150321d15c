//===- Integer.h - reference integer arithmetic (the spec) -----*- C++ -*-===//
///
/// \file
/// Fixed-point requantization and the reference integer linear kernel that
/// quantized programs execute. These definitions are the specification:
/// optimized kernels (AVX2, AVX-512 VNNI, NEON) must match them bit for bit.
///
/// Requantization (as TOSA `apply_scale_32` with single rounding): a real
/// multiplier M > 0 is represented as `multiplier * 2^-shift` with
/// multiplier in [2^30, 2^31) and shift in [1, 62]. Applying it to an
/// accumulator (int64: exact sums of int8/int16 products):
///     r = (int128(acc) * multiplier + 2^(shift-1)) >> shift   (arithmetic)
/// i.e. **round half up (toward +infinity)**, saturated to int32, then add
/// the output zero point and saturate to the output range.
///
/// Integer linear (the quantized `Linear` kernel):
///     acc[r, c] = bias[c] + sum_k (x[r, k] - x_zero) * w[c, k]     (int64)
///     y[r, c]   = sat(applyMultiplier(acc, M_c) + y_zero)           (int output)
///     y[r, c]   = float(double(acc) * (double(x_scale) * double(w_scale[c])))
///                                                                   (f32 output)
/// with M_c = quantizeMultiplier(double(x_scale) * double(w_scale[c]) /
/// double(y_scale)) and int32 bias at scale x_scale * w_scale[c].
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_INTEGER_H
#define MU_RUNTIME_INTEGER_H

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace mu {
namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

struct FixedPointMultiplier {
  int32_t multiplier = 0; ///< in [2^30, 2^31) for M > 0
  int32_t shift = 0;      ///< right shift, in [1, 62]
};

/// Represents `real` (> 0, < 2^31) as multiplier * 2^-shift, rounding the
/// multiplier to nearest. Returns false when `real` is out of range.
bool quantizeMultiplier(double real, FixedPointMultiplier &out);

/// (acc * multiplier + 2^(shift-1)) >> shift (128-bit product), saturated to
/// int32.
int32_t applyMultiplier(int64_t acc, FixedPointMultiplier m);

/// applyMultiplier, plus the zero point, saturated to [qmin, qmax].
int32_t requantize(int64_t acc, FixedPointMultiplier m, int32_t zeroPoint, int32_t qmin,
                   int32_t qmax);

/// Exact accumulators of the integer linear for `rows` rows:
/// acc[r, c] = bias[c] + sum_k (x[r, k] - xZero) * w[c, k]. `bias` may be
/// null. Weights are symmetric (no zero point), int8 or int16.
void linearAcc(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int8_t *w,
               int64_t n, const int32_t *bias, int64_t *acc);
void linearAcc(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int16_t *w,
               int64_t n, const int32_t *bias, int64_t *acc);

/// Reference integer linear with integer output: y[r, c] =
/// requantize(acc[r, c], mult[c], yZero, yMin, yMax).
void linearInt(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int8_t *w,
               int64_t n, const int32_t *bias, const FixedPointMultiplier *mult,
               int32_t yZero, int32_t yMin, int32_t yMax, int32_t *y);

/// Quantizes a real value: clamp(round_half_even(v / scale) + zeroPoint,
/// qmin, qmax), the division in float (as ONNX QuantizeLinear).
/// (Inline: it runs once per activation element.)
inline int32_t quantizeValue(float v, float scale, int32_t zeroPoint, int32_t qmin, int32_t qmax) {
  float q = std::nearbyint(v / scale); // FE_TONEAREST: ties to even
  if (std::isnan(q))
    return std::clamp<int32_t>(zeroPoint, qmin, qmax);
  double r = double(q) + zeroPoint;
  return int32_t(std::clamp<double>(r, qmin, qmax));
}

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_INTEGER_H
