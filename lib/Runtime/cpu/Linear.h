//===- Linear.h - optimized linear kernels ----------------------*- C++ -*-===//
///
/// \file
/// The optimized `Linear` kernels and their per-ISA inner loops. Integer
/// linears read I8N16K4-packed weights (mu/runtime/Packing.h) and match the
/// reference integer linear of mu/runtime/Integer.h bit for bit: the dot
/// products are exact, the epilogue (bias, zero-point correction,
/// requantization or scaling) is the same integer/double arithmetic. Float
/// linears read row-major f32/f16 weights with FMA (tolerance in
/// docs/performance.md).
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_CPU_LINEAR_H
#define MU_RUNTIME_CPU_LINEAR_H

#include "Cpu.h"
#include "mu/runtime/Integer.h"
#include "mu/runtime/Runtime.h"

#include <cstdint>
#include <vector>

namespace mu {
namespace rt {
namespace cpu {

/// Exact integer dots: acc[r * ldacc + j] = sum_k x[r * ldx + k] * W[16*t0 + j, k]
/// for r < m and channels of tiles [t0, t1). `x` rows hold packedCols(k)
/// readable values, zero past k. `w` is the packed weight (tiles + sums).
using DotI8Fn = void (*)(const int8_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n,
                         int64_t k, int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc);
using DotI16Fn = void (*)(const int16_t *x, int64_t m, int64_t ldx, const uint8_t *w, int64_t n,
                          int64_t k, int64_t t0, int64_t t1, int64_t *acc, int64_t ldacc);
/// Row-major [n, k] weights of a float linear: f32, f16, or symmetric int8
/// (weight-only quantization) with one scale per row (`block` 0; `scales`
/// of 1 value = per tensor) or per block of `block` inputs ([n, k/block]).
struct FloatWeights {
  enum Kind { F32, F16, I8 } kind = F32;
  const void *data = nullptr;
  const float *scales = nullptr;
  bool perRow = false;
  int64_t block = 0;
};
/// Float: y[r * ldy + c] = bias[c] + sum_k x[r * ldx + k] * W[c, k] for
/// channels [n0, n1).
using DotF32Fn = void (*)(const float *x, int64_t m, int64_t ldx, const FloatWeights &w, int64_t k,
                          int64_t n0, int64_t n1, const float *bias, float *y, int64_t ldy);

/// Attention inner loops: scores[t] = scale * dot(q, k[t]) for t < T (rows
/// of k are d floats apart), and acc[j] += sum_t p[t] * v[t][j] (skipping
/// p[t] == 0).
using ScoresFn = void (*)(const float *q, const float *k, int64_t T, int64_t d, float scale,
                          float *scores);
using WeightedSumFn = void (*)(const float *p, const float *v, int64_t T, int64_t d, float *acc);

/// Quantize (y = clamp(round_half_even(x / scale) + zp, lo, hi), the
/// division in f32, NaN -> clamp(zp)) and dequantize (x = float(q - zp) *
/// scale) of `rows` rows of `count` channels; `scale`/`zp` hold `count`
/// values (per channel along the last axis) or 1 (per tensor, count = row
/// length). `bytes` is the integer width: 1 (int8) or 2 (int16).
using QuantizeFn = void (*)(const float *x, int64_t rows, int64_t count, const float *scale,
                            const int32_t *zp, bool perChannel, int32_t lo, int32_t hi,
                            void *q, int bytes);
using DequantizeFn = void (*)(const void *q, int bytes, int64_t rows, int64_t count,
                              const float *scale, const int32_t *zp, bool perChannel, float *x);

/// The integer epilogue of one row when |acc + base| < 2^31 (narrow):
/// y[c] = clamp(((acc[c] + base[c]) * m[c].multiplier + 2^(m[c].shift - 1))
///        >> m[c].shift + zp[c], lo, hi) for c < n, as requantize() of
/// mu/runtime/Integer.h; `bytes` 1 or 2 (signedness is in lo/hi).
using RequantizeFn = void (*)(const int64_t *acc, const int64_t *base,
                              const FixedPointMultiplier *m, const int32_t *zp, int64_t n,
                              int32_t lo, int32_t hi, void *y, int bytes);
/// y[i] = silu(g[i]) * u[i] for i < n, with the f32 exp of FastMath.h: the
/// same bits in every family.
using SiluMulFn = void (*)(const float *g, const float *u, float *y, int64_t n);
/// y[i] = gelu_tanh(x[i]) (FastMath.h), the same bits in every family.
using GeluTanhFn = void (*)(const float *x, float *y, int64_t n);
/// y[i] = x[i] rounded to FP16 and back (round to nearest even, overflow to
/// inf, NaN to the canonical quiet NaN of its sign), the same bits as the
/// reference Round.
using RoundF16Fn = void (*)(const float *x, float *y, int64_t n);
/// The softmax numerator in place: p[t] = exp(p[t] - mx) with the f32 exp of
/// FastMath.h (p[t] == -inf gives 0) for t < n; returns their sum, added in
/// eight lanes (t mod 8) combined as ((0+4)+(1+5))+((2+6)+(3+7)), then the
/// tail in order: the same bits in every family.
using ExpSumFn = float (*)(float *p, int64_t n, float mx);
struct KernelTable {
  DotI8Fn dotI8;
  DotI16Fn dotI16;
  DotF32Fn dotF32; ///< null: the reference float linear
  ScoresFn scores;
  WeightedSumFn weightedSum;
  QuantizeFn quantize;
  DequantizeFn dequantize;
  RequantizeFn requantize = nullptr; ///< null: the scalar epilogue
  SiluMulFn siluMul = nullptr;       ///< null: siluMulPortable
  GeluTanhFn geluTanh = nullptr;     ///< null: geluTanhPortable
  RoundF16Fn roundF16 = nullptr;     ///< null: the reference Round
  ExpSumFn expSum = nullptr;         ///< null: expSumPortable
};

float expSumPortable(float *p, int64_t n, float mx);

void siluMulPortable(const float *g, const float *u, float *y, int64_t n);
void geluTanhPortable(const float *x, float *y, int64_t n);

/// Quantize/Dequantize of int8/int16 tensors, per tensor or per channel
/// along the last axis, through the kernel table, rows split over `pool`
/// when there are enough; false: not this layout.
bool fastConvertQuant(bool quantize, const TensorRef &x, TensorRef &o, ThreadPool *pool = nullptr);
const KernelTable &kernels(Isa isa);
const KernelTable &portableKernels();
#ifdef MU_HAVE_X86_KERNELS
const KernelTable &avx2Kernels();
const KernelTable &avx512Kernels();
const KernelTable &amxKernels();
#endif
#ifdef MU_HAVE_NEON_KERNELS
const KernelTable &neonKernels();
#endif

/// Per-instruction constants of an integer linear (multipliers, scales),
/// computed on its first run and reused.
struct LinearPlan {
  std::vector<FixedPointMultiplier> mult;
  std::vector<double> realScale;
  std::vector<int32_t> yZero;
  /// bias[c] - x_zero * rowsum(W[c]): the per-channel constant of the dot.
  std::vector<int64_t> base;
  bool narrowAcc = false; ///< |acc| < 2^31: 64-bit requantization is exact
};

/// A row-major int8 weight (a target whose layout is not the CPU's, e.g.
/// hexagon-htp) packed on first use into I8N16K4 for the fast kernels;
/// empty when it cannot be (a -128 weight).
struct PackedWeight {
  bool tried = false;
  std::vector<uint8_t> bytes;
};

/// Whether `w` is a row-major int8 weight the fast integer linear can run
/// once packed (2-d, symmetric, per tensor or per output channel).
bool packableRowMajorWeight(const TensorRef &w);

/// Whether the optimized integer linear handles these operands.
bool fastIntegerLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias,
                       const TensorRef &y);
/// Runs it (`plan` is filled on first use). Returns an error message or "".
std::string integerLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias,
                          TensorRef &y, LinearPlan &plan, ThreadPool *pool);
/// Whether the optimized float linear handles these operands (f32 x/y,
/// row-major f32/f16 weights or symmetric int8 ones per tensor, per row or
/// per block of a multiple of 8 inputs; f32/f16 bias; an ISA with float
/// kernels).
bool fastFloatLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias,
                     const TensorRef &y);
void floatLinear(const TensorRef &x, const TensorRef &w, const TensorRef *bias, TensorRef &y,
                 ThreadPool *pool);

/// Attention over f32 q/k/v (+ f32 KV cache): GQA-aware (each key/value
/// row is read once per query head of its group, no repeat-kv copies),
/// parallel over (batch, query head). `mask` as the reference kernel.
/// Matches the reference within float rounding (docs/performance.md).
/// `keys` (default: all of k's rows) bounds the rows read, k/v's dim 2 being
/// the row capacity (an in-place cache); causal query i reads keys
/// [0, i + causalOffset] (default offset: keys - S, bottom-right aligned).
bool fastAttention(const TensorRef &q, const TensorRef &k, const TensorRef &v,
                   const TensorRef *mask, float scale, bool causal, TensorRef &o, ThreadPool *pool,
                   int64_t keys = -1, int64_t causalOffset = -1);

} // namespace cpu
} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_CPU_LINEAR_H
