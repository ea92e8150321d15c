//===- Quantize.cpp - quantization math -----------------------------------===//
#include "mu/Quant/Quantize.h"

#include <Eigen/Cholesky>
#include <Eigen/Core>

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

namespace {

/// Rounds every row to nearest with the scales already in `r`.
void roundNearest(const float *w, int64_t rows, int64_t cols, int bits, RowQuantResult &r) {
  double signal = 0, noise = 0;
  for (int64_t row = 0; row < rows; ++row)
    for (int64_t i = 0; i < cols; ++i) {
      float s = r.scales[size_t(row)];
      float x = w[row * cols + i];
      int64_t q = quantizeSymmetric(x, s, bits);
      r.q[size_t(row * cols + i)] = int32_t(q);
      double d = x - double(q) * s;
      signal += double(x) * x;
      noise += d * d;
    }
  r.sqnrDb = noise == 0 ? std::numeric_limits<double>::infinity()
                        : 10.0 * std::log10(signal / noise);
}

void gptqRound(const float *w, int64_t rows, int64_t cols, int bits, const double *gram,
               double damp, RowQuantResult &r);

} // namespace

RowQuantResult quantizeRowsGptq(const float *w, int64_t rows, int64_t cols, int bits,
                                const double *gram, double damp) {
  RowQuantResult r = quantizeRows(w, rows, cols, bits, true); // scales (and fallback)
  gptqRound(w, rows, cols, bits, gram, damp, r);
  return r;
}

RowQuantResult quantizeRowsConstrained(const float *w, int64_t rows, int64_t cols, int bits,
                                       const ScaleRule &rule, const double *gram, double damp) {
  if (!rule.perTensor && !rule.powerOfTwo)
    return gram ? quantizeRowsGptq(w, rows, cols, bits, gram, damp)
                : quantizeRowsMse(w, rows, cols, bits);
  RowQuantResult r;
  r.q.resize(size_t(rows * cols));
  if (rule.perTensor) {
    RowQuantResult all = quantizeRows(w, 1, rows * cols, bits, true);
    r.scales.assign(size_t(rows), all.scales[0]);
  } else {
    r.scales = quantizeRows(w, rows, cols, bits, true).scales;
  }
  if (rule.powerOfTwo) {
    // Per scale group (the matrix, or each row): the power of two covering
    // max|w| and the two below it, by squared error.
    int64_t groups = rule.perTensor ? 1 : rows, span = rule.perTensor ? rows * cols : cols;
    for (int64_t g = 0; g < groups; ++g) {
      const float *x = w + g * span;
      double amax = 0;
      for (int64_t i = 0; i < span; ++i)
        amax = std::max(amax, double(std::fabs(x[i])));
      double top = amax > 0 ? std::exp2(std::ceil(std::log2(amax / double(qmax(bits))))) : 1.0;
      double best = top, bestErr = rowError(x, span, top, bits);
      for (int k = 1; k <= 2; ++k) {
        double e = rowError(x, span, top / double(1 << k), bits);
        if (e < bestErr) {
          bestErr = e;
          best = top / double(1 << k);
        }
      }
      if (rule.perTensor)
        r.scales.assign(size_t(rows), float(best));
      else
        r.scales[size_t(g)] = float(best);
    }
  }
  roundNearest(w, rows, cols, bits, r);
  if (gram)
    gptqRound(w, rows, cols, bits, gram, damp, r);
  return r;
}

namespace {

void gptqRound(const float *w, int64_t rows, int64_t cols, int bits, const double *gram,
               double damp, RowQuantResult &r) {
  using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::Map<const Mat> G(gram, cols, cols);
  // Act-order: round the columns with the most input energy first, while
  // the most columns remain to absorb their error.
  std::vector<int64_t> perm(static_cast<size_t>(cols));
  for (int64_t k = 0; k < cols; ++k)
    perm[size_t(k)] = k;
  std::stable_sort(perm.begin(), perm.end(),
                   [&](int64_t a, int64_t b) { return G(a, a) > G(b, b); });
  using ColMat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
  Mat H(cols, cols);
  ColMat W(rows, cols); // column k is contiguous: the loop below walks columns
  for (int64_t a = 0; a < cols; ++a)
    for (int64_t b = 0; b < cols; ++b)
      H(a, b) = G(perm[size_t(a)], perm[size_t(b)]);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < cols; ++k)
      W(i, k) = w[i * cols + perm[size_t(k)]];
  // Inputs that never fired carry no information: round them plainly.
  double meanDiag = 0;
  for (int64_t k = 0; k < cols; ++k)
    meanDiag += H(k, k);
  meanDiag /= double(cols);
  if (!(meanDiag > 0))
    return;
  for (int64_t k = 0; k < cols; ++k) {
    if (H(k, k) <= 0)
      H(k, k) = 1;
    H(k, k) += damp * meanDiag;
  }
  // U: upper Cholesky factor of H^-1 (H^-1 = U^T U), without forming H^-1:
  // with P the reversal permutation and L the lower Cholesky factor of
  // P H P, H^-1 = (P L^-1 P)^T (P L^-1 P) and P L^-1 P is upper triangular
  // with a positive diagonal, so it is U. One factorization and one
  // triangular inverse instead of two factorizations and a full solve.
  Mat Hr(cols, cols);
  for (int64_t a = 0; a < cols; ++a)
    for (int64_t b = 0; b < cols; ++b)
      Hr(a, b) = H(cols - 1 - a, cols - 1 - b);
  Eigen::LLT<Mat> llt(Hr);
  if (llt.info() != Eigen::Success)
    return;
  Mat Linv = llt.matrixL().solve(Mat::Identity(cols, cols));
  Mat U(cols, cols);
  for (int64_t a = 0; a < cols; ++a)
    for (int64_t b = 0; b < cols; ++b)
      U(a, b) = Linv(cols - 1 - a, cols - 1 - b);
  int64_t m = qmax(bits);
  // Lazy batch updates (GPTQ's blocking): the error of each rounded column
  // updates the rest of its block of 128 columns at once, and the block's
  // errors update every later column in one matrix product. The same
  // arithmetic as column-by-column rank-1 updates, but compute-bound.
  const int64_t block = 128;
  ColMat err(rows, std::min(block, cols));
  for (int64_t b0 = 0; b0 < cols; b0 += block) {
    int64_t b1 = std::min(cols, b0 + block), nb = b1 - b0;
    for (int64_t k = b0; k < b1; ++k) {
      double d = U(k, k);
      for (int64_t i = 0; i < rows; ++i) {
        double s = r.scales[size_t(i)];
        double q = s > 0 ? std::clamp<double>(std::nearbyint(W(i, k) / s), -double(m), double(m)) : 0;
        r.q[size_t(i * cols + perm[size_t(k)])] = int32_t(q);
        err(i, k - b0) = (W(i, k) - q * s) / d;
      }
      if (k + 1 < b1)
        W.middleCols(k + 1, b1 - k - 1).noalias() -=
            err.col(k - b0) * U.row(k).segment(k + 1, b1 - k - 1);
    }
    if (b1 < cols)
      W.rightCols(cols - b1).noalias() -= err.leftCols(nb) * U.block(b0, b1, nb, cols - b1);
  }
  double num = 0, den = 0;
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t k = 0; k < cols; ++k) {
      double v = w[i * cols + k], e = v - double(r.q[size_t(i * cols + k)]) * r.scales[size_t(i)];
      num += v * v;
      den += e * e;
    }
  r.sqnrDb = den > 0 ? 10 * std::log10(num / den) : 200;
}

} // namespace

} // namespace quant
} // namespace mu
