//===- Chat.cpp - chat templates for instruction-tuned small LMs -----------===//
#include "mu/runtime/Chat.h"

#include <algorithm>

namespace mu {
namespace rt {

namespace {
bool contains(const std::string &s, const char *needle) { return s.find(needle) != std::string::npos; }

/// Jinja string-literal escapes (\n, \t, \', \", \\) to their characters.
std::string unescape(const std::string &s) {
  std::string r;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size()) {
      char c = s[++i];
      r += c == 'n' ? '\n' : c == 't' ? '\t' : c;
    } else {
      r += s[i];
    }
  }
  return r;
}

/// ChatML templates that insert a system message when there is none spell
/// it as one literal: '<|im_start|>system\n' DEFAULT '<|im_end|>'.
std::string chatmlDefaultSystem(const std::string &jinja) {
  const std::string head = "<|im_start|>system\\n";
  for (size_t at = jinja.find(head); at != std::string::npos; at = jinja.find(head, at + 1)) {
    size_t from = at + head.size();
    size_t end = jinja.find("<|im_end|>", from);
    if (end == std::string::npos)
      break;
    std::string text = jinja.substr(from, end - from);
    if (text.find_first_of("'\"{}+") == std::string::npos)
      return unescape(text);
  }
  return "";
}
} // namespace

const char *ChatTemplate::name() const {
  switch (style_) {
  case Style::ChatML:
    return "chatml";
  case Style::Llama2:
    return "llama2";
  case Style::Plain:
    break;
  }
  return "plain";
}

Status ChatTemplate::recognize(const std::string &jinja, const std::string &source,
                               ChatTemplate &out) {
  out = ChatTemplate();
  if (jinja.find_first_not_of(" \t\r\n") == std::string::npos)
    return Status::success();
  if (contains(jinja, "<|im_start|>") && contains(jinja, "<|im_end|>")) {
    out.style_ = Style::ChatML;
    out.defaultSystem_ = chatmlDefaultSystem(jinja);
    return Status::success();
  }
  if (contains(jinja, "[INST]") && contains(jinja, "[/INST]")) {
    out.style_ = Style::Llama2;
    return Status::success();
  }
  std::string head = jinja.substr(0, 60);
  std::replace(head.begin(), head.end(), '\n', ' ');
  return Status::error(source + ": the chat_template is not a format mu knows (it knows ChatML, "
                       "'<|im_start|>role ... <|im_end|>', and Llama-2, '[INST] ... [/INST]'); it "
                       "begins \"" + head + (jinja.size() > 60 ? "..." : "") +
                       "\". Choose one with --chat-template chatml|llama2|plain");
}

Status ChatTemplate::byName(const std::string &name, ChatTemplate &out) {
  out = ChatTemplate();
  if (name == "chatml")
    out.style_ = Style::ChatML;
  else if (name == "llama2")
    out.style_ = Style::Llama2;
  else if (name != "plain")
    return Status::error("unknown chat template '" + name + "' (chatml, llama2 or plain)");
  return Status::success();
}

Status ChatTemplate::fromTokenizer(const Tokenizer &tok, ChatTemplate &out) {
  return recognize(tok.chatTemplate(), "the artifact's tokenizer_config.json", out);
}

Status ChatTemplate::render(const std::vector<ChatMessage> &messages, std::string &out) const {
  out.clear();
  if (messages.empty())
    return Status::error("the conversation is empty");
  for (size_t i = 0; i < messages.size(); ++i) {
    const std::string &r = messages[i].role;
    if (r != "system" && r != "user" && r != "assistant")
      return Status::error("message " + std::to_string(i) + " has role '" + r +
                           "' (system, user or assistant)");
    if (r == "system" && i != 0)
      return Status::error("message " + std::to_string(i) +
                           ": a system message may only come first");
  }
  if (messages.back().role != "user")
    return Status::error("the conversation must end with a user message (the assistant's "
                         "turn is what is generated)");
  size_t first = messages[0].role == "system" ? 1 : 0;
  std::string system = first ? messages[0].content : defaultSystem_;
  switch (style_) {
  case Style::ChatML:
    if (first || !system.empty())
      out += "<|im_start|>system\n" + system + "<|im_end|>\n";
    for (size_t i = first; i < messages.size(); ++i)
      out += "<|im_start|>" + messages[i].role + "\n" + messages[i].content + "<|im_end|>\n";
    out += "<|im_start|>assistant\n";
    return Status::success();
  case Style::Llama2: {
    // Turns alternate user/assistant, starting with the user; the system
    // message goes inside the first [INST].
    for (size_t i = first; i < messages.size(); ++i) {
      bool userTurn = (i - first) % 2 == 0;
      if ((messages[i].role == "user") != userTurn)
        return Status::error("message " + std::to_string(i) +
                             ": Llama-2 turns must alternate user/assistant, starting with user");
      if (userTurn) {
        out += "<s>[INST] ";
        if (i == first && !system.empty())
          out += "<<SYS>>\n" + system + "\n<</SYS>>\n\n";
        out += messages[i].content + " [/INST]";
      } else {
        out += " " + messages[i].content + " </s>";
      }
    }
    return Status::success();
  }
  case Style::Plain:
    for (size_t i = 0; i < messages.size(); ++i)
      out += (i ? "\n" : "") + messages[i].content;
    return Status::success();
  }
  return Status::success();
}

std::vector<int> ChatTemplate::stopIds(const Tokenizer &tok) const {
  std::vector<int> ids = tok.eosIds();
  auto add = [&](const char *piece) {
    int id = tok.tokenId(piece);
    if (id >= 0 && std::find(ids.begin(), ids.end(), id) == ids.end())
      ids.push_back(id);
  };
  if (style_ == Style::ChatML) {
    add("<|im_end|>");
    add("<|endoftext|>");
  } else if (style_ == Style::Llama2) {
    add("</s>");
  }
  return ids;
}

} // namespace rt
} // namespace mu
