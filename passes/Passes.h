//===- Passes.h - mu graph passes ------------------------------*- C++ -*-===//
#ifndef MU_PASSES_PASSES_H
#define MU_PASSES_PASSES_H

#include "dialects/Mu/MuOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"

namespace mu {

#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// Adds the transformer fusion pipeline (canonicalize, then each fusion in
/// dependency order, then CSE) to `pm`.
void buildFuseTransformerPipeline(mlir::OpPassManager &pm);

/// Registers all mu passes and the `mu-fuse-transformer` pipeline.
void registerAllMuPasses();

} // namespace mu

#endif // MU_PASSES_PASSES_H
