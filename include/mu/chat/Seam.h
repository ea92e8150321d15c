//===- Seam.h - joining an opener and a streamed continuation --*- C++ -*-===//
///
/// \file
/// The device shows an opener; a larger model streams a continuation. The
/// seam between them must read as one text: a continuation that repeats the
/// opener (whole, or its last words) has the repeat removed; spacing follows
/// the punctuation on either side (no space before ",.;:!?)" or a
/// contraction, none after an opening bracket, quote or dash, a newline the
/// continuation starts with is kept, otherwise exactly one space).
///
/// The start of the continuation is buffered only as long as it could still
/// be a repeat: the first characters that rule every repeat out release it.
///
//===----------------------------------------------------------------------===//
#ifndef MU_CHAT_SEAM_H
#define MU_CHAT_SEAM_H

#include <string>
#include <vector>

namespace mu {
namespace chat {

class Seam {
public:
  explicit Seam(std::string opener);

  /// Feeds continuation text; returns the text to show after the opener now
  /// ("" while the start is still undecided).
  std::string push(const std::string &chunk);
  /// The continuation ended: the rest, decided.
  std::string finish();

  /// What the seam did (valid once decided).
  bool decided() const { return decided_; }
  int overlapWords() const { return overlapWords_; } ///< opener words the continuation repeated
  const std::string &removed() const { return removed_; }
  /// "space", "none" (punctuation), "newline", "kept" (the continuation's own
  /// whitespace) or "empty-opener".
  const std::string &join() const { return join_; }

  /// Joins a whole continuation at once (push + finish).
  static std::string stitch(const std::string &opener, const std::string &continuation);

private:
  bool tryDecide(bool final);
  std::string resolve();
  std::string opener_;
  std::vector<std::string> openerWords_; ///< normalized
  std::string buffer_;
  bool decided_ = false;
  int overlapWords_ = 0;
  std::string removed_, join_;
};

} // namespace chat
} // namespace mu

#endif // MU_CHAT_SEAM_H
