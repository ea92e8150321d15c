//===- RoundFloat.cpp - a target's float precision on the host -----------===//
///
/// \file
/// Targets that compute what stays float in FP16 or BF16 (NPUs) are
/// emulated on the host by rounding: the f32 result of every arithmetic
/// kernel that runs on the target (not `muk.device = "cpu"`) goes through
/// `muk.round` (to the target's precision and back, round to nearest
/// even), so every value a
/// consumer sees is representable in that precision, as on the device.
/// Arithmetic inside a kernel stays f32 (docs/targets.md says what this
/// ignores). Data movement is not rounded again (its input already is).
///
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_ROUNDFLOAT
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

bool skipped(StringRef kind) {
  return kind == "reshape" || kind == "transpose" || kind == "slice" || kind == "concat" ||
         kind == "split" || kind == "broadcast_to" || kind == "cast" || kind == "range" ||
         kind == "dim" || kind == "quantize" || kind == "round";
}

/// True if `v` is returned as a persistent state (the KV cache updated in
/// place): it must stay the kernel's own result. Its values were rounded
/// where they were computed.
bool feedsState(func::FuncOp f, Value v) {
  for (OpOperand &use : v.getUses())
    if (isa<func::ReturnOp>(use.getOwner()) && f.getResultAttr(use.getOperandNumber(), "mu.state"))
      return true;
  return false;
}

struct RoundFloatPass : mu::impl::RoundFloatBase<RoundFloatPass> {
  using RoundFloatBase::RoundFloatBase;

  void runOnOperation() override {
    MLIRContext *ctx = &getContext();
    int64_t code = 0; // muk.round: 1 = FP16, 2 = BF16
    if (precision == "f16")
      code = 1;
    else if (precision == "bf16")
      code = 2;
    else if (precision == "f32")
      return;
    else {
      getOperation().emitError("mu-round-float: precision must be f32, f16 or bf16, not '")
          << precision << "'";
      return signalPassFailure();
    }
    OpBuilder b(ctx);
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      SmallVector<Operation *> ops;
      for (Operation &op : f.getBody().front())
        if (op.getDialect() && op.getDialect()->getNamespace() == "muk" &&
            !op.hasAttr("muk.device") && !skipped(op.getName().stripDialect()))
          ops.push_back(&op);
      for (Operation *op : ops) {
        b.setInsertionPointAfter(op);
        for (Value r : op->getResults()) {
          auto t = cast<RankedTensorType>(r.getType());
          if (!t.getElementType().isF32() || r.use_empty() || feedsState(f, r))
            continue;
          Location loc = op->getLoc();
          auto name = [&](const char *suffix) -> Location {
            if (auto nl = dyn_cast<NameLoc>(loc))
              return NameLoc::get(StringAttr::get(ctx, nl.getName().str() + suffix),
                                  nl.getChildLoc());
            return loc;
          };
          OperationState st(name(".round"), "muk.round");
          st.addOperands(r);
          st.addTypes(t);
          st.addAttribute("ints", b.getDenseI64ArrayAttr({code}));
          Operation *rd = b.create(st);
          r.replaceAllUsesExcept(rd->getResult(0), rd);
        }
      }
    }
  }
};

} // namespace
