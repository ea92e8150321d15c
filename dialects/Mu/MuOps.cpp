//===- MuOps.cpp - mu op verifiers, folders, canonicalizations -----------===//
#include "dialects/Mu/MuOps.h"

#include "mlir/IR/Matchers.h"
#include "mlir/IR/PatternMatch.h"
#include "llvm/ADT/APFloat.h"

#include <cmath>

using namespace mlir;
using namespace mu;

static constexpr int64_t kDyn = ShapedType::kDynamic;

/// Constant folding only touches small dense constants: folding must never
/// materialize a copy of a weight.
static constexpr int64_t kMaxFoldElements = 4096;

static DenseElementsAttr smallDense(Attribute a) {
  auto d = dyn_cast_or_null<DenseElementsAttr>(a);
  if (!d || (!d.isSplat() && d.getNumElements() > kMaxFoldElements))
    return {};
  return d;
}

/// Reads element `i` of a dense attr (splat-aware) as double.
static double elementAsDouble(DenseElementsAttr d, int64_t i) {
  Type et = d.getElementType();
  int64_t idx = d.isSplat() ? 0 : i;
  if (isa<FloatType>(et))
    return (*(d.getValues<APFloat>().begin() + idx)).convertToDouble();
  if (et.isInteger(1))
    return *(d.getValues<bool>().begin() + idx) ? 1.0 : 0.0;
  return static_cast<double>((*(d.getValues<APInt>().begin() + idx)).getSExtValue());
}

/// Builds a dense attr of `type` from doubles (rounded for integer types).
static DenseElementsAttr denseFromDoubles(ShapedType type,
                                          ArrayRef<double> values) {
  Type et = type.getElementType();
  if (auto ft = dyn_cast<FloatType>(et)) {
    SmallVector<APFloat> vals;
    for (double v : values) {
      APFloat f(v);
      bool lost;
      f.convert(ft.getFloatSemantics(), APFloat::rmNearestTiesToEven, &lost);
      vals.push_back(f);
    }
    return DenseElementsAttr::get(type, vals);
  }
  if (auto it = dyn_cast<IntegerType>(et)) {
    if (it.getWidth() == 1) {
      SmallVector<bool> vals;
      for (double v : values)
        vals.push_back(v != 0.0);
      return DenseElementsAttr::get(type, vals);
    }
    SmallVector<APInt> vals;
    for (double v : values)
      vals.push_back(APInt(it.getWidth(), static_cast<int64_t>(v), true));
    return DenseElementsAttr::get(type, vals);
  }
  return {};
}

/// Folds an elementwise op over small constants where the operands are
/// splats or already have the result shape (no general broadcasting).
static Attribute foldElementwise(Type resultType, ArrayRef<Attribute> operands,
                                 llvm::function_ref<double(ArrayRef<double>)> fn) {
  auto rt = dyn_cast<RankedTensorType>(resultType);
  if (!rt || !rt.hasStaticShape() || rt.getNumElements() > kMaxFoldElements)
    return {};
  SmallVector<DenseElementsAttr> ins;
  for (Attribute a : operands) {
    auto d = smallDense(a);
    if (!d || (!d.isSplat() && d.getType().getShape() != rt.getShape()))
      return {};
    ins.push_back(d);
  }
  SmallVector<double> out;
  SmallVector<double> args(ins.size());
  for (int64_t i = 0, e = rt.getNumElements(); i < e; ++i) {
    for (size_t k = 0; k < ins.size(); ++k)
      args[k] = elementAsDouble(ins[k], i);
    out.push_back(fn(args));
  }
  return denseFromDoubles(rt, out);
}

//===----------------------------------------------------------------------===//
// Constants and shapes
//===----------------------------------------------------------------------===//

OpFoldResult ConstantOp::fold(FoldAdaptor) { return getValue(); }

LogicalResult DimOp::verify() {
  if (normalizeAxis(getAxis(), getInput().getType().getRank()) < 0)
    return emitOpError("axis ") << getAxis() << " out of range for "
                                << getInput().getType();
  return success();
}

OpFoldResult DimOp::fold(FoldAdaptor) {
  auto t = getInput().getType();
  int64_t d = t.getDimSize(normalizeAxis(getAxis(), t.getRank()));
  if (d == kDyn)
    return {};
  auto rt = RankedTensorType::get({}, IntegerType::get(getContext(), 64));
  return DenseElementsAttr::get(rt, APInt(64, d));
}

