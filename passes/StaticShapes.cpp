//===- StaticShapes.cpp - fixed-chunk prefill, in-place KV cache ----------===//
///
/// \file
/// Specializes the cached programs of mu-kv-cache to static shapes, as NPU
/// compilers require: @prefill takes a fixed chunk of tokens (the last chunk
/// of a prompt padded, its valid length an input), @decode one token, and
/// every self-attention cache is a preallocated [B, Hkv, max_context, D]
/// buffer the attention updates in place at `position`. Types are then
/// refined forward through the program; a decoder-only program that still
/// holds a dynamic dim is an error naming the op.
///
//===----------------------------------------------------------------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"

#include <optional>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_STATICSHAPES
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;

RankedTensorType ranked(Type t) { return dyn_cast<RankedTensorType>(t); }

/// `have` with its dynamic dims filled from `want` (same rank), or `have`.
Type meet(Type have, ArrayRef<int64_t> want) {
  auto t = ranked(have);
  if (!t || t.getRank() != int64_t(want.size()))
    return have;
  SmallVector<int64_t> s(t.getShape());
  for (size_t i = 0; i < s.size(); ++i)
    if (s[i] == kDyn)
      s[i] = want[i];
  return RankedTensorType::get(s, t.getElementType(), t.getEncoding());
}

/// The value of a scalar integer known at compile time: a splat constant or
/// the size of a static dim.
std::optional<int64_t> knownInt(Value v) {
  double d;
  if (matchSplatConstant(v, d))
    return int64_t(d);
  if (auto dim = v.getDefiningOp<DimOp>()) {
    auto t = ranked(dim.getInput().getType());
    int64_t axis = t ? normalizeAxis(dim.getAxis(), t.getRank()) : -1;
    if (t && axis >= 0 && axis < t.getRank() && !t.isDynamicDim(axis))
      return t.getDimSize(axis);
  }
  return std::nullopt;
}

/// limit - start when it is known: both constant, or limit = start + c.
std::optional<int64_t> knownSpan(Value start, Value limit) {
  auto s = knownInt(start), l = knownInt(limit);
  if (s && l)
    return *l - *s;
  if (auto add = limit.getDefiningOp<AddOp>()) {
    if (add.getLhs() == start)
      return knownInt(add.getRhs());
    if (add.getRhs() == start)
      return knownInt(add.getLhs());
  }
  return std::nullopt;
}

