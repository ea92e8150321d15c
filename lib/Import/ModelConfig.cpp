//===- ModelConfig.cpp - config.json parsing -------------------------------===//
#include "mu/Import/ModelConfig.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace llvm;

namespace mu {

namespace {
/// Architectures the safetensors importer builds, with what they map to.
struct KnownArch {
  const char *name;
  ModelArch arch;
};
const KnownArch kKnownArchs[] = {
    {"LlamaForCausalLM", ModelArch::DecoderOnly},
    {"MistralForCausalLM", ModelArch::DecoderOnly},
    {"MuForConditionalGeneration", ModelArch::EncoderDecoder},
};
} // namespace

bool parseModelConfig(StringRef path, ModelConfig &c, std::string &error) {
  auto buf = MemoryBuffer::getFile(path);
  if (!buf) {
    error = (path + ": cannot read model config: " + buf.getError().message()).str();
    return false;
  }
  Expected<json::Value> parsed = json::parse((*buf)->getBuffer());
  if (!parsed) {
    error = (path + ": not valid JSON: " + toString(parsed.takeError())).str();
    return false;
  }
  const json::Object *o = parsed->getAsObject();
  if (!o) {
    error = (path + ": expected a JSON object at the top level").str();
    return false;
  }
  auto bad = [&](const Twine &msg) {
    error = (path + ": " + msg).str();
    return false;
  };

  std::string arch;
  if (const json::Array *a = o->getArray("architectures"))
    if (!a->empty() && (*a)[0].getAsString())
      arch = (*a)[0].getAsString()->str();
  if (arch.empty())
    if (auto mt = o->getString("model_type"))
      arch = *mt == "llama" ? "LlamaForCausalLM" : *mt == "mu" ? "MuForConditionalGeneration" : mt->str();
  const KnownArch *known = nullptr;
  for (const KnownArch &k : kKnownArchs)
    if (arch == k.name)
      known = &k;
  if (!known) {
    std::string list;
    for (const KnownArch &k : kKnownArchs)
      list += (list.empty() ? "" : ", ") + std::string(k.name);
    return bad("unknown architecture '" + (arch.empty() ? "<none>" : arch) +
               "' (from \"architectures\"/\"model_type\"); supported: " + list);
  }
  c.architecture = arch;
  c.arch = known->arch;

  auto getInt = [&](StringRef key, int64_t &out, bool required) {
    if (auto v = o->getInteger(key)) {
      out = *v;
      return true;
    }
    if (o->get(key) && !o->get(key)->getAsNull())
      return bad("key \"" + key + "\" must be an integer");
    return required ? bad("missing required key \"" + key + "\"") : true;
  };
  auto getNum = [&](StringRef key, double &out) {
    if (auto v = o->getNumber(key))
      out = *v;
    return true;
  };
  auto getBool = [&](StringRef key, bool &out) {
    if (auto v = o->getBoolean(key))
      out = *v;
    return true;
  };
  auto getIds = [&](StringRef key, std::vector<int64_t> &out) {
    if (const json::Value *v = o->get(key)) {
      if (auto i = v->getAsInteger())
        out.push_back(*i);
      else if (const json::Array *a = v->getAsArray())
        for (const json::Value &e : *a)
          if (auto i = e.getAsInteger())
            out.push_back(*i);
    }
  };

  bool encdec = c.arch == ModelArch::EncoderDecoder;
  if (!getInt("vocab_size", c.vocabSize, true) ||
      !getInt(encdec ? "d_model" : "hidden_size", c.hidden, true) ||
      !getInt(encdec ? "num_decoder_layers" : "num_hidden_layers", c.numLayers, true) ||
      !getInt("num_attention_heads", c.numHeads, true) ||
      !getInt("intermediate_size", c.intermediate, true))
    return false;
  if (encdec && !getInt("num_encoder_layers", c.numEncoderLayers, true))
    return false;
  c.numKvHeads = c.numHeads;
  if (!getInt("num_key_value_heads", c.numKvHeads, false) ||
      !getInt("max_position_embeddings", c.maxPositions, false))
    return false;
  c.headDim = c.numHeads ? c.hidden / c.numHeads : 0;
  if (!getInt("head_dim", c.headDim, encdec))
    return false;
  getNum(encdec ? "norm_eps" : "rms_norm_eps", c.normEps);
  getNum("rope_theta", c.ropeTheta);
  c.attentionBias = encdec;
  c.mlpBias = encdec;
  getBool("attention_bias", c.attentionBias);
  getBool("mlp_bias", c.mlpBias);
  getBool("tie_word_embeddings", c.tieEmbeddings);
  getIds("bos_token_id", c.bosIds);
  getIds("eos_token_id", c.eosIds);

  std::string act = "silu";
  if (auto a = o->getString("hidden_act"))
    act = a->str();
  if (act == "silu" || act == "swish")
    c.act = FfnAct::Silu;
  else if (act == "gelu")
    c.act = FfnAct::Gelu;
  else if (act == "gelu_tanh" || act == "gelu_new" || act == "gelu_pytorch_tanh")
    c.act = FfnAct::GeluTanh;
  else if (act == "relu")
    c.act = FfnAct::Relu;
  else
    return bad("unsupported \"hidden_act\": \"" + act + "\" (silu, gelu, gelu_tanh, relu)");
  c.gatedFfn = !encdec;
  getBool("gated_ffn", c.gatedFfn);

  if (encdec) {
    std::string norm = "dual_layernorm";
    if (auto n = o->getString("norm_type"))
      norm = n->str();
    if (norm == "rmsnorm")
      c.norm = NormKind::RmsNorm;
    else if (norm == "layernorm")
      c.norm = NormKind::LayerNorm;
    else if (norm == "dual_layernorm")
      c.norm = NormKind::DualLayerNorm;
    else if (norm == "dual_rmsnorm")
      c.norm = NormKind::DualRmsNorm;
    else
      return bad("unsupported \"norm_type\": \"" + norm +
                 "\" (rmsnorm, layernorm, dual_layernorm, dual_rmsnorm)");
  }
  if (const json::Value *rs = o->get("rope_scaling"); rs && !rs->getAsNull()) {
    const json::Object *ro = rs->getAsObject();
    auto type = ro ? ro->getString("rope_type") : std::nullopt;
    if (!type && ro)
      type = ro->getString("type");
    if (!type || *type != "default")
      return bad("\"rope_scaling\" is not supported yet (only null or "
                 "{\"rope_type\": \"default\"})");
  }

  // Consistency.
  if (c.vocabSize <= 0 || c.hidden <= 0 || c.numLayers <= 0 || c.numHeads <= 0 ||
      c.numKvHeads <= 0 || c.headDim <= 0 || c.intermediate <= 0 ||
      (encdec && c.numEncoderLayers <= 0))
    return bad("sizes must be positive");
  // Bounds far above any small LM, so a damaged config fails here rather
  // than in a size computation (an importer would otherwise allocate
  // tables of head_dim x max_position_embeddings and weights to match).
  struct Bound {
    const char *key;
    int64_t value, max;
  };
  for (const Bound &b : {Bound{"vocab_size", c.vocabSize, int64_t(1) << 24},
                         Bound{"hidden_size", c.hidden, int64_t(1) << 18},
                         Bound{"intermediate_size", c.intermediate, int64_t(1) << 20},
                         Bound{"num_hidden_layers", c.numLayers, 4096},
                         Bound{"num_encoder_layers", c.numEncoderLayers, 4096},
                         Bound{"num_attention_heads", c.numHeads, 4096},
                         Bound{"num_key_value_heads", c.numKvHeads, 4096},
                         Bound{"head_dim", c.headDim, 4096},
                         Bound{"max_position_embeddings", c.maxPositions, int64_t(1) << 24}})
    if (b.value > b.max)
      return bad(formatv("\"{0}\" is {1}, above the largest this importer accepts ({2})",
                         b.key, b.value, b.max));
  if (!std::isfinite(c.ropeTheta) || c.ropeTheta <= 0 || !std::isfinite(c.normEps) ||
      c.normEps < 0)
    return bad("rope_theta must be positive and the norm epsilon non-negative (both finite)");
  if (c.numHeads % c.numKvHeads != 0)
    return bad(formatv("num_attention_heads ({0}) must be a multiple of "
                       "num_key_value_heads ({1})", c.numHeads, c.numKvHeads));
  if (c.headDim % 2 != 0)
    return bad(formatv("head_dim {0} must be even for RoPE", c.headDim));
  return true;
}

} // namespace mu