LogicalResult RangeOp::verify() {
  for (Value v : {getStart(), getLimit(), getDelta()})
    if (cast<RankedTensorType>(v.getType()).getRank() != 0)
      return emitOpError("start, limit and delta must be 0-d tensors");
  return success();
}

OpFoldResult CastOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  return foldElementwise(getType(), adaptor.getOperands(),
                         [](ArrayRef<double> a) { return a[0]; });
}

namespace {
/// cast(cast(x)) -> cast(x) when the inner cast widens a float (exact), or
/// -> x when the outer cast restores x's type after a widening.
struct FoldCastChain : OpRewritePattern<CastOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(CastOp op, PatternRewriter &rw) const override {
    auto inner = op.getInput().getDefiningOp<CastOp>();
    if (!inner)
      return failure();
    Type src = getElementTypeOrSelf(inner.getInput().getType());
    Type mid = getElementTypeOrSelf(inner.getType());
    auto sf = dyn_cast<FloatType>(src), mf = dyn_cast<FloatType>(mid);
    bool widening = (sf && mf && mf.getWidth() >= sf.getWidth()) || src == mid;
    if (!widening)
      return failure();
    if (inner.getInput().getType() == op.getType())
      rw.replaceOp(op, inner.getInput());
    else
      rw.replaceOpWithNewOp<CastOp>(op, op.getType(), inner.getInput());
    return success();
  }
};
} // namespace

void CastOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                         MLIRContext *ctx) {
  results.add<FoldCastChain>(ctx);
}

LogicalResult ReshapeOp::verify() {
  auto in = getInput().getType();
  auto out = getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("element type changes from ")
           << in.getElementType() << " to " << out.getElementType();
  if (out.getNumDynamicDims() > 1)
    return emitOpError("at most one result dim may be dynamic, got ") << out;
  int64_t ni = staticNumElements(in.getShape());
  int64_t no = staticNumElements(out.getShape());
  if (ni >= 0 && no >= 0 && ni != no)
    return emitOpError("element count changes: ")
           << in << " (" << ni << ") -> " << out << " (" << no << ")";
  if (ni >= 0 && no < 0) {
    int64_t known = 1;
    for (int64_t d : out.getShape())
      if (d != kDyn)
        known *= d;
    if (known == 0 || ni % known != 0)
      return emitOpError("cannot reshape ") << in << " to " << out;
  }
  return success();
}

OpFoldResult ReshapeOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType() && getType().getNumDynamicDims() <= 1)
    return getInput();
  if (auto d = smallDense(adaptor.getInput()))
    if (getType().hasStaticShape())
      return d.reshape(getType());
  return {};
}

namespace {
/// reshape(reshape(x)) -> reshape(x).
struct FoldReshapeChain : OpRewritePattern<ReshapeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(ReshapeOp op,
                                PatternRewriter &rw) const override {
    auto inner = op.getInput().getDefiningOp<ReshapeOp>();
    if (!inner)
      return failure();
    rw.replaceOpWithNewOp<ReshapeOp>(op, op.getType(), inner.getInput());
    return success();
  }
};
} // namespace

void ReshapeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                            MLIRContext *ctx) {
  results.add<FoldReshapeChain>(ctx);
}

LogicalResult BroadcastToOp::verify() {
  auto in = getInput().getType();
  auto out = getType();
  if (in.getElementType() != out.getElementType())
    return emitOpError("element type changes");
  if (in.getRank() > out.getRank())
    return emitOpError("cannot broadcast ") << in << " to lower rank " << out;
  int64_t off = out.getRank() - in.getRank();
  for (int64_t i = 0; i < in.getRank(); ++i) {
    int64_t di = in.getDimSize(i), dout = out.getDimSize(i + off);
    if (di == dout || (di == 1 && dout != kDyn))
      continue;
    if (di == kDyn && dout != kDyn)
      continue; // checked at run time
    return emitOpError("cannot broadcast dim ") << i << " of " << in << " to "
                                                << out;
  }
  return success();
}

OpFoldResult BroadcastToOp::fold(FoldAdaptor adaptor) {
  if (getInput().getType() == getType())
    return getInput();
  if (auto d = smallDense(adaptor.getInput()))
    if (d.isSplat() && getType().hasStaticShape())
      return SplatElementsAttr::get(getType(), d.getSplatValue<Attribute>());
  return {};
}

LogicalResult TransposeOp::verify() {
  SmallVector<bool> seen(getPerm().size(), false);
  for (int64_t p : getPerm()) {
    if (p < 0 || p >= (int64_t)seen.size() || seen[p])
      return emitOpError("perm ") << getPerm() << " is not a permutation";
    seen[p] = true;
  }
  return success();
}

