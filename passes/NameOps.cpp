//===- NameOps.cpp - stable, readable names for every graph op ------------===//
///
/// \file
/// Gives each op of the mu graph a unique `NameLoc`. Ops that read a named
/// weight take the weight's module path ("model.layers.0.self_attn.q_proj"
/// from "...q_proj.weight"); other ops are named after the module of the
/// last weight-reading op before them plus their kind
/// ("model.layers.0.self_attn.rope", "...rope#1"). Names survive cloning
/// (KV-cache programs) and lowering, so calibration statistics gathered on
/// one program apply to the same tensors of every program, and artifacts,
/// dumps and reports speak the checkpoint's vocabulary.
///
//===----------------------------------------------------------------------===//
#include "passes/PatternUtils.h"
#include "passes/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/ADT/StringSet.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_NAMEOPS
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// The resource key of the weight behind `v` (looking through casts), or "".
std::string weightKey(Value v) {
  while (v && v.getDefiningOp<CastOp>())
    v = v.getDefiningOp<CastOp>().getInput();
  auto c = v ? v.getDefiningOp<ConstantOp>() : ConstantOp();
  if (!c)
    return "";
  if (auto r = dyn_cast<DenseResourceElementsAttr>(c.getValue()))
    return r.getRawHandle().getKey().str();
  return "";
}

/// The module path of a weight-reading op ("" if it reads none).
std::string moduleName(Operation *op) {
  Value w;
  if (auto l = dyn_cast<LinearOp>(op))
    w = l.getWeight();
  else if (auto n = dyn_cast<RmsNormOp>(op))
    w = n.getWeight();
  else if (auto n = dyn_cast<LayerNormOp>(op))
    w = n.getWeight();
  else if (auto g = dyn_cast<GatherOp>(op))
    w = g.getData();
  std::string key = w ? weightKey(w) : "";
  StringRef k(key);
  for (StringRef suffix : {".weight", ".bias", ".table"})
    if (k.ends_with(suffix))
      return k.drop_back(suffix.size()).str();
  return key;
}

struct NameOpsPass : mu::impl::NameOpsBase<NameOpsPass> {
  void runOnOperation() override {
    for (auto f : getOperation().getOps<func::FuncOp>()) {
      llvm::StringSet<> used;
      std::string scope;
      auto unique = [&](std::string base) {
        std::string name = base;
        for (int k = 1; used.contains(name); ++k)
          name = base + "#" + std::to_string(k);
        used.insert(name);
        return name;
      };
      for (Operation &op : f.getBody().front()) {
        if (isa<ConstantOp, func::ReturnOp>(op))
          continue;
        std::string base;
        if (auto nl = dyn_cast<NameLoc>(op.getLoc())) {
          base = nl.getName().str();
        } else if (std::string m = moduleName(&op); !m.empty()) {
          base = m;
          size_t dot = m.rfind('.');
          scope = dot == std::string::npos ? "" : m.substr(0, dot);
        } else {
          std::string kind = op.getName().stripDialect().str();
          base = scope.empty() ? kind : scope + "." + kind;
        }
        std::string name = unique(base);
        Location inner = op.getLoc();
        if (auto nl = dyn_cast<NameLoc>(inner))
          inner = nl.getChildLoc();
        op.setLoc(NameLoc::get(StringAttr::get(&getContext(), name), inner));
      }
    }
  }
};

} // namespace
