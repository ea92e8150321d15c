//===- PatternUtils.cpp - helpers shared by the fusion passes -------------===//
#include "passes/PatternUtils.h"

#include "mlir/IR/AsmState.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/BuiltinAttributes.h"

#include <cmath>

using namespace mlir;

namespace mu {

bool isSplat(Value v, double want, double tol) {
  double got;
  if (!v)
    return false;
  if (auto c = def<CastOp>(v))
    v = c.getInput();
  if (!matchSplatConstant(v, got))
    return false;
  if (std::isinf(want))
    return got == want;
  return std::fabs(got - want) <= tol * std::max(1.0, std::fabs(want));
}

std::pair<Value, Value> pickOperand(Operation *op,
                                    function_ref<bool(Value)> pred) {
  if (op->getNumOperands() != 2)
    return {nullptr, nullptr};
  Value a = op->getOperand(0), b = op->getOperand(1);
  if (pred(a))
    return {a, b};
  if (pred(b))
    return {b, a};
  return {nullptr, nullptr};
}

bool isLastAxisMean(Operation *op) {
  auto m = dyn_cast_or_null<ReduceMeanOp>(op);
  if (!m || !m.getKeepdims() || m.getAxes().size() != 1)
    return false;
  return isLastAxis(m.getAxes()[0], m.getInput().getType().getRank());
}

Value matchSquare(Value v) {
  if (auto p = def<PowOp>(v))
    if (isSplat(p.getRhs(), 2.0))
      return p.getLhs();
  if (auto m = def<MulOp>(v))
    if (m.getLhs() == m.getRhs())
      return m.getLhs();
  return nullptr;
}

Value matchInvSqrt(Value v) {
  if (auto r = def<RsqrtOp>(v))
    return r.getInput();
  if (auto r = def<ReciprocalOp>(v))
    if (auto s = def<SqrtOp>(r.getInput()))
      return s.getInput();
  if (auto d = def<DivOp>(v))
    if (isSplat(d.getLhs(), 1.0))
      if (auto s = def<SqrtOp>(d.getRhs()))
        return s.getInput();
  return nullptr;
}

bool isConstantLike(Value v) { return static_cast<bool>(constantValue(v)); }

ElementsAttr constantValue(Value v) {
  while (auto c = def<CastOp>(v))
    v = c.getInput();
  if (auto c = def<ConstantOp>(v))
    return c.getValue();
  return {};
}

ArrayRef<char> rawConstantBytes(ElementsAttr attr) {
  if (auto r = dyn_cast<DenseResourceElementsAttr>(attr)) {
    if (AsmResourceBlob *blob = r.getRawHandle().getBlob())
      return blob->getData();
    return {};
  }
  if (auto d = dyn_cast<DenseElementsAttr>(attr))
    if (!d.isSplat() && !d.getElementType().isInteger(1))
      return d.getRawData();
  return {};
}

ElementsAttr transposeConstant2D(ElementsAttr attr, StringRef hint) {
  auto type = dyn_cast<RankedTensorType>(attr.getType());
  if (!type || type.getRank() != 2)
    return {};
  ArrayRef<char> src = rawConstantBytes(attr);
  int64_t rows = type.getDimSize(0), cols = type.getDimSize(1);
  unsigned bits = type.getElementTypeBitWidth();
  if (bits % 8 != 0 || src.size() != size_t(rows * cols * (bits / 8)))
    return {};
  size_t esz = bits / 8;
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(src.size(), 64);
  MutableArrayRef<char> dst = blob.getMutableData();
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < cols; ++c)
      std::memcpy(&dst[(c * rows + r) * esz], &src[(r * cols + c) * esz], esz);
  auto newType = RankedTensorType::get({cols, rows}, type.getElementType());
  return DenseResourceElementsAttr::get(newType, (hint + ".T").str(),
                                        std::move(blob));
}

} // namespace mu
