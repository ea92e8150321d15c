//===- Tokenizer.h - BPE tokenizers embedded in artifacts ------*- C++ -*-===//
///
/// \file
/// The two Hugging Face BPE flavours small LMs ship with:
/// - SentencePiece-style (Llama/TinyStories): "▁" prefix + space->"▁"
///   normalizer, no pre-tokenizer, byte fallback to <0xNN> pieces;
/// - byte-level (GPT-2 style, the micro-LM tokenizer): GPT-2 regex
///   pre-tokenization, bytes mapped to printable code points, merges.
/// Special (added) tokens are split out of the text first, as HF does.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_TOKENIZER_H
#define MU_RUNTIME_TOKENIZER_H

#include "mu/runtime/Runtime.h"

#include <string>
#include <unordered_map>
#include <vector>

namespace mu {
namespace mub {
struct Tokenizer;
}
namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

class Tokenizer {
public:
  enum class Kind { None, SentencePieceBpe, ByteLevelBpe };

  /// Builds from the artifact's tokenizer table.
  Status init(const mub::Tokenizer *t);
  bool valid() const { return kind_ != Kind::None; }
  Kind kind() const { return kind_; }

  /// Text to ids; prepends BOS when the tokenizer says so and `addBos`.
  std::vector<int> encode(const std::string &text, bool addBos = true) const;
  /// Ids to text (SentencePiece: the leading space of the first piece is
  /// stripped when `stripLeading`, as HF's decoder does for a full text).
  std::string decode(const std::vector<int> &ids, bool stripLeading = true) const;
  /// Raw bytes one token contributes (byte tokens yield single bytes, so a
  /// streamed UTF-8 character may span several tokens).
  std::string tokenBytes(int id) const;

  int bosId() const { return bos_; }
  const std::vector<int> &eosIds() const { return eos_; }
  bool isSpecial(int id) const;
  size_t vocabSize() const { return vocab_.size(); }
  /// The id of the token spelled exactly `piece` (a special token's content,
  /// e.g. "<|im_end|>"), or -1.
  int tokenId(const std::string &piece) const;
  /// tokenizer_config.json's chat_template as compiled in ("" = none).
  const std::string &chatTemplate() const { return chatTemplate_; }

private:
  std::vector<int> bpe(const std::vector<int> &symbols) const;
  void encodeChunk(const std::string &text, std::vector<int> &out) const;

  Kind kind_ = Kind::None;
  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int> ids_;
  std::unordered_map<uint64_t, std::pair<int, int>> merges_; ///< pair -> (rank, merged)
  std::vector<std::pair<std::string, int>> specials_;        ///< longest first
  std::vector<int> byteToken_;                               ///< <0xNN> ids
  std::vector<std::string> byteToUnicode_;                   ///< byte-level alphabet
  std::unordered_map<std::string, uint8_t> unicodeToByte_;
  bool byteFallback_ = false, prependSpace_ = false, addBos_ = false;
  int bos_ = -1, unk_ = -1;
  std::vector<int> eos_;
  std::string chatTemplate_;
};

/// Incremental detokenization for streaming: push ids one at a time and get
/// back only text that is final and valid UTF-8. Bytes of a character split
/// across byte tokens are held until the character is complete; the
/// SentencePiece leading space of the first piece is dropped as decode()
/// does. Invalid sequences come out as U+FFFD, never as broken bytes.
class TextStream {
public:
  explicit TextStream(const Tokenizer &tok, bool stripLeading = true)
      : tok_(tok), strip_(stripLeading) {}
  /// The new final text `id` completes ("" while a character is pending).
  std::string push(int id);
  /// Whatever is still pending (an incomplete character becomes U+FFFD).
  std::string flush();

private:
  const Tokenizer &tok_;
  bool strip_;
  bool first_ = true;
  std::string pending_;
};

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_TOKENIZER_H
