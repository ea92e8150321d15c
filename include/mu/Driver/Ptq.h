//===- Ptq.h - post-training quantization driver ----------------*- C++ -*-===//
///
/// \file
/// Calibration for a whole module: compile a float copy, run it through the
/// executor on the calibration data (or load saved statistics), and choose
/// the range of every tensor a linear layer reads or writes.
///
//===----------------------------------------------------------------------===//
#ifndef MU_QUANT_PTQ_H
#define MU_QUANT_PTQ_H

#include "mu/Artifact/MubWriter.h"
#include "mu/Driver/Calibrate.h"
#include "mu/Quant/Calibration.h"

#include "mlir/IR/BuiltinOps.h"

#include <functional>
#include <set>
#include <string>

namespace mu {
namespace quant {

/// Pins the precision of activation tensors by name pattern and/or the
/// kind of op that produces them (an overrides file entry).
struct PrecisionOverride {
  std::string match; ///< glob over tensor names ("" = any)
  std::string op;    ///< producing kernel kind, e.g. "glu", "rms_norm" ("" = any)
  int bits = 16;     ///< 8, 16, or 0 = keep float
};

/// Parses {"format": "mu-quant-overrides", "overrides": [{"match": GLOB,
/// "op": KIND, "precision": "int8" | "int16" | "float"}, ...]}.
bool parseOverrides(const std::string &json, std::vector<PrecisionOverride> &out,
                    std::string &error);

struct PtqOptions {
  int activationBits = 8;      ///< 0: weight-only (statistics for GPTQ)
  double smoothAlpha = 0;      ///< > 0: SmoothQuant with this alpha (recalibrates)
  bool gram = true;            ///< collect Gram matrices of linear inputs (GPTQ)
  bool symmetric = false;
  bool unsignedActivations = false; ///< u8/u16 storage (asymmetric)
  bool powerOfTwo = false;          ///< activation scales 2^k (symmetric)
  double minRange = 0;              ///< widen every range to at least this
  bool perChannelOutputs = true; ///< linear outputs: one scale per output channel
  RangeOptions range;          ///< method, percentile (bits/symmetry set from above)
  std::string calibPath;       ///< calibration data ("" = load statsPath)
  CalibFormat calibFormat = CalibFormat::Auto;
  int64_t calibCount = 32, calibLength = 256;
  std::string statsPath;       ///< save (with calibPath) or load statistics
  std::string modelSha256;
  bool progress = false;       ///< draw a progress bar on stderr
  /// Sensitivity-driven mixed precision (8-bit activations only): promote
  /// the tensors whose 16-bit promotion lowers the simulated KL most, one
  /// at a time, until the KL is <= mpTargetKl or mpMaxPromoted percent of
  /// the tensors are 16-bit.
  bool mixedPrecision = false;
  double mpTargetKl = 0.003;
  double mpMaxPromoted = 50;
  int mpSequences = 4;
  /// Applied after range selection, before mixed precision (which leaves
  /// pinned tensors alone); later entries win.
  std::vector<PrecisionOverride> overrides;
};

/// The mixed-precision search (see PtqOptions); updates `ranges` bits.
bool promoteSensitive(const rt::Model &model, const CalibrationInput &input,
                      const CalibrationStats &stats, const PtqOptions &options,
                      const std::set<std::string> &pinned, ActivationRanges &ranges,
                      std::string &error);

/// The tensors the integer kernels read or write (inputs and outputs of
/// `muk.linear`), by name, from a copy of `module` lowered to kernels.
/// `ranges` receives one entry per such tensor that has statistics.
bool calibrate(mlir::ModuleOp module, const MubOptions &floatOptions, const PtqOptions &options,
               CalibrationStats &stats, ActivationRanges &ranges, std::string &error);

/// What `--report` evaluates.
struct ReportRequest {
  std::string jsonPath, htmlPath;
  std::string textPath;            ///< evaluation data (text / ids / .npy)
  CalibFormat format = CalibFormat::Auto;
  /// Decoder-only: sequences of `length` tokens (0 = 16). Encoder-decoder:
  /// examples of the JSONL/TSV file after the first `skip` (0 = all).
  int64_t sequences = 16, length = 256, skip = 0;
  std::string scheme;
  std::string targetJson, targetText; ///< see ReportOptions
};

/// Compiles `floatModule` (a clone taken before quantization) to a float
/// artifact, runs it and the written quantized artifact `quantPath` on the
/// evaluation sequences and writes the JSON + HTML report.
bool report(mlir::ModuleOp floatModule, const MubOptions &floatOptions,
            const std::string &quantPath, const ActivationRanges *ranges,
            const ReportRequest &request, std::string &error);

} // namespace quant
} // namespace mu

#endif // MU_QUANT_PTQ_H
