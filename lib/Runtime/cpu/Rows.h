//===- Rows.h - the interpreter's per-row float loops -----------*- C++ -*-===//
///
/// \file
/// The inner loops of the reference kernels that run on every token: norms,
/// RoPE, same-shape f32 add/mul and the dequantizing row copy of a gather.
/// They live here, built for speed, while Kernels.cpp (dispatch, shapes,
/// the generic dtype paths) is built for size. The arithmetic is the
/// reference's, operation for operation (no contraction: -ffp-contract=off),
/// so moving them changed no bit.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_CPU_ROWS_H
#define MU_RUNTIME_CPU_ROWS_H

#include <cstdint>

namespace mu {
namespace rt {
namespace cpu {

/// RmsNorm (`layerNorm` false) or LayerNorm of rows [r0, r1) of `d` floats:
/// sums of squares (and the mean) in double over eight fixed partial sums,
/// y = (x - mean) / sqrt(ss / d + eps) * w + b, rounded once to float.
/// `w` and `b` may be null.
void normRows(const float *x, const float *w, const float *b, float *y, int64_t r0, int64_t r1,
              int64_t d, float eps, bool layerNorm);

/// Rotary embedding of `rows` x `S` positions of `d` floats with [S, d]
/// cos/sin tables shared by every row: y = x * cos + rotate(x) * sin in
/// double, rotate = (-x[j + d/2], x[j - d/2]) or, `interleaved`, the
/// neighbouring pair.
void ropeRows(const float *x, const float *cos, const float *sin, float *y, int64_t rows,
              int64_t S, int64_t d, bool interleaved);

/// y[i] = a[i] + b[i] (or a[i] * b[i]) for i < n, in f32.
void addF32(const float *a, const float *b, float *y, int64_t n);
void mulF32(const float *a, const float *b, float *y, int64_t n);

/// y[i] = float((double(q[i]) - zp) * scale) for i < n.
void dequantRowI8(const int8_t *q, int64_t n, double scale, double zp, float *y);

/// Row r of an I8N16K4-packed [n, k] int8 table (mu/runtime/Packing.h),
/// dequantized with `scale` into f32 `y32` or, if that is null, binary16
/// `y16` (rounded through f32); `row` is k bytes of scratch.
void packedRowI8(const uint8_t *packed, int64_t n, int64_t k, int64_t r, double scale,
                 int8_t *row, float *y32, uint16_t *y16);

} // namespace cpu
} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_CPU_ROWS_H