OpFoldResult TransposeOp::fold(FoldAdaptor adaptor) {
  bool identity = true;
  for (auto [i, p] : llvm::enumerate(getPerm()))
    identity &= (int64_t)i == p;
  if (identity)
    return getInput();
  if (auto d = smallDense(adaptor.getInput()))
    if (d.isSplat())
      return SplatElementsAttr::get(getType(), d.getSplatValue<Attribute>());
  return {};
}

namespace {
/// transpose(transpose(x, p1), p2) -> transpose(x, p1 o p2).
struct ComposeTransposes : OpRewritePattern<TransposeOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(TransposeOp op,
                                PatternRewriter &rw) const override {
    auto inner = op.getInput().getDefiningOp<TransposeOp>();
    if (!inner)
      return failure();
    SmallVector<int64_t> perm;
    for (int64_t p : op.getPerm())
      perm.push_back(inner.getPerm()[p]);
    rw.replaceOpWithNewOp<TransposeOp>(op, inner.getInput(), perm);
    return success();
  }
};
} // namespace

void TransposeOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                              MLIRContext *ctx) {
  results.add<ComposeTransposes>(ctx);
}

LogicalResult ConcatOp::verify() {
  auto t0 = cast<RankedTensorType>(getInputs()[0].getType());
  int64_t axis = normalizeAxis(getAxis(), t0.getRank());
  for (auto [i, v] : llvm::enumerate(getInputs())) {
    auto t = cast<RankedTensorType>(v.getType());
    if (t.getElementType() != t0.getElementType())
      return emitOpError("input ") << i << " has element type "
                                   << t.getElementType() << ", expected "
                                   << t0.getElementType();
    for (int64_t d = 0; d < t.getRank(); ++d)
      if (d != axis && t.getDimSize(d) != kDyn && t0.getDimSize(d) != kDyn &&
          t.getDimSize(d) != t0.getDimSize(d))
        return emitOpError("input ") << i << " differs in dim " << d
                                     << " outside the concat axis";
  }
  return success();
}

OpFoldResult ConcatOp::fold(FoldAdaptor) {
  if (getInputs().size() == 1 && getInputs()[0].getType() == getType())
    return getInputs()[0];
  return {};
}

LogicalResult SliceOp::verify() {
  SmallVector<bool> seen(getInput().getType().getRank(), false);
  for (int64_t a : getAxes()) {
    int64_t ax = normalizeAxis(a, seen.size());
    if (ax < 0 || seen[ax])
      return emitOpError("axes must be unique and in range");
    seen[ax] = true;
  }
  return success();
}

OpFoldResult SliceOp::fold(FoldAdaptor) {
  if (getInput().getType() == getType() && getType().hasStaticShape() &&
      llvm::all_of(getSteps(), [](int64_t s) { return s == 1; }))
    return getInput();
  return {};
}

LogicalResult SplitOp::verify() {
  auto in = getInput().getType();
  int64_t axis = normalizeAxis(getAxis(), in.getRank());
  if (axis < 0)
    return emitOpError("axis out of range");
  int64_t total = 0;
  for (Type t : getResultTypes()) {
    int64_t d = cast<RankedTensorType>(t).getDimSize(axis);
    if (d == kDyn)
      return success();
    total += d;
  }
  if (in.getDimSize(axis) != kDyn && total != in.getDimSize(axis))
    return emitOpError("pieces sum to ") << total << " along axis " << axis
                                         << ", input has " << in.getDimSize(axis);
  return success();
}

LogicalResult GatherOp::verify() {
  if (normalizeAxis(getAxis(), getData().getType().getRank()) < 0)
    return emitOpError("axis out of range");
  return success();
}

namespace {
/// gather(cast(table), ids) -> cast(gather(table, ids)): converts only the
/// gathered rows, not the whole (embedding) table.
struct GatherOfCast : OpRewritePattern<GatherOp> {
  using OpRewritePattern::OpRewritePattern;
  LogicalResult matchAndRewrite(GatherOp op, PatternRewriter &rw) const override {
    auto c = op.getData().getDefiningOp<CastOp>();
    if (!c)
      return failure();
    Value g = GatherOp::create(rw, op.getLoc(), c.getInput(), op.getIndices(),
                               op.getAxis());
    rw.replaceOpWithNewOp<CastOp>(op, op.getType(), g);
    return success();
  }
};
} // namespace

void GatherOp::getCanonicalizationPatterns(RewritePatternSet &results,
                                           MLIRContext *ctx) {
  results.add<GatherOfCast>(ctx);
}

