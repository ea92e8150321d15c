//===- FuzzOnnx.cpp - the ONNX importer ------------------------------===//
#include "FuzzCommon.h"
#include "mu/Import/Import.h"

#include "mlir/IR/MLIRContext.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string path = mu::fuzz::scratchFile(data, size, ".onnx");
  mlir::MLIRContext ctx;
  ctx.printOpOnDiagnostic(false);
  mlir::ScopedDiagnosticHandler quiet(&ctx, [](mlir::Diagnostic &) { return mlir::success(); });
  std::string error;
  (void)mu::importOnnx(ctx, path, error);
  return 0;
}
