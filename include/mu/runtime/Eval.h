//===- Eval.h - task data and exact-match evaluation -----------*- C++ -*-===//
///
/// \file
/// Parallel task data (JSONL `{"input": ..., "target": ...}` lines, or TSV
/// `input<TAB>target`) and the greedy exact-match evaluation of an artifact
/// on it, with teacher-forced agreement against a second artifact. Shared by
/// `mu-run --eval`, seq2seq calibration and `mu-compile --report-text`, so
/// every tool tokenizes and scores examples the same way. Part of
/// libmu_eval (plain C++17, links libmu_runtime).
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_EVAL_H
#define MU_RUNTIME_EVAL_H

#include "mu/runtime/Generate.h"

#include <functional>
#include <string>
#include <vector>

namespace mu {
namespace rt {

/// One line of task data.
struct Example {
  int line = 0;         ///< 1-based line in the file
  std::string input;
  std::string target;   ///< trimmed; empty when the file has no targets
  /// JSONL "adapter": the swappable adapter this example runs with ("" or
  /// "none" = the base model); `hasAdapter` false = the caller's default.
  std::string adapter;
  bool hasAdapter = false;
};

struct ReadExamplesOptions {
  std::string inKey = "input", outKey = "target"; ///< JSONL keys
  /// Every line must have a non-empty target. Otherwise a file may have no
  /// targets at all (inputs only), but not some lines with and some without.
  bool requireTarget = true;
  size_t skip = 0;  ///< examples skipped first
  size_t limit = 0; ///< examples kept after the skip (0 = all)
};

/// Reads `path`: `.tsv` / `.txt` as `input<TAB>target` (or just `input`) per line,
/// anything else as JSONL objects with string fields. Blank lines are
/// skipped. Errors name the file, the line and what is wrong (not JSON, a
/// missing or non-string key, an empty input or target, mixed files).
Status readExamples(const std::string &path, const ReadExamplesOptions &options,
                    std::vector<Example> &out);

/// Where a reply ends: the tokenizer's EOS ids, and BOS (a new document).
std::vector<int> stopIds(const Tokenizer &tok);
/// The first decoder token of an encoder-decoder: the artifact's
/// `decoder_start_token_id`, else BOS, else 0.
int decoderStartId(const Model &model, const Tokenizer &tok);

/// Teacher forcing of an encoder-decoder on `target`: the encoder reads
/// BOS + input (what `mu-run --prompt` sends), the decoder reads
/// `start` + target tokens and must predict target tokens + EOS (`labels`,
/// one per decoder position).
void seq2seqTokens(const Tokenizer &tok, const std::string &input, const std::string &target,
                   int start, std::vector<int> &source, std::vector<int> &decoder,
                   std::vector<int> &labels);

struct EvalOptions {
  int decoderStart = 0;
  int maxNew = 64;            ///< generated-token cap per example
  std::vector<int> stop;      ///< stopIds(tok) unless set
  Generator *compare = nullptr; ///< teacher-forced comparison (encoder-decoder)
  /// Called before each example with its adapter (Example::adapter, or
  /// `defaultAdapter` when it names none); null = adapters are not switched.
  std::function<Status(const std::string &adapter)> selectAdapter;
  std::string defaultAdapter;
};

struct EvalFailure {
  int line = 0;
  std::string input, target, output;
};

struct EvalResult {
  int64_t examples = 0, exact = 0;
  std::vector<EvalFailure> failures;
  std::vector<std::string> outputs; ///< every example's output, in order
  /// With `compare`: teacher-forced positions, top-1 agreement between the
  /// two, this model's top-1 == the label, and the summed KL(this || other).
  int64_t positions = 0, agree = 0, targetTop1 = 0;
  double klSum = 0;
  double accuracy() const { return examples ? double(exact) / double(examples) : 0; }
};

/// Greedy-decodes every example and counts exact matches (after trimming
/// spaces). Encoder-decoder: decode(greedy(input)) == target; decoder-only:
/// the greedy continuation of the prompt starts with the completion.
Status evaluate(Generator &gen, const Tokenizer &tok, const std::vector<Example> &examples,
                const EvalOptions &options, EvalResult &result);

/// KL(softmax(a) || softmax(b)) over `n` logits, in double.
double klDivergence(const float *a, const float *b, int64_t n);

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_EVAL_H
