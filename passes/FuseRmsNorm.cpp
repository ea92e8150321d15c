//===- FuseRmsNorm.cpp - decomposed RMSNorm -> mu.rms_norm ----------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSERMSNORM
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// If `s` is mean(x^2) + eps (eps a splat constant) returns x and sets eps.
static Value matchMeanSquarePlusEps(Value s, double &eps) {
  auto add = def<AddOp>(s);
  if (!add)
    return nullptr;
  auto [mean, epsV] = pickOperand(
      add, [](Value v) { return isLastAxisMean(v.getDefiningOp()); });
  if (!mean || !matchSplatConstant(epsV, eps))
    return nullptr;
  return matchSquare(def<ReduceMeanOp>(mean).getInput());
}

/// x * invsqrt(mean(x^2) + eps) or x / sqrt(mean(x^2) + eps) -> rms_norm(x).
struct RmsNormCore : RewritePattern {
  RmsNormCore(MLIRContext *ctx) : RewritePattern(MatchAnyOpTypeTag(), 1, ctx) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rw) const override {
    Value x, s;
    if (auto mul = dyn_cast<MulOp>(op)) {
      for (int i = 0; i < 2 && !s; ++i) {
        x = mul->getOperand(i);
        s = matchInvSqrt(mul->getOperand(1 - i));
      }
    } else if (auto div = dyn_cast<DivOp>(op)) {
      x = div.getLhs();
      if (auto sq = def<SqrtOp>(div.getRhs()))
        s = sq.getInput();
    } else {
      return failure();
    }
    double eps = 0;
    if (!s || matchMeanSquarePlusEps(s, eps) != x)
      return failure();
    // RMSNorm of x - mean(x) is LayerNorm: leave it to mu-fuse-layer-norm.
    if (auto sub = def<SubOp>(x))
      if (isLastAxisMean(sub.getRhs().getDefiningOp()))
        return failure();
    if (op->getResult(0).getType() != x.getType())
      return failure();
    rw.replaceOpWithNewOp<RmsNormOp>(op, x, Value(),
                                     rw.getF32FloatAttr(static_cast<float>(eps)));
    return success();
  }
};

/// mul(rms_norm(x), w) -> rms_norm(x, w) for a 1-d w over the last dim.
struct RmsNormWeight : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op, PatternRewriter &rw) const override {
    auto [n, w] = pickOperand(op, [](Value v) {
      auto r = def<RmsNormOp>(v);
      return r && !r.getWeight() && v.hasOneUse();
    });
    if (!n)
      return failure();
    auto norm = def<RmsNormOp>(n);
    auto wt = cast<RankedTensorType>(w.getType());
    auto xt = norm.getInput().getType();
    if (wt.getRank() != 1 || wt.getDimSize(0) != xt.getShape().back() ||
        op.getType() != xt)
      return failure();
    rw.replaceOpWithNewOp<RmsNormOp>(op, norm.getInput(), w,
                                     norm.getEpsilonAttr());
    return success();
  }
};

struct FuseRmsNormPass : mu::impl::FuseRmsNormBase<FuseRmsNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RmsNormCore, RmsNormWeight>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
