//===- KvCache.cpp - cached prefill/decode entry points -------------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/SetVector.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_KVCACHE
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// Makes `f` cached: adds the position argument, rewrites position ranges,
/// and threads a K/V cache through every causal attention.
LogicalResult addCache(func::FuncOp f) {
  OpBuilder b(f.getContext());
  Block &body = f.getBody().front();
  Value ids = body.getArgument(0);
  FailureOr<Value> position = addScalarArg(f, f.getNumArguments(), "position");
  if (failed(position))
    return failure();
  Value pos = *position;

  // Positions: range(0, dim(ids, 1), 1) -> range(pos, pos + dim, 1).
  SmallVector<RangeOp> ranges;
  f.walk([&](RangeOp r) {
    auto dim = def<DimOp>(r.getLimit());
    if (dim && dim.getInput() == ids && isSplat(r.getStart(), 0.0) && isSplat(r.getDelta(), 1.0))
      ranges.push_back(r);
  });
  if (ranges.empty())
    return f.emitError("mu-kv-cache: no position range over the input sequence found in @")
           << f.getSymName();
  for (RangeOp r : ranges) {
    b.setInsertionPoint(r);
    Value end = AddOp::create(b, r.getLoc(), pos, r.getLimit());
    r.getStartMutable().assign(pos);
    r.getLimitMutable().assign(end);
  }

  // Caches for causal attention.
  SmallVector<AttentionOp> attns;
  f.walk([&](AttentionOp a) {
    if (a.getCausal() && !a.getPastKey())
      attns.push_back(a);
  });
  if (attns.empty())
    return f.emitError("mu-kv-cache: no causal attention in @") << f.getSymName();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<Value> presents;
  SmallVector<DictionaryAttr> resAttrs;
  for (unsigned i = 0; i < f.getNumResults(); ++i)
    resAttrs.push_back(f.getResultAttrDict(i) ? f.getResultAttrDict(i) : b.getDictionaryAttr({}));
  for (auto [i, a] : llvm::enumerate(attns)) {
    auto k = cast<RankedTensorType>(a.getKey().getType());
    auto v = cast<RankedTensorType>(a.getValue().getType());
    auto kc = RankedTensorType::get({k.getDimSize(0), k.getDimSize(1), ShapedType::kDynamic, k.getDimSize(3)},
                                    k.getElementType());
    auto vc = RankedTensorType::get({v.getDimSize(0), v.getDimSize(1), ShapedType::kDynamic, v.getDimSize(3)},
                                    v.getElementType());
    std::string kn = "k_cache_" + std::to_string(i), vn = "v_cache_" + std::to_string(i);
    auto stateAttr = [&](StringRef n) {
      return b.getDictionaryAttr({b.getNamedAttr("mu.name", b.getStringAttr(n)),
                                  b.getNamedAttr("mu.state", b.getStringAttr(n))});
    };
    unsigned ai = f.getNumArguments();
    if (failed(f.insertArgument(ai, kc, stateAttr(kn), a.getLoc())) ||
        failed(f.insertArgument(ai + 1, vc, stateAttr(vn), a.getLoc())))
      return failure();
    b.setInsertionPoint(a);
    auto cached = AttentionOp::create(
        b, a.getLoc(), a.getResult().getType(), TypeRange{kc, vc}, a.getQuery(), a.getKey(),
        a.getValue(), a.getMask(), body.getArgument(ai), body.getArgument(ai + 1), Value(),
        a.getScaleAttr(), a.getCausalAttr());
    a.getResult().replaceAllUsesWith(cached.getResult());
    a.erase();
    presents.push_back(cached.getPresent()[0]);
    presents.push_back(cached.getPresent()[1]);
    resAttrs.push_back(stateAttr(kn));
    resAttrs.push_back(stateAttr(vn));
  }
  // Read the return operands only now: uses were rewritten above.
  SmallVector<Value> results(ret.getOperands());
  results.append(presents.begin(), presents.end());
  b.setInsertionPoint(ret);
  func::ReturnOp::create(b, ret.getLoc(), results);
  ret.erase();
  SmallVector<Type> types;
  for (Value r : results)
    types.push_back(r.getType());
  f.setFunctionType(b.getFunctionType(body.getArgumentTypes(), types));
  f.setAllResultAttrs(resAttrs);
  return success();
}