/// Refines the result types of `op` from its (already refined) operands.
void refine(Operation *op) {
  auto setShape = [&](unsigned i, ArrayRef<int64_t> s) {
    op->getResult(i).setType(meet(op->getResult(i).getType(), s));
  };
  auto shapeOf = [](Value v) {
    auto t = ranked(v.getType());
    return t ? SmallVector<int64_t>(t.getShape()) : SmallVector<int64_t>();
  };
  if (auto r = dyn_cast<RangeOp>(op)) {
    auto span = knownSpan(r.getStart(), r.getLimit());
    auto delta = knownInt(r.getDelta());
    if (span && delta && *delta != 0)
      setShape(0, {std::max<int64_t>(0, (*span + *delta - (*delta > 0 ? 1 : -1)) / *delta)});
    return;
  }
  if (auto rs = dyn_cast<ReshapeOp>(op)) {
    auto in = ranked(rs.getInput().getType());
    auto out = ranked(rs.getType());
    if (!in || !in.hasStaticShape() || !out || out.hasStaticShape())
      return;
    int64_t known = 1, dyn = 0;
    for (int64_t d : out.getShape())
      d == kDyn ? ++dyn : known *= d;
    if (dyn != 1 || known == 0)
      return;
    SmallVector<int64_t> s(out.getShape());
    for (int64_t &d : s)
      if (d == kDyn)
        d = in.getNumElements() / known;
    setShape(0, s);
    return;
  }
  if (auto bc = dyn_cast<BroadcastToOp>(op)) {
    SmallVector<int64_t> in = shapeOf(bc.getInput()), out = shapeOf(bc.getResult());
    // A dynamic target dim takes the input's (as the runtime does).
    for (size_t i = 0; i < out.size() && in.size() <= out.size(); ++i) {
      size_t off = out.size() - in.size();
      if (out[i] == kDyn)
        out[i] = i < off ? 1 : in[i - off];
    }
    setShape(0, out);
    return;
  }
  if (auto sp = dyn_cast<SplitOp>(op)) {
    SmallVector<int64_t> in = shapeOf(sp.getInput());
    int64_t axis = normalizeAxis(sp.getAxis(), int64_t(in.size()));
    int64_t used = 0, open = -1, nOpen = 0;
    for (unsigned i = 0; i < op->getNumResults(); ++i) {
      SmallVector<int64_t> s = shapeOf(op->getResult(i));
      for (size_t d = 0; d < s.size() && d < in.size(); ++d)
        if (int64_t(d) != axis && s[d] == kDyn)
          s[d] = in[d];
      setShape(i, s);
      int64_t a = shapeOf(op->getResult(i))[size_t(axis)];
      a == kDyn ? (open = i, ++nOpen) : used += a;
    }
    if (nOpen == 1 && in[size_t(axis)] != kDyn) {
      SmallVector<int64_t> s = shapeOf(op->getResult(unsigned(open)));
      s[size_t(axis)] = in[size_t(axis)] - used;
      setShape(unsigned(open), s);
    }
    return;
  }
  if (auto a = dyn_cast<AttentionOp>(op)) {
    SmallVector<int64_t> q = shapeOf(a.getQuery()), v = shapeOf(a.getValue());
    setShape(0, {q[0], q[1], q[2], v[3]});
    return;
  }
  if (op->hasTrait<OpTrait::SameOperandsAndResultShape>() ||
      op->hasTrait<OpTrait::SameOperandsAndResultType>() || isa<LoraOp>(op)) {
    SmallVector<int64_t> s = shapeOf(op->getOperand(0));
    for (unsigned i = 0; i < op->getNumResults(); ++i)
      setShape(i, s);
    return;
  }
  if (auto infer = dyn_cast<InferTypeOpInterface>(op)) {
    SmallVector<Type> types;
    if (failed(infer.inferReturnTypes(op->getContext(), op->getLoc(), op->getOperands(),
                                      op->getAttrDictionary(), op->getPropertiesStorage(),
                                      op->getRegions(), types)) ||
        types.size() != op->getNumResults())
      return;
    for (unsigned i = 0; i < op->getNumResults(); ++i)
      if (auto t = ranked(types[i]))
        setShape(i, t.getShape());
  }
}

/// i1 [1, 1, 1, L]: key t of a padded source is attended iff t < length.
Value sourceMask(OpBuilder &b, Location loc, Value length, int64_t L) {
  auto i64s = RankedTensorType::get({}, b.getI64Type());
  auto c = [&](int64_t v) { return ConstantOp::create(b, loc, DenseElementsAttr::get(i64s, v)); };
  Value r = RangeOp::create(b, loc, RankedTensorType::get({L}, b.getI64Type()), c(0), c(L), c(1));
  Value valid = LessOp::create(b, loc, r, length);
  return ReshapeOp::create(b, loc, RankedTensorType::get({1, 1, 1, L}, b.getI1Type()), valid);
}

/// Masks attention `a` (no mask yet) to the first `length` of its L keys.
LogicalResult maskSource(AttentionOp a, Value length, int64_t L) {
  if (a.getMask())
    return a.emitError("mu-static-shapes: an attention over the padded source already has a mask");
  OpBuilder b(a);
  Location loc = NameLoc::get(b.getStringAttr("mu.source_mask"), a.getLoc());
  a.getMaskMutable().assign(sourceMask(b, loc, length, L));
  return success();
}

struct StaticShapesPass : mu::impl::StaticShapesBase<StaticShapesPass> {
  using StaticShapesBase::StaticShapesBase;

