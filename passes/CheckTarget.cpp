//===- CheckTarget.cpp - kernel programs against a target description ----===//
///
/// \file
/// Checks every kernel op of every program against the target file: the op
/// must be listed (or covered by "*"), each operand and result's element
/// class (float, i8, u8, i16, u16, i32, i64, bool) must be allowed for its
/// role (inputs, weights = constants, outputs), ranks must not exceed the
/// target's, and quantized tensors must follow the scheme's encodings
/// (signedness, bits, symmetric zero point, per-tensor activations, weight
/// granularity and block sizes, power-of-two scales) and the target's fixed
/// output encodings. Every violation is collected, with the node name.
/// With CPU fallback each violating op is assigned to the host CPU
/// (`muk.device = "cpu"`), so the artifact records the partition; without
/// it the pass fails after reporting them all.
///
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"
#include "passes/PatternUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "llvm/Support/FormatVariadic.h"

#include <cmath>
#include <cstdio>

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_CHECKTARGET
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// The target's element class of a tensor type.
std::string elementClass(Type t) {
  Type e = cast<ShapedType>(t).getElementType();
  if (auto q = dyn_cast<mlir::quant::QuantizedType>(e))
    return (q.isSigned() ? "i" : "u") + std::to_string(q.getStorageTypeIntegralWidth());
  if (isa<FloatType>(e))
    return "float";
  if (e.isInteger(1))
    return "bool";
  if (auto i = dyn_cast<IntegerType>(e))
    return (i.isUnsigned() ? "u" : "i") + std::to_string(i.getWidth());
  return "?";
}

bool isPowerOfTwo(double s) {
  if (!(s > 0))
    return false;
  int e;
  return std::frexp(s, &e) == 0.5;
}

/// Data movement: no arithmetic, so no quantization rule of its own.
bool isDataMovement(StringRef kind) {
  return kind == "reshape" || kind == "transpose" || kind == "slice" || kind == "concat" ||
         kind == "split" || kind == "broadcast_to";
}

/// Multiply-accumulates of a linear/matmul per call, dynamic dims as 1.
double macsOf(Operation *op) {
  auto dims = [](Value v) { return cast<RankedTensorType>(v.getType()).getShape(); };
  auto prod = [](ArrayRef<int64_t> d, size_t drop) {
    double n = 1;
    for (size_t i = 0; i + drop < d.size(); ++i)
      n *= d[i] < 0 ? 1 : double(d[i]);
    return n;
  };
  if (isa<muk::LinearOp>(op)) {
    auto w = dims(op->getOperand(1));
    return prod(dims(op->getOperand(0)), 1) * double(w[0]) * double(w[1]);
  }
  if (isa<muk::MatmulOp>(op)) {
    auto a = dims(op->getOperand(0)), b = dims(op->getOperand(1));
    if (a.empty() || b.empty())
      return 0;
    return prod(a, 0) * (b.back() < 0 ? 1 : double(b.back()));
  }
  return 0;
}

struct CheckTargetPass : mu::impl::CheckTargetBase<CheckTargetPass> {
  using CheckTargetBase::CheckTargetBase;
  CheckTargetPass(const CheckTargetOptions &o, std::shared_ptr<const mu::target::Target> t,
                  std::shared_ptr<mu::target::TargetCheckResult> r)
      : CheckTargetBase(o), tgt(std::move(t)), result(std::move(r)) {}

  std::shared_ptr<const mu::target::Target> tgt;
  std::shared_ptr<mu::target::TargetCheckResult> result;

  void runOnOperation() override {
    mu::target::Target loaded;
    const mu::target::Target *t = tgt.get();
    if (!t) {
      std::string error;
      if (targetFile.empty()) {
        getOperation().emitError("mu-check-target: no target (set target-file=FILE)");
        return signalPassFailure();
      }
      if (!mu::target::loadTargetFile(targetFile, loaded, error)) {
        getOperation().emitError(error);
        return signalPassFailure();
      }
      t = &loaded;
    }
    const mu::target::SchemeRule *rule = t->scheme(scheme.empty() ? t->defaultScheme : scheme);
    if (!rule) {
      getOperation().emitError("mu-check-target: scheme '")
          << scheme << "' is not allowed by target '" << t->name << "' (" << t->schemeList() << ")";
      return signalPassFailure();
    }
    mu::target::TargetCheckResult local;
    mu::target::TargetCheckResult &res = result ? *result : local;
    res = mu::target::TargetCheckResult();
    res.target = t->name;
    res.fallback = t->cpuFallback && !noFallback;
    for (auto f : getOperation().getOps<func::FuncOp>())
      checkFunction(f, *t, *rule, res);
    if (!res.fallback && !res.violations.empty())
      return signalPassFailure();
  }

