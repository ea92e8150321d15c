//===- ChatTest.cpp - chat templates and the opener/continuation seam ------===//
#include "mu/chat/Seam.h"
#include "mu/runtime/Chat.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdlib>
#include <fstream>

using mu::chat::Seam;
using mu::rt::ChatMessage;
using mu::rt::ChatTemplate;

namespace {
std::string sharedFile(const std::string &rel) {
  const char *d = std::getenv("MU_SHARED_DIR");
  return d ? std::string(d) + "/" + rel : std::string();
}
} // namespace

TEST(ChatTemplate, ChatMLFromTheMicroLmTokenizer) {
  std::ifstream in(sharedFile("models/microlm-tokenizer/tokenizer_config.json"));
  if (!in)
    GTEST_SKIP() << "../shared/models/microlm-tokenizer not found";
  nlohmann::json cfg = nlohmann::json::parse(in);
  ChatTemplate t;
  ASSERT_TRUE(ChatTemplate::recognize(cfg["chat_template"].get<std::string>(), "cfg", t).ok);
  EXPECT_EQ(t.style(), ChatTemplate::Style::ChatML);
  EXPECT_EQ(t.defaultSystem(), "You are a helpful assistant");
  std::string out;
  // What the Jinja template renders for these turns (worked by hand from it).
  ASSERT_TRUE(t.render({{"user", "Hi"}}, out).ok);
  EXPECT_EQ(out, "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
                 "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  ASSERT_TRUE(t.render({{"system", "Be brief."}, {"user", "a"}, {"assistant", "b"}, {"user", "c"}},
                       out)
                  .ok);
  EXPECT_EQ(out, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\na<|im_end|>\n"
                 "<|im_start|>assistant\nb<|im_end|>\n<|im_start|>user\nc<|im_end|>\n"
                 "<|im_start|>assistant\n");
  EXPECT_FALSE(t.addBos());
}

TEST(ChatTemplate, Llama2AndPlain) {
  ChatTemplate t;
  ASSERT_TRUE(ChatTemplate::recognize("{{ bos_token + '[INST] ' + m + ' [/INST]' }}", "x", t).ok);
  EXPECT_EQ(t.style(), ChatTemplate::Style::Llama2);
  std::string out;
  ASSERT_TRUE(t.render({{"system", "S"}, {"user", "u1"}, {"assistant", "a1"}, {"user", "u2"}}, out).ok);
  EXPECT_EQ(out, "<s>[INST] <<SYS>>\nS\n<</SYS>>\n\nu1 [/INST] a1 </s><s>[INST] u2 [/INST]");
  EXPECT_FALSE(t.render({{"user", "u1"}, {"user", "u2"}}, out).ok); // must alternate

  ASSERT_TRUE(ChatTemplate::recognize("", "x", t).ok);
  EXPECT_EQ(t.style(), ChatTemplate::Style::Plain);
  ASSERT_TRUE(t.render({{"user", "Once upon a time"}}, out).ok);
  EXPECT_EQ(out, "Once upon a time");
  EXPECT_TRUE(t.addBos());
}

TEST(ChatTemplate, ErrorsNameTheProblem) {
  ChatTemplate t;
  mu::rt::Status s = ChatTemplate::recognize("{% for m in messages %}<|user|>{{ m.content }}{% endfor %}",
                                             "tokenizer_config.json", t);
  ASSERT_FALSE(s.ok);
  EXPECT_NE(s.message.find("tokenizer_config.json: the chat_template is not a format mu knows"),
            std::string::npos);
  EXPECT_NE(s.message.find("--chat-template chatml|llama2|plain"), std::string::npos);
  EXPECT_FALSE(ChatTemplate::byName("zephyr", t).ok);
  ASSERT_TRUE(ChatTemplate::byName("chatml", t).ok);
  std::string out;
  EXPECT_FALSE(t.render({}, out).ok);
  EXPECT_FALSE(t.render({{"robot", "x"}}, out).ok);
  EXPECT_FALSE(t.render({{"user", "x"}, {"system", "late"}, {"user", "y"}}, out).ok);
  EXPECT_FALSE(t.render({{"user", "x"}, {"assistant", "y"}}, out).ok);
}