  /// Specializes one cached program to `seq` tokens per call. `source` > 0:
  /// an encoder-decoder's decoder, whose cross-attention state then holds a
  /// padded source of that length, masked by a new `source_length` input.
  LogicalResult specialize(func::FuncOp f, int64_t seq, int64_t source) {
    OpBuilder b(f.getContext());
    Block &body = f.getBody().front();
    if (f.getNumArguments() < 2)
      return f.emitError("mu-static-shapes: @") << f.getSymName() << " is not a cached program";
    // Arguments: ids, position, then caches (and cross-attention state).
    BlockArgument ids = body.getArgument(0), pos = body.getArgument(1);
    auto idsType = ranked(ids.getType());
    if (!idsType || idsType.getRank() != 2)
      return f.emitError("mu-static-shapes: @") << f.getSymName() << ": token ids must be [batch, seq]";
    ids.setType(RankedTensorType::get({1, seq}, idsType.getElementType()));
    f.removeArgAttr(0, "mu.dim_names"); // no dim is symbolic any more

    // Self-attention caches become [B, Hkv, max_context, D], written in place.
    SmallVector<AttentionOp> attns;
    f.walk([&](AttentionOp a) {
      if (a.getPastKey() && !a.getCachePosition())
        attns.push_back(a);
    });
    for (AttentionOp a : attns) {
      for (Value past : {a.getPastKey(), a.getPastValue()}) {
        auto arg = dyn_cast<BlockArgument>(past);
        auto t = ranked(past.getType());
        if (!arg || arg.getOwner() != &body || !t || t.getRank() != 4)
          return a.emitError("mu-static-shapes: the cache must be a 4-d program argument");
        arg.setType(RankedTensorType::get({t.getDimSize(0) == kDyn ? 1 : t.getDimSize(0),
                                           t.getDimSize(1), maxContext, t.getDimSize(3)},
                                          t.getElementType()));
      }
      b.setInsertionPoint(a);
      auto inPlace = AttentionOp::create(
          b, a.getLoc(), a.getResult().getType(),
          TypeRange{a.getPastKey().getType(), a.getPastValue().getType()}, a.getQuery(),
          a.getKey(), a.getValue(), a.getMask(), a.getPastKey(), a.getPastValue(), pos,
          a.getScaleAttr(), a.getCausalAttr());
      a.replaceAllUsesWith(inPlace.getResults());
      a.erase();
    }

    // Cross-attention over the padded source: static state, masked keys.
    if (source > 0) {
      FailureOr<Value> length = addScalarArg(f, 2, "source_length");
      if (failed(length))
        return failure();
      for (BlockArgument arg : body.getArguments()) {
        auto st = f.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "mu.state");
        auto t = ranked(arg.getType());
        if (!st || !st.getValue().starts_with("cross_") || !t || t.getRank() != 4)
          continue;
        arg.setType(RankedTensorType::get({1, t.getDimSize(1), source, t.getDimSize(3)},
                                          t.getElementType()));
      }
      SmallVector<AttentionOp> cross;
      f.walk([&](AttentionOp a) {
        auto k = dyn_cast<BlockArgument>(a.getKey());
        if (!a.getCausal() && !a.getPastKey() && k && k.getOwner() == &body)
          cross.push_back(a);
      });
      for (AttentionOp a : cross)
        if (failed(maskSource(a, *length, source)))
          return failure();
    }

    // A chunk longer than one token may be padded: its valid length is an
    // input, and the last-position gather reads row length - 1.
    if (seq > 1) {
      auto i64s = RankedTensorType::get({}, b.getI64Type());
      FailureOr<Value> lengthArg = addScalarArg(f, 2, "length");
      if (failed(lengthArg))
        return failure();
      Value length = *lengthArg;
      SmallVector<GatherOp> lastRows;
      f.walk([&](GatherOp g) {
        if (auto n = dyn_cast<NameLoc>(g.getLoc()); n && n.getName() == "mu.last_position")
          lastRows.push_back(g);
      });
      for (GatherOp g : lastRows) {
        b.setInsertionPoint(g);
        Location loc = NameLoc::get(b.getStringAttr("mu.last_position.index"), g.getLoc());
        Value one = ConstantOp::create(b, loc, DenseElementsAttr::get(i64s, int64_t(1)));
        Value last = SubOp::create(b, loc, length, one);
        Value idx = ReshapeOp::create(b, loc, RankedTensorType::get({1}, b.getI64Type()), last);
        Operation *old = g.getIndices().getDefiningOp();
        g.getIndicesMutable().assign(idx);
        if (old && old->use_empty())
          old->erase();
      }
    }

