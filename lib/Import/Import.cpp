//===- Import.cpp - format detection and dispatch -------------------------===//
#include "mu/Import/Import.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;

mu::ModelFormat mu::detectModelFormat(llvm::StringRef path) {
  llvm::StringRef ext = llvm::sys::path::extension(path);
  if (ext.equals_insensitive(".onnx"))
    return ModelFormat::Onnx;
  if (ext.equals_insensitive(".safetensors"))
    return ModelFormat::Safetensors;
  // Unknown extension: safetensors starts with a small little-endian u64
  // header length followed by '{'.
  auto buf = llvm::MemoryBuffer::getFileSlice(path, 9, 0, false);
  if (buf && (*buf)->getBufferSize() == 9 && (*buf)->getBuffer()[8] == '{')
    return ModelFormat::Safetensors;
  return ModelFormat::Unknown;
}

OwningOpRef<ModuleOp> mu::importModel(MLIRContext &ctx, llvm::StringRef path,
                                      llvm::StringRef configPath,
                                      std::string &error, llvm::StringRef adapterDir,
                                      double adapterScale,
                                      llvm::ArrayRef<SwappableAdapter> swappable) {
  if (!llvm::sys::fs::exists(path)) {
    error = (path + ": no such file").str();
    return {};
  }
  switch (detectModelFormat(path)) {
  case ModelFormat::Onnx:
    if (!adapterDir.empty() || !swappable.empty()) {
      error = (path + ": LoRA adapters are merged into safetensors checkpoints; this is an ONNX "
                      "model (use its safetensors + config.json)").str();
      return {};
    }
    return importOnnx(ctx, path, error);
  case ModelFormat::Safetensors:
    return importSafetensors(ctx, path, configPath, error, adapterDir, adapterScale,
                             swappable);
  case ModelFormat::Unknown:
    break;
  }
  error = (path + ": unknown model format: expected an .onnx file or a "
                  ".safetensors checkpoint with config.json beside it")
              .str();
  return {};
}
