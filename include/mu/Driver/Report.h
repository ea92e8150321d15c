//===- Report.h - accuracy report of a quantized artifact -------*- C++ -*-===//
///
/// \file
/// Runs the float and the quantized artifact on the same token sequences
/// with the executor and reports, per quantized tensor, the SQNR and cosine
/// similarity of the quantized program's values (dequantized) against the
/// float program's, and end to end the perplexity of both, the mean
/// KL(float || quantized) of the next-token distributions and the top-1
/// agreement (encoder-decoder: teacher-forced on the targets, perplexity of
/// target tokens + EOS), plus greedy exact match on task data. Writes JSON
/// and a standalone HTML page with an SVG chart.
///
//===----------------------------------------------------------------------===//
#ifndef MU_QUANT_REPORT_H
#define MU_QUANT_REPORT_H

#include "mu/Driver/Calibrate.h"
#include "mu/Quant/Calibration.h"
#include "mu/runtime/Eval.h"

#include <string>
#include <vector>

namespace mu {
namespace quant {

struct ReportOptions {
  std::string scheme;       ///< what was done, e.g. the mu.quant metadata
  std::string evalSource;   ///< description of the sequences
  std::vector<std::string> promoted; ///< tensors mixed precision made 16-bit
  /// The deployment target: a JSON object (partition and cost estimate)
  /// stored under "target", and its text form shown on the HTML page; empty:
  /// none.
  std::string targetJson, targetText;
  /// Greedy exact match on task examples (encoder-decoder --report-text
  /// with targets); examples == 0: none.
  struct Task {
    std::string source;
    int64_t examples = 0, exactFloat = 0, exactQuant = 0;
    std::vector<rt::EvalFailure> failures; ///< the quantized model's (first 20)
  } task;
};

/// Measures and writes `jsonPath` and `htmlPath` (each atomically).
bool writeReport(const rt::Model &floatModel, const rt::Model &quantModel,
                 const CalibrationInput &sequences, const ActivationRanges &ranges,
                 const ReportOptions &options, const std::string &jsonPath,
                 const std::string &htmlPath, std::string &error);

} // namespace quant
} // namespace mu

#endif // MU_QUANT_REPORT_H
