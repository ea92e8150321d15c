//===- FuseRope.cpp - rotary embedding formulas -> mu.rope ----------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSEROPE
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// If `v` = mul(a, other) in either order, returns other.
static Value mulBy(Value v, Value a) {
  auto m = def<MulOp>(v);
  if (!m)
    return nullptr;
  if (m.getLhs() == a)
    return m.getRhs();
  if (m.getRhs() == a)
    return m.getLhs();
  return nullptr;
}

/// If `v` slices [begin, end) of the last axis (step 1) returns the source.
static Value lastAxisSlice(Value v, int64_t begin, int64_t end) {
  auto s = def<SliceOp>(v);
  if (!s || s.getAxes().size() != 1 || s.getSteps()[0] != 1)
    return nullptr;
  auto t = s.getInput().getType();
  int64_t d = t.getShape().back();
  if (!isLastAxis(s.getAxes()[0], t.getRank()) || d == ShapedType::kDynamic)
    return nullptr;
  int64_t b = s.getStarts()[0] < 0 ? s.getStarts()[0] + d : s.getStarts()[0];
  int64_t e = s.getEnds()[0] < 0 ? s.getEnds()[0] + d : s.getEnds()[0];
  e = std::min(e, d);
  return (b == begin && e == std::min(end, d)) ? s.getInput() : nullptr;
}

/// concat(-x[..., d/2:], x[..., :d/2]) -> x.
static Value rotateHalfOf(Value v) {
  auto c = def<ConcatOp>(v);
  if (!c || c.getInputs().size() != 2 ||
      !isLastAxis(c.getAxis(), c.getType().getRank()))
    return nullptr;
  int64_t d = c.getType().getShape().back();
  if (d == ShapedType::kDynamic || d % 2)
    return nullptr;
  auto neg = def<NegOp>(c.getInputs()[0]);
  if (!neg)
    return nullptr;
  Value x1 = lastAxisSlice(neg.getInput(), d / 2, d);
  Value x2 = lastAxisSlice(c.getInputs()[1], 0, d / 2);
  return (x1 && x1 == x2 && x1.getType() == c.getType()) ? x1 : nullptr;
}

/// x*cos + rotate_half(x)*sin -> rope(x, cos, sin, rotate_half).
struct RotateHalfPattern : OpRewritePattern<AddOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(AddOp op, PatternRewriter &rw) const override {
    for (int i = 0; i < 2; ++i) {
      auto m = def<MulOp>(op->getOperand(1 - i));
      if (!m)
        continue;
      for (int j = 0; j < 2; ++j) {
        Value x = rotateHalfOf(m->getOperand(j));
        if (!x)
          continue;
        Value sin = m->getOperand(1 - j);
        Value cos = mulBy(op->getOperand(i), x);
        if (!cos || op.getType() != x.getType())
          continue;
        rw.replaceOpWithNewOp<RopeOp>(
            op, x, cos, sin,
            RopeModeAttr::get(rw.getContext(), RopeMode::rotate_half));
        return success();
      }
    }
    return failure();
  }
};

/// If `v` is lane k (0 or 1) of `pairs` = x viewed as [..., d/2, 2] (by
/// gather with a scalar index or slice + reshape), returns pairs.
static Value laneOf(Value v, int64_t k) {
  Value pairs;
  if (auto g = def<GatherOp>(v)) {
    auto t = g.getData().getType();
    if (isLastAxis(g.getAxis(), t.getRank()) && isSplat(g.getIndices(), k) &&
        g.getIndices().getType().getRank() == 0)
      pairs = g.getData();
  } else if (auto r = def<ReshapeOp>(v)) {
    pairs = lastAxisSlice(r.getInput(), k, k + 1);
  }
  if (!pairs || tensorType(pairs).getShape().back() != 2)
    return nullptr;
  return pairs;
}

