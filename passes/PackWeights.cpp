//===- PackWeights.cpp - choose the packed layout for int8 weights --------===//
///
/// \file
/// Marks int8 linear weights that the CPU kernels read packed (I8N16K4, see
/// include/mu/runtime/Packing.h). The bytes are rearranged by the `.mub`
/// writer; the IR keeps the logical [out, in] tensor, so every other pass
/// and the printed IR are unchanged.
///
//===----------------------------------------------------------------------===//
#include "passes/Passes.h"

#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"

using namespace mlir;

namespace mu {
#define GEN_PASS_DEF_PACKWEIGHTS
#include "passes/Passes.h.inc"
} // namespace mu

using namespace mu;

namespace {

/// Symmetric int8 with one scale per tensor or per output channel (axis 0).
bool packableWeightType(Type t) {
  auto et = cast<RankedTensorType>(t).getElementType();
  if (auto pa = dyn_cast<mlir::quant::UniformQuantizedPerAxisType>(et))
    return pa.getQuantizedDimension() == 0 && pa.getStorageTypeIntegralWidth() == 8 &&
           pa.isSigned() && llvm::all_of(pa.getZeroPoints(), [](int64_t z) { return z == 0; });
  if (auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et))
    return u.getStorageTypeIntegralWidth() == 8 && u.isSigned() && u.getZeroPoint() == 0;
  return false;
}

/// An 8- or 16-bit quantized activation, signed or unsigned (what the
/// packed kernels read).
bool integerActivation(Type t) {
  auto q = dyn_cast<mlir::quant::UniformQuantizedType>(cast<RankedTensorType>(t).getElementType());
  return q && (q.getStorageTypeIntegralWidth() == 8 || q.getStorageTypeIntegralWidth() == 16);
}

/// Whether every read of the quantized view `v` is a packable one, and at
/// least one is a linear.
bool packableUses(Value v, bool &linear) {
  for (OpOperand &use : v.getUses()) {
    Operation *user = use.getOwner();
    if (isa<muk::LinearOp>(user) && use.getOperandNumber() == 1 &&
        integerActivation(user->getOperand(0).getType())) {
      linear = true;
      continue;
    }
    if (isa<muk::GatherOp>(user) && use.getOperandNumber() == 0) {
      auto ints = user->getAttrOfType<DenseI64ArrayAttr>("ints");
      if (!ints || ints.empty() || ints[0] == 0 || ints[0] == -2)
        continue;
    }
    return false;
  }
  return true;
}

/// The constant's bytes hold no -128.
bool inPackedRange(ConstantOp c) {
  if (auto dense = dyn_cast<DenseIntElementsAttr>(c.getValue()))
    return llvm::none_of(dense.getValues<int8_t>(), [](int8_t v) { return v == -128; });
  auto res = dyn_cast<DenseResourceElementsAttr>(c.getValue());
  AsmResourceBlob *blob = res ? res.getRawHandle().getBlob() : nullptr;
  if (!blob)
    return false;
  return llvm::none_of(blob->getData(), [](char b) { return static_cast<int8_t>(b) == -128; });
}

struct PackWeightsPass : mu::impl::PackWeightsBase<PackWeightsPass> {
  void runOnOperation() override {
    getOperation().walk([&](ConstantOp c) {
      auto type = dyn_cast<RankedTensorType>(c.getType());
      if (!type || type.getRank() != 2 || !type.getElementType().isSignlessInteger(8))
        return;
      bool linear = false;
      for (Operation *user : c->getUsers()) {
        auto sc = dyn_cast<mlir::quant::StorageCastOp>(user);
        if (!sc || !packableWeightType(sc.getType()) || !packableUses(sc.getResult(), linear))
          return;
      }
      if (linear && inPackedRange(c))
        c->setAttr("muk.layout", StringAttr::get(c.getContext(), "i8n16k4"));
    });
  }
};

} // namespace
