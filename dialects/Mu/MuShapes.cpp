//===- MuShapes.cpp - shape helpers and result type inference ------------===//
///
/// \file
/// Numpy broadcasting and the `inferReturnTypes` hooks of the mu ops. The
/// same rules serve the builders (importers create ops without spelling out
/// result types) and the verifier (parsed result types must match).
///
//===----------------------------------------------------------------------===//
#include "dialects/Mu/MuOps.h"

using namespace mlir;
using namespace mu;

static constexpr int64_t kDyn = ShapedType::kDynamic;

LogicalResult mu::broadcastShapes(ArrayRef<int64_t> a, ArrayRef<int64_t> b,
                                  SmallVectorImpl<int64_t> &out) {
  size_t rank = std::max(a.size(), b.size());
  out.assign(rank, 1);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da == 1) {
      out[i] = db;
    } else if (db == 1) {
      out[i] = da;
    } else if (da == kDyn) {
      out[i] = db; // `?` against a static size must be that size
    } else if (db == kDyn || da == db) {
      out[i] = da;
    } else {
      return failure();
    }
  }
  return success();
}

int64_t mu::normalizeAxis(int64_t axis, int64_t rank) {
  if (axis < 0)
    axis += rank;
  return (axis < 0 || axis >= rank) ? -1 : axis;
}

int64_t mu::staticNumElements(ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d == kDyn)
      return -1;
    n *= d;
  }
  return n;
}

bool mu::matchSplatConstant(Value v, double &out) {
  auto cst = v.getDefiningOp<ConstantOp>();
  if (!cst)
    return false;
  auto dense = dyn_cast<DenseElementsAttr>(cst.getValue());
  if (!dense || !dense.isSplat())
    return false;
  Type et = dense.getElementType();
  if (isa<FloatType>(et))
    out = dense.getSplatValue<APFloat>().convertToDouble();
  else if (et.isInteger(1))
    out = dense.getSplatValue<bool>() ? 1.0 : 0.0;
  else if (isa<IntegerType>(et))
    out = static_cast<double>(dense.getSplatValue<APInt>().getSExtValue());
  else
    return false;
  return true;
}

static RankedTensorType rankedOf(Value v) {
  return dyn_cast<RankedTensorType>(v.getType());
}

/// Reports a shape inference failure at `loc` (if any). Arguments are
/// streamed, so types and numbers can be part of the message.
template <typename... Args>
static LogicalResult emitShapeError(std::optional<Location> loc,
                                    const Args &...args) {
  if (loc) {
    InFlightDiagnostic diag = emitError(*loc);
    (diag << ... << args);
  }
  return failure();
}

/// Shared by all numpy-broadcasting binary ops. Comparisons and logic ops
/// produce i1; arithmetic keeps the operand element type.
static LogicalResult inferBinary(std::optional<Location> loc, Value lhs,
                                 Value rhs, bool boolResult,
                                 SmallVectorImpl<Type> &results) {
  auto lt = rankedOf(lhs), rt = rankedOf(rhs);
  if (!lt || !rt)
    return emitShapeError(loc, "operands must be ranked tensors");
  if (lt.getElementType() != rt.getElementType())
    return emitShapeError(loc, "operand element types differ: ",
                          lt.getElementType(), " vs ", rt.getElementType());
  SmallVector<int64_t> shape;
  if (failed(broadcastShapes(lt.getShape(), rt.getShape(), shape)))
    return emitShapeError(loc, "shapes ", lt, " and ", rt,
                          " are not broadcast-compatible");
  Type et = boolResult ? IntegerType::get(lhs.getContext(), 1)
                       : lt.getElementType();
  results.push_back(RankedTensorType::get(shape, et));
  return success();
}

#define MU_BINARY_INFER(OP, BOOL)                                              \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> l, \
                                     Adaptor a, SmallVectorImpl<Type> &r) {    \
    return inferBinary(l, a.getLhs(), a.getRhs(), BOOL, r);                    \
  }
MU_BINARY_INFER(AddOp, false)
MU_BINARY_INFER(SubOp, false)
MU_BINARY_INFER(MulOp, false)
MU_BINARY_INFER(DivOp, false)
MU_BINARY_INFER(PowOp, false)
MU_BINARY_INFER(MaxOp, false)
MU_BINARY_INFER(MinOp, false)
MU_BINARY_INFER(AndOp, true)
MU_BINARY_INFER(OrOp, true)
MU_BINARY_INFER(EqualOp, true)
MU_BINARY_INFER(LessOp, true)
MU_BINARY_INFER(GreaterOp, true)
#undef MU_BINARY_INFER

LogicalResult GluOp::inferReturnTypes(MLIRContext *, std::optional<Location> l,
                                      Adaptor a, SmallVectorImpl<Type> &r) {
  return inferBinary(l, a.getGate(), a.getUp(), false, r);
}

