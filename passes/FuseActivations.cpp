//===- FuseActivations.cpp - SiLU and GELU formulas -> named ops ----------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Transforms/GreedyPatternRewriteDriver.h"

#include <cmath>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_FUSEACTIVATIONS
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// mul(x, sigmoid(x)) -> silu(x).
struct SiluPattern : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op, PatternRewriter &rw) const override {
    for (int i = 0; i < 2; ++i) {
      Value x = op->getOperand(i);
      auto sig = def<SigmoidOp>(op->getOperand(1 - i));
      if (sig && sig.getInput() == x && op.getType() == x.getType()) {
        rw.replaceOpWithNewOp<SiluOp>(op, x);
        return success();
      }
    }
    return failure();
  }
};

/// Collects the leaves of a tree of single-use muls rooted at `root`.
static void mulLeaves(Value v, bool isRoot, SmallVectorImpl<Value> &leaves) {
  auto m = def<MulOp>(v);
  if (m && (isRoot || v.hasOneUse())) {
    mulLeaves(m.getLhs(), false, leaves);
    mulLeaves(m.getRhs(), false, leaves);
    return;
  }
  leaves.push_back(v);
}

/// If `v` is 1 + f(...) returns the f term.
static Value onePlus(Value v) {
  auto add = def<AddOp>(v);
  if (!add)
    return nullptr;
  auto [one, term] = pickOperand(add, [](Value u) { return isSplat(u, 1.0); });
  return one ? term : nullptr;
}

/// If `v` is x * c or x / (1/c) returns x and sets c.
static Value scaled(Value v, double &c) {
  if (auto m = def<MulOp>(v)) {
    for (int i = 0; i < 2; ++i)
      if (matchSplatConstant(m->getOperand(1 - i), c))
        return m->getOperand(i);
  }
  if (auto d = def<DivOp>(v)) {
    double den;
    if (matchSplatConstant(d.getRhs(), den) && den != 0) {
      c = 1.0 / den;
      return d.getLhs();
    }
  }
  return nullptr;
}

/// The x of erf(x / sqrt(2)), or null.
static Value erfArg(Value t) {
  auto e = def<ErfOp>(t);
  double c;
  if (!e)
    return nullptr;
  Value x = scaled(e.getInput(), c);
  return x && std::fabs(c - M_SQRT1_2) < 1e-4 ? x : nullptr;
}

/// The x of tanh(sqrt(2/pi) * (x + 0.044715 x^3)), or null.
static Value tanhArg(Value t) {
  auto th = def<TanhOp>(t);
  double c;
  if (!th)
    return nullptr;
  Value inner = scaled(th.getInput(), c);
  if (!inner || std::fabs(c - std::sqrt(2.0 / M_PI)) > 1e-4)
    return nullptr;
  auto add = def<AddOp>(inner);
  if (!add)
    return nullptr;
  for (int i = 0; i < 2; ++i) {
    Value x = add->getOperand(i);
    double k;
    Value cube = scaled(add->getOperand(1 - i), k);
    if (!cube || std::fabs(k - 0.044715) > 1e-6)
      continue;
    if (auto p = def<PowOp>(cube))
      if (p.getLhs() == x && isSplat(p.getRhs(), 3.0))
        return x;
    SmallVector<Value> cl;
    mulLeaves(cube, true, cl);
    if (cl.size() == 3 && llvm::all_of(cl, [&](Value u) { return u == x; }))
      return x;
  }
  return nullptr;
}

/// 0.5 * x * (1 + erf(x/sqrt2)) and 0.5 * x * (1 + tanh(...)) in any
/// association -> gelu(x).
struct GeluPattern : OpRewritePattern<MulOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(MulOp op, PatternRewriter &rw) const override {
    SmallVector<Value> leaves;
    mulLeaves(op.getResult(), true, leaves);
    if (leaves.size() != 3)
      return failure();
    Value half, x, arg;
    GeluApproximation approx = GeluApproximation::none;
    for (Value l : leaves) {
      if (isSplat(l, 0.5)) {
        half = l;
        continue;
      }
      if (Value t = onePlus(l)) {
        if (Value a = erfArg(t)) {
          arg = a;
          continue;
        }
        if (Value a = tanhArg(t)) {
          arg = a;
          approx = GeluApproximation::tanh;
          continue;
        }
      }
      x = l;
    }
    if (!half || !x || !arg || x != arg || op.getType() != x.getType())
      return failure();
    rw.replaceOpWithNewOp<GeluOp>(
        op, x, GeluApproximationAttr::get(rw.getContext(), approx));
    return success();
  }
};

struct FuseActivationsPass
    : mu::impl::FuseActivationsBase<FuseActivationsPass> {
  void runOnOperation() override {
    RewritePatternSet patterns(&getContext());
    patterns.add<SiluPattern, GeluPattern>(&getContext());
    if (failed(applyPatternsGreedily(getOperation(), std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
