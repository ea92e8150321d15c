//===- SmoothQuant.cpp - migrate activation outliers into weights ---------===//
///
/// \file
/// SmoothQuant (Xiao et al., 2023) on the mu graph: for an activation X that
/// only feeds linear layers and whose producer can absorb a per-channel
/// scale, pick s_j = max|X_j|^alpha / max|W_:j|^(1-alpha) over all consuming
/// weights W, divide the producer's output channel j by s_j and multiply
/// column j of every consuming weight by s_j. The float function is
/// unchanged (up to weight rounding); X's outlier channels shrink, so one
/// per-tensor activation scale fits it better. Foldable producers:
/// rms_norm / layer_norm with a constant weight (and bias), and glu, whose
/// `up` input is a linear with a constant weight (its rows j scale).
/// Weights are rewritten once per constant and shared by every function.
///
//===----------------------------------------------------------------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <set>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_SMOOTHQUANT
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// The constant op behind `v` (through casts), or null.
ConstantOp constantOf(Value v) {
  while (v && v.getDefiningOp<CastOp>())
    v = v.getDefiningOp<CastOp>().getInput();
  return v ? v.getDefiningOp<ConstantOp>() : ConstantOp();
}

struct SmoothQuantPass : mu::impl::SmoothQuantBase<SmoothQuantPass> {
  using SmoothQuantBase::SmoothQuantBase;
  SmoothQuantPass(const SmoothQuantOptions &o,
                  std::shared_ptr<const mu::quant::CalibrationStats> s,
                  std::shared_ptr<mu::quant::SmoothingFactors> f)
      : SmoothQuantBase(o), stats(std::move(s)), factors(std::move(f)) {}

  std::shared_ptr<const mu::quant::CalibrationStats> stats;
  std::shared_ptr<mu::quant::SmoothingFactors> factors; ///< in: given; out: applied

