//===- FuseGlu.cpp - act(gate) * up -> mu.glu -----------------------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSEGLU
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// The gate input and activation kind of a single-use activation op.
static std::optional<std::pair<Value, Activation>> gateOf(Value v) {
  if (!v.hasOneUse())
    return std::nullopt;
  if (auto s = def<SiluOp>(v))
    return std::make_pair(s.getInput(), Activation::silu);
  if (auto g = def<GeluOp>(v))
    return std::make_pair(g.getInput(), g.getApproximate() ==
                                                GeluApproximation::tanh
                                            ? Activation::gelu_tanh
                                            : Activation::gelu);
  if (auto r = def<ReluOp>(v))
    return std::make_pair(r.getInput(), Activation::relu);
  return std::nullopt;
}

struct GluPattern : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op, PatternRewriter &rw) const override {
    for (int i = 0; i < 2; ++i) {
      auto g = gateOf(op->getOperand(i));
      Value up = op->getOperand(1 - i);
      if (!g || g->first.getType() != up.getType() ||
          op.getType() != up.getType())
        continue;
      rw.replaceOpWithNewOp<GluOp>(
          op, g->first, up, ActivationAttr::get(rw.getContext(), g->second));
      return success();
    }
    return failure();
  }
};

struct FuseGluPass : mu::impl::FuseGluBase<FuseGluPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<GluPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
