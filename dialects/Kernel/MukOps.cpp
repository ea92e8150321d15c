//===- MukOps.cpp - the muk kernel-program dialect -------------------------===//
#include "dialects/Kernel/MukOps.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/ImplicitLocOpBuilder.h"

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
