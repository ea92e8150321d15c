//===- LowerToKernels.cpp - mu graph -> muk kernel program ----------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_LOWERTOKERNELS
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// Operand slots where kernels read stored weights in any float format.
bool readsStoredWeight(OpOperand &use) {
  Operation *user = use.getOwner();
  unsigned i = use.getOperandNumber();
  if (isa<LinearOp, RmsNormOp, LayerNormOp>(user))
    return i >= 1;
  if (isa<GatherOp>(user))
    return i == 0;
  return false;
}

/// A float widening cast of a constant read only as a weight: no kernel.
bool isBypassed(CastOp c) {
  auto cst = c.getInput().getDefiningOp<ConstantOp>();
  return cst && isa<FloatType>(getElementTypeOrSelf(c.getInput().getType())) &&
         getElementTypeOrSelf(c.getType()).isF32() &&
         llvm::all_of(c->getUses(), readsStoredWeight);
}

/// What a mu op becomes: the muk op name, its kernel-slot operands (null =
/// absent optional slot) and parameters.
struct KernelCall {
  StringRef name;
  SmallVector<Value> slots;
  SmallVector<int64_t> ints;
  SmallVector<float> floats;
};

template <typename... Axes> SmallVector<int64_t> concatInts(Axes... parts) {
  SmallVector<int64_t> r;
  (r.append(parts.begin(), parts.end()), ...);
  return r;
}

FailureOr<KernelCall> describe(Operation *op) {
  KernelCall k;
  bool ok = true;
  auto reduce = [&](StringRef name, bool keep, ArrayRef<int64_t> axes) {
    k.name = name;
    k.ints.push_back(keep);
    k.ints.append(axes.begin(), axes.end());
  };
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](AddOp) { k.name = "add"; })
      .Case([&](SubOp) { k.name = "sub"; })
      .Case([&](MulOp) { k.name = "mul"; })
      .Case([&](DivOp) { k.name = "div"; })
      .Case([&](PowOp) { k.name = "pow"; })
      .Case([&](MaxOp) { k.name = "max"; })
      .Case([&](MinOp) { k.name = "min"; })
      .Case([&](AndOp) { k.name = "and"; })
      .Case([&](OrOp) { k.name = "or"; })
      .Case([&](EqualOp) { k.name = "equal"; })
      .Case([&](LessOp) { k.name = "less"; })
      .Case([&](GreaterOp) { k.name = "greater"; })
      .Case([&](NegOp) { k.name = "neg"; })
      .Case([&](AbsOp) { k.name = "abs"; })
      .Case([&](NotOp) { k.name = "not"; })
      .Case([&](ExpOp) { k.name = "exp"; })
      .Case([&](LogOp) { k.name = "log"; })
      .Case([&](SqrtOp) { k.name = "sqrt"; })
      .Case([&](RsqrtOp) { k.name = "rsqrt"; })
      .Case([&](ReciprocalOp) { k.name = "reciprocal"; })
      .Case([&](TanhOp) { k.name = "tanh"; })
      .Case([&](ErfOp) { k.name = "erf"; })
      .Case([&](SinOp) { k.name = "sin"; })
      .Case([&](CosOp) { k.name = "cos"; })
      .Case([&](SigmoidOp) { k.name = "sigmoid"; })
      .Case([&](ReluOp) { k.name = "relu"; })
      .Case([&](SiluOp) { k.name = "silu"; })
      .Case([&](GeluOp g) {
        k.name = g.getApproximate() == GeluApproximation::tanh ? "gelu_tanh" : "gelu";
      })
      .Case([&](WhereOp) { k.name = "where"; })
      .Case([&](CastOp) { k.name = "cast"; })
      .Case([&](ReshapeOp) { k.name = "reshape"; })
      .Case([&](BroadcastToOp) { k.name = "broadcast_to"; })
      .Case([&](TransposeOp t) {
        k.name = "transpose";
        k.ints.assign(t.getPerm().begin(), t.getPerm().end());
      })
      .Case([&](ConcatOp c) { k.name = "concat"; k.ints = {int64_t(c.getAxis())}; })
      .Case([&](SliceOp s) {
        k.name = "slice";
        k.ints.push_back(int64_t(s.getAxes().size()));
        k.ints.append(concatInts(s.getAxes(), s.getStarts(), s.getEnds(), s.getSteps()));
      })
      .Case([&](SplitOp s) { k.name = "split"; k.ints = {int64_t(s.getAxis())}; })
      .Case([&](GatherOp g) { k.name = "gather"; k.ints = {int64_t(g.getAxis())}; })
      .Case([&](RangeOp) { k.name = "range"; })
      .Case([&](DimOp d) { k.name = "dim"; k.ints = {int64_t(d.getAxis())}; })
      .Case([&](SoftmaxOp s) { k.name = "softmax"; k.ints = {int64_t(s.getAxis())}; })
      .Case([&](ReduceSumOp r) { reduce("reduce_sum", r.getKeepdims(), r.getAxes()); })
      .Case([&](ReduceMeanOp r) { reduce("reduce_mean", r.getKeepdims(), r.getAxes()); })
      .Case([&](ReduceMaxOp r) { reduce("reduce_max", r.getKeepdims(), r.getAxes()); })
      .Case([&](ReduceMinOp r) { reduce("reduce_min", r.getKeepdims(), r.getAxes()); })
      .Case([&](RmsNormOp r) {
        k.name = "rms_norm";
        k.floats = {r.getEpsilon().convertToFloat()};
        k.slots = {r.getInput(), r.getWeight()};
      })
      .Case([&](LayerNormOp l) {
        k.name = "layer_norm";
        k.floats = {l.getEpsilon().convertToFloat()};
        k.slots = {l.getInput(), l.getWeight(), l.getBias()};
      })
      .Case([&](MatMulOp) { k.name = "matmul"; })
      .Case([&](LinearOp l) {
        k.name = "linear";
        k.slots = {l.getInput(), l.getWeight(), l.getBias()};
      })
      .Case([&](GluOp g) { k.name = "glu"; k.ints = {int64_t(g.getActivation())}; })
      .Case([&](LoraOp l) {
        // The site's index in the module's mu.lora_sites table.
        k.name = "lora";
        auto m = l->getParentOfType<ModuleOp>();
        auto sites = m ? m->getAttrOfType<ArrayAttr>("mu.lora_sites") : ArrayAttr();
        ok = false;
        for (auto [i, s] : llvm::enumerate(sites ? sites.getValue() : ArrayRef<Attribute>())) {
          auto d = dyn_cast<DictionaryAttr>(s);
          auto n = d ? d.getAs<StringAttr>("name") : StringAttr();
          if (n && n.getValue() == l.getSite()) {
            k.ints = {int64_t(i)};
            ok = true;
          }
        }
      })
      .Case([&](RopeOp r) { k.name = "rope"; k.ints = {int64_t(r.getMode())}; })
      .Case([&](AttentionOp a) {
        k.name = "attention";
        k.floats = {a.getScale().convertToFloat()};
        k.ints = {a.getCausal() ? 1 : 0};
        k.slots = {a.getQuery(), a.getKey(),     a.getValue(),
                   a.getMask(),  a.getPastKey(), a.getPastValue()};
        if (a.getCachePosition()) // in-place cache (mu-static-shapes)
          k.slots.push_back(a.getCachePosition());
      })
      .Default([&](Operation *) { ok = false; });
  if (!ok)
    return failure();
  if (k.slots.empty())
    k.slots.assign(op->getOperands().begin(), op->getOperands().end());
  return k;
}

