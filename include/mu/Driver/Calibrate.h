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
class Session;
class Tokenizer;
struct HostTensor;
struct Example;
} // namespace rt

namespace quant {

/// What calibration (and the report) runs. Decoder-only: `sequences` of
/// token ids, BOS first, through `main`. Encoder-decoder: `sources[i]` through
/// `encode`, then `sequences[i]` (decoder start + target tokens) teacher-forced
/// through `decode_full`, which must predict `labels[i]` (target + EOS).
struct CalibrationInput {
  std::vector<std::vector<int64_t>> sequences;
  std::vector<std::vector<int64_t>> sources, labels; ///< encoder-decoder only
  std::string description; ///< e.g. "32 x 256 tokens of emma.txt (text)"
  bool seq2seq() const { return !sources.empty(); }
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

/// Encoder-decoder calibration data: parallel examples read by
/// rt::readExamples (JSONL {"input", "target"}, or TSV/.txt
/// `input[<TAB>target]`), the first `count` of them. The encoder reads BOS +
/// input; the decoder is teacher-forced on decoder start + target (the
/// labels end with EOS). A file with inputs only is decoded greedily by
/// `floatModel` (up to `length` tokens) and those outputs are the targets.
/// Sources and decoder sequences longer than `length` tokens are cut. The
/// first `skip` examples are passed over; `examples` (if given) receives the
/// examples read.
bool loadSeq2SeqInput(const std::string &path, const rt::Model &floatModel, int64_t skip,
                      int64_t count, int64_t length, CalibrationInput &out, std::string &error,
                      std::vector<rt::Example> *examples = nullptr);

/// Runs example `i` of `input` (see CalibrationInput) in `session` and
/// returns the logits program's outputs ([1, L, vocab] first).
bool runExample(rt::Session &session, const CalibrationInput &input, size_t i,
                std::vector<rt::HostTensor> &outs, std::string &error);

/// Runs every example (runExample) and observes every f32 tensor the
/// programs write (and the Gram matrix of those named in `gramTensors`).
/// `progress(done, total)` is called after each example. Fails on executor
/// errors and on NaN activations.
bool collectStats(const rt::Model &model, const CalibrationInput &input,
                  const std::set<std::string> &gramTensors,
                  CalibrationStats &stats,
                  const std::function<void(size_t, size_t)> &progress, std::string &error);

} // namespace quant
} // namespace mu

#endif // MU_QUANT_CALIBRATE_H
