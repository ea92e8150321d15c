//===- FuseAttention.cpp - SDPA subgraph -> mu.attention ------------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSEATTENTION
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// Peels the repeat-kv expansion: reshape(x -> [B,H,1,T,D]) ->
/// broadcast_to([B,H,n,T,D]) -> reshape([B,H*n,T,D]). Returns the kv-head
/// tensor [B,H,T,D] (re-viewing x when canonicalization merged an earlier
/// reshape into the first one), or `v` itself when there is no expansion.
static Value peelRepeatKv(Value v, PatternRewriter &rw) {
  auto outer = def<ReshapeOp>(v);
  if (!outer)
    return v;
  auto bc = def<BroadcastToOp>(outer.getInput());
  if (!bc)
    return v;
  auto inner = def<ReshapeOp>(bc.getInput());
  if (!inner)
    return v;
  auto ex = bc.getType();     // [B, H, n, T, D]
  auto mid = inner.getType(); // [B, H, 1, T, D]
  auto out = outer.getType(); // [B, H*n, T, D]
  if (ex.getRank() != 5 || mid.getRank() != 5 || out.getRank() != 4 || mid.getDimSize(2) != 1)
    return v;
  int64_t h = mid.getDimSize(1), n = ex.getDimSize(2);
  if (h == ShapedType::kDynamic || n == ShapedType::kDynamic || ex.getDimSize(1) != h ||
      out.getDimSize(1) != h * n || mid.getDimSize(4) != out.getDimSize(3))
    return v;
  auto kvType = RankedTensorType::get({mid.getDimSize(0), h, mid.getDimSize(3), mid.getDimSize(4)},
                                      mid.getElementType());
  Value src = inner.getInput();
  if (src.getType() == kvType)
    return src;
  return ReshapeOp::create(rw, v.getLoc(), kvType, src);
}

/// True if `cond` is the strictly-upper-triangular "future key" predicate:
/// greater(r[None, :], r[:, None]) or less(r[:, None], r[None, :]) over one
/// range r (query i may not see key j > i).
static bool isCausalPredicate(Value cond) {
  while (auto c = def<CastOp>(cond))
    cond = c.getInput();
  Value col, row;
  if (auto g = def<GreaterOp>(cond)) {
    col = g.getLhs();
    row = g.getRhs();
  } else if (auto l = def<LessOp>(cond)) {
    row = l.getLhs();
    col = l.getRhs();
  } else {
    return false;
  }
  auto rc = def<ReshapeOp>(col), rr = def<ReshapeOp>(row);
  if (!rc || !rr || rc.getInput() != rr.getInput() ||
      !def<RangeOp>(rc.getInput()))
    return false;
  auto ct = rc.getType(), rt = rr.getType();
  return ct.getRank() == 2 && rt.getRank() == 2 && ct.getDimSize(0) == 1 &&
         rt.getDimSize(1) == 1;
}

/// A fill value that masks a score out: -inf or a huge negative number.
static bool isMaskFill(Value v) {
  double f;
  if (auto c = def<CastOp>(v))
    v = c.getInput();
  return matchSplatConstant(v, f) && f <= -1e4;
}

struct AttentionPattern : OpRewritePattern<MatMulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MatMulOp op,
                                PatternRewriter &rw) const override {
    auto sm = def<SoftmaxOp>(op.getLhs());
    if (!sm || !isLastAxis(sm.getAxis(), sm.getType().getRank()) ||
        !sm->hasOneUse())
      return failure();
    Value scores = sm.getInput();

    // Mask.
    bool causal = false;
    Value mask;
    if (auto w = def<WhereOp>(scores)) {
      if (!isMaskFill(w.getX()))
        return failure();
      if (isCausalPredicate(w.getCondition()))
        causal = true;
      else
        mask = w.getCondition(); // masked-out positions; inverted below
      scores = w.getY();
    } else if (auto add = def<AddOp>(scores)) {
      // add(scores, M): M = where(causal, -inf, 0) or an arbitrary additive mask.
      for (int i = 0; i < 2 && !scores.getDefiningOp<MatMulOp>(); ++i) {
        Value m = add->getOperand(1 - i);
        Value s = add->getOperand(i);
        if (!def<MatMulOp>(s) && !def<MulOp>(s) && !def<DivOp>(s))
          continue;
        auto mw = def<WhereOp>(m);
        if (mw && isMaskFill(mw.getX()) && isSplat(mw.getY(), 0.0) &&
            isCausalPredicate(mw.getCondition()))
          causal = true;
        else
          mask = m;
        scores = s;
        break;
      }
    }

    // Scale.
    double scale = 1.0, c;
    if (auto m = def<MulOp>(scores)) {
      auto [s, k] = pickOperand(m, [&](Value v) { return matchSplatConstant(v, c); });
      if (!s)
        return failure();
      scale = c;
      scores = k;
    } else if (auto d = def<DivOp>(scores)) {
      if (!matchSplatConstant(d.getRhs(), c) || c == 0)
        return failure();
      scale = 1.0 / c;
      scores = d.getLhs();
    }
    auto qk = def<MatMulOp>(scores);
    if (!qk)
      return failure();
    Value q = qk.getLhs();
    if (auto m = def<MulOp>(q)) { // scale folded into q
      auto [s, qq] = pickOperand(m, [&](Value v) { return matchSplatConstant(v, c); });
      if (s && qq.getType() == q.getType()) {
        scale *= c;
        q = qq;
      }
    }
    auto kt = def<TransposeOp>(qk.getRhs());
    if (!kt || kt.getPerm() != ArrayRef<int64_t>{0, 1, 3, 2})
      return failure();
    Value k = peelRepeatKv(kt.getInput(), rw);
    Value v = peelRepeatKv(op.getRhs(), rw);
    // Both or neither: grouped heads must agree between keys and values.
    if (cast<RankedTensorType>(k.getType()).getDimSize(1) !=
        cast<RankedTensorType>(v.getType()).getDimSize(1)) {
      k = kt.getInput();
      v = op.getRhs();
    }
    auto qt = cast<RankedTensorType>(q.getType());
    if (qt.getRank() != 4 || cast<RankedTensorType>(k.getType()).getRank() != 4 ||
        cast<RankedTensorType>(v.getType()).getRank() != 4 ||
        op.getType().getRank() != 4)
      return failure();

    if (mask && getElementTypeOrSelf(mask.getType()).isInteger(1) &&
        def<WhereOp>(sm.getInput()))
      mask = NotOp::create(rw, op.getLoc(), mask); // true = attend
    auto attn = AttentionOp::create(
        rw, op.getLoc(), op.getType(), TypeRange(), q, k, v, mask, Value(),
        Value(), Value(), rw.getF32FloatAttr(static_cast<float>(scale)),
        rw.getBoolAttr(causal));
    rw.replaceOp(op, attn.getResult());
    return success();
  }
};

struct FuseAttentionPass : mu::impl::FuseAttentionBase<FuseAttentionPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<AttentionPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
