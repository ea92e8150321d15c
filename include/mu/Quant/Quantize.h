//===- Quantize.h - quantization math shared by passes and tools -*- C++ -*-===//
///
/// \file
/// Plain C++ (no MLIR): weight quantization with error-minimizing scales.
/// Rounding rule everywhere: round half to even (std::nearbyint in the
/// default FE_TONEAREST mode), then saturate to the narrow symmetric range
/// [-(2^(b-1)-1), 2^(b-1)-1] (e.g. [-127, 127]), as TFLite/TOSA weights.
///
//===----------------------------------------------------------------------===//
#ifndef MU_QUANT_QUANTIZE_H
#define MU_QUANT_QUANTIZE_H

#include <cstdint>
#include <vector>

namespace mu {
namespace quant {

/// Largest magnitude of a symmetric narrow-range `bits`-bit integer.
inline int64_t qmax(int bits) { return (int64_t(1) << (bits - 1)) - 1; }

/// Quantizes v with `scale` to the narrow symmetric range (round half even).
int64_t quantizeSymmetric(double v, double scale, int bits);

/// Per-row symmetric quantization of a row-major [rows, cols] matrix.
/// For each row the clipping range c (scale = c / qmax) is searched among
/// candidates from max|w| down to 50% of it and refined, picking the one
/// with the smallest squared reconstruction error (MSE-optimal, not just
/// max-abs). `q` receives rows*cols integers, `scales` one scale per row.
struct RowQuantResult {
  std::vector<int32_t> q;
  std::vector<float> scales;
  double sqnrDb = 0; ///< 10 log10(sum w^2 / sum (w - q*s)^2) over the matrix
};
RowQuantResult quantizeRowsMse(const float *w, int64_t rows, int64_t cols, int bits);

/// Same with scale = max|row| / qmax (no search), for comparison.
RowQuantResult quantizeRowsMaxAbs(const float *w, int64_t rows, int64_t cols, int bits);

/// GPTQ (Frantar et al., 2022) with the per-row MSE scales of
/// quantizeRowsMse: columns are rounded in order and each column's rounding
/// error is spread over the columns not yet rounded, weighted by the
/// inverse of H = sum x x^T over the layer's calibration inputs, so the
/// layer's *output* error ||X W^T - X Wq^T|| is minimized rather than the
/// weights' own error. `gram` is H, cols x cols row-major; `damp` adds
/// damp * mean(diag H) to the diagonal (numerical safety).
RowQuantResult quantizeRowsGptq(const float *w, int64_t rows, int64_t cols, int bits,
                                const double *gram, double damp = 0.01);

/// Scale constraints a target may impose on weights.
struct ScaleRule {
  bool perTensor = false;  ///< one scale for the whole matrix (MSE-searched over all of it)
  bool powerOfTwo = false; ///< scales are 2^k: the best of the covering power and the two below
};

/// quantizeRowsMse / quantizeRowsGptq (when `gram` is given) under `rule`.
/// `scales` still holds one entry per row (equal for a per-tensor rule).
RowQuantResult quantizeRowsConstrained(const float *w, int64_t rows, int64_t cols, int bits,
                                       const ScaleRule &rule, const double *gram,
                                       double damp = 0.01);

} // namespace quant
} // namespace mu

#endif // MU_QUANT_QUANTIZE_H