LogicalResult WhereOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc, Adaptor a,
                                        SmallVectorImpl<Type> &r) {
  auto ct = rankedOf(a.getCondition()), xt = rankedOf(a.getX()),
       yt = rankedOf(a.getY());
  if (!ct || !xt || !yt)
    return emitShapeError(loc, "operands must be ranked tensors");
  if (xt.getElementType() != yt.getElementType())
    return emitShapeError(loc, "x and y element types differ");
  SmallVector<int64_t> s1, s2;
  if (failed(broadcastShapes(ct.getShape(), xt.getShape(), s1)) ||
      failed(broadcastShapes(s1, yt.getShape(), s2)))
    return emitShapeError(loc, "condition, x and y are not broadcast-compatible");
  r.push_back(RankedTensorType::get(s2, xt.getElementType()));
  return success();
}

LogicalResult DimOp::inferReturnTypes(MLIRContext *ctx,
                                      std::optional<Location>, Adaptor,
                                      SmallVectorImpl<Type> &r) {
  r.push_back(RankedTensorType::get({}, IntegerType::get(ctx, 64)));
  return success();
}

LogicalResult TransposeOp::inferReturnTypes(MLIRContext *,
                                            std::optional<Location> loc,
                                            Adaptor a,
                                            SmallVectorImpl<Type> &r) {
  auto t = rankedOf(a.getInput());
  ArrayRef<int64_t> perm = a.getPerm();
  if (!t || (int64_t)perm.size() != t.getRank())
    return emitShapeError(loc, "perm size must equal the input rank");
  SmallVector<int64_t> shape;
  SmallVector<bool> seen(perm.size(), false);
  for (int64_t p : perm) {
    if (p < 0 || p >= t.getRank() || seen[p])
      return emitShapeError(loc, "perm [", perm, "] is not a permutation");
    seen[p] = true;
    shape.push_back(t.getDimSize(p));
  }
  r.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

LogicalResult ConcatOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor a, SmallVectorImpl<Type> &r) {
  if (a.getInputs().empty())
    return emitShapeError(loc, "concat needs at least one input");
  auto t0 = rankedOf(a.getInputs()[0]);
  int64_t axis = normalizeAxis(a.getAxis(), t0.getRank());
  if (axis < 0)
    return emitShapeError(loc, "axis out of range");
  SmallVector<int64_t> shape(t0.getShape());
  for (Value v : a.getInputs().drop_front()) {
    auto t = rankedOf(v);
    if (t.getRank() != t0.getRank())
      return emitShapeError(loc, "concat inputs differ in rank");
    int64_t d = t.getDimSize(axis);
    shape[axis] = (shape[axis] == kDyn || d == kDyn) ? kDyn : shape[axis] + d;
    for (int64_t i = 0; i < t.getRank(); ++i)
      if (i != axis && shape[i] == kDyn)
        shape[i] = t.getDimSize(i);
  }
  r.push_back(RankedTensorType::get(shape, t0.getElementType()));
  return success();
}

/// Clamps one ONNX Slice bound against a static dim size.
static int64_t clampBound(int64_t v, int64_t dim, int64_t step) {
  if (v < 0)
    v += dim;
  if (step > 0)
    return std::clamp<int64_t>(v, 0, dim);
  return std::clamp<int64_t>(v, -1, dim - 1);
}

LogicalResult SliceOp::inferReturnTypes(MLIRContext *,
                                        std::optional<Location> loc, Adaptor a,
                                        SmallVectorImpl<Type> &r) {
  auto t = rankedOf(a.getInput());
  ArrayRef<int64_t> axes = a.getAxes(), starts = a.getStarts(),
                    ends = a.getEnds(), steps = a.getSteps();
  if (axes.size() != starts.size() || axes.size() != ends.size() ||
      axes.size() != steps.size())
    return emitShapeError(loc, "axes, starts, ends and steps differ in length");
  SmallVector<int64_t> shape(t.getShape());
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t ax = normalizeAxis(axes[i], t.getRank());
    if (ax < 0)
      return emitShapeError(loc, "slice axis out of range");
    if (steps[i] == 0)
      return emitShapeError(loc, "slice step must be non-zero");
    int64_t dim = t.getDimSize(ax);
    if (dim == kDyn)
      continue; // the clamped extent is only known at run time
    int64_t s = clampBound(starts[i], dim, steps[i]);
    int64_t e = clampBound(ends[i], dim, steps[i]);
    int64_t n = steps[i] > 0 ? (e - s + steps[i] - 1) / steps[i]
                             : (s - e + (-steps[i]) - 1) / (-steps[i]);
    shape[ax] = std::max<int64_t>(n, 0);
  }
  r.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