/// The seam table: crafted continuations of one opener.
TEST(Seam, CraftedContinuations) {
  struct Case {
    const char *opener, *continuation, *expect;
    int overlap;
  } cases[] = {
      // none: a plain continuation gets exactly one space
      {"The capital of France is", "Paris.", "The capital of France is Paris.", 0},
      // leading space: kept as the one space
      {"The capital of France is", " Paris.", "The capital of France is Paris.", 0},
      // leading spaces and tabs collapse to one
      {"The capital of France is", "  \tParis.", "The capital of France is Paris.", 0},
      // repeat of the last word
      {"The capital of France is", "is Paris.", "The capital of France is Paris.", 1},
      {"The capital of France is", " Is Paris.", "The capital of France is Paris.", 1},
      // repeat of the whole opener (different case and punctuation)
      {"Sure, the capital is", "sure, the capital is Paris.", "Sure, the capital is Paris.", 4},
      {"Hello there.", "Hello there! How can I help?", "Hello there. How can I help?", 2},
      // repeat of the last two words
      {"I went to the", "to the store.", "I went to the store.", 2},
      // leading punctuation: no space
      {"Hello", ", how are you?", "Hello, how are you?", 0},
      {"It costs 5", "% more.", "It costs 5% more.", 0},
      {"I", "'m fine.", "I'm fine.", 0},
      {"It", " doesn't matter.", "It doesn't matter.", 0},
      {"Wait", "...", "Wait...", 0},
      // multi-byte punctuation decides the join only once it is whole
      // (streamed a byte at a time: found by fuzz-chat)
      {"I", "\xE2\x80\x99m fine.", "I\xE2\x80\x99m fine.", 0},
      {"Wait", "\xE2\x80\xA6 what?", "Wait\xE2\x80\xA6 what?", 0},
      {"He said \xE2\x80\x9Chi", "\xE2\x80\x9D and left.", "He said \xE2\x80\x9Chi\xE2\x80\x9D and left.", 0},
      // an opening quote/bracket/dash at the end of the opener: no space
      {"He said \"", "hello\".", "He said \"hello\".", 0},
      {"The answer (", "42) is.", "The answer (42) is.", 0},
      {"well-", "known", "well-known", 0},
      // a closing quote when the opener has an open one
      {"He said \"hi", "\" and left.", "He said \"hi\" and left.", 0},
      // a newline the continuation starts with is kept
      {"Steps:", "\n1. Open Settings.", "Steps:\n1. Open Settings.", 0},
      // an empty (withheld) opener: the continuation as is, leading space dropped
      {"", " Paris is the capital.", "Paris is the capital.", 0},
      // a repeat followed by more words that are not a repeat
      {"Turn on", "on Bluetooth in Settings.", "Turn on Bluetooth in Settings.", 1},
      // a continuation that merely starts like the opener's words is kept
      {"Open the", "theme settings.", "Open the theme settings.", 0},
      // nothing but the repeat
      {"Yes", "yes", "Yes", 1},
  };
  for (const Case &c : cases) {
    Seam s(c.opener);
    std::string whole = std::string(c.opener) + s.push(c.continuation);
    whole += s.finish();
    EXPECT_EQ(whole, c.expect) << "opener '" << c.opener << "' + '" << c.continuation << "'";
    EXPECT_EQ(s.overlapWords(), c.overlap) << c.opener << " + " << c.continuation;
    // Streamed a character at a time, the result is the same.
    Seam t(c.opener);
    std::string streamed = c.opener;
    for (const char *p = c.continuation; *p; ++p)
      streamed += t.push(std::string(1, *p));
    streamed += t.finish();
    EXPECT_EQ(streamed, c.expect) << "streamed: " << c.opener << " + " << c.continuation;
  }
}

/// The start is released as soon as a repeat is ruled out.
TEST(Seam, ReleasesEarly) {
  Seam s("The capital of France is");
  EXPECT_EQ(s.push("P"), " P"); // no opener word starts with "p"
  EXPECT_EQ(s.push("aris"), "aris");
  Seam t("I went to the");
  EXPECT_EQ(t.push("t"), "");  // could be "to the" or "the"
  EXPECT_EQ(t.push("o "), ""); // "to" matches; "the" may follow
  EXPECT_EQ(t.push("the "), "");
  EXPECT_EQ(t.push("s"), " s");
  EXPECT_EQ(t.overlapWords(), 2);
}
