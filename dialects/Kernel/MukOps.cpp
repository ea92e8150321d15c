//===- MukOps.cpp - the muk kernel-program dialect -------------------------===//
#include "dialects/Kernel/MukOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace muk;

#include "dialects/Kernel/MukDialect.cpp.inc"

void MukDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "dialects/Kernel/MukOps.cpp.inc"
      >();
}

#define GET_OP_CLASSES
#include "dialects/Kernel/MukOps.cpp.inc"

namespace {
template <typename... Ops> StringRef nameOf(Operation *op) {
  StringRef r;
  (void)((isa<Ops>(op) ? (r = Ops::getOpcodeName(), true) : false) || ...);
  return r;
}
} // namespace

StringRef muk::opcodeName(Operation *op) {
  return nameOf<
#define GET_OP_LIST
#include "dialects/Kernel/MukOps.cpp.inc"
      >(op);
}

llvm::DenseMap<Value, std::string> muk::kernelResultNames(Block &block) {
  llvm::DenseMap<Value, std::string> names;
  llvm::StringMap<int> seen;
  for (Operation &op : block) {
    if (opcodeName(&op).empty())
      continue;
    std::string base = op.getName().stripDialect().str();
    if (auto nl = dyn_cast<NameLoc>(op.getLoc()))
      base = nl.getName().str();
    for (OpResult r : op.getResults()) {
      std::string name = base;
      if (r.getResultNumber() > 0)
        name += ":" + std::to_string(r.getResultNumber());
      std::string unique = name;
      for (int k = 1; seen.count(unique); ++k)
        unique = name + "/" + std::to_string(k);
      seen[unique] = 1;
      names[r] = unique;
    }
  }
  return names;
}