LogicalResult GatherOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor a, SmallVectorImpl<Type> &r) {
  auto dt = rankedOf(a.getData()), it = rankedOf(a.getIndices());
  if (!dt || !it)
    return emitShapeError(loc, "operands must be ranked tensors");
  int64_t axis = normalizeAxis(a.getAxis(), dt.getRank());
  if (axis < 0)
    return emitShapeError(loc, "gather axis out of range");
  SmallVector<int64_t> shape(dt.getShape().take_front(axis));
  llvm::append_range(shape, it.getShape());
  llvm::append_range(shape, dt.getShape().drop_front(axis + 1));
  r.push_back(RankedTensorType::get(shape, dt.getElementType()));
  return success();
}

static LogicalResult inferReduce(std::optional<Location> loc, Value input,
                                 ArrayRef<int64_t> axes, bool keepdims,
                                 SmallVectorImpl<Type> &r) {
  auto t = rankedOf(input);
  SmallVector<bool> reduced(t.getRank(), axes.empty());
  for (int64_t a : axes) {
    int64_t ax = normalizeAxis(a, t.getRank());
    if (ax < 0)
      return emitShapeError(loc, "reduction axis out of range");
    reduced[ax] = true;
  }
  SmallVector<int64_t> shape;
  for (int64_t i = 0; i < t.getRank(); ++i) {
    if (!reduced[i])
      shape.push_back(t.getDimSize(i));
    else if (keepdims)
      shape.push_back(1);
  }
  r.push_back(RankedTensorType::get(shape, t.getElementType()));
  return success();
}

#define MU_REDUCE_INFER(OP)                                                    \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location> l, \
                                     Adaptor a, SmallVectorImpl<Type> &r) {    \
    return inferReduce(l, a.getInput(), a.getAxes(), a.getKeepdims(), r);      \
  }
MU_REDUCE_INFER(ReduceSumOp)
MU_REDUCE_INFER(ReduceMeanOp)
MU_REDUCE_INFER(ReduceMaxOp)
MU_REDUCE_INFER(ReduceMinOp)
#undef MU_REDUCE_INFER

#define MU_SAME_AS_INPUT_INFER(OP)                                             \
  LogicalResult OP::inferReturnTypes(MLIRContext *, std::optional<Location>,   \
                                     Adaptor a, SmallVectorImpl<Type> &r) {    \
    r.push_back(a.getInput().getType());                                       \
    return success();                                                          \
  }
MU_SAME_AS_INPUT_INFER(RmsNormOp)
MU_SAME_AS_INPUT_INFER(LayerNormOp)
MU_SAME_AS_INPUT_INFER(RopeOp)
#undef MU_SAME_AS_INPUT_INFER

LogicalResult MatMulOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor a, SmallVectorImpl<Type> &r) {
  auto lt = rankedOf(a.getLhs()), rt = rankedOf(a.getRhs());
  if (!lt || !rt || lt.getRank() < 1 || rt.getRank() < 1)
    return emitShapeError(loc, "matmul operands must have rank >= 1");
  if (lt.getElementType() != rt.getElementType())
    return emitShapeError(loc, "matmul operand element types differ");
  SmallVector<int64_t> ls(lt.getShape()), rs(rt.getShape());
  bool lvec = ls.size() == 1, rvec = rs.size() == 1;
  if (lvec)
    ls.insert(ls.begin(), 1);
  if (rvec)
    rs.push_back(1);
  int64_t k1 = ls.back(), k2 = rs[rs.size() - 2];
  if (k1 != kDyn && k2 != kDyn && k1 != k2)
    return emitShapeError(loc, "matmul contraction dims differ: ", k1, " vs ",
                          k2);
  SmallVector<int64_t> batch;
  if (failed(broadcastShapes(ArrayRef<int64_t>(ls).drop_back(2),
                             ArrayRef<int64_t>(rs).drop_back(2), batch)))
    return emitShapeError(loc, "matmul batch dims are not broadcast-compatible");
  if (!lvec)
    batch.push_back(ls[ls.size() - 2]);
  if (!rvec)
    batch.push_back(rs.back());
  r.push_back(RankedTensorType::get(batch, lt.getElementType()));
  return success();
}

LogicalResult LinearOp::inferReturnTypes(MLIRContext *,
                                         std::optional<Location> loc,
                                         Adaptor a, SmallVectorImpl<Type> &r) {
  auto xt = rankedOf(a.getInput()), wt = rankedOf(a.getWeight());
  if (!xt || !wt || wt.getRank() != 2 || xt.getRank() < 1)
    return emitShapeError(loc, "linear needs input rank >= 1 and a 2-d weight");
  SmallVector<int64_t> shape(xt.getShape());
  shape.back() = wt.getDimSize(0);
  r.push_back(RankedTensorType::get(shape, xt.getElementType()));
  return success();
}