    // Sizes of static dims become constants; then types flow forward.
    refineBody(f);
    f->setAttr("mu.max_seq", b.getI64IntegerAttr(seq));
    f->setAttr("mu.static", b.getUnitAttr());
    return checkStatic(f);
  }

  /// Refines types forward from the (already static) arguments.
  void refineBody(func::FuncOp f) {
    OpBuilder b(f.getContext());
    Block &body = f.getBody().front();
    SmallVector<Operation *> ops;
    for (Operation &op : body)
      ops.push_back(&op);
    for (Operation *op : ops) {
      if (auto dim = dyn_cast<DimOp>(op)) {
        if (auto n = knownInt(dim.getResult())) {
          b.setInsertionPoint(dim);
          Value c = ConstantOp::create(b, dim.getLoc(), DenseElementsAttr::get(dim.getType(), *n));
          dim.replaceAllUsesWith(c);
          dim.erase();
        }
        continue;
      }
      refine(op);
    }
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    f.setFunctionType(b.getFunctionType(body.getArgumentTypes(), ret.getOperandTypes()));
  }

  /// The encoder over a source padded to `L` tokens: a `source_length`
  /// input, every attention masked to the valid keys (padded rows compute
  /// garbage that no valid row reads).
  LogicalResult specializeEncoder(func::FuncOp f, int64_t L) {
    OpBuilder b(f.getContext());
    Block &body = f.getBody().front();
    auto idsType = ranked(body.getArgument(0).getType());
    if (f.getNumArguments() != 1 || !idsType || idsType.getRank() != 2)
      return f.emitError("mu-static-shapes: @encode must take the source ids [batch, seq]");
    body.getArgument(0).setType(RankedTensorType::get({1, L}, idsType.getElementType()));
    f.removeArgAttr(0, "mu.dim_names");
    FailureOr<Value> length = addScalarArg(f, 1, "source_length");
    if (failed(length))
      return failure();
    SmallVector<AttentionOp> attns;
    f.walk([&](AttentionOp a) { attns.push_back(a); });
    for (AttentionOp a : attns)
      if (failed(maskSource(a, *length, L)))
        return failure();
    refineBody(f);
    f->setAttr("mu.max_seq", b.getI64IntegerAttr(L));
    f->setAttr("mu.static", b.getUnitAttr());
    return checkStatic(f);
  }

  /// Every result of `f` has a static type, or an error names the op.
  LogicalResult checkStatic(func::FuncOp f) {
    Block &body = f.getBody().front();
    for (Operation &op : body)
      for (Value r : op.getResults())
        if (auto t = ranked(r.getType()); t && !t.hasStaticShape())
          return op.emitError("mu-static-shapes: result ")
                 << t << " of '" << op.getName() << "' stays dynamic in @" << f.getSymName();
    return success();
  }

  void runOnOperation() override {
    ModuleOp m = getOperation();
    if (prefillChunk < 1 || maxContext < 1 || prefillChunk > maxContext) {
      m.emitError("mu-static-shapes: need 1 <= prefill-chunk <= max-context (got ")
          << int64_t(prefillChunk) << ", " << int64_t(maxContext) << ")";
      return signalPassFailure();
    }
    bool decoderOnly = !m.lookupSymbol("encode");
    auto decode = m.lookupSymbol<func::FuncOp>("decode");
    auto prefill = m.lookupSymbol<func::FuncOp>("prefill");
    if (!decode || (decoderOnly && !prefill)) {
      m.emitError("mu-static-shapes: no cached programs (run mu-kv-cache first)");
      return signalPassFailure();
    }
    if (decode->hasAttr("mu.static"))
      return;
    // Encoder-decoders: the source is padded to the prefill chunk.
    auto encode = m.lookupSymbol<func::FuncOp>("encode");
    if ((encode && failed(specializeEncoder(encode, prefillChunk))) ||
        failed(specialize(decode, 1, decoderOnly ? 0 : int64_t(prefillChunk))) ||
        (prefill && failed(specialize(prefill, prefillChunk, 0))))
      return signalPassFailure();
  }
};

} // namespace
