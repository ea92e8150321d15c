//===- FuseLayerNorm.cpp - decomposed LayerNorm -> mu.layer_norm ----------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSELAYERNORM
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// If `d` is x - mean(x) over the last axis, returns x.
static Value matchCentered(Value d) {
  auto sub = def<SubOp>(d);
  if (!sub)
    return nullptr;
  auto mean = def<ReduceMeanOp>(sub.getRhs());
  if (!isLastAxisMean(mean) || mean.getInput() != sub.getLhs())
    return nullptr;
  return sub.getLhs();
}

/// If `s` is var + eps with var = mean(d^2), d centered, returns d.
static Value matchVarPlusEps(Value s, double &eps) {
  auto add = def<AddOp>(s);
  if (!add)
    return nullptr;
  auto [mean, epsV] = pickOperand(
      add, [](Value v) { return isLastAxisMean(v.getDefiningOp()); });
  if (!mean || !matchSplatConstant(epsV, eps))
    return nullptr;
  Value d = matchSquare(def<ReduceMeanOp>(mean).getInput());
  return d && matchCentered(d) ? d : nullptr;
}

/// (x - mean) * invsqrt(var + eps) or (x - mean) / sqrt(var + eps)
/// -> layer_norm(x).
struct LayerNormCore : RewritePattern {
  LayerNormCore(MLIRContext *ctx)
      : RewritePattern(MatchAnyOpTypeTag(), 1, ctx) {}
  LogicalResult matchAndRewrite(Operation *op,
                                PatternRewriter &rw) const override {
    Value d, s;
    if (auto mul = dyn_cast<MulOp>(op)) {
      for (int i = 0; i < 2 && !s; ++i) {
        d = mul->getOperand(i);
        s = matchInvSqrt(mul->getOperand(1 - i));
      }
    } else if (auto div = dyn_cast<DivOp>(op)) {
      d = div.getLhs();
      if (auto sq = def<SqrtOp>(div.getRhs()))
        s = sq.getInput();
    } else {
      return failure();
    }
    double eps = 0;
    if (!s)
      return failure();
    Value varD = matchVarPlusEps(s, eps);
    Value x = matchCentered(d);
    // The two centered values may be distinct ops (no CSE yet) over the same x.
    if (!varD || !x || matchCentered(varD) != x)
      return failure();
    if (op->getResult(0).getType() != x.getType())
      return failure();
    rw.replaceOpWithNewOp<LayerNormOp>(
        op, x.getType(), x, Value(), Value(),
        rw.getF32FloatAttr(static_cast<float>(eps)));
    return success();
  }
};

static bool isFeatureVector(Value v, RankedTensorType xt) {
  auto t = cast<RankedTensorType>(v.getType());
  return t.getRank() == 1 && t.getDimSize(0) == xt.getShape().back() &&
         t.getElementType() == xt.getElementType();
}

/// mul(layer_norm(x), w) -> layer_norm(x, w).
struct LayerNormWeight : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op, PatternRewriter &rw) const override {
    auto [n, w] = pickOperand(op, [](Value v) {
      auto l = def<LayerNormOp>(v);
      return l && !l.getWeight() && !l.getBias() && v.hasOneUse();
    });
    if (!n)
      return failure();
    auto ln = def<LayerNormOp>(n);
    if (!isFeatureVector(w, ln.getInput().getType()) || op.getType() != ln.getType())
      return failure();
    rw.replaceOpWithNewOp<LayerNormOp>(op, ln.getType(), ln.getInput(), w,
                                       Value(), ln.getEpsilonAttr());
    return success();
  }
};

/// add(layer_norm(x, w), b) -> layer_norm(x, w, b).
struct LayerNormBias : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    auto [n, b] = pickOperand(op, [](Value v) {
      auto l = def<LayerNormOp>(v);
      return l && !l.getBias() && v.hasOneUse();
    });
    if (!n)
      return failure();
    auto ln = def<LayerNormOp>(n);
    if (!isFeatureVector(b, ln.getInput().getType()) || op.getType() != ln.getType())
      return failure();
    rw.replaceOpWithNewOp<LayerNormOp>(op, ln.getType(), ln.getInput(),
                                       ln.getWeight(), b, ln.getEpsilonAttr());
    return success();
  }
};

struct FuseLayerNormPass : mu::impl::FuseLayerNormBase<FuseLayerNormPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<LayerNormCore, LayerNormWeight, LayerNormBias>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
