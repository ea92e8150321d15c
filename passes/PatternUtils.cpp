//===- PatternUtils.cpp - helpers shared by the fusion passes -------------===//
#include "passes/PatternUtils.h"
#include "dialects/Kernel/MukOps.h"

#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mu/Support/Half.h"

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

bool isStoredWeight(Value v) {
  return isConstantLike(v) || v.getDefiningOp<mlir::quant::StorageCastOp>();
}

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

std::vector<float> constantFloats(ElementsAttr attr) {
  std::vector<float> out;
  auto type = cast<ShapedType>(attr.getType());
  Type et = type.getElementType();
  int64_t n = type.getNumElements();
  if (auto d = dyn_cast<DenseElementsAttr>(attr); d && d.isSplat() && isa<FloatType>(et)) {
    out.assign(size_t(n), float(d.getSplatValue<APFloat>().convertToDouble()));
    return out;
  }
  ArrayRef<char> raw = rawConstantBytes(attr);
  if (et.isF32() && raw.size() == size_t(n) * 4) {
    out.resize(size_t(n));
    std::memcpy(out.data(), raw.data(), raw.size());
  } else if ((et.isF16() || et.isBF16()) && raw.size() == size_t(n) * 2) {
    out.resize(size_t(n));
    for (int64_t i = 0; i < n; ++i) {
      uint16_t h;
      std::memcpy(&h, raw.data() + 2 * i, 2);
      out[size_t(i)] = et.isF16() ? halfToFloat(h) : bf16ToFloat(h);
    }
  }
  return out;
}

ElementsAttr makeFloatConstant(RankedTensorType type, ArrayRef<float> values, StringRef name) {
  Type et = type.getElementType();
  size_t es = et.isF32() ? 4 : 2;
  AsmResourceBlob blob = HeapAsmResourceBlob::allocate(values.size() * es, 64);
  char *dst = blob.getMutableData().data();
  for (size_t i = 0; i < values.size(); ++i) {
    if (et.isF32()) {
      std::memcpy(dst + 4 * i, &values[i], 4);
    } else {
      uint16_t h;
      if (et.isF16()) {
        h = floatToHalf(values[i]);
      } else {
        uint32_t b;
        std::memcpy(&b, &values[i], 4);
        b += 0x7fff + ((b >> 16) & 1);
        h = uint16_t(b >> 16);
      }
      std::memcpy(dst + 2 * i, &h, 2);
    }
  }
  return DenseResourceElementsAttr::get(type, name, std::move(blob));
}

llvm::DenseMap<Value, std::string> artifactTensorNames(func::FuncOp f) {
  Block &body = f.getBody().front();
  llvm::DenseMap<Value, std::string> names = muk::kernelResultNames(body);
  for (BlockArgument a : body.getArguments())
    if (auto n = f.getArgAttrOfType<StringAttr>(a.getArgNumber(), "mu.name"))
      names[a] = n.str();
  if (auto ret = dyn_cast<func::ReturnOp>(body.getTerminator()))
    for (auto [i, v] : llvm::enumerate(ret.getOperands()))
      if (auto n = f.getResultAttrOfType<StringAttr>(unsigned(i), "mu.name"))
        if (v.getDefiningOp() && !muk::opcodeName(v.getDefiningOp()).empty())
          names[v] = n.str();
  return names;
}

FailureOr<Value> addScalarArg(func::FuncOp f, unsigned index, StringRef name) {
  OpBuilder b(f.getContext());
  auto i64s = RankedTensorType::get({}, b.getI64Type());
  if (failed(f.insertArgument(index, i64s,
                              b.getDictionaryAttr({b.getNamedAttr("mu.name", b.getStringAttr(name)),
                                                   b.getNamedAttr("mu.dim_names", b.getArrayAttr({}))}),
                              f.getLoc())))
    return failure();
  return Value(f.getBody().front().getArgument(index));
}

} // namespace mu