  void checkFunction(func::FuncOp f, const mu::target::Target &t,
                     const mu::target::SchemeRule &rule, mu::target::TargetCheckResult &res) {
    Block &body = f.getBody().front();
    llvm::DenseMap<Value, std::string> names = muk::kernelResultNames(body);
    MLIRContext *ctx = &getContext();
    const mu::target::OpRule *any = nullptr;
    if (auto it = t.ops.find("*"); it != t.ops.end())
      any = &it->second;
    for (Operation &op : body) {
      if (op.getDialect() == nullptr || op.getDialect()->getNamespace() != "muk")
        continue;
      StringRef kind = op.getName().stripDialect();
      std::string node = op.getNumResults() ? names.lookup(op.getResult(0)) : kind.str();
      std::vector<std::string> why;
      auto found = t.ops.find(kind.str());
      const mu::target::OpRule *r = found != t.ops.end() ? &found->second : any;
      if (!r)
        why.push_back("op '" + kind.str() + "' is not supported");
      auto checkClass = [&](Value v, const char *role, unsigned i,
                            const std::vector<std::string> &allowed) {
        std::string c = elementClass(v.getType());
        if (!allowed.empty() && !llvm::is_contained(allowed, c)) {
          std::string list;
          for (const std::string &a : allowed)
            list += (list.empty() ? "" : ", ") + a;
          why.push_back(llvm::formatv("{0} {1} is {2} (allowed: {3})", role, i, c, list).str());
        }
        if (cast<RankedTensorType>(v.getType()).getRank() > t.maxRank)
          why.push_back(llvm::formatv("{0} {1} has rank {2} (max {3})", role, i,
                                      cast<RankedTensorType>(v.getType()).getRank(), t.maxRank)
                            .str());
      };
      for (auto [i, v] : llvm::enumerate(op.getOperands())) {
        // The in-place cache position of attention (mu-static-shapes) is an
        // index the cache update reads, not a tensor the op computes on.
        auto vt = cast<RankedTensorType>(v.getType());
        if (kind == "attention" && vt.getRank() == 0 && vt.getElementType().isInteger(64))
          continue;
        bool weight = isStoredWeight(v);
        if (r)
          checkClass(v, weight ? "weight" : "input", unsigned(i), weight ? r->weights : r->inputs);
        if (weight)
          checkWeight(v, rule, why);
      }
      for (auto [i, v] : llvm::enumerate(op.getResults())) {
        if (r)
          checkClass(v, "output", unsigned(i), r->outputs);
        if (!isDataMovement(kind))
          checkActivation(v, kind, t, rule, why);
      }
      double macs = macsOf(&op);
      bool onCpu = !why.empty() && res.fallback;
      for (const std::string &w : why) {
        mu::target::TargetViolation v;
        v.program = f.getSymName().str();
        v.node = node;
        v.op = kind.str();
        v.detail = w;
        if (!res.fallback)
          op.emitError() << "target '" << t.name << "': " << v.message();
        res.violations.push_back(std::move(v));
      }
      mu::target::TargetCheckResult::Counts &c = onCpu ? res.cpu : res.onTarget;
      c.ops++;
      c.macs += macs;
      if (onCpu)
        op.setAttr("muk.device", StringAttr::get(ctx, "cpu"));
      else
        op.removeAttr("muk.device");
    }
    // Boundaries: values produced on one device and read on the other.
    auto deviceOf = [](Operation *o) { return o->hasAttr("muk.device") ? 1 : 0; };
    for (Operation &op : body) {
      if (op.getDialect() == nullptr || op.getDialect()->getNamespace() != "muk")
        continue;
      for (Value v : op.getResults()) {
        bool crosses = false;
        for (Operation *u : v.getUsers())
          if (u->getDialect() && u->getDialect()->getNamespace() == "muk" &&
              deviceOf(u) != deviceOf(&op))
            crosses = true;
        res.boundaries += crosses;
      }
    }
  }