  void runOnOperation() override {
    mu::quant::CalibrationStats loaded;
    const mu::quant::CalibrationStats *st = stats.get();
    if (!st && !statsFile.empty()) {
      auto buf = llvm::MemoryBuffer::getFile(statsFile);
      std::string error;
      if (!buf || !mu::quant::CalibrationStats::fromJson((*buf)->getBuffer().str(), loaded, error)) {
        getOperation().emitError("cannot read calibration statistics '") << statsFile << "' " << error;
        return signalPassFailure();
      }
      st = &loaded;
    }
    if (!factors)
      factors = std::make_shared<mu::quant::SmoothingFactors>();
    bool given = !factors->empty();
    if (!given && !st) {
      getOperation().emitError("mu-smooth-quant: needs calibration statistics (stats=FILE)");
      return signalPassFailure();
    }
    // New value of each rewritten constant, and how it is to be scaled:
    // (channel scale per column, or per row when `rows`).
    llvm::DenseMap<Attribute, std::vector<float>> newValues;
    llvm::DenseMap<Attribute, ConstantOp> owner;
    auto valuesOf = [&](ConstantOp c) -> std::vector<float> * {
      auto it = newValues.find(c.getValue());
      if (it == newValues.end()) {
        std::vector<float> v = constantFloats(c.getValue());
        if (v.empty())
          return nullptr;
        it = newValues.insert({c.getValue(), std::move(v)}).first;
        owner[c.getValue()] = c;
      }
      return &it->second;
    };
    llvm::DenseSet<Attribute> touched;
    std::set<std::string> applied;
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      for (Operation &op : f.getBody().front()) {
        auto nl = dyn_cast<NameLoc>(op.getLoc());
        if (!nl || op.getNumResults() != 1 || !isa<RmsNormOp, LayerNormOp, GluOp>(op))
          continue;
        std::string name = nl.getName().str();
        Value x = op.getResult(0);
        // Every user is a linear reading x as its input, with a constant
        // 2-d weight used by nothing but linears.
        SmallVector<std::pair<LinearOp, ConstantOp>> users;
        bool ok = !x.use_empty();
        for (Operation *u : x.getUsers()) {
          auto lin = dyn_cast<LinearOp>(u);
          ConstantOp w = lin && lin.getInput() == x ? constantOf(lin.getWeight()) : ConstantOp();
          if (!w || cast<RankedTensorType>(w.getType()).getRank() != 2) {
            ok = false;
            break;
          }
          for (Operation *wu : w->getUsers())
            if (!isa<LinearOp, CastOp>(wu))
              ok = false; // e.g. a tied embedding table also gathered
          users.push_back({lin, w});
        }
        if (!ok)
          continue;
        int64_t C = cast<RankedTensorType>(x.getType()).getShape().back();
        // The producer's foldable constants: scaled along their last dim
        // (norm weight/bias) or by rows (the up projection of a glu).
        SmallVector<ConstantOp> perChannel, perRow;
        if (auto n = dyn_cast<RmsNormOp>(op)) {
          if (!n.getWeight() || !constantOf(n.getWeight()))
            continue;
          perChannel.push_back(constantOf(n.getWeight()));
        } else if (auto n = dyn_cast<LayerNormOp>(op)) {
          if (!n.getWeight() || !constantOf(n.getWeight()))
            continue;
          perChannel.push_back(constantOf(n.getWeight()));
          if (n.getBias()) {
            if (!constantOf(n.getBias()))
              continue;
            perChannel.push_back(constantOf(n.getBias()));
          }
        } else if (auto g = dyn_cast<GluOp>(op)) {
          auto up = g.getUp().getDefiningOp<LinearOp>();
          if (!up || !up->hasOneUse() || !constantOf(up.getWeight()))
            continue;
          perRow.push_back(constantOf(up.getWeight()));
          if (up.getBias()) {
            if (!constantOf(up.getBias()))
              continue;
            perChannel.push_back(constantOf(up.getBias()));
          }
        }
        // Factors: given (from a statistics file), or computed once.
        std::vector<double> s;
        auto given_ = factors->find(name);
        if (given_ != factors->end()) {
          s = given_->second;
        } else if (!given && st) {
          auto it = st->tensors.find(name);
          if (it == st->tensors.end() || int64_t(it->second.chMax.size()) != C)
            continue;
          std::vector<double> wmax(size_t(C), 0.0);
          for (auto &[lin, w] : users) {
            std::vector<float> *wv = valuesOf(w);
            if (!wv)
              continue;
            for (size_t i = 0; i < wv->size(); ++i)
              wmax[i % size_t(C)] = std::max(wmax[i % size_t(C)], double(std::fabs((*wv)[i])));
          }
          s.resize(size_t(C), 1.0);
          for (int64_t j = 0; j < C; ++j) {
            double a = std::max(std::fabs(double(it->second.chMin[size_t(j)])),
                                std::fabs(double(it->second.chMax[size_t(j)])));
            if (a > 0 && wmax[size_t(j)] > 0)
              s[size_t(j)] = std::clamp(std::pow(a, double(alpha)) /
                                            std::pow(wmax[size_t(j)], 1.0 - double(alpha)),
                                        1e-4, 1e4);
          }
        } else {
          continue;
        }
        if (int64_t(s.size()) != C)
          continue;
        // Each tensor is smoothed once: the cloned programs share its
        // constants. Scalings of one constant by several tensors compose
        // (e.g. up_proj: columns by the norm's s, rows by the glu's s).
        if (applied.count(name))
          continue;
        SmallVector<ConstantOp> all(perChannel.begin(), perChannel.end());
        all.append(perRow.begin(), perRow.end());
        for (auto &u : users)
          all.push_back(u.second);
        bool readable = llvm::all_of(all, [&](ConstantOp c) { return valuesOf(c) != nullptr; });
        if (!readable)
          continue;
        for (ConstantOp c : perChannel) {
          std::vector<float> &v = *valuesOf(c);
          for (size_t i = 0; i < v.size(); ++i)
            v[i] = float(v[i] / s[i % size_t(C)]);
        }
        for (ConstantOp c : perRow) {
          std::vector<float> &v = *valuesOf(c);
          size_t cols = v.size() / size_t(C);
          for (size_t i = 0; i < v.size(); ++i)
            v[i] = float(v[i] / s[i / cols]);
        }
        for (auto &u : users) {
          std::vector<float> &v = *valuesOf(u.second);
          for (size_t i = 0; i < v.size(); ++i)
            v[i] = float(v[i] * s[i % size_t(C)]);
        }
        for (ConstantOp c : all)
          touched.insert(c.getValue());
        applied.insert(name);
        (*factors)[name] = s;
      }
    }
    // Swap in the rewritten constants everywhere they are used.
    llvm::DenseMap<Attribute, ElementsAttr> replacement;
    for (auto &[attr, values] : newValues) {
      if (!touched.contains(attr))
        continue;
      ConstantOp c = owner[attr];
      std::string key = "smoothed";
      if (auto r = dyn_cast<DenseResourceElementsAttr>(attr))
        key = r.getRawHandle().getKey().str() + ".smoothed";
      replacement[attr] =
          makeFloatConstant(cast<RankedTensorType>(c.getType()), values, key);
    }
    getOperation().walk([&](ConstantOp c) {
      auto it = replacement.find(c.getValue());
      if (it != replacement.end())
        c.setValueAttr(it->second);
    });
  }
};

} // namespace

std::unique_ptr<Pass>
mu::createSmoothQuant(const SmoothQuantOptions &options,
                      std::shared_ptr<const mu::quant::CalibrationStats> stats,
                      std::shared_ptr<mu::quant::SmoothingFactors> factors) {
  return std::make_unique<SmoothQuantPass>(options, std::move(stats), std::move(factors));
}
