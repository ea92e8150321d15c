//===- Opener.h - the first words of a reply, on a word boundary -*- C++ -*-===//
///
/// \file
/// A micro LM writes the first few words of a reply at once while a larger
/// model is asked to continue them. The opener is streamed a word at a time:
/// a word is final (and passed to `onWord`) when the next one begins, so the
/// opener never ends inside a word; generation stops when word N+1 begins
/// (its first piece is held back, not shown), at a sentence end, at the end
/// of the turn, at a token cap, at a latency budget, on cancellation, or
/// when the next word would bring the opener's mean token log-probability
/// below a floor — whichever comes first. What was shown is never retracted.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_OPENER_H
#define MU_RUNTIME_OPENER_H

#include "mu/runtime/Generate.h"
#include "mu/runtime/Tokenizer.h"

#include <atomic>
#include <functional>
#include <string>
#include <vector>

namespace mu {
namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

struct OpenerOptions {
  int words = 4;                 ///< N: stop when word N+1 begins
  bool stopAtSentenceEnd = true; ///< a word ending in . ! ? (then quotes) ends the opener
  int maxTokens = 32;            ///< token cap (the partial word is dropped)
  double budgetMs = 0;           ///< latency budget from the call, 0 = none
  /// Floor on the opener's mean token log-probability (natural log, model
  /// distribution at temperature 1): a word that would bring the mean below
  /// it ends the opener before it (shortened; withheld if it is the first).
  /// 0 = no floor.
  double minMeanLogprob = 0;
  SamplingOptions sampling;
  std::vector<int> stopIds;                ///< end of turn (EOS, <|im_end|>)
  const std::atomic<bool> *cancel = nullptr; ///< set from another thread to stop
  /// Each final word with the whitespace before it (none before the first),
  /// its index (-1 for the tail of a word the prompt ended in) and the
  /// milliseconds since the call.
  std::function<void(const std::string &text, int index, double ms)> onWord;
  /// Every sampled token with its UTF-8-complete text (tentative: it may
  /// belong to a word that is later dropped or held back).
  std::function<void(int id, const std::string &text)> onToken;
};

enum class OpenerStop { Words, SentenceEnd, EndOfTurn, MaxTokens, Budget, Cancelled, LowConfidence };
const char *openerStopName(OpenerStop s);

struct OpenerWord {
  std::string text; ///< the word, without surrounding whitespace
  double ms = 0;    ///< when it became final, since the call
  int tokens = 0;
  double logprob = 0; ///< sum of its tokens' log-probabilities
};

struct OpenerResult {
  std::string text; ///< the opener as shown: words and the whitespace between
  /// Whitespace generated before the first word (not shown; a raw-text
  /// continuation puts it between the prompt and the opener).
  std::string lead;
  /// When the prompt ends inside a word ("...a tim"), the text that finishes
  /// it ("e,"): shown first, not counted among the N words (index -1 for
  /// onWord).
  std::string tail;
  std::vector<OpenerWord> words;
  OpenerStop stop = OpenerStop::Words;
  double meanLogprob = 0; ///< mean over the opener's tokens (0 if none)
  int promptTokens = 0;
  int sampledTokens = 0; ///< including held-back and dropped ones
  double ttftMs = 0;     ///< call to first sampled token
  double totalMs = 0;
  /// Generated text that is not in the opener, in order: the held-back start
  /// of word N+1 or a dropped partial word (with its leading whitespace). A
  /// local continuation shows it first.
  std::string unshown;
  /// A sampled token not yet fed to the model (the held-back one), or -1.
  /// The generator's sequence() holds the prompt and every other token.
  int heldToken = -1;
};

/// Writes an opener after `prompt` (token ids, BOS included as wanted).
Status generateOpener(Generator &gen, const Tokenizer &tok, const std::vector<int> &prompt,
                      const OpenerOptions &options, OpenerResult &result);

/// log softmax(logits)[id], in natural log.
double tokenLogprob(const std::vector<float> &logits, int id);

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_OPENER_H
