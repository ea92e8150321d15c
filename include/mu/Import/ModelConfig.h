//===- ModelConfig.h - model architecture description ----------*- C++ -*-===//
///
/// \file
/// The architecture of a transformer LM as read from a Hugging Face style
/// config.json: decoder-only LLaMA-family models and the Mu-style
/// encoder-decoder (schema: docs/model-config.md).
///
//===----------------------------------------------------------------------===//
#ifndef MU_IMPORT_MODELCONFIG_H
#define MU_IMPORT_MODELCONFIG_H

#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mu {

enum class ModelArch { DecoderOnly, EncoderDecoder };
enum class NormKind { RmsNorm, LayerNorm, DualLayerNorm, DualRmsNorm };
enum class FfnAct { Silu, Gelu, GeluTanh, Relu };

struct ModelConfig {
  std::string architecture; ///< e.g. "LlamaForCausalLM"
  ModelArch arch = ModelArch::DecoderOnly;
  int64_t vocabSize = 0;
  int64_t hidden = 0;          ///< d_model
  int64_t numLayers = 0;       ///< decoder layers (decoder-only: all layers)
  int64_t numEncoderLayers = 0;
  int64_t numHeads = 0;
  int64_t numKvHeads = 0;
  int64_t headDim = 0;
  int64_t intermediate = 0;
  FfnAct act = FfnAct::Silu;
  bool gatedFfn = true;        ///< gate/up/down (SwiGLU) vs fc1/fc2
  NormKind norm = NormKind::RmsNorm;
  double normEps = 1e-5;
  double ropeTheta = 10000.0;
  bool attentionBias = false;
  bool mlpBias = false;
  bool tieEmbeddings = true;
  int64_t maxPositions = 0;
  std::vector<int64_t> bosIds, eosIds;
};

/// Parses `path`; on error returns false with a message naming the file and
/// the offending key.
bool parseModelConfig(llvm::StringRef path, ModelConfig &config,
                      std::string &error);

} // namespace mu

#endif // MU_IMPORT_MODELCONFIG_H
