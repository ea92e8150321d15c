//===- QdqOnnx.h - kernel programs -> QDQ ONNX for vendor runtimes -*- C++ -*-===//
///
/// \file
/// Writes the quantized, target-checked kernel programs of a module (after
/// prepareMub with unpacked weights) as standard ONNX with
/// QuantizeLinear/DequantizeLinear node units, the form ONNX Runtime's
/// execution providers (QNN, OpenVINO, Vitis AI) and OpenVINO take. A
/// decoder-only LM becomes `prefill.onnx` + `decode.onnx` with ONNX Runtime
/// GenAI's tensor names (`input_ids`, `position_ids`,
/// `past_key_values.{i}.key|value`, `present.{i}.key|value`, `logits`), plus
/// a JSON sidecar; the conventions are in docs/qdq-onnx.md.
///
//===----------------------------------------------------------------------===//
#ifndef MU_EXPORT_QDQONNX_H
#define MU_EXPORT_QDQONNX_H

#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/StringRef.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace mu {

struct QdqOnnxOptions {
  std::string target = "cpu", scheme = "none";
  /// Float regions in the target's precision: each `muk.round` becomes a
  /// Cast to FLOAT16/BFLOAT16 and back, so ONNX Runtime's CPU provider
  /// reproduces the target's numerics. Off: the float graph stays FP32 and
  /// the vendor runtime chooses its float precision.
  bool emulateFloat = false;
  /// > 0: the programs are static-shape (mu-static-shapes): prefill.onnx
  /// takes exactly this many tokens per call plus their valid `length`, and
  /// the KV caches are fixed maxCtx-row tensors updated in the graph.
  int64_t prefillChunk = 0;
  int64_t maxCtx = 512;
  /// Weights above this many bytes in total go to `<model>.onnx.data`
  /// (protobuf's 2 GB limit); 0 = never.
  uint64_t externalDataThreshold = uint64_t(1800) << 20;
  std::string architecture, producerVersion;
  std::vector<std::pair<std::string, std::string>> config; ///< for the sidecar
  /// tokenizer.json / tokenizer_config.json to copy beside the models.
  std::vector<std::string> tokenizerFiles;
  /// Special token ids for the sidecar (-1 / empty: unknown).
  int bosId = -1;
  std::vector<int> eosIds;
  /// Non-empty: write only the whole-sequence program (`main`: every
  /// position's logits, no cache) to this one file, without sidecar.
  std::string singleFile;
};

struct QdqOnnxSummary {
  std::vector<std::string> files;
  int64_t nodes = 0, quantizeNodes = 0, dequantizeNodes = 0;
  /// Nodes the target check placed on the CPU (emitted as plain float ops,
  /// marked in their doc_string).
  std::vector<std::string> hostNodes;
};

/// Writes the module's programs into `outDir` (created; ignored with
/// `singleFile`). Every file is
/// written to a temporary name and renamed, so a failure leaves no partial
/// model. Deterministic: the same module and options give identical bytes.
bool exportQdqOnnx(mlir::ModuleOp module, const QdqOnnxOptions &options, llvm::StringRef outDir,
                   QdqOnnxSummary &summary, std::string &error);

} // namespace mu

#endif // MU_EXPORT_QDQONNX_H
