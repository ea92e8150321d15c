//===- Passes.h - mu graph passes ------------------------------*- C++ -*-===//
#ifndef MU_PASSES_PASSES_H
#define MU_PASSES_PASSES_H

#include "dialects/Kernel/MukOps.h"
#include "dialects/Mu/MuOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Pass/Pass.h"
#include "mlir/Pass/PassManager.h"
#include "mu/Quant/Calibration.h"
#include "mu/Target/Target.h"

#include <memory>
#include <string>
#include <vector>

namespace mu {


#define GEN_PASS_DECL
#include "passes/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "passes/Passes.h.inc"

/// mu-quantize-activations with an in-memory range table (the driver's
/// calibration result) instead of the `ranges` file option.
std::unique_ptr<mlir::Pass>
createQuantizeActivations(const QuantizeActivationsOptions &options,
                          std::shared_ptr<const quant::ActivationRanges> ranges);

/// mu-quantize-weights with calibration statistics: weights of linear
/// layers whose input has a Gram matrix are rounded by GPTQ.
std::unique_ptr<mlir::Pass>
createQuantizeWeights(const QuantizeWeightsOptions &options,
                      std::shared_ptr<const quant::CalibrationStats> stats);

/// mu-smooth-quant with in-memory statistics; `factors` (if non-empty on
/// entry) are applied as given, else computed, and are filled with what
/// was applied (tensor name -> per-channel s).
std::unique_ptr<mlir::Pass>
createSmoothQuant(const SmoothQuantOptions &options,
                  std::shared_ptr<const quant::CalibrationStats> stats,
                  std::shared_ptr<quant::SmoothingFactors> factors);

/// mu-check-target with an in-memory target; `result` (if given) receives
/// the violations and the partition summary.
std::unique_ptr<mlir::Pass>
createCheckTarget(const CheckTargetOptions &options, std::shared_ptr<const target::Target> target,
                  std::shared_ptr<target::TargetCheckResult> result);

/// Adds the transformer fusion pipeline (canonicalize, then each fusion in
/// dependency order, then CSE) to `pm`.
void buildFuseTransformerPipeline(mlir::OpPassManager &pm);

/// One tensor for the arena planner: bytes and live range [first, last]
/// (instruction indices); `offset` is the result.
struct PlanItem {
  uint64_t size = 0;
  int64_t first = 0, last = 0;
  uint64_t offset = 0;
};

/// Greedy-by-size placement: largest first, each at the lowest 64-aligned
/// offset that overlaps no placed item with an overlapping live range.
/// Returns the arena size.
uint64_t planArena(std::vector<PlanItem> &items);

/// Registers all mu passes and the `mu-fuse-transformer` pipeline.
void registerAllMuPasses();

} // namespace mu

#endif // MU_PASSES_PASSES_H
