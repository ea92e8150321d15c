//===- QuantizeWeights.cpp - per-channel weight-only quantization ---------===//
#include "mu/Quant/Quantize.h"
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/Threading.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_QUANTIZEWEIGHTS
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// Operand slots that read a stored weight: linear weight, gather table.
bool isWeightSlot(OpOperand &use) {
  Operation *user = use.getOwner();
  if (isa<muk::LinearOp>(user))
    return use.getOperandNumber() == 1;
  if (isa<muk::GatherOp>(user))
    return use.getOperandNumber() == 0;
  return false;
}

struct QuantizeWeightsPass : mu::impl::QuantizeWeightsBase<QuantizeWeightsPass> {
  using QuantizeWeightsBase::QuantizeWeightsBase;
  QuantizeWeightsPass(const QuantizeWeightsOptions &o,
                      std::shared_ptr<const mu::quant::CalibrationStats> s)
      : QuantizeWeightsBase(o), stats(std::move(s)) {}

  std::shared_ptr<const mu::quant::CalibrationStats> stats;

  /// Bias correction: the quantized weight's expected output error on the
  /// calibration inputs, E[(W - Wq) x] = (W - Wq) E[x], is added to the
  /// bias of every linear reading `view` (a bias is created when absent).
  void correctBiases(Value view, const std::vector<float> &err,
                     const llvm::DenseMap<Value, std::string> &names, OpBuilder &b) {
    auto wt = cast<RankedTensorType>(view.getType());
    int64_t rows = wt.getDimSize(0), cols = wt.getDimSize(1);
    for (Operation *u : llvm::make_early_inc_range(view.getUsers())) {
      auto lin = dyn_cast<muk::LinearOp>(u);
      if (!lin || lin->getOperand(1) != view)
        continue;
      auto n = names.find(lin->getOperand(0));
      if (n == names.end())
        continue;
      auto it = stats->tensors.find(n->second);
      if (it == stats->tensors.end() || int64_t(it->second.chSum.size()) != cols ||
          it->second.count == 0)
        continue;
      double count = double(it->second.count) / double(cols);
      std::vector<float> delta(size_t(rows), 0.0f);
      for (int64_t r = 0; r < rows; ++r) {
        double d = 0;
        for (int64_t k = 0; k < cols; ++k)
          d += double(err[size_t(r * cols + k)]) * (it->second.chSum[size_t(k)] / count);
        delta[size_t(r)] = float(d);
      }
      auto absent = lin->getAttrOfType<DenseI32ArrayAttr>("absent");
      bool hasBias = !absent || !llvm::is_contained(absent.asArrayRef(), 2);
      std::vector<float> bias(size_t(rows), 0.0f);
      if (hasBias) {
        ElementsAttr ba = constantValue(lin->getOperand(2));
        std::vector<float> old = ba ? constantFloats(ba) : std::vector<float>();
        if (old.size() != size_t(rows))
          continue; // a computed bias: leave it
        bias = old;
      }
      for (int64_t r = 0; r < rows; ++r)
        bias[size_t(r)] += delta[size_t(r)];
      b.setInsertionPoint(lin);
      auto bt = RankedTensorType::get({rows}, b.getF32Type());
      std::string key = "bias_correction";
      if (auto nl = dyn_cast<NameLoc>(lin.getLoc()))
        key = nl.getName().str() + ".bias_corrected";
      Value bc = ConstantOp::create(b, lin.getLoc(), makeFloatConstant(bt, bias, key));
      if (hasBias) {
        lin->setOperand(2, bc);
      } else {
        lin->insertOperands(2, {bc});
        SmallVector<int32_t> rest;
        for (int32_t a : absent.asArrayRef())
          if (a != 2)
            rest.push_back(a);
        if (rest.empty())
          lin->removeAttr("absent");
        else
          lin->setAttr("absent", b.getDenseI32ArrayAttr(rest));
      }
    }
  }

