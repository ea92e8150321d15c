//===- QuantizeActivations.cpp - static activation quantization -----------===//
///
/// \file
/// On muk kernel programs whose linear weights are already quantized
/// (mu-quantize-weights): every `muk.linear` whose input has a calibrated
/// range becomes an integer linear. Its input is quantized once
/// (`muk.quantize`, shared by all linears reading it; a producer's integer
/// result is reused directly), its float bias becomes int32 at scale
/// s_x * s_w[c], and its output is requantized to the output's calibrated
/// range (fixed-point multiplier, see include/mu/runtime/Integer.h) and
/// dequantized for float consumers -- or produced in f32 directly when the
/// output has no range or leaves the program. Every other op keeps f32
/// (the policy in docs/quantization.md). Tensor types carry upstream
/// `!quant.uniform` element types; the .mub writer records their params.
///
//===----------------------------------------------------------------------===//
#include "mu/Quant/Calibration.h"
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_QUANTIZEACTIVATIONS
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// Per-tensor (or per-axis 0) scales of a quantized weight, or empty.
SmallVector<double> weightScales(Value w, int64_t rows) {
  auto sc = w.getDefiningOp<mlir::quant::StorageCastOp>();
  if (!sc)
    return {};
  Type et = cast<RankedTensorType>(sc.getType()).getElementType();
  if (auto pa = dyn_cast<mlir::quant::UniformQuantizedPerAxisType>(et)) {
    if (pa.getQuantizedDimension() != 0 || int64_t(pa.getScales().size()) != rows ||
        llvm::any_of(pa.getZeroPoints(), [](int64_t z) { return z != 0; }))
      return {};
    return SmallVector<double>(pa.getScales().begin(), pa.getScales().end());
  }
  if (auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et))
    if (u.getZeroPoint() == 0)
      return SmallVector<double>(size_t(rows), u.getScale());
  return {}; // asymmetric: stays a float-activation linear
}

/// True for a block-wise ([1, B] sub-channel) symmetric weight.
bool isBlockWeight(Value w) {
  auto sc = w.getDefiningOp<mlir::quant::StorageCastOp>();
  if (!sc)
    return false;
  auto t = dyn_cast<mlir::quant::UniformQuantizedSubChannelType>(
      cast<RankedTensorType>(sc.getType()).getElementType());
  return t && llvm::all_of(t.getZeroPoints().getValues<APInt>(), [](APInt z) { return z.isZero(); });
}

