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

namespace mu {

/// Which front end a path selects.
enum class ModelFormat { Onnx, Safetensors, Unknown };

/// Picks the importer from the file name (and, failing that, its magic).
ModelFormat detectModelFormat(llvm::StringRef path);

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
mlir::OwningOpRef<mlir::ModuleOp> importSafetensors(mlir::MLIRContext &ctx,
                                                    llvm::StringRef path,
                                                    llvm::StringRef configPath,
                                                    std::string &error,
                                                    llvm::StringRef adapterDir = "",
                                                    double adapterScale = 1.0);

/// Dispatches on detectModelFormat().
mlir::OwningOpRef<mlir::ModuleOp> importModel(mlir::MLIRContext &ctx,
                                              llvm::StringRef path,
                                              llvm::StringRef configPath,
                                              std::string &error,
                                              llvm::StringRef adapterDir = "",
                                              double adapterScale = 1.0);

} // namespace mu

#endif // MU_IMPORT_IMPORT_H