//===----------------------------------------------------------------------===//
// Elementwise folders
//===----------------------------------------------------------------------===//

/// x op c -> x when c is a splat identity and the types already agree.
static Value foldIdentity(Value lhs, Value rhs, Type resultType, double ident) {
  double v;
  if (matchSplatConstant(rhs, v) && v == ident && lhs.getType() == resultType)
    return lhs;
  return {};
}

OpFoldResult AddOp::fold(FoldAdaptor a) {
  if (Value v = foldIdentity(getLhs(), getRhs(), getType(), 0.0))
    return v;
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return x[0] + x[1]; });
}
OpFoldResult SubOp::fold(FoldAdaptor a) {
  if (Value v = foldIdentity(getLhs(), getRhs(), getType(), 0.0))
    return v;
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return x[0] - x[1]; });
}
OpFoldResult MulOp::fold(FoldAdaptor a) {
  if (Value v = foldIdentity(getLhs(), getRhs(), getType(), 1.0))
    return v;
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return x[0] * x[1]; });
}
OpFoldResult DivOp::fold(FoldAdaptor a) {
  if (Value v = foldIdentity(getLhs(), getRhs(), getType(), 1.0))
    return v;
  bool isInt = isa<IntegerType>(getType().getElementType());
  return foldElementwise(getType(), a.getOperands(), [&](ArrayRef<double> x) {
    return isInt ? std::trunc(x[0] / x[1]) : x[0] / x[1];
  });
}
OpFoldResult PowOp::fold(FoldAdaptor a) {
  if (Value v = foldIdentity(getLhs(), getRhs(), getType(), 1.0))
    return v;
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return std::pow(x[0], x[1]); });
}
OpFoldResult EqualOp::fold(FoldAdaptor a) {
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return double(x[0] == x[1]); });
}
OpFoldResult LessOp::fold(FoldAdaptor a) {
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return double(x[0] < x[1]); });
}
OpFoldResult GreaterOp::fold(FoldAdaptor a) {
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return double(x[0] > x[1]); });
}
OpFoldResult NegOp::fold(FoldAdaptor a) {
  if (auto inner = getInput().getDefiningOp<NegOp>())
    return inner.getInput();
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return -x[0]; });
}
OpFoldResult SqrtOp::fold(FoldAdaptor a) {
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return std::sqrt(x[0]); });
}
OpFoldResult SinOp::fold(FoldAdaptor a) {
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return std::sin(x[0]); });
}
OpFoldResult CosOp::fold(FoldAdaptor a) {
  return foldElementwise(getType(), a.getOperands(),
                         [](ArrayRef<double> x) { return std::cos(x[0]); });
}

//===----------------------------------------------------------------------===//
// Normalization and transformer ops
//===----------------------------------------------------------------------===//

LogicalResult SoftmaxOp::verify() {
  if (normalizeAxis(getAxis(), getInput().getType().getRank()) < 0)
    return emitOpError("axis ") << getAxis() << " out of range";
  return success();
}

/// Checks a per-feature parameter (norm weight/bias) against the last dim.
static LogicalResult verifyFeatureParam(Operation *op, StringRef name,
                                        Value param, RankedTensorType input) {
  if (!param)
    return success();
  auto pt = cast<RankedTensorType>(param.getType());
  if (pt.getRank() != 1)
    return op->emitOpError() << name << " must be 1-d, got " << pt;
  int64_t d = input.getShape().empty() ? kDyn : input.getShape().back();
  if (d != kDyn && pt.getDimSize(0) != kDyn && pt.getDimSize(0) != d)
    return op->emitOpError() << name << " has " << pt.getDimSize(0)
                             << " elements but the normalized dim is " << d;
  if (pt.getElementType() != input.getElementType())
    return op->emitOpError() << name << " element type " << pt.getElementType()
                             << " differs from input " << input.getElementType();
  return success();
}

LogicalResult RmsNormOp::verify() {
  if (getEpsilon().convertToFloat() < 0)
    return emitOpError("epsilon must be >= 0");
  return verifyFeatureParam(*this, "weight", getWeight(),
                            getInput().getType());
}

LogicalResult LayerNormOp::verify() {
  if (getEpsilon().convertToFloat() < 0)
    return emitOpError("epsilon must be >= 0");
  if (failed(verifyFeatureParam(*this, "weight", getWeight(),
                                getInput().getType())))
    return failure();
  return verifyFeatureParam(*this, "bias", getBias(), getInput().getType());
}

LogicalResult MatMulOp::verify() { return success(); }