struct QuantizeActivationsPass
    : mu::impl::QuantizeActivationsBase<QuantizeActivationsPass> {
  using QuantizeActivationsBase::QuantizeActivationsBase;
  QuantizeActivationsPass(const QuantizeActivationsOptions &o,
                          std::shared_ptr<const mu::quant::ActivationRanges> r)
      : QuantizeActivationsBase(o), table(std::move(r)) {}

  std::shared_ptr<const mu::quant::ActivationRanges> table;

  /// The !quant.uniform element type of an activation range.
  Type quantType(const mu::quant::ActivationRange &r) {
    mu::quant::QParams p = mu::quant::chooseParams({r.lo, r.hi}, r.encoding());
    return mlir::quant::UniformQuantizedType::get(
        r.isUnsigned ? 0u : unsigned(mlir::quant::QuantizationFlags::Signed),
        IntegerType::get(&getContext(), r.bits),
        Float32Type::get(&getContext()), p.scale, p.zeroPoint, p.qmin, p.qmax);
  }

  /// Per-channel (along `axis`) !quant.uniform type of a range.
  Type channelQuantType(const mu::quant::ActivationRange &r, int32_t axis) {
    SmallVector<double> scales;
    SmallVector<int64_t> zps;
    mu::quant::QParams p;
    for (size_t c = 0; c < r.channelLo.size(); ++c) {
      p = mu::quant::chooseParams({r.channelLo[c], r.channelHi[c]}, r.encoding());
      scales.push_back(p.scale);
      zps.push_back(p.zeroPoint);
    }
    return mlir::quant::UniformQuantizedPerAxisType::get(
        r.isUnsigned ? 0u : unsigned(mlir::quant::QuantizationFlags::Signed),
        IntegerType::get(&getContext(), r.bits),
        Float32Type::get(&getContext()), scales, zps, axis, p.qmin, p.qmax);
  }

  void runOnOperation() override {
    mu::quant::ActivationRanges loaded;
    const mu::quant::ActivationRanges *ranges = table.get();
    if (!ranges) {
      if (rangesFile.empty()) {
        getOperation().emitError("mu-quantize-activations: no ranges (set ranges=FILE)");
        return signalPassFailure();
      }
      auto buf = llvm::MemoryBuffer::getFile(rangesFile);
      std::string error;
      if (!buf) {
        getOperation().emitError("cannot read ranges file '") << rangesFile << "'";
        return signalPassFailure();
      }
      if (!mu::quant::rangesFromJson((*buf)->getBuffer().str(), loaded, error)) {
        getOperation().emitError() << rangesFile << ": " << error;
        return signalPassFailure();
      }
      ranges = &loaded;
    }
    for (auto f : getOperation().getOps<func::FuncOp>())
      if (failed(runOnFunction(f, *ranges)))
        return signalPassFailure();
  }

  LogicalResult runOnFunction(func::FuncOp f, const mu::quant::ActivationRanges &ranges) {
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    Block &body = f.getBody().front();
    // Artifact names: a returned or argument tensor is known by its mu.name.
    llvm::DenseMap<Value, std::string> names = artifactTensorNames(f);
    auto ret = cast<func::ReturnOp>(body.getTerminator());
    llvm::DenseSet<Value> returned(ret.getOperands().begin(), ret.getOperands().end());
    auto rangeOf = [&](Value v) -> const mu::quant::ActivationRange * {
      auto it = names.find(v);
      if (it == names.end())
        return nullptr;
      auto r = ranges.find(it->second);
      return r == ranges.end() ? nullptr : &r->second;
    };
    auto withElement = [](Value v, Type et) {
      return RankedTensorType::get(cast<RankedTensorType>(v.getType()).getShape(), et);
    };
    auto named = [&](Location loc, const std::string &name) {
      if (auto nl = dyn_cast<NameLoc>(loc))
        loc = nl.getChildLoc();
      return NameLoc::get(StringAttr::get(ctx, name), loc);
    };
    // Quantized view of each float activation, made once.
    llvm::DenseMap<std::pair<Value, Type>, Value> quantized;
    auto quantize = [&](Value x, Type qt) -> Value {
      // The producer already yields this integer tensor: use it.
      if (auto dq = x.getDefiningOp<muk::DequantizeOp>())
        if (cast<RankedTensorType>(dq->getOperand(0).getType()).getElementType() == qt)
          return dq->getOperand(0);
      auto key = std::make_pair(x, qt);
      if (Value q = quantized.lookup(key))
        return q;
      if (Operation *d = x.getDefiningOp())
        b.setInsertionPointAfter(d);
      else
        b.setInsertionPointToStart(&body);
      OperationState st(named(x.getLoc(), names.lookup(x) + ".q"), "muk.quantize");
      st.addOperands(x);
      st.addTypes(withElement(x, qt));
      Value q = b.create(st)->getResult(0);
      quantized[key] = q;
      return q;
    };

    SmallVector<muk::LinearOp> linears(body.getOps<muk::LinearOp>());
    for (muk::LinearOp lin : linears) {
      Value x = lin->getOperand(0), w = lin->getOperand(1);
      auto wType = cast<RankedTensorType>(w.getType());
      SmallVector<double> ws = weightScales(w, wType.getDimSize(0));
      bool blocked = ws.empty() && isBlockWeight(w);
      const mu::quant::ActivationRange *xr = rangeOf(x);
      if ((ws.empty() && !blocked) || !xr)
        continue;
      auto absent = lin->getAttrOfType<DenseI32ArrayAttr>("absent");
      bool hasBias = !absent || !llvm::is_contained(absent.asArrayRef(), 2);
      Type xq = quantType(*xr);
      double sx = cast<mlir::quant::UniformQuantizedType>(xq).getScale();
      SmallVector<Value> operands{Value(), w};
      if (hasBias && blocked) {
        operands.push_back(lin->getOperand(2)); // block-wise: the bias stays f32
      } else if (hasBias) {
        // int32 bias at scale s_x * s_w[c] (a constant bias only).
        Value bias = lin->getOperand(2);
        ElementsAttr battr = constantValue(bias);
        std::vector<float> bf = battr ? constantFloats(battr) : std::vector<float>();
        if (bf.size() != ws.size())
          continue; // non-constant bias: keep this linear in float
        SmallVector<double> bs;
        std::vector<int32_t> bq;
        for (size_t c = 0; c < bf.size(); ++c) {
          double s = sx * ws[c];
          bs.push_back(s);
          double q = std::nearbyint(double(bf[c]) / s);
          bq.push_back(int32_t(std::clamp<double>(q, INT32_MIN, INT32_MAX)));
        }
        auto storage = RankedTensorType::get({int64_t(bq.size())}, b.getI32Type());
        b.setInsertionPoint(lin);
        Value qc = ConstantOp::create(
            b, lin.getLoc(), DenseElementsAttr::get(storage, ArrayRef<int32_t>(bq)));
        SmallVector<int64_t> zps(bs.size(), 0);
        Type bqt = mlir::quant::UniformQuantizedPerAxisType::get(
            mlir::quant::QuantizationFlags::Signed, b.getI32Type(), b.getF32Type(), bs, zps, 0,
            INT32_MIN, INT32_MAX);
        operands.push_back(mlir::quant::StorageCastOp::create(
            b, lin.getLoc(), RankedTensorType::get({int64_t(bq.size())}, bqt), qc));
      }

      // Quantize the input only once the linear is known to become integer.
      operands[0] = quantize(x, xq);
      Value y = lin.getResult(0);
      const mu::quant::ActivationRange *yr = returned.contains(y) ? nullptr : rangeOf(y);
      auto yShape = cast<RankedTensorType>(y.getType()).getShape();
      Type yType = y.getType();
      if (yr && !yr->channelLo.empty() && !yShape.empty() &&
          int64_t(yr->channelLo.size()) == yShape.back())
        yType = withElement(y, channelQuantType(*yr, int32_t(yShape.size() - 1)));
      else if (yr)
        yType = withElement(y, quantType(*yr));
      b.setInsertionPoint(lin);
      OperationState st(lin.getLoc(), "muk.linear");
      st.addOperands(operands);
      st.addTypes(yType);
      st.addAttributes(lin->getAttrs());
      Operation *nl = b.create(st);
      Value ny = nl->getResult(0);
      if (yr) {
        OperationState dq(named(lin.getLoc(), names.lookup(y) + ".dq"), "muk.dequantize");
        dq.addOperands(ny);
        dq.addTypes(y.getType());
        ny = b.create(dq)->getResult(0);
      }
      y.replaceAllUsesWith(ny);
      lin.erase();
    }
    return success();
  }

};

} // namespace

std::unique_ptr<Pass>
mu::createQuantizeActivations(const QuantizeActivationsOptions &options,
                              std::shared_ptr<const mu::quant::ActivationRanges> ranges) {
  return std::make_unique<QuantizeActivationsPass>(options, std::move(ranges));
}