/// Moves the cross-attention K/V projections of the cached decoder into
/// `encode`: they depend only on the encoder output, so `encode` computes them
/// once into state buffers `cross_k_i`/`cross_v_i` that every decode call
/// reads. The decoder's encoder_hidden argument is dropped when nothing else
/// uses it.
LogicalResult hoistCrossKv(func::FuncOp encode, func::FuncOp dec) {
  OpBuilder b(dec.getContext());
  if (dec.getNumArguments() < 2)
    return success();
  Value encArg = dec.getArgument(1);
  Block &encBody = encode.getBody().front();
  auto encRet = cast<func::ReturnOp>(encBody.getTerminator());
  if (encRet.getNumOperands() != 1)
    return encode.emitError("mu-kv-cache: @encode must return the encoder output");
  Value encOut = encRet.getOperand(0);

  SmallVector<AttentionOp> cross;
  dec.walk([&](AttentionOp a) {
    if (!a.getCausal() && !a.getPastKey())
      cross.push_back(a);
  });
  SmallVector<Value> newResults{encOut};
  SmallVector<DictionaryAttr> resAttrs{encode.getResultAttrDict(0) ? encode.getResultAttrDict(0)
                                                                   : b.getDictionaryAttr({})};
  Block &decBody = dec.getBody().front();
  for (auto [i, a] : llvm::enumerate(cross)) {
    for (int which = 0; which < 2; ++which) {
      Value kv = which == 0 ? a.getKey() : a.getValue();
      // Backward slice of kv inside the decoder: must reach only encArg and
      // constants.
      SetVector<Operation *> slice;
      SmallVector<Value> work{kv};
      bool ok = true;
      while (!work.empty() && ok) {
        Value v = work.pop_back_val();
        if (v == encArg)
          continue;
        Operation *op = v.getDefiningOp();
        if (!op) {
          ok = false;
          break;
        }
        if (slice.insert(op))
          for (Value o : op->getOperands())
            work.push_back(o);
      }
      if (!ok)
        continue; // K/V not a function of the encoder output alone: keep it
      IRMapping map;
      map.map(encArg, encOut);
      b.setInsertionPoint(encRet);
      SmallVector<Operation *> ordered(slice.begin(), slice.end());
      llvm::sort(ordered, [](Operation *x, Operation *y) { return x->isBeforeInBlock(y); });
      for (Operation *op : ordered)
        b.clone(*op, map);
      Value hoisted = map.lookup(kv);
      std::string name = (which == 0 ? "cross_k_" : "cross_v_") + std::to_string(i);
      auto attr = b.getDictionaryAttr({b.getNamedAttr("mu.name", b.getStringAttr(name)),
                                       b.getNamedAttr("mu.state", b.getStringAttr(name))});
      newResults.push_back(hoisted);
      resAttrs.push_back(attr);
      unsigned ai = dec.getNumArguments();
      if (failed(dec.insertArgument(ai, kv.getType(), attr, a.getLoc())))
        return failure();
      kv.replaceUsesWithIf(decBody.getArgument(ai), [&](OpOperand &u) { return u.getOwner() == a; });
    }
  }
  b.setInsertionPoint(encRet);
  func::ReturnOp::create(b, encRet.getLoc(), newResults);
  encRet.erase();
  SmallVector<Type> types;
  for (Value v : newResults)
    types.push_back(v.getType());
  encode.setFunctionType(b.getFunctionType(encBody.getArgumentTypes(), types));
  encode.setAllResultAttrs(resAttrs);
  // Dead projections in the decoder go away with canonicalization; the
  // encoder_hidden argument goes now if unused.
  bool changed = true;
  while (changed) {
    changed = false;
    dec.walk([&](Operation *op) {
      if (op != dec.getOperation() && !isa<func::ReturnOp>(op) && isPure(op) && op->use_empty()) {
        op->erase();
        changed = true;
      }
    });
  }
  if (encArg.use_empty())
    if (failed(dec.eraseArgument(1)))
      return failure();
  return success();
}

