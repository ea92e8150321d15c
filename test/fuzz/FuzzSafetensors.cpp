//===- FuzzSafetensors.cpp - safetensors + config.json importer ------===//
///
/// \file
/// Input: [u32 length] config.json, then model.safetensors (FuzzSplit.h).
///
//===----------------------------------------------------------------------===//
#include "FuzzSplit.h"
#include "mu/Import/Import.h"

#include "mlir/IR/MLIRContext.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string dir = mu::fuzz::splitIntoDir(data, size, {"config.json", "model.safetensors"});
  mlir::MLIRContext ctx;
  ctx.printOpOnDiagnostic(false);
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  std::string error;
  (void)mu::importSafetensors(ctx, dir + "/model.safetensors", "", error);
  return 0;
}
