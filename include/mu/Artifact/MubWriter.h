//===- MubWriter.h - lowering a fused mu module to a .mub artifact -*- C++ -*-===//
///
/// \file
/// Lowers every function of a fused `mu` module to a `muk` kernel program
/// (one op per runtime kernel), plans each program's activation arena
/// (liveness, greedy by size), lays constants out in 64-byte aligned
/// segments, embeds the tokenizer and metadata, and serializes. The same
/// module and options give byte-identical output.
///
//===----------------------------------------------------------------------===//
#ifndef MU_ARTIFACT_MUBWRITER_H
#define MU_ARTIFACT_MUBWRITER_H

#include "mu/Artifact/MubFormat.h"
#include "mu/Quant/Calibration.h"
#include "mu/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace mu {

/// A BPE tokenizer normalized from Hugging Face tokenizer.json.
struct TokenizerData {
  enum Kind { None = 0, SentencePieceBpe = 1, ByteLevelBpe = 2 } kind = None;
  std::vector<std::string> vocab;
  std::vector<std::tuple<int, int, int>> merges; ///< left, right, merged
  std::vector<std::pair<int, std::string>> specials;
  bool byteFallback = false, prependSpace = false, addBos = false;
  int bosId = -1, unkId = -1;
  std::vector<int> eosIds;
  std::string chatTemplate; ///< tokenizer_config.json chat_template ("" = none)
};

/// Reads tokenizer.json (and tokenizer_config.json beside it, if present).
bool importTokenizerJson(llvm::StringRef path, TokenizerData &out,
                         std::string &error);

/// A linear layer swappable adapters may adapt (a `Lora` instruction site).
struct LoraSiteInfo {
  std::string name;
  int64_t in = 0, out = 0;
};

/// A swappable adapter's weights per site, as stored: A [rank, in] and
/// B [out, rank] f32, B scaled. Views stay valid while their owner lives.
struct AdapterBlob {
  std::string name, source;
  struct Site {
    uint32_t site = 0;
    int64_t rank = 0;
    llvm::ArrayRef<float> a, b;
  };
  std::vector<Site> sites;
};

struct MubOptions {
  int64_t maxSeq = 512;  ///< bound for dynamic (sequence) dims
  int64_t maxCtx = 512;  ///< KV-cache capacity
  /// > 0: static-shape cached programs (mu-static-shapes): prefill takes
  /// this many tokens per call, the KV cache is maxCtx rows updated in place.
  int64_t prefillChunk = 0;
  std::string target = "cpu";
  int weightBits = 0; ///< 0 = float weights; 8/16 = per-channel weight-only
  int64_t weightBlock = 0; ///< > 0: one scale per block of N input elements
  std::string quantScheme = "none";
  /// Static activation ranges by tensor name (mu-quantize-activations);
  /// null = float activations.
  std::shared_ptr<const quant::ActivationRanges> activationRanges;
  /// Calibration statistics: with Gram matrices of linear inputs, weights
  /// are rounded by GPTQ instead of to nearest.
  std::shared_ptr<const quant::CalibrationStats> calibration;
  bool gptq = true;            ///< with calibration: GPTQ weight rounding
  bool biasCorrection = false; ///< with calibration: correct linear biases
  /// Store int8 linear weights in the CPU kernels' packed layout
  /// (mu-pack-weights); off = row-major everywhere (reference layout).
  bool packWeights = true;
  /// Weight scale rules of the target's scheme (mu-quantize-weights).
  bool weightPerTensor = false, weightPowerOfTwo = false;
  /// The deployment target's rules (null: no check). With them the kernel
  /// programs are checked and partitioned (mu-check-target) for
  /// `targetScheme`, float results are rounded to the target's float
  /// precision (mu-round-float), and `targetCheck` receives the result.
  std::shared_ptr<const target::Target> targetRules;
  std::string targetScheme;
  bool noFallback = false;
  std::shared_ptr<target::TargetCheckResult> targetCheck;
  std::string architecture;
  std::string sourceSha256;
  std::vector<std::pair<std::string, std::string>> config;
  TokenizerData tokenizer;
  /// Swappable adapters (module attribute mu.adapters) go into the artifact;
  /// off = only their sites do, and the adapters are left in
  /// MubArtifact::adapters for writeAdapterFile (`--adapter-out DIR`).
  bool embedAdapters = true;
};

/// Bytes of one constant segment: a view of a weight blob owned by the
/// module (no copy), or converted bytes owned here.
struct MubSegment {
  llvm::ArrayRef<char> view;
  std::vector<uint8_t> owned;
  const char *data() const {
    return owned.empty() ? view.data() : reinterpret_cast<const char *>(owned.data());
  }
  size_t size() const { return owned.empty() ? view.size() : owned.size(); }
};

/// A serialized artifact ready to stream: header, FlatBuffer, segments. Views
/// point into the module's weight blobs, so write it while the module lives.
struct MubArtifact {
  MubHeader header;
  std::vector<uint8_t> flatbuffer;
  std::vector<uint64_t> segmentOffsets;
  std::vector<MubSegment> segments;
  /// Model.artifact_id: hex SHA-256 of the id-less FlatBuffer and the data.
  std::string artifactId;
  std::vector<LoraSiteInfo> loraSites;
  /// Adapters not embedded (MubOptions::embedAdapters off).
  std::vector<AdapterBlob> adapters;
  /// Bytes of the adapter matrices (adapters and their segments view them).
  std::deque<std::vector<uint8_t>> adapterData;
  void write(llvm::raw_ostream &os) const;
};

/// Serializes one adapter as a .mua file (mua.fbs) bound to the base
/// artifact `baseId` with `sites`.
bool buildAdapterFile(const std::string &baseId, const std::vector<LoraSiteInfo> &sites,
                      const AdapterBlob &adapter, std::vector<uint8_t> &bytes,
                      std::string &error);

/// Compiles a PEFT LoRA adapter directory against an existing base artifact
/// `basePath` (its LoRA sites and artifact_id) into .mua bytes. Errors name
/// the module that has no site or does not match it.
bool compileAdapterForBase(const std::string &basePath, const std::string &name,
                           const std::string &dir, double scale, std::vector<uint8_t> &bytes,
                           std::string &error);

/// The bytes of a constant in runtime layout (little-endian elements, bool
/// one byte each, splats expanded).
bool constantData(mlir::ElementsAttr value, std::vector<uint8_t> &bytes, std::string &error);

/// Lowers `module` (fused mu graph) to kernel programs (mu-lower-to-kernels,
/// [mu-quantize-weights,] mu-plan-memory; the module is updated in place) and
/// serializes it. Weights are not copied: segments view the module's blobs.
bool prepareMub(mlir::ModuleOp module, const MubOptions &options, MubArtifact &artifact,
                std::string &error);

/// prepareMub + write into a byte vector (tests and small models).
bool buildMub(mlir::ModuleOp module, const MubOptions &options,
              std::vector<uint8_t> &bytes, std::string &error);

} // namespace mu

#endif // MU_ARTIFACT_MUBWRITER_H
