//===- Opener.cpp - the first words of a reply, on a word boundary ---------===//
#include "mu/runtime/Opener.h"

#include <algorithm>
#include <chrono>
#include <cmath>

namespace mu {
namespace rt {

const char *openerStopName(OpenerStop s) {
  switch (s) {
  case OpenerStop::Words:
    return "words";
  case OpenerStop::SentenceEnd:
    return "sentence_end";
  case OpenerStop::EndOfTurn:
    return "end_of_turn";
  case OpenerStop::MaxTokens:
    return "max_tokens";
  case OpenerStop::Budget:
    return "budget";
  case OpenerStop::Cancelled:
    return "cancelled";
  case OpenerStop::LowConfidence:
    return "low_confidence";
  }
  return "?";
}

double tokenLogprob(const std::vector<float> &logits, int id) {
  if (logits.empty() || id < 0 || size_t(id) >= logits.size())
    return -INFINITY;
  double mx = *std::max_element(logits.begin(), logits.end());
  double sum = 0;
  for (float v : logits)
    sum += std::exp(double(v) - mx);
  return double(logits[size_t(id)]) - mx - std::log(sum);
}

namespace {
bool isSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

/// A word that ends a sentence: . ! ? possibly followed by closing quotes or
/// brackets (ASCII or the UTF-8 right quotes).
bool endsSentence(const std::string &w) {
  size_t n = w.size();
  while (n > 0) {
    char c = w[n - 1];
    if (c == '"' || c == '\'' || c == ')' || c == ']') {
      --n;
    } else if (n >= 3 && w.compare(n - 3, 3, "\xE2\x80\x9D") == 0) { // "
      n -= 3;
    } else if (n >= 3 && w.compare(n - 3, 3, "\xE2\x80\x99") == 0) { // '
      n -= 3;
    } else {
      break;
    }
  }
  return n > 0 && (w[n - 1] == '.' || w[n - 1] == '!' || w[n - 1] == '?');
}

/// The opener being built: final words, and the word in progress.
struct Builder {
  const OpenerOptions &o;
  OpenerResult &r;
  std::chrono::steady_clock::time_point t0;
  std::string lead;    ///< whitespace before the word in progress
  std::string word;    ///< the word in progress
  std::string gap;     ///< whitespace after it (the word ends at the next non-space)
  int wordTokens = 0;
  double wordLp = 0;
  int shownTokens = 0;
  double shownLp = 0;
  /// The prompt ends inside a word (raw-text continuation): text before the
  /// first whitespace finishes that word and is not one of the N.
  bool attached = false;

  double ms() const {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  }
  enum Outcome { Continue, EndAfter, EndBefore };
  /// Makes the word in progress final: Continue, EndAfter (the opener ends
  /// with it) or EndBefore (it is dropped: low confidence). Sets r.stop.
  Outcome finish() {
    if (o.minMeanLogprob < 0 && wordTokens > 0 &&
        (shownLp + wordLp) / double(shownTokens + wordTokens) < o.minMeanLogprob) {
      r.stop = OpenerStop::LowConfidence;
      return EndBefore;
    }
    bool tail = attached && r.words.empty() && r.text.empty() && lead.empty();
    if (r.text.empty() && !tail)
      r.lead = lead;
    std::string shown = (r.words.empty() && r.text.empty() ? std::string() : lead) + word;
    r.text += shown;
    shownTokens += wordTokens;
    shownLp += wordLp;
    if (tail) {
      r.tail = word;
      if (o.onWord)
        o.onWord(shown, -1, ms());
    } else {
      r.words.push_back({word, ms(), wordTokens, wordLp});
      if (o.onWord)
        o.onWord(shown, int(r.words.size()) - 1, r.words.back().ms);
    }
    word.clear();
    lead.clear();
    wordTokens = 0;
    wordLp = 0;
    if (int(r.words.size()) >= o.words) {
      r.stop = OpenerStop::Words;
      return EndAfter;
    }
    if (o.stopAtSentenceEnd && !r.words.empty() && endsSentence(r.words.back().text)) {
      r.stop = OpenerStop::SentenceEnd;
      return EndAfter;
    }
    return Continue;
  }
  /// Feeds one token's text; true = the opener is complete (the token is
  /// held back: its text from the boundary on goes to r.unshown).
  bool feed(const std::string &piece, double lp) {
    for (size_t i = 0; i < piece.size(); ++i) {
      char c = piece[i];
      if (isSpace(c)) {
        (word.empty() ? lead : gap) += c;
        continue;
      }
      if (!word.empty() && !gap.empty()) {
        std::string dropped = (r.text.empty() ? std::string() : lead) + word;
        Outcome out = finish();
        if (out != Continue) {
          r.unshown = (out == EndBefore ? dropped : std::string()) + gap + piece.substr(i);
          return true;
        }
        lead = gap;
        gap.clear();
      }
      word += c;
    }
    ++wordTokens;
    wordLp += lp;
    return false;
  }
};
} // namespace

Status generateOpener(Generator &gen, const Tokenizer &tok, const std::vector<int> &prompt,
                      const OpenerOptions &o, OpenerResult &r) {
  using Clock = std::chrono::steady_clock;
  r = OpenerResult();
  r.stop = OpenerStop::MaxTokens;
  Builder b{o, r, Clock::now(), {}, {}, {}};
  r.promptTokens = int(prompt.size());
  if (o.words < 1)
    return Status::error("the opener needs at least one word");
  {
    std::string last = prompt.empty() ? std::string() : tok.tokenBytes(prompt.back());
    b.attached = !last.empty() && !tok.isSpecial(prompt.back()) && !isSpace(last.back());
  }
  Status s = gen.begin(prompt);
  if (!s.ok)
    return s;
  Sampler sampler(o.sampling);
  TextStream stream(tok, false); // the first word's leading space goes to r.lead
  for (;;) {
    if (o.cancel && o.cancel->load(std::memory_order_relaxed)) {
      r.stop = OpenerStop::Cancelled;
      break;
    }
    if (o.budgetMs > 0 && b.ms() >= o.budgetMs) {
      r.stop = OpenerStop::Budget;
      break;
    }
    if (r.sampledTokens >= o.maxTokens) {
      r.stop = OpenerStop::MaxTokens;
      break;
    }
    const std::vector<float> &lg = gen.nextLogits();
    int id = sampler.sample(lg.data(), int(lg.size()));
    double lp = tokenLogprob(lg, id);
    if (r.sampledTokens++ == 0)
      r.ttftMs = b.ms();
    if (std::find(o.stopIds.begin(), o.stopIds.end(), id) != o.stopIds.end()) {
      b.word += stream.flush();
      std::string dropped = (r.text.empty() ? std::string() : b.lead) + b.word;
      if (!b.word.empty() && b.finish() == Builder::EndBefore)
        r.unshown = dropped;
      else
        r.stop = OpenerStop::EndOfTurn;
      break;
    }
    std::string piece = stream.push(id);
    if (o.onToken)
      o.onToken(id, piece);
    if (b.feed(piece, lp)) {
      r.heldToken = id;
      break;
    }
    s = gen.push(id);
    if (!s.ok)
      return s;
  }
  if (r.stop == OpenerStop::MaxTokens || r.stop == OpenerStop::Budget ||
      r.stop == OpenerStop::Cancelled)
    r.unshown = (r.text.empty() ? std::string() : b.lead) + b.word + b.gap;
  r.meanLogprob = b.shownTokens ? b.shownLp / b.shownTokens : 0;
  r.totalMs = b.ms();
  return Status::success();
}

} // namespace rt
} // namespace mu
