//===- Integer.h - reference integer arithmetic (the spec) -----*- C++ -*-===//
///
/// \file
/// Fixed-point requantization and the reference integer linear kernel that
/// quantized programs execute. These definitions are the specification:
/// optimized kernels (AVX2, AVX-512 VNNI, NEON) must match them bit for bit.
///
/// Requantization (as TOSA `apply_scale_32` with single rounding): a real
/// multiplier M > 0 is represented as `multiplier * 2^-shift` with
/// multiplier in [2^30, 2^31) and shift in [1, 62]. Applying it to an int32
/// accumulator:
///     r = (int64(acc) * multiplier + 2^(shift-1)) >> shift   (arithmetic)
/// i.e. **round half up (toward +infinity)**, then add the output zero point
/// and saturate to the output range.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_INTEGER_H
#define MU_RUNTIME_INTEGER_H

#include <cstdint>

namespace mu {
namespace rt {

struct FixedPointMultiplier {
  int32_t multiplier = 0; ///< in [2^30, 2^31) for M > 0
  int32_t shift = 0;      ///< right shift, in [1, 62]
};

/// Represents `real` (> 0, < 2^31) as multiplier * 2^-shift, rounding the
/// multiplier to nearest. Returns false when `real` is out of range.
bool quantizeMultiplier(double real, FixedPointMultiplier &out);

/// (acc * multiplier + 2^(shift-1)) >> shift, saturated to int32.
int32_t applyMultiplier(int32_t acc, FixedPointMultiplier m);

/// applyMultiplier, plus the zero point, saturated to [qmin, qmax].
int32_t requantize(int32_t acc, FixedPointMultiplier m, int32_t zeroPoint, int32_t qmin,
                   int32_t qmax);

/// Reference integer linear: y[m, n] = requant_n(sum_k (x[m,k] - xZero) * w[n,k]
/// + bias[n]) for int8 or int16 activations (`xBits`), symmetric int8
/// per-output-channel weights and int32 bias at scale xScale * wScale[n].
/// `mult[n]` = quantizeMultiplier(xScale * wScale[n] / yScale). Accumulates
/// in int64 and saturates the sum to int32 before requantization.
void linearInt(const int32_t *x, int64_t rows, int64_t k, int32_t xZero, const int8_t *w,
               int64_t n, const int32_t *bias, const FixedPointMultiplier *mult,
               int32_t yZero, int32_t yMin, int32_t yMax, int32_t *y);

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_INTEGER_H
