//===- ModelConfigTest.cpp - config.json parsing --------------------------===//
#include "mu/Import/ModelConfig.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

using namespace mu;

namespace {
std::string writeTemp(const std::string &text) {
  llvm::SmallString<128> path;
  int fd;
  EXPECT_FALSE(llvm::sys::fs::createTemporaryFile("mu-config", "json", fd, path));
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  os << text;
  return std::string(path);
}
} // namespace

TEST(ModelConfig, Llama) {
  std::string p = writeTemp(R"({"architectures": ["LlamaForCausalLM"],
    "hidden_size": 192, "intermediate_size": 512, "num_hidden_layers": 6,
    "num_attention_heads": 6, "num_key_value_heads": 2, "head_dim": 32,
    "vocab_size": 4096, "rms_norm_eps": 1e-05, "rope_theta": 10000.0,
    "rope_scaling": null, "hidden_act": "silu", "tie_word_embeddings": true,
    "bos_token_id": 1, "eos_token_id": [2, 1]})");
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(parseModelConfig(p, c, err)) << err;
  EXPECT_EQ(c.arch, ModelArch::DecoderOnly);
  EXPECT_EQ(c.hidden, 192);
  EXPECT_EQ(c.numKvHeads, 2);
  EXPECT_EQ(c.headDim, 32);
  EXPECT_EQ(c.act, FfnAct::Silu);
  EXPECT_TRUE(c.gatedFfn);
  EXPECT_EQ(c.eosIds, (std::vector<int64_t>{2, 1}));
  llvm::sys::fs::remove(p);
}

TEST(ModelConfig, MuDefaults) {
  std::string p = writeTemp(R"({"model_type": "mu", "vocab_size": 32128,
    "d_model": 1024, "num_encoder_layers": 20, "num_decoder_layers": 10,
    "num_attention_heads": 6, "num_key_value_heads": 3, "head_dim": 64,
    "intermediate_size": 4096, "hidden_act": "gelu_tanh"})");
  ModelConfig c;
  std::string err;
  ASSERT_TRUE(parseModelConfig(p, c, err)) << err;
  EXPECT_EQ(c.arch, ModelArch::EncoderDecoder);
  EXPECT_EQ(c.norm, NormKind::DualLayerNorm);
  EXPECT_FALSE(c.gatedFfn);
  EXPECT_TRUE(c.attentionBias);
  EXPECT_EQ(c.act, FfnAct::GeluTanh);
  llvm::sys::fs::remove(p);
}

TEST(ModelConfig, Errors) {
  struct Case {
    const char *json, *message;
  } cases[] = {
      {R"({"architectures": ["BertModel"]})", "unknown architecture 'BertModel'"},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"architectures": ["LlamaForCausalLM"]})", "missing required key \"vocab_size\""},
      {R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 8, "hidden_size": 8,
           "num_hidden_layers": 1, "num_attention_heads": 3, "num_key_value_heads": 2,
           "intermediate_size": 8})", "must be a multiple of num_key_value_heads"},
      {R"({"architectures": ["LlamaForCausalLM"], "vocab_size": 8, "hidden_size": 8,
           "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 8,
           "rope_scaling": {"rope_type": "llama3"}})", "\"rope_scaling\" is not supported"},
      {R"({"architectures": ["LlamaForCausalLM"], "vocab_size": "big"})", "must be an integer"},
      {R"({not json)", "not valid JSON"},
  };
  for (const Case &k : cases) {
    std::string p = writeTemp(k.json);
    ModelConfig c;
    std::string err;
    EXPECT_FALSE(parseModelConfig(p, c, err)) << k.json;
    EXPECT_NE(err.find(k.message), std::string::npos) << err;
    EXPECT_EQ(err.rfind(p, 0), 0u) << "error must start with the file name: " << err;
    llvm::sys::fs::remove(p);
  }
}