  /// Weight encodings of the scheme: granularity, blocks, power-of-two.
  void checkWeight(Value v, const mu::target::SchemeRule &rule, std::vector<std::string> &why) {
    auto et = cast<RankedTensorType>(v.getType()).getElementType();
    auto q = dyn_cast<mlir::quant::QuantizedType>(et);
    if (!q || q.getStorageTypeIntegralWidth() == 32) // float weights, int32 biases
      return;
    SmallVector<double> scales;
    if (auto pa = dyn_cast<mlir::quant::UniformQuantizedPerAxisType>(et)) {
      if (rule.weights.granularity == mu::target::Granularity::Tensor)
        why.push_back("weight is per-channel; the target wants one scale per tensor");
      scales.assign(pa.getScales().begin(), pa.getScales().end());
    } else if (auto sc = dyn_cast<mlir::quant::UniformQuantizedSubChannelType>(et)) {
      int64_t block = sc.getBlockSizes().empty() ? 0 : sc.getBlockSizes().back();
      if (!llvm::is_contained(rule.weights.blockSizes, block))
        why.push_back(llvm::formatv("weight is block-wise (block {0}); the target allows {1}",
                                    block,
                                    rule.weights.blockSizes.empty() ? std::string("none")
                                                                    : std::string("other sizes"))
                          .str());
    } else if (auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et)) {
      scales.push_back(u.getScale());
    }
    if (int(q.getStorageTypeIntegralWidth()) != rule.weights.bits)
      why.push_back(llvm::formatv("weight is {0}-bit; the scheme's weights are {1}-bit",
                                  q.getStorageTypeIntegralWidth(), rule.weights.bits)
                        .str());
    if (rule.weights.powerOfTwo && llvm::any_of(scales, [](double s) { return !isPowerOfTwo(s); }))
      why.push_back("weight scale is not a power of two");
  }

  /// Activation encodings of the scheme and the target's fixed encodings.
  void checkActivation(Value v, StringRef kind, const mu::target::Target &t,
                       const mu::target::SchemeRule &rule, std::vector<std::string> &why) {
    auto et = cast<RankedTensorType>(v.getType()).getElementType();
    auto q = dyn_cast<mlir::quant::QuantizedType>(et);
    if (!q || q.getStorageTypeIntegralWidth() == 32)
      return;
    for (const mu::target::FixedEncoding &fe : t.fixedEncodings) {
      if (fe.op != kind || fe.bits != int(q.getStorageTypeIntegralWidth()) ||
          fe.isUnsigned == q.isSigned())
        continue;
      auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et);
      if (!u || std::fabs(u.getScale() - fe.scale) > 1e-9 * fe.scale ||
          u.getZeroPoint() != fe.zeroPoint) {
        char scale[32];
        std::snprintf(scale, sizeof scale, "%.9g", fe.scale);
        why.push_back(llvm::formatv("output must have the fixed encoding scale {0} zero point {1}",
                                    scale, fe.zeroPoint)
                          .str());
      }
    }
    if (!rule.activations)
      return; // weight-only scheme: integer activations are not expected
    const mu::target::ActivationRule &a = *rule.activations;
    bool wantUnsigned = a.encoding == mu::target::ActEncoding::UintAsymmetric;
    int bits = int(q.getStorageTypeIntegralWidth());
    if (q.isSigned() == wantUnsigned)
      why.push_back(llvm::formatv("activation is {0}{1}; the target encodes activations as {2}",
                                  q.isSigned() ? "i" : "u", bits,
                                  mu::target::actEncodingName(a.encoding))
                        .str());
    SmallVector<double> scales;
    SmallVector<int64_t> zps;
    if (auto pa = dyn_cast<mlir::quant::UniformQuantizedPerAxisType>(et)) {
      if (a.granularity == mu::target::Granularity::Tensor)
        why.push_back("activation is per-channel; the target wants per-tensor activations");
      scales.assign(pa.getScales().begin(), pa.getScales().end());
      zps.assign(pa.getZeroPoints().begin(), pa.getZeroPoints().end());
    } else if (auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et)) {
      scales.push_back(u.getScale());
      zps.push_back(u.getZeroPoint());
    }
    if (a.encoding == mu::target::ActEncoding::IntSymmetric &&
        llvm::any_of(zps, [](int64_t z) { return z != 0; }))
      why.push_back("activation has a non-zero zero point; the target's are symmetric");
    if (a.powerOfTwo && llvm::any_of(scales, [](double s) { return !isPowerOfTwo(s); }))
      why.push_back("activation scale is not a power of two");
  }
};

} // namespace

std::unique_ptr<Pass> mu::createCheckTarget(const CheckTargetOptions &options,
                                            std::shared_ptr<const mu::target::Target> target,
                                            std::shared_ptr<mu::target::TargetCheckResult> result) {
  return std::make_unique<CheckTargetPass>(options, std::move(target), std::move(result));
}
