//===- FuseLinear.cpp - matmul + transposed weight (+bias) -> linear ------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSELINEAR
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// matmul(x, transpose(W, [1, 0])) -> linear(x, W) for a constant W [out, in];
/// matmul(x, W) with a constant W [in, out] -> linear(x, W^T) where W^T is
/// computed once at compile time.
struct MatMulToLinear : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rw) const override {
    Value x = op.getLhs(), rhs = op.getRhs();
    if (cast<RankedTensorType>(x.getType()).getRank() < 2 ||
        cast<RankedTensorType>(rhs.getType()).getRank() != 2)
      return failure();
    if (auto t = def<TransposeOp>(rhs)) {
      if (t.getPerm() != ArrayRef<int64_t>{1, 0} || !isConstantLike(t.getInput()))
        return failure();
      rw.replaceOpWithNewOp<LinearOp>(op, x, t.getInput(), Value());
      return success();
    }
    // Weight stored [in, out]: transpose the constant (below any cast).
    Value w = rhs;
    SmallVector<CastOp> casts;
    while (auto c = def<CastOp>(w)) {
      casts.push_back(c);
      w = c.getInput();
    }
    auto cst = def<ConstantOp>(w);
    if (!cst)
      return failure();
    std::string hint = "weight";
    if (auto r = dyn_cast<DenseResourceElementsAttr>(cst.getValue()))
      hint = r.getRawHandle().getKey().str();
    ElementsAttr wt = transposeConstant2D(cst.getValue(), hint);
    if (!wt)
      return failure();
    rw.setInsertionPoint(op);
    Value nw = ConstantOp::create(rw, cst.getLoc(), wt);
    for (CastOp c : llvm::reverse(casts)) {
      auto ct = cast<RankedTensorType>(c.getType());
      nw = CastOp::create(rw, c.getLoc(),
                          RankedTensorType::get(
                              cast<RankedTensorType>(nw.getType()).getShape(),
                              ct.getElementType()),
                          nw);
    }
    rw.replaceOpWithNewOp<LinearOp>(op, x, nw, Value());
    return success();
  }
};

/// add(linear(x, W), b) -> linear(x, W, b) for a constant b of shape [out]
/// (or [1, ..., out]).
struct FoldBiasIntoLinear : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    auto [lin, bias] = pickOperand(op, [](Value v) {
      auto l = def<LinearOp>(v);
      return l && !l.getBias() && v.hasOneUse();
    });
    if (!lin || !isConstantLike(bias))
      return failure();
    auto linOp = def<LinearOp>(lin);
    auto bt = cast<RankedTensorType>(bias.getType());
    int64_t out = linOp.getWeight().getType().getDimSize(0);
    if (bt.getNumElements() != out || bt.getShape().back() != out ||
        op.getType() != linOp.getType())
      return failure();
    if (bt.getRank() != 1)
      bias = ReshapeOp::create(rw, op.getLoc(),
                               RankedTensorType::get({out}, bt.getElementType()),
                               bias);
    rw.replaceOpWithNewOp<LinearOp>(op, linOp.getInput(), linOp.getWeight(),
                                    bias);
    return success();
  }
};

struct FuseLinearPass : mu::impl::FuseLinearBase<FuseLinearPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<MatMulToLinear, FoldBiasIntoLinear>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
