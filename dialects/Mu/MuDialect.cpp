//===- MuDialect.cpp - mu dialect registration -----------------------------===//
#include "dialects/Mu/MuOps.h"

#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mu;

#include "dialects/Mu/MuDialect.cpp.inc"
#include "dialects/Mu/MuEnums.cpp.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/Mu/MuAttrs.cpp.inc"

void MuDialect::initialize() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "dialects/Mu/MuAttrs.cpp.inc"
      >();
  addOperations<
#define GET_OP_LIST
#include "dialects/Mu/MuOps.cpp.inc"
      >();
}

Operation *MuDialect::materializeConstant(OpBuilder &builder, Attribute value,
                                          Type type, Location loc) {
  auto elements = dyn_cast<ElementsAttr>(value);
  if (!elements || elements.getType() != type)
    return nullptr;
  return ConstantOp::create(builder, loc, elements);
}
