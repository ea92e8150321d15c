//===- Import.h - checkpoint importers -------------------------*- C++ -*-===//
///
/// \file
/// Front ends from checkpoints to the `mu` graph dialect. Every importer
/// reports bad input as one paragraph naming the file and the offending item
/// (node, tensor, byte offset) and returns null; none aborts on user input.
///
//===----------------------------------------------------------------------===//
#ifndef MU_IMPORT_IMPORT_H
#define MU_IMPORT_IMPORT_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include <string>
#include <vector>

namespace mu {

/// Which front end a path selects.
enum class ModelFormat { Onnx, Safetensors, Unknown };

/// Picks the importer from the file name (and, failing that, its magic).
ModelFormat detectModelFormat(llvm::StringRef path);

/// A LoRA adapter kept swappable (`--adapter NAME=DIR[:SCALE]`): its
/// modules become `mu.lora` side branches selected at run time.
struct SwappableAdapter {
  std::string name, dir;
  double scale = 1.0;
};

/// One adapted module of a LoRA adapter in runtime form: A [rank, in] and
/// B [out, rank] in f32, B with the adapter's scale folded in.
struct LoraDelta {
  std::string site; ///< the module: base weight name without ".weight"
  int64_t rank = 0, in = 0, out = 0;
  std::vector<float> a, b;
};

/// Reads and checks a PEFT LoRA adapter directory (the rules of
/// importSafetensors' merge), with every module's scale multiplied by
/// `scale`. Modules are in name order.
bool readLoraAdapter(llvm::StringRef dir, double scale, std::vector<LoraDelta> &modules,
                     std::string &error);

/// ONNX (opsets 13-21; FP16/FP32/INT64 initializers, external data,
/// Constant nodes). Dynamic dims stay `?` with their names recorded in the
/// `mu.dim_names` argument attribute. The graph becomes `func.func @main`.
mlir::OwningOpRef<mlir::ModuleOp> importOnnx(mlir::MLIRContext &ctx,
                                             llvm::StringRef path,
                                             std::string &error);

/// safetensors + config.json (Hugging Face LlamaForCausalLM-style decoders
/// and the Mu encoder-decoder schema in docs/model-config.md). `configPath`
/// empty means `config.json` next to the checkpoint. Emits the fused graph
/// directly: decoder-only models get `@main(input_ids)`, encoder-decoders
/// get `@encode(input_ids)` and `@decode(decoder_input_ids, encoder_hidden)`.
///
/// `adapterDir` (optional): a PEFT LoRA adapter directory
/// (adapter_config.json + adapter_model.safetensors) merged into the weights
/// at import: W += scale * B A with scale = lora_alpha / r (rsLoRA:
/// lora_alpha / sqrt(r); rank_pattern / alpha_pattern per module). DoRA,
/// modules_to_save, embedding adapters, fan_in_fan_out and shapes that do
/// not match the base are errors naming the tensor or key. `adapterScale`
/// multiplies every module's scale (`--lora DIR:SCALE`).
///
/// `swappable`: adapters kept apart from the weights. Every module one of
/// them adapts gets a `mu.lora` op after its linear; the module attributes
/// `mu.lora_sites` (name, in, out per site) and `mu.adapters` (per adapter:
/// name, source, and A/B per site) carry them to the .mub writer.
mlir::OwningOpRef<mlir::ModuleOp> importSafetensors(mlir::MLIRContext &ctx,
                                                    llvm::StringRef path,
                                                    llvm::StringRef configPath,
                                                    std::string &error,
                                                    llvm::StringRef adapterDir = "",
                                                    double adapterScale = 1.0,
                                                    llvm::ArrayRef<SwappableAdapter> swappable = {});

/// Dispatches on detectModelFormat().
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &ctx,
                                              llvm::StringRef path,
                                              llvm::StringRef configPath,
                                              std::string &error,
                                              llvm::StringRef adapterDir = "",
                                              double adapterScale = 1.0,
                                              llvm::ArrayRef<SwappableAdapter> swappable = {});

} // namespace mu

#endif // MU_IMPORT_IMPORT_H