Operation *buildKernel(OpBuilder &b, Location loc, const KernelCall &k, TypeRange results) {
  OperationState st(loc, ("muk." + k.name).str());
  SmallVector<int32_t> absent;
  for (auto [i, slot] : llvm::enumerate(k.slots)) {
    Value v = slot;
    if (v) {
      // Bypassed weight casts: read the stored constant.
      if (auto c = v.getDefiningOp<CastOp>(); c && isBypassed(c))
        v = c.getInput();
      st.addOperands(v);
    } else {
      absent.push_back(int32_t(i));
    }
  }
  st.addTypes(results);
  if (!k.ints.empty())
    st.addAttribute("ints", b.getDenseI64ArrayAttr(k.ints));
  if (!k.floats.empty())
    st.addAttribute("floats", b.getDenseF32ArrayAttr(k.floats));
  if (!absent.empty())
    st.addAttribute("absent", b.getDenseI32ArrayAttr(absent));
  return b.create(st);
}

struct LowerToKernelsPass : mu::impl::LowerToKernelsBase<LowerToKernelsPass> {
  void runOnOperation() override {
    OpBuilder b(&getContext());
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      SmallVector<Operation *> ops;
      for (Operation &op : f.getBody().front())
        ops.push_back(&op);
      for (Operation *op : ops) {
        if (isa<ConstantOp, func::ReturnOp>(op))
          continue;
        if (auto c = dyn_cast<CastOp>(op); c && isBypassed(c))
          continue; // erased once its users are lowered
        FailureOr<KernelCall> k = describe(op);
        if (failed(k)) {
          if (auto l = dyn_cast<LoraOp>(op))
            op->emitError("mu-lower-to-kernels: LoRA site '")
                << l.getSite() << "' is not listed in the module's mu.lora_sites";
          else
            op->emitError("mu-lower-to-kernels: no runtime kernel for this op");
          return signalPassFailure();
        }
        b.setInsertionPoint(op);
        Operation *kop = buildKernel(b, op->getLoc(), *k, op->getResultTypes());
        op->replaceAllUsesWith(kop->getResults());
        op->erase();
      }
      // Dead bypassed casts.
      for (Operation &op : llvm::make_early_inc_range(f.getBody().front()))
        if (isa<CastOp>(op) && op.use_empty())
          op.erase();
      // Returned inputs/constants (or a value returned twice) get a copy.
      auto ret = cast<func::ReturnOp>(f.getBody().front().getTerminator());
      llvm::SmallPtrSet<Value, 8> seen;
      b.setInsertionPoint(ret);
      for (OpOperand &o : ret->getOpOperands()) {
        Value v = o.get();
        Operation *d = v.getDefiningOp();
        if (!d || isa<ConstantOp>(d) || !seen.insert(v).second) {
          KernelCall copy;
          copy.name = "reshape";
          copy.slots = {v};
          o.set(buildKernel(b, ret.getLoc(), copy, v.getType())->getResult(0));
        }
      }
    }
  }
};

} // namespace