LogicalResult LinearOp::verify() {
  auto xt = getInput().getType();
  auto wt = getWeight().getType();
  int64_t in = xt.getShape().back(), win = wt.getDimSize(1);
  if (in != kDyn && win != kDyn && in != win)
    return emitOpError("input features ")
           << in << " do not match weight [out, in] = " << wt;
  if (xt.getElementType() != wt.getElementType())
    return emitOpError("input ") << xt.getElementType() << " and weight "
                                 << wt.getElementType()
                                 << " element types differ";
  if (Value b = getBias()) {
    auto bt = cast<RankedTensorType>(b.getType());
    if (bt.getRank() != 1 || (bt.getDimSize(0) != kDyn &&
                              bt.getDimSize(0) != wt.getDimSize(0)))
      return emitOpError("bias must be [") << wt.getDimSize(0) << "], got "
                                           << bt;
  }
  return success();
}

LogicalResult LoraOp::verify() {
  auto xt = getInput().getType(), yt = cast<RankedTensorType>(getBase().getType());
  if (xt.getRank() < 1 || xt.getRank() != yt.getRank())
    return emitOpError("input ") << xt << " and base " << yt << " must have the same rank >= 1";
  for (int64_t d = 0; d + 1 < xt.getRank(); ++d)
    if (xt.getDimSize(d) != kDyn && yt.getDimSize(d) != kDyn && xt.getDimSize(d) != yt.getDimSize(d))
      return emitOpError("input ") << xt << " and base " << yt << " differ in a leading dim";
  if (!xt.getElementType().isF32() || !yt.getElementType().isF32())
    return emitOpError("runs in f32");
  return success();
}

LogicalResult RopeOp::verify() {
  auto t = getInput().getType();
  if (t.getRank() < 2)
    return emitOpError("input must be [..., seq, head_dim]");
  int64_t d = t.getShape().back();
  if (d != kDyn && d % 2 != 0)
    return emitOpError("head_dim ") << d << " must be even";
  for (Value v : {getCos(), getSin()}) {
    SmallVector<int64_t> out;
    auto vt = cast<RankedTensorType>(v.getType());
    if (failed(broadcastShapes(t.getShape(), vt.getShape(), out)) ||
        out.size() != (size_t)t.getRank())
      return emitOpError("cos/sin ") << vt << " do not broadcast to " << t;
  }
  return success();
}

LogicalResult AttentionOp::verify() {
  auto q = getQuery().getType(), k = getKey().getType(),
       v = getValue().getType();
  if (q.getRank() != 4 || k.getRank() != 4 || v.getRank() != 4)
    return emitOpError("query, key and value must be 4-d [batch, heads, seq, "
                       "head_dim]");
  int64_t hq = q.getDimSize(1), hkv = k.getDimSize(1);
  if (hq != kDyn && hkv != kDyn && (hkv == 0 || hq % hkv != 0))
    return emitOpError("query heads ") << hq << " are not a multiple of kv heads "
                                       << hkv;
  if (q.getDimSize(3) != kDyn && k.getDimSize(3) != kDyn &&
      q.getDimSize(3) != k.getDimSize(3))
    return emitOpError("query and key head_dim differ");
  if (k.getDimSize(1) != v.getDimSize(1) && k.getDimSize(1) != kDyn &&
      v.getDimSize(1) != kDyn)
    return emitOpError("key and value head counts differ");
  if ((getPastKey() == nullptr) != (getPastValue() == nullptr))
    return emitOpError("past_key and past_value come together");
  if (getCachePosition()) {
    auto pt = cast<RankedTensorType>(getCachePosition().getType());
    if (!getPastKey() || pt.getRank() != 0 || !pt.getElementType().isInteger(64))
      return emitOpError("cache position needs a cache and must be a 0-d i64 tensor");
    if (getPresent().size() != 2 || getPresent()[0].getType() != getPastKey().getType() ||
        getPresent()[1].getType() != getPastValue().getType())
      return emitOpError("an in-place cache (at position) returns present caches of the past's types");
  }
  size_t wantPresent = getPastKey() ? 2 : 0;
  if (getPresent().size() != wantPresent && getPresent().size() != 2)
    return emitOpError("expects 0 or 2 present (cache) results");
  auto r = getResult().getType();
  if (r.getRank() != 4 || (r.getDimSize(1) != hq && hq != kDyn &&
                           r.getDimSize(1) != kDyn))
    return emitOpError("result must be [batch, query heads, seq, head_dim_v]");
  return success();
}

#define GET_OP_CLASSES
#include "dialects/Mu/MuOps.cpp.inc"
