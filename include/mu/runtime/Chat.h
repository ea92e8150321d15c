//===- Chat.h - chat templates for instruction-tuned small LMs -*- C++ -*-===//
///
/// \file
/// Hugging Face models carry their prompt format as a Jinja `chat_template`
/// in tokenizer_config.json. The runtime does not embed a Jinja engine: it
/// recognises the template families small LMs use and renders them natively.
/// - ChatML (`<|im_start|>role\n...<|im_end|>\n`, the micro-LM tokenizer);
///   a default system message the template inserts is taken from it.
/// - Llama-2 (`<s>[INST] <<SYS>>\n...\n<</SYS>>\n\n... [/INST]`).
/// - Plain: base models with no template (TinyStories): the turns' text,
///   one per line, and the model simply continues it.
/// A template that is none of these is an error naming what was found.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_CHAT_H
#define MU_RUNTIME_CHAT_H

#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"

#include <string>
#include <vector>

namespace mu {
namespace rt {

// The library's API: exported even when libmu_runtime.so is built with
// hidden visibility (its internals are not part of the ABI).
#pragma GCC visibility push(default)

struct ChatMessage {
  std::string role; ///< "system", "user" or "assistant"
  std::string content;
};

class ChatTemplate {
public:
  enum class Style { Plain, ChatML, Llama2 };

  /// Recognises a Jinja chat_template ("" = Plain). `source` names where it
  /// came from, for the error.
  static Status recognize(const std::string &jinja, const std::string &source, ChatTemplate &out);
  /// By name: "chatml", "llama2" or "plain" (the --chat-template override).
  static Status byName(const std::string &name, ChatTemplate &out);
  /// The tokenizer's template (Plain when the artifact has none).
  static Status fromTokenizer(const Tokenizer &tok, ChatTemplate &out);

  Style style() const { return style_; }
  const char *name() const;
  /// The system message the template inserts when the conversation has none.
  const std::string &defaultSystem() const { return defaultSystem_; }

  /// The prompt for the assistant's next turn: every message, then the
  /// assistant header (ChatML `<|im_start|>assistant\n`, Llama-2 after
  /// `[/INST]`). Roles other than system/user/assistant, a system message
  /// that is not first, or an empty conversation are errors.
  Status render(const std::vector<ChatMessage> &messages, std::string &out) const;
  /// Whether render()'s text is encoded with the tokenizer's BOS (Plain) or
  /// carries its own markers (ChatML, Llama-2).
  bool addBos() const { return style_ == Style::Plain; }
  /// Token ids that end the assistant's turn: the tokenizer's EOS ids plus
  /// the template's end-of-turn token when the vocabulary has it.
  std::vector<int> stopIds(const Tokenizer &tok) const;

private:
  Style style_ = Style::Plain;
  std::string defaultSystem_;
};

#pragma GCC visibility pop

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_CHAT_H
