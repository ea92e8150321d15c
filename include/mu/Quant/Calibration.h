//===- Calibration.h - activation statistics and range selection -*- C++ -*-===//
///
/// \file
/// What calibration records about every float tensor of a program (running
/// min/max, a moving average of per-sequence min/max, per-channel min/max
/// along the last dim, and a 2048-bin magnitude histogram per sign), and
/// how a clipping range is chosen from it: min-max, moving-average min-max,
/// percentile, entropy (KL divergence, TensorRT-style) or MSE-optimal.
/// Statistics save to / load from JSON (`--calib-stats`). Plain C++ API.
///
//===----------------------------------------------------------------------===//
#ifndef MU_QUANT_CALIBRATION_H
#define MU_QUANT_CALIBRATION_H

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mu {
namespace quant {

/// Running statistics of one tensor over calibration batches.
struct TensorStats {
  static constexpr int kBins = 2048;
  static constexpr double kAveraging = 0.1; ///< moving-average constant
  double min = 0, max = 0;       ///< over everything seen
  double emaMin = 0, emaMax = 0; ///< moving average of per-batch min/max
  uint64_t count = 0, batches = 0, nans = 0;
  /// Histograms of |x| for x >= 0 (pos) and x < 0 (neg): bin i holds
  /// [i, i+1) * binWidth. The width doubles (pairs of bins merge) when a
  /// larger magnitude arrives, so no second pass is needed.
  double binWidth = 0;
  std::vector<uint64_t> pos, neg;
  /// Per-channel (last dim) min/max and sum; empty when the last dim varied.
  std::vector<float> chMin, chMax;
  std::vector<double> chSum;

  /// Gram matrix sum x x^T over rows x of the last dim (dim x dim,
  /// row-major), for tensors that feed linear layers (GPTQ); else empty.
  std::vector<double> gram;
  int64_t gramDim = 0;

  /// Adds one batch: `n` values whose last dim has `channels` elements.
  void observe(const float *x, int64_t n, int64_t channels);
  /// Adds the batch's rows (last dim `dim`) to the Gram matrix.
  void observeGram(const float *x, int64_t n, int64_t dim);
};

enum class RangeMethod { MinMax, MovingAverage, Percentile, Entropy, Mse };
bool parseRangeMethod(const std::string &name, RangeMethod &out);
const char *rangeMethodName(RangeMethod m);

struct Range {
  double lo = 0, hi = 0;
};

struct RangeOptions {
  RangeMethod method = RangeMethod::MinMax;
  int bits = 8;
  bool symmetric = false;
  bool isUnsigned = false;
  double percentile = 99.99; ///< for RangeMethod::Percentile
};

/// The clipping range of a tensor under `opts` (always contains 0).
Range chooseRange(const TensorStats &s, const RangeOptions &opts);

/// Integer parameters of a range: symmetric uses the narrow range
/// [-(2^(b-1)-1), 2^(b-1)-1] with zero point 0; asymmetric the full range
/// [-2^(b-1), 2^(b-1)-1] with an integer zero point (0 exactly
/// representable).
struct QParams {
  double scale = 1;
  int64_t zeroPoint = 0, qmin = 0, qmax = 0;
};
QParams chooseParams(Range r, int bits, bool symmetric);

/// How an activation's integers encode reals: bits, symmetric (zero point
/// 0, narrow range) or asymmetric, signed or unsigned storage (unsigned:
/// [0, 2^b-1], asymmetric only), power-of-two scales (symmetric only: the
/// scale is the smallest 2^k that covers the range).
struct Encoding {
  int bits = 8;
  bool symmetric = false;
  bool isUnsigned = false;
  bool powerOfTwo = false;
};
QParams chooseParams(Range r, const Encoding &e);

/// Squared error of quantizing the histogrammed values of `s` with `p`
/// (bin centres weighted by counts); used by the MSE method and reports.
double histogramError(const TensorStats &s, const QParams &p);

/// The chosen quantization of one activation tensor.
struct ActivationRange {
  double lo = 0, hi = 0;
  int bits = 8;
  bool symmetric = false;
  bool isUnsigned = false; ///< u8/u16 storage (NPU targets)
  bool powerOfTwo = false; ///< scale 2^k (XINT8)
  Encoding encoding() const { return {bits, symmetric, isUnsigned, powerOfTwo}; }
  /// Per-channel ranges along the last dim (linear outputs); empty = per
  /// tensor.
  std::vector<double> channelLo, channelHi;
};
/// Tensor name -> range; what mu-quantize-activations consumes. JSON form:
/// {"format": "mu-activation-ranges", "tensors": {"<name>": {"lo": -1.5,
/// "hi": 2.0, "bits": 8, "symmetric": false[, "unsigned": true]
/// [, "power_of_two": true]}, ...}}.
using ActivationRanges = std::map<std::string, ActivationRange>;
std::string rangesToJson(const ActivationRanges &ranges);
bool rangesFromJson(const std::string &text, ActivationRanges &out, std::string &error);

/// SmoothQuant factors applied to the model: tensor name -> per-channel s.
using SmoothingFactors = std::map<std::string, std::vector<double>>;

/// Statistics of every observed tensor, keyed by tensor name.
struct CalibrationStats {
  std::string source;      ///< calibration input, for the record
  std::string modelSha256; ///< of the checkpoint the stats belong to
  int64_t sequences = 0, seqLen = 0;
  std::map<std::string, TensorStats> tensors;
  /// SmoothQuant factors the statistics were collected after (empty: none).
  double smoothAlpha = 0;
  SmoothingFactors smoothing;

  std::string toJson() const;
  static bool fromJson(const std::string &text, CalibrationStats &out, std::string &error);
};

} // namespace quant
} // namespace mu

#endif // MU_QUANT_CALIBRATION_H