/// stack(x0*c - x1*s, x0*s + x1*c) flattened -> rope(x, c', s', interleaved)
/// with c', s' the tables widened to [.., d] by repeating each entry twice.
struct InterleavedPattern : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rw) const override {
    auto cat = def<ConcatOp>(op.getInput());
    if (!cat || cat.getInputs().size() != 2 ||
        !isLastAxis(cat.getAxis(), cat.getType().getRank()))
      return failure();
    auto r0 = def<ReshapeOp>(cat.getInputs()[0]);
    auto r1 = def<ReshapeOp>(cat.getInputs()[1]);
    if (!r0 || !r1)
      return failure();
    auto re = def<SubOp>(r0.getInput());
    auto im = def<AddOp>(r1.getInput());
    if (!re || !im)
      return failure();
    // re = x0*c - x1*s
    auto m0 = def<MulOp>(re.getLhs()), m1 = def<MulOp>(re.getRhs());
    if (!m0 || !m1)
      return failure();
    Value pairs, x0, x1, c, s;
    for (int i = 0; i < 2 && !pairs; ++i) {
      x0 = m0->getOperand(i);
      pairs = laneOf(x0, 0);
      c = m0->getOperand(1 - i);
    }
    for (int i = 0; i < 2 && pairs && !x1; ++i)
      if (laneOf(m1->getOperand(i), 1) == pairs) {
        x1 = m1->getOperand(i);
        s = m1->getOperand(1 - i);
      }
    if (!pairs || !x1)
      return failure();
    // im = x0*s + x1*c in any order.
    bool imOk = false;
    for (int i = 0; i < 2; ++i)
      imOk |= mulBy(im->getOperand(i), x0) == s &&
              mulBy(im->getOperand(1 - i), x1) == c;
    auto pr = def<ReshapeOp>(pairs);
    if (!imOk || !pr)
      return failure();
    Value x = pr.getInput();
    // The flattening reshape may have been merged with a later one (e.g.
    // repeat-kv's unsqueeze): accept any view of x that only adds or drops
    // unit dims, and re-view the rope result the same way.
    auto stripUnit = [](RankedTensorType t) {
      SmallVector<int64_t> d;
      for (int64_t v : t.getShape())
        if (v != 1)
          d.push_back(v);
      return d;
    };
    auto xt = cast<RankedTensorType>(x.getType());
    if (xt.getShape().back() != op.getType().getShape().back() &&
        stripUnit(xt) != stripUnit(op.getType()))
      return failure();
    if (stripUnit(xt) != stripUnit(op.getType()))
      return failure();
    auto widen = [&](Value t) -> Value {
      auto tt = cast<RankedTensorType>(t.getType());
      SmallVector<int64_t> s1(tt.getShape()), s2, s3;
      s1.push_back(1);
      s2 = s1;
      s2.back() = 2;
      s3.assign(tt.getShape().begin(), tt.getShape().end());
      int64_t &last = s3.back();
      last = last == ShapedType::kDynamic ? last : last * 2;
      Type et = tt.getElementType();
      Value v = ReshapeOp::create(rw, op.getLoc(),
                                  RankedTensorType::get(s1, et), t);
      v = BroadcastToOp::create(rw, op.getLoc(),
                                RankedTensorType::get(s2, et), v);
      return ReshapeOp::create(rw, op.getLoc(), RankedTensorType::get(s3, et),
                               v);
    };
    auto ct = cast<RankedTensorType>(c.getType());
    if (ct.getShape().empty() || ct.getShape().back() * 2 != xt.getShape().back())
      return failure();
    Value cw = widen(c), sw = widen(s);
    Value rope = RopeOp::create(rw, op.getLoc(), x, cw, sw,
                                RopeModeAttr::get(rw.getContext(), RopeMode::interleaved));
    if (rope.getType() == op.getType())
      rw.replaceOp(op, rope);
    else
      rw.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), rope);
    return success();
  }
};

struct FuseRopePass : mu::impl::FuseRopeBase<FuseRopePass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<RotateHalfPattern, InterleavedPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