/// The cached decoder-only programs only need the next-token logits: when
/// the logits come from `linear(norm(h))` (the LM head after the final
/// norm), gather the last position of `h` first, so prefill computes the head
/// (often the largest matmul) for one row instead of the whole chunk. The
/// norm and head keep their names, so calibration ranges still apply.
void lastPositionLogits(func::FuncOp f) {
  auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
  if (ret.getNumOperands() == 0)
    return;
  auto head = ret.getOperand(0).getDefiningOp<LinearOp>();
  if (!head || !head->hasOneUse())
    return;
  Operation *norm = head.getInput().getDefiningOp();
  if (!norm || !isa<RmsNormOp, LayerNormOp>(norm) || !norm->hasOneUse())
    return;
  Value h = norm->getOperand(0);
  auto ht = dyn_cast<RankedTensorType>(h.getType());
  auto lt = dyn_cast<RankedTensorType>(head.getType());
  if (!ht || !lt || ht.getRank() != 3 || lt.getRank() != 3)
    return;
  OpBuilder b(norm);
  Location loc = NameLoc::get(b.getStringAttr("mu.last_position"), norm->getLoc());
  // gather(h, [-1]) along the sequence: a statically [.., 1, ..] result.
  auto idxType = RankedTensorType::get({1}, b.getI64Type());
  Value idx = ConstantOp::create(b, loc, DenseElementsAttr::get(idxType, ArrayRef<int64_t>{-1}));
  Value last = GatherOp::create(b, loc, h, idx, b.getI64IntegerAttr(1));
  norm->setOperand(0, last);
  norm->getResult(0).setType(cast<RankedTensorType>(last.getType()));
  head.getResult().setType(
      RankedTensorType::get({lt.getDimSize(0), 1, lt.getDimSize(2)}, lt.getElementType()));
  SmallVector<Type> types(f.getResultTypes());
  types[0] = head.getType();
  f.setFunctionType(b.getFunctionType(f.getArgumentTypes(), types));
}

struct KvCachePass : mu::impl::KvCacheBase<KvCachePass> {
  void runOnOperation() override {
    ModuleOp m = getOperation();
    OpBuilder b(m.getContext());
    if (auto main = m.lookupSymbol<func::FuncOp>("main")) {
      // Only single-input decoders: an exported encoder-decoder graph (two
      // token inputs in one function) has no per-token decoder to cache.
      if (m.lookupSymbol("prefill") || main.getNumArguments() != 1)
        return;
      auto prefill = cast<func::FuncOp>(main->clone());
      prefill.setSymName("prefill");
      m.push_back(prefill);
      if (failed(addCache(prefill)))
        return signalPassFailure();
      lastPositionLogits(prefill);
      auto decode = cast<func::FuncOp>(prefill->clone());
      decode.setSymName("decode");
      decode->setAttr("mu.max_seq", b.getI64IntegerAttr(1));
      m.push_back(decode);
      return;
    }
    auto dec = m.lookupSymbol<func::FuncOp>("decode");
    if (!dec || m.lookupSymbol("decode_full") || !m.lookupSymbol("encode"))
      return;
    auto cached = cast<func::FuncOp>(dec->clone());
    dec.setSymName("decode_full");
    m.push_back(cached);
    // @encode still returns the encoder output first (for @decode_full) and
    // now also the cross-attention K/V state the cached @decode reads.
    auto enc = m.lookupSymbol<func::FuncOp>("encode");
    if (failed(addCache(cached)) || failed(hoistCrossKv(enc, cached)))
      return signalPassFailure();
  }
};

} // namespace