  /// The Gram matrix of the input of the first linear reading `c` as its
  /// weight, if calibration recorded one of the right size.
  const mu::quant::TensorStats *gramFor(ConstantOp c, int64_t cols,
                                        const llvm::DenseMap<Value, std::string> &names) {
    if (!stats)
      return nullptr;
    for (OpOperand &use : c->getUses()) {
      auto lin = dyn_cast<muk::LinearOp>(use.getOwner());
      if (!lin || use.getOperandNumber() != 1)
        continue;
      auto n = names.find(lin->getOperand(0));
      if (n == names.end())
        continue;
      auto it = stats->tensors.find(n->second);
      if (it != stats->tensors.end() && it->second.gramDim == cols)
        return &it->second;
    }
    return nullptr;
  }

  void runOnOperation() override {
    if (bits != 8 && bits != 16) {
      getOperation().emitError("mu-quantize-weights: bits must be 8 or 16");
      return signalPassFailure();
    }
    MLIRContext *ctx = &getContext();
    OpBuilder b(ctx);
    // One quantized blob per source attribute, shared by every program.
    llvm::DenseMap<Attribute, std::pair<ElementsAttr, Type>> done;
    // Bias correction: each weight's error W - dequant(Wq), [rows, cols].
    llvm::DenseMap<Attribute, std::vector<float>> errors;
    auto isWeight = [&](ConstantOp c) {
      auto type = cast<RankedTensorType>(c.getType());
      return type.getRank() == 2 && isa<FloatType>(type.getElementType()) &&
             type.getNumElements() >= minElements && llvm::any_of(c->getUses(), isWeightSlot);
    };
    // The rounding of every distinct weight (GPTQ dominates compile time on
    // large models) runs in parallel on the context's threads; each job is
    // independent, so the result does not depend on the thread count.
    struct Job {
      Attribute key;
      std::vector<float> w;
      int64_t rows = 0, cols = 0;
      const mu::quant::TensorStats *gram = nullptr;
      mu::quant::RowQuantResult result;
    };
    std::vector<Job> jobs;
    llvm::DenseMap<Attribute, size_t> jobOf;
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      llvm::DenseMap<Value, std::string> names = muk::kernelResultNames(f.getBody().front());
      for (ConstantOp c : f.getOps<ConstantOp>()) {
        if (!isWeight(c) || jobOf.count(c.getValue()))
          continue;
        Job j;
        j.key = c.getValue();
        j.w = constantFloats(c.getValue());
        if (j.w.empty())
          continue;
        auto type = cast<RankedTensorType>(c.getType());
        j.rows = type.getDimSize(0);
        j.cols = type.getDimSize(1);
        bool blocked = blockSize > 0 && j.cols % blockSize == 0 && blockSize < j.cols;
        j.gram = blocked || !gptq ? nullptr : gramFor(c, j.cols, names);
        jobOf[j.key] = jobs.size();
        jobs.push_back(std::move(j));
      }
    }
    mlir::parallelFor(ctx, 0, jobs.size(), [&](size_t i) {
      Job &j = jobs[i];
      int64_t rows = j.rows, cols = j.cols;
      // Blocks are contiguous runs of a row: quantize [rows*cols/B, B].
      bool blocked = blockSize > 0 && cols % blockSize == 0 && blockSize < cols;
      int64_t unitRows = blocked ? rows * (cols / blockSize) : rows;
      int64_t unitCols = blocked ? int64_t(blockSize) : cols;
      const bool constrained = !blocked && (perTensor || powerOfTwo);
      const mu::quant::TensorStats *g = j.gram;
      j.result = constrained
                     ? mu::quant::quantizeRowsConstrained(j.w.data(), rows, cols, bits,
                                                          {perTensor, powerOfTwo},
                                                          g ? g->gram.data() : nullptr)
                 : g ? mu::quant::quantizeRowsGptq(j.w.data(), rows, cols, bits, g->gram.data())
                     : mu::quant::quantizeRowsMse(j.w.data(), unitRows, unitCols, bits);
    });
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      llvm::DenseMap<Value, std::string> names = muk::kernelResultNames(f.getBody().front());
      SmallVector<ConstantOp> csts(f.getOps<ConstantOp>());
      for (ConstantOp c : csts) {
        auto type = cast<RankedTensorType>(c.getType());
        if (!isWeight(c))
          continue;
        auto it = done.find(c.getValue());
        if (it == done.end()) {
          auto jit = jobOf.find(c.getValue());
          if (jit == jobOf.end())
            continue;
          Job &job = jobs[jit->second];
          const std::vector<float> &w = job.w;
          int64_t rows = job.rows, cols = job.cols;
          bool blocked = blockSize > 0 && cols % blockSize == 0 && blockSize < cols;
          int64_t unitCols = blocked ? int64_t(blockSize) : cols;
          mu::quant::RowQuantResult &r = job.result;
          Type storage = b.getIntegerType(bits);
          size_t es = bits / 8;
          AsmResourceBlob blob = HeapAsmResourceBlob::allocate(r.q.size() * es, 64);
          char *dst = blob.getMutableData().data();
          for (size_t i = 0; i < r.q.size(); ++i) {
            if (bits == 8)
              dst[i] = char(int8_t(r.q[i]));
            else {
              int16_t v = int16_t(r.q[i]);
              std::memcpy(dst + 2 * i, &v, 2);
            }
          }
          std::string name = "weight";
          if (auto res = dyn_cast<DenseResourceElementsAttr>(c.getValue()))
            name = res.getRawHandle().getKey().str();
          auto storageType = RankedTensorType::get(type.getShape(), storage);
          ElementsAttr q = DenseResourceElementsAttr::get(storageType, name + ".q" + std::to_string(bits) +
                                                          (blocked ? "b" + std::to_string(blockSize) : ""),
                                                          std::move(blob));
          if (biasCorrection && stats) {
            std::vector<float> &e = errors[c.getValue()];
            e.resize(w.size());
            for (size_t i = 0; i < w.size(); ++i)
              e[i] = float(double(w[i]) - double(r.q[i]) * r.scales[i / size_t(unitCols)]);
          }
          SmallVector<double> scales(r.scales.begin(), r.scales.end());
          SmallVector<int64_t> zps(scales.size(), 0);
          int64_t m = mu::quant::qmax(bits);
          Type qt;
          if (blocked) {
            auto st = RankedTensorType::get({rows, cols / blockSize}, b.getF32Type());
            auto zt = RankedTensorType::get({rows, cols / blockSize}, storage);
            auto sAttr = DenseElementsAttr::get(st, ArrayRef<float>(r.scales));
            auto zAttr = DenseElementsAttr::get(zt, APInt(bits, 0));
            qt = mlir::quant::UniformQuantizedSubChannelType::getChecked(
                [&] { return c.emitError("block-wise quantized type: "); },
                mlir::quant::QuantizationFlags::Signed, storage, b.getF32Type(), sAttr, zAttr,
                ArrayRef<int32_t>{0, 1}, ArrayRef<int64_t>{1, blockSize}, -m, m);
            if (!qt)
              return signalPassFailure();
          } else if (perTensor) {
            qt = mlir::quant::UniformQuantizedType::get(mlir::quant::QuantizationFlags::Signed,
                                                        storage, b.getF32Type(), scales[0], 0,
                                                        -m, m);
          } else {
            qt = mlir::quant::UniformQuantizedPerAxisType::get(
                mlir::quant::QuantizationFlags::Signed, storage, b.getF32Type(), scales, zps,
                /*quantizedDimension=*/0, -m, m);
          }
          it = done.insert({c.getValue(), {q, RankedTensorType::get(type.getShape(), qt)}}).first;
          job.w = std::vector<float>(); // written: free the copies early
          r = mu::quant::RowQuantResult();
        }
        b.setInsertionPoint(c);
        Value qc = ConstantOp::create(b, c.getLoc(), it->second.first);
        Value view = mlir::quant::StorageCastOp::create(b, c.getLoc(), it->second.second, qc);
        c.getResult().replaceUsesWithIf(view, isWeightSlot);
        if (auto e = errors.find(c.getValue()); e != errors.end())
          correctBiases(view, e->second, names, b);
        if (c.use_empty())
          c.erase();
      }
    }
  }
};

} // namespace

std::unique_ptr<Pass>
mu::createQuantizeWeights(const QuantizeWeightsOptions &options,
                          std::shared_ptr<const mu::quant::CalibrationStats> stats) {
  return std::make_unique<QuantizeWeightsPass>(options, std::move(stats));
}
