//===- Calibrate.h - running the float model on calibration data -*- C++ -*-===//
///
/// \file
/// Calibration data (text, token ids or .npy) turned into sequences, and the
/// float program run over them by the executor with an observer on every
/// float tensor: the numbers that choose activation ranges come from the
/// same kernels that run the deployed model.
///
//===----------------------------------------------------------------------===//
#ifndef MU_QUANT_CALIBRATE_H
#define MU_QUANT_CALIBRATE_H

#include "mu/Quant/Calibration.h"

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

namespace mu {
namespace rt {
class Model;
class Tokenizer;
} // namespace rt

namespace quant {

/// Token sequences to run, each `length` long and starting with BOS.
struct CalibrationInput {
  std::vector<std::vector<int64_t>> sequences;
  std::string description; ///< e.g. "32 x 256 tokens of emma.txt (text)"
};

enum class CalibFormat { Auto, Text, Ids, Npy };
bool parseCalibFormat(const std::string &name, CalibFormat &out);

/// Reads `path`:
/// - text: tokenized with `tok` (which must be valid), cut into `count`
///   windows of `length` tokens spread evenly over the text, each starting
///   with BOS;
/// - ids: whitespace-separated token ids, cut the same way;
/// - .npy: int32/int64 (or integral float) token ids, shape [N, L] or [L],
///   used as given (N capped at `count`).
/// Auto picks by extension (.npy, .ids/.tokens, else text). Errors name the
/// file and what is wrong (empty, wrong dtype/shape, NaN, ids outside the
/// vocabulary, fewer tokens than one sequence).
bool loadCalibrationInput(const std::string &path, CalibFormat format, const rt::Tokenizer &tok,
                          int64_t count, int64_t length, int64_t vocabSize,
                          CalibrationInput &out, std::string &error);

/// Runs `program` (inputs: one [1, L] i64 id tensor) over every sequence and
/// observes every f32 tensor it writes (and the Gram matrix of those named
/// in `gramTensors`). `progress(done, total)` is called after each
/// sequence. Fails on executor errors and on NaN activations.
bool collectStats(const rt::Model &model, const std::string &program,
                  const CalibrationInput &input, const std::set<std::string> &gramTensors,
                  CalibrationStats &stats,
                  const std::function<void(size_t, size_t)> &progress, std::string &error);

} // namespace quant
} // namespace mu

#endif // MU_QUANT_CALIBRATE_H
