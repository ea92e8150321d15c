//===- QdqOnnx.cpp - kernel programs -> QDQ ONNX ----------------------------===//
///
/// \file
/// One ONNX graph per entry point, built op by op from the checked `muk`
/// program, so the ONNX model computes what the `.mub` computes:
///
///  - a quantized activation is the output of a QuantizeLinear; every use of
///    it gets its own DequantizeLinear (node units: one consumer per DQ);
///  - `muk.dequantize` is not a node of its own: each of its uses gets a DQ;
///  - quantized weights are integer initializers feeding a DQ (per-channel
///    axis kept; linear weights stored transposed for MatMul, no Q on them);
///    a bias of an integer linear is int32 at s_in * s_w;
///  - data movement on a quantized tensor runs on the integers (no Q/DQ);
///  - fused ops are written back as standard ONNX (RMSNorm as the
///    Pow/ReduceMean/Add/Sqrt/Div/Mul pattern ONNX Runtime re-fuses,
///    LayerNormalization, rotate-half RoPE, GQA attention as grouped
///    MatMul/Softmax over the concatenated KV cache);
///  - 8-bit Q/DQ in the default domain (opset 17), 16-bit in com.microsoft.
///
//===----------------------------------------------------------------------===//
#include "mu/Export/QdqOnnx.h"
#include "mu/Artifact/MubWriter.h"
#include "mu/Support/Half.h"

#include "dialects/Kernel/MukOps.h"
#include "dialects/Mu/MuOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <map>

#include <cmath>
#include <functional>
#include <cstring>
#include <limits>

using namespace mlir;
using onnx::TensorProto;

namespace mu {
namespace {

constexpr int kOpset = 17;
constexpr const char *kMsDomain = "com.microsoft";

/// Quantization parameters of a quantized element type.
struct QParams {
  int bits = 8;
  bool isSigned = true;
  std::vector<float> scales;
  std::vector<int64_t> zeroPoints;
  int axis = -1;     ///< per-axis dimension, -1 per tensor
  int64_t block = 0; ///< > 0: [1, block] blocks over a 2-d [out, in] weight
  int onnxType() const {
    if (bits == 8) return isSigned ? TensorProto::INT8 : TensorProto::UINT8;
    if (bits == 16) return isSigned ? TensorProto::INT16 : TensorProto::UINT16;
    return TensorProto::INT32;
  }
};

std::optional<QParams> qparamsOf(Type et) {
  auto q = dyn_cast<mlir::quant::QuantizedType>(et);
  if (!q)
    return std::nullopt;
  QParams p;
  p.bits = int(q.getStorageTypeIntegralWidth());
  p.isSigned = q.isSigned();
  if (auto pa = dyn_cast<mlir::quant::UniformQuantizedPerAxisType>(et)) {
    for (double s : pa.getScales()) p.scales.push_back(float(s));
    p.zeroPoints.assign(pa.getZeroPoints().begin(), pa.getZeroPoints().end());
    p.axis = pa.getQuantizedDimension();
  } else if (auto sc = dyn_cast<mlir::quant::UniformQuantizedSubChannelType>(et)) {
    for (APFloat v : sc.getScales().getValues<APFloat>()) p.scales.push_back(float(v.convertToDouble()));
    for (APInt v : sc.getZeroPoints().getValues<APInt>()) p.zeroPoints.push_back(v.getSExtValue());
    if (sc.getBlockSizes().size() != 2 || sc.getBlockSizes()[0] != 1)
      return std::nullopt;
    p.block = sc.getBlockSizes()[1];
    p.axis = 0;
  } else if (auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et)) {
    p.scales = {float(u.getScale())};
    p.zeroPoints = {u.getZeroPoint()};
  } else {
    return std::nullopt;
  }
  return p;
}

Type elemOf(Value v) { return cast<RankedTensorType>(v.getType()).getElementType(); }
bool isQuant(Value v) { return isa<mlir::quant::QuantizedType>(elemOf(v)); }

/// The ONNX element type a value is held in: floats compute in FLOAT (an
/// FP16/BF16 value is FLOAT rounded to that precision), integers as stored.
std::optional<int> onnxTypeOf(Type t) {
  if (auto q = qparamsOf(t)) return q->onnxType();
  if (t.isF32() || t.isF16() || t.isBF16()) return TensorProto::FLOAT;
  if (t.isInteger(64)) return TensorProto::INT64;
  if (t.isInteger(32)) return TensorProto::INT32;
  if (t.isInteger(16)) return TensorProto::INT16;
  if (t.isUnsignedInteger(8)) return TensorProto::UINT8;
  if (t.isInteger(8)) return TensorProto::INT8;
  if (t.isInteger(1)) return TensorProto::BOOL;
  return std::nullopt;
}

size_t onnxElemBytes(int t) {
  switch (t) {
  case TensorProto::FLOAT: case TensorProto::INT32: return 4;
  case TensorProto::INT64: return 8;
  case TensorProto::INT16: case TensorProto::UINT16: case TensorProto::FLOAT16: return 2;
  default: return 1;
  }
}

/// Operands of a muk op by kernel slot (null where `absent`).
SmallVector<Value> slotsOf(Operation *op, unsigned arity) {
  SmallVector<Value> s(arity);
  auto absent = op->getAttrOfType<DenseI32ArrayAttr>("absent");
  unsigned next = 0;
  for (unsigned i = 0; i < arity && next <= op->getNumOperands(); ++i) {
    if (absent && llvm::is_contained(absent.asArrayRef(), int32_t(i)))
      continue;
    if (next < op->getNumOperands())
      s[i] = op->getOperand(next++);
  }
  return s;
}

SmallVector<int64_t> intsOf(Operation *op) {
  SmallVector<int64_t> v;
  if (auto a = op->getAttrOfType<DenseI64ArrayAttr>("ints"))
    v.assign(a.asArrayRef().begin(), a.asArrayRef().end());
  return v;
}

float floatAt(Operation *op, size_t i, float def) {
  if (auto a = op->getAttrOfType<DenseF32ArrayAttr>("floats"))
    if (i < a.asArrayRef().size())
      return a.asArrayRef()[i];
  return def;
}

/// A state buffer's name in the ONNX Runtime GenAI convention.
std::string stateTensorName(StringRef state, bool output) {
  auto split = [&](StringRef prefix, std::string &idx) {
    if (!state.starts_with(prefix))
      return false;
    idx = state.drop_front(prefix.size()).str();
    return !idx.empty() && llvm::all_of(idx, ::isdigit);
  };
  std::string i;
  const char *kv = output ? "present." : "past_key_values.";
  if (split("k_cache_", i)) return kv + i + ".key";
  if (split("v_cache_", i)) return kv + i + ".value";
  if (split("cross_k_", i)) return "cross." + i + ".key";
  if (split("cross_v_", i)) return "cross." + i + ".value";
  return state.str();
}

/// Builds one graph.
class GraphBuilder {
public:
  GraphBuilder(onnx::GraphProto &g, const QdqOnnxOptions &o, QdqOnnxSummary &s, std::string &e)
      : g(g), opts(o), summary(s), error(e) {}

  bool program(func::FuncOp f, int64_t fixedSeq, bool encoder);
  bool usedMsDomain = false;

private:
  bool fail(Operation *op, const Twine &msg) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op->getLoc().print(os);
    error = ("cannot write '" + op->getName().getStringRef() + "' at " + loc + " as ONNX: " + msg).str();
    return false;
  }
  std::string unique(StringRef base) {
    std::string n = base.str();
    for (int k = 1; used.count(n); ++k)
      n = (base + "_" + Twine(k)).str();
    used.insert(n);
    return n;
  }
  onnx::NodeProto *node(StringRef type, ArrayRef<std::string> ins, ArrayRef<std::string> outs,
                        StringRef domain = "") {
    onnx::NodeProto *n = g.add_node();
    n->set_op_type(type.str());
    if (!domain.empty()) {
      n->set_domain(domain.str());
      usedMsDomain = true;
    }
    std::string base = current.empty() ? type.str() : current + "/" + type.str();
    n->set_name(unique(base));
    for (const std::string &i : ins) n->add_input(i);
    for (const std::string &o : outs) n->add_output(o);
    if (currentOnHost) {
      n->set_doc_string("mu: runs on the host CPU (target fallback)");
      summary.hostNodes.push_back(n->name());
    }
    ++summary.nodes;
    return n;
  }
  /// A node with one fresh output; returns the output's name.
  std::string op(StringRef type, ArrayRef<std::string> ins, StringRef domain = "",
                 onnx::NodeProto **out = nullptr) {
    std::string o = unique((current.empty() ? type : StringRef(current)).str() + "." + type.str());
    onnx::NodeProto *n = node(type, ins, {o}, domain);
    if (out) *out = n;
    return o;
  }
  static void attrInt(onnx::NodeProto *n, StringRef name, int64_t v) {
    auto *a = n->add_attribute();
    a->set_name(name.str());
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(v);
  }
  static void attrInts(onnx::NodeProto *n, StringRef name, ArrayRef<int64_t> v) {
    auto *a = n->add_attribute();
    a->set_name(name.str());
    a->set_type(onnx::AttributeProto::INTS);
    for (int64_t x : v) a->add_ints(x);
  }
  static void attrFloat(onnx::NodeProto *n, StringRef name, float v) {
    auto *a = n->add_attribute();
    a->set_name(name.str());
    a->set_type(onnx::AttributeProto::FLOAT);
    a->set_f(v);
  }
  std::string initializer(StringRef name, int type, ArrayRef<int64_t> dims, const void *data,
                          size_t bytes) {
    std::string n = unique(name);
    TensorProto *t = g.add_initializer();
    t->set_name(n);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    t->set_raw_data(data, bytes);
    return n;
  }
  std::string i64s(ArrayRef<int64_t> v, bool scalar = false) {
    std::string key = scalar ? "s" : "v";
    for (int64_t x : v) key += "," + std::to_string(x);
    auto it = constants.find(key);
    if (it != constants.end()) return it->second;
    SmallVector<int64_t> dims;
    if (!scalar) dims.push_back(int64_t(v.size()));
    return constants[key] = initializer("const_i64", TensorProto::INT64, dims, v.data(), v.size() * 8);
  }
  std::string f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    std::string key = "f" + std::to_string(bits);
    auto it = constants.find(key);
    if (it != constants.end()) return it->second;
    return constants[key] = initializer("const_f32", TensorProto::FLOAT, {}, &v, 4);
  }
  std::string castTo(const std::string &x, int to) {
    onnx::NodeProto *n;
    std::string o = op("Cast", {x}, "", &n);
    attrInt(n, "to", to);
    return o;
  }
  /// Rounds a FLOAT value through FP16 (`bf16` false) or BF16.
  std::string roundTrip(const std::string &x, bool bf16) {
    return castTo(castTo(x, bf16 ? TensorProto::BFLOAT16 : TensorProto::FLOAT16), TensorProto::FLOAT);
  }

  // Quantization parameter initializers, shared per quantized type.
  std::pair<std::string, std::string> qparamTensors(Type et, const QParams &q,
                                                    ArrayRef<float> scaleOverride = {}) {
    if (scaleOverride.empty()) {
      auto it = qparamNames.find(et.getAsOpaquePointer());
      if (it != qparamNames.end()) return it->second;
    }
    ArrayRef<float> sc = scaleOverride.empty() ? ArrayRef<float>(q.scales) : scaleOverride;
    SmallVector<int64_t> dims;
    if (sc.size() > 1 || q.axis >= 0) dims.push_back(int64_t(sc.size()));
    std::string s = initializer("qscale", TensorProto::FLOAT, dims, sc.data(), sc.size() * 4);
    int zt = scaleOverride.empty() ? q.onnxType() : TensorProto::INT32;
    size_t eb = onnxElemBytes(zt);
    std::vector<uint8_t> zp(sc.size() * eb, 0);
    for (size_t i = 0; i < sc.size() && scaleOverride.empty(); ++i) {
      int64_t z = i < q.zeroPoints.size() ? q.zeroPoints[i] : 0;
      std::memcpy(zp.data() + i * eb, &z, eb); // little-endian truncation
    }
    std::string z = initializer("qzero", zt, dims, zp.data(), zp.size());
    auto r = std::make_pair(s, z);
    if (scaleOverride.empty()) qparamNames[et.getAsOpaquePointer()] = r;
    return r;
  }
  StringRef qdqDomain(const QParams &q) { return q.bits == 16 ? StringRef(kMsDomain) : StringRef(); }
  std::string dequantize(const std::string &x, Type et, const QParams &q, int axis) {
    auto [s, z] = qparamTensors(et, q);
    onnx::NodeProto *n;
    std::string o = op("DequantizeLinear", {x, s, z}, qdqDomain(q), &n);
    if (axis >= 0) attrInt(n, "axis", axis);
    ++summary.dequantizeNodes;
    return o;
  }

  // Constants.
  bool constBytes(Operation *c, std::vector<uint8_t> &bytes) {
    return constantData(cast<ConstantOp>(c).getValue(), bytes, error);
  }
  std::string constName(Operation *c) {
    if (auto r = dyn_cast<DenseResourceElementsAttr>(cast<ConstantOp>(c).getValue()))
      return r.getRawHandle().getKey().str();
    return "const";
  }
  /// A float or integer constant as an initializer (floats widened to
  /// FLOAT; a 2-d constant optionally transposed).
  std::optional<std::string> constant(Value v, bool transpose) {
    auto key = std::make_pair(v.getAsOpaquePointer(), transpose);
    auto it = constCache.find(key);
    if (it != constCache.end()) return it->second;
    Operation *c = v.getDefiningOp();
    std::vector<uint8_t> raw;
    if (!constBytes(c, raw)) return std::nullopt;
    auto type = cast<RankedTensorType>(v.getType());
    Type et = type.getElementType();
    std::vector<uint8_t> data;
    int ot;
    size_t n = size_t(type.getNumElements());
    if (et.isF16() || et.isBF16()) {
      ot = TensorProto::FLOAT;
      data.resize(n * 4);
      const uint16_t *h = reinterpret_cast<const uint16_t *>(raw.data());
      for (size_t i = 0; i < n; ++i) {
        float f = et.isF16() ? halfToFloat(h[i]) : bf16ToFloat(h[i]);
        std::memcpy(data.data() + i * 4, &f, 4);
      }
    } else if (auto t = onnxTypeOf(et)) {
      ot = *t;
      data = std::move(raw);
    } else {
      fail(c, "unsupported constant type");
      return std::nullopt;
    }
    SmallVector<int64_t> dims(type.getShape());
    if (transpose) {
      if (dims.size() != 2) {
        fail(c, "expected a 2-d weight");
        return std::nullopt;
      }
      data = transposed(data, dims[0], dims[1], onnxElemBytes(ot));
      std::swap(dims[0], dims[1]);
    }
    std::string name = constName(c) + (transpose ? ".T" : "");
    return constCache[key] = initializer(name, ot, dims, data.data(), data.size());
  }
  static std::vector<uint8_t> transposed(const std::vector<uint8_t> &d, int64_t rows, int64_t cols,
                                         size_t es) {
    std::vector<uint8_t> t(d.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        std::memcpy(&t[size_t(c * rows + r) * es], &d[size_t(r * cols + c) * es], es);
    return t;
  }
  /// The float value of `v` for one consumer: a constant's initializer, a
  /// fresh DQ of a quantized value (one per use), or the value itself.
  std::optional<std::string> floatOf(Value v, bool transposeWeight = false);
  /// Defines result `r` from its float value: a QuantizeLinear for a
  /// quantized result, a rounding Cast pair for an FP16/BF16 result.
  void define(Value r, const std::string &floatName) {
    Type et = elemOf(r);
    if (auto q = qparamsOf(et)) {
      auto [s, z] = qparamTensors(et, *q);
      onnx::NodeProto *n;
      std::string o = op("QuantizeLinear", {floatName, s, z}, qdqDomain(*q), &n);
      if (q->axis >= 0) attrInt(n, "axis", q->axis);
      ++summary.quantizeNodes;
      names[r] = o;
      return;
    }
    if (et.isF16() || et.isBF16()) {
      names[r] = roundTrip(floatName, et.isBF16());
      return;
    }
    names[r] = floatName;
  }

  bool emit(Operation &o);
  bool emitLinear(Operation &o);
  bool emitAttention(Operation &o);
  bool emitRopeWith(Operation &o, const std::vector<std::string> &ins,
                    const std::function<std::string(unsigned)> &again);
  /// silu (0), gelu (1), gelu-tanh (2) or relu of operand k, whose first
  /// use is `g`; `again` gives each further use.
  std::string activation(int64_t kind, const std::string &g, unsigned k,
                         const std::function<std::string(unsigned)> &again) {
    if (kind == 0) return op("Mul", {g, op("Sigmoid", {again(k)})});
    if (kind == 1) // 0.5 x (1 + erf(x / sqrt 2))
      return op("Mul", {op("Mul", {g, f32(0.5f)}),
                        op("Add", {op("Erf", {op("Mul", {again(k), f32(0.70710678118654752f)})}),
                                   f32(1.0f)})});
    if (kind == 2) { // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      std::string x3 = op("Mul", {op("Mul", {again(k), again(k)}), again(k)});
      std::string inner = op("Mul", {op("Add", {again(k), op("Mul", {x3, f32(0.044715f)})}),
                                     f32(0.7978845608028654f)});
      return op("Mul", {op("Mul", {g, f32(0.5f)}), op("Add", {op("Tanh", {inner}), f32(1.0f)})});
    }
    return op("Relu", {g});
  }
  std::optional<std::vector<float>> floatValues(Value v);
  std::string inputDims(onnx::ValueInfoProto *vi, Value v, int type, ArrayRef<std::string> dimNames);

  onnx::GraphProto &g;
  const QdqOnnxOptions &opts;
  QdqOnnxSummary &summary;
  std::string &error;
  llvm::StringSet<> used;
  llvm::StringMap<std::string> constants;
  DenseMap<const void *, std::pair<std::string, std::string>> qparamNames;
  std::map<std::pair<const void *, bool>, std::string> constCache;
  DenseMap<Value, std::string> names;
  DenseMap<Value, Value> dequantOf; ///< muk.dequantize result -> its input
  DenseMap<Value, std::string> kernelNames;
  std::string current;
  bool currentOnHost = false;
};

std::optional<std::string> GraphBuilder::floatOf(Value v, bool transposeWeight) {
  if (auto d = dequantOf.find(v); d != dequantOf.end())
    return floatOf(d->second, transposeWeight);
  Operation *def = v.getDefiningOp();
  if (def && isa<ConstantOp>(def))
    return constant(v, transposeWeight);
  if (auto sc = dyn_cast_or_null<mlir::quant::StorageCastOp>(def)) {
    Value src = sc.getInput();
    if (!src.getDefiningOp() || !isa<ConstantOp>(src.getDefiningOp())) {
      fail(def, "quant.scast of something other than a constant");
      return std::nullopt;
    }
    auto q = qparamsOf(elemOf(v));
    if (!q || q->block) {
      fail(def, "unsupported weight quantization here");
      return std::nullopt;
    }
    auto w = constant(src, transposeWeight);
    if (!w) return std::nullopt;
    int axis = q->axis;
    if (transposeWeight && axis >= 0) axis = 1 - axis;
    return dequantize(*w, elemOf(v), *q, axis);
  }
  auto it = names.find(v);
  if (it == names.end()) {
    error = "internal error: value used before its definition";
    return std::nullopt;
  }
  if (auto q = qparamsOf(elemOf(v)))
    return dequantize(it->second, elemOf(v), *q, q->axis);
  return it->second;
}

bool isDataMovement(Operation &o) {
  return isa<muk::ReshapeOp, muk::TransposeOp, muk::SliceOp, muk::SplitOp, muk::ConcatOp,
             muk::BroadcastToOp>(o);
}

bool GraphBuilder::emit(Operation &o) {
  auto in = [&](unsigned i) { return floatOf(o.getOperand(i)); };
  SmallVector<int64_t> ints = intsOf(&o);
  auto res = [&](unsigned i = 0) { return o.getResult(i); };
  auto shapeOf = [](Value v) {
    SmallVector<int64_t> s;
    for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
      s.push_back(ShapedType::isDynamic(d) ? -1 : d);
    return s;
  };

  // A target rounding kept native (the runtime picks its float precision):
  // the value passes through, and a dequantized value stays lazy so every
  // use still gets its own DQ.
  if (isa<muk::RoundOp>(o) && !opts.emulateFloat) {
    // (Copy before inserting: an insertion may rehash the map.)
    Value x = o.getOperand(0);
    if (auto d = dequantOf.find(x); d != dequantOf.end()) {
      Value src = d->second;
      dequantOf[res()] = src;
    } else if (auto n = names.find(x); n != names.end()) {
      std::string name = n->second;
      names[res()] = name;
    } else {
      return fail(&o, "rounding of a value with no ONNX name");
    }
    return true;
  }

  // Data movement on quantized tensors with one encoding: on the integers.
  // (Every operand and result of one quantized type, the operands defined
  // as integers here: not weights, not lazily dequantized values.)
  bool integerMove = false;
  if (isDataMovement(o) && o.getNumOperands() > 0 && isQuant(o.getOperand(0))) {
    Type q = elemOf(o.getOperand(0));
    integerMove = llvm::all_of(o.getResults(), [&](Value v) { return elemOf(v) == q; }) &&
                  llvm::all_of(o.getOperands(), [&](Value v) {
                    return elemOf(v) == q && !v.getDefiningOp<mlir::quant::StorageCastOp>() &&
                           !dequantOf.count(v);
                  });
  }
  std::vector<std::string> ins;
  for (unsigned i = 0; i < o.getNumOperands() && !isa<muk::LinearOp, muk::AttentionOp>(o); ++i) {
    if (integerMove) {
      ins.push_back(names.lookup(o.getOperand(i)));
      continue;
    }
    auto f = in(i);
    if (!f) return false;
    ins.push_back(*f);
  }
  auto finish = [&](const std::string &v, unsigned r = 0) {
    if (integerMove) names[res(r)] = v;
    else define(res(r), v);
    return true;
  };
  // A further use of operand k: a dequantized value gets one more DQ (each
  // DQ has one consumer); anything else is reused.
  auto again = [&](unsigned k) -> std::string {
    Value v = o.getOperand(k);
    if (isQuant(v) || dequantOf.count(v))
      return floatOf(v).value_or(ins[k]);
    return ins[k];
  };
  auto unary = [&](StringRef type) { return finish(op(type, {ins[0]})); };
  auto binary = [&](StringRef type) { return finish(op(type, {ins[0], ins[1]})); };

  return llvm::TypeSwitch<Operation *, bool>(&o)
      .Case([&](muk::AddOp) { return binary("Add"); })
      .Case([&](muk::SubOp) { return binary("Sub"); })
      .Case([&](muk::MulOp) { return binary("Mul"); })
      .Case([&](muk::DivOp) { return binary("Div"); })
      .Case([&](muk::PowOp) { return binary("Pow"); })
      .Case([&](muk::MaxOp) { return binary("Max"); })
      .Case([&](muk::MinOp) { return binary("Min"); })
      .Case([&](muk::AndOp) { return binary("And"); })
      .Case([&](muk::OrOp) { return binary("Or"); })
      .Case([&](muk::EqualOp) { return binary("Equal"); })
      .Case([&](muk::LessOp) { return binary("Less"); })
      .Case([&](muk::GreaterOp) { return binary("Greater"); })
      .Case([&](muk::NegOp) { return unary("Neg"); })
      .Case([&](muk::AbsOp) { return unary("Abs"); })
      .Case([&](muk::NotOp) { return unary("Not"); })
      .Case([&](muk::ExpOp) { return unary("Exp"); })
      .Case([&](muk::LogOp) { return unary("Log"); })
      .Case([&](muk::SqrtOp) { return unary("Sqrt"); })
      .Case([&](muk::RsqrtOp) { return finish(op("Reciprocal", {op("Sqrt", {ins[0]})})); })
      .Case([&](muk::ReciprocalOp) { return unary("Reciprocal"); })
      .Case([&](muk::TanhOp) { return unary("Tanh"); })
      .Case([&](muk::ErfOp) { return unary("Erf"); })
      .Case([&](muk::SinOp) { return unary("Sin"); })
      .Case([&](muk::CosOp) { return unary("Cos"); })
      .Case([&](muk::SigmoidOp) { return unary("Sigmoid"); })
      .Case([&](muk::ReluOp) { return unary("Relu"); })
      .Case([&](muk::SiluOp) { return finish(op("Mul", {ins[0], op("Sigmoid", {again(0)})})); })
      .Case([&](muk::GeluOp) { return finish(activation(1, ins[0], 0, again)); })
      .Case([&](muk::GeluTanhOp) { return finish(activation(2, ins[0], 0, again)); })
      .Case([&](muk::WhereOp) {
        std::string c = ins[0];
        if (elemOf(o.getOperand(0)) != IntegerType::get(o.getContext(), 1))
          c = castTo(c, TensorProto::BOOL);
        return finish(op("Where", {c, ins[1], ins[2]}));
      })
      .Case([&](muk::CastOp) {
        auto t = onnxTypeOf(elemOf(res()));
        if (!t) return fail(&o, "unsupported cast result type");
        auto ti = onnxTypeOf(elemOf(o.getOperand(0)));
        if (ti && *ti == *t && *t == TensorProto::FLOAT) // f16 <-> f32: FLOAT already
          return finish(ins[0]);
        return finish(castTo(ins[0], *t));
      })
      .Case([&](muk::ReshapeOp) {
        SmallVector<int64_t> s = shapeOf(res());
        if (llvm::count(s, -1) > 1) return fail(&o, "more than one dynamic dimension");
        if (llvm::is_contained(s, 0)) return fail(&o, "zero-sized dimension");
        return finish(op("Reshape", {ins[0], i64s(s)}));
      })
      .Case([&](muk::BroadcastToOp) {
        SmallVector<int64_t> s = shapeOf(res());
        for (int64_t &d : s)
          if (d < 0) d = 1; // Expand keeps the input's size there
        return finish(op("Expand", {ins[0], i64s(s)}));
      })
      .Case([&](muk::TransposeOp) {
        onnx::NodeProto *n;
        std::string r = op("Transpose", {ins[0]}, "", &n);
        attrInts(n, "perm", ints);
        return finish(r);
      })
      .Case([&](muk::ConcatOp) {
        onnx::NodeProto *n;
        std::string r = op("Concat", ins, "", &n);
        attrInt(n, "axis", ints.empty() ? 0 : ints[0]);
        return finish(r);
      })
      .Case([&](muk::SliceOp) {
        int64_t n = ints.empty() ? 0 : ints[0];
        if (int64_t(ints.size()) != 1 + 4 * n) return fail(&o, "bad slice parameters");
        ArrayRef<int64_t> a(ints);
        return finish(op("Slice", {ins[0], i64s(a.slice(1 + n, n)), i64s(a.slice(1 + 2 * n, n)),
                                   i64s(a.slice(1, n)), i64s(a.slice(1 + 3 * n, n))}));
      })
      .Case([&](muk::SplitOp) {
        // One Slice per result; the one dynamic part is bounded from the end.
        auto inType = cast<RankedTensorType>(o.getOperand(0).getType());
        int64_t axis = ints.empty() ? 0 : ints[0];
        if (axis < 0) axis += inType.getRank();
        SmallVector<int64_t> sizes;
        for (Value r : o.getResults()) {
          int64_t d = cast<RankedTensorType>(r.getType()).getDimSize(axis);
          sizes.push_back(ShapedType::isDynamic(d) ? -1 : d);
        }
        if (llvm::count(sizes, -1) > 1) return fail(&o, "more than one dynamic part");
        int64_t dyn = llvm::find(sizes, -1) - sizes.begin();
        for (size_t i = 0; i < sizes.size(); ++i) {
          int64_t before = 0, after = 0;
          for (size_t j = 0; j < i; ++j) before += sizes[j];
          for (size_t j = i + 1; j < sizes.size(); ++j) after += sizes[j];
          int64_t start, end;
          if (int64_t(i) < dyn || dyn == int64_t(sizes.size())) {
            start = before;
            end = before + sizes[i];
          } else if (int64_t(i) == dyn) {
            start = before;
            end = after ? -after : std::numeric_limits<int64_t>::max();
          } else {
            start = -(after + sizes[i]);
            end = after ? -after : std::numeric_limits<int64_t>::max();
          }
          if (!finish(op("Slice", {ins[0], i64s({start}), i64s({end}), i64s({axis})}), unsigned(i)))
            return false;
        }
        return true;
      })
      .Case([&](muk::GatherOp) {
        onnx::NodeProto *n;
        std::string r = op("Gather", {ins[0], ins[1]}, "", &n);
        attrInt(n, "axis", ints.empty() ? 0 : ints[0]);
        return finish(r);
      })
      .Case([&](muk::RangeOp) { return finish(op("Range", {ins[0], ins[1], ins[2]})); })
      .Case([&](muk::DimOp) {
        int64_t axis = ints.empty() ? 0 : ints[0];
        onnx::NodeProto *n;
        std::string s = op("Shape", {ins[0]}, "", &n);
        attrInt(n, "start", axis);
        if (axis != -1) attrInt(n, "end", axis + 1);
        return finish(op("Reshape", {s, i64s({}, false)}));
      })
      .Case<muk::ReduceSumOp, muk::ReduceMeanOp, muk::ReduceMaxOp, muk::ReduceMinOp>([&](Operation *) {
        StringRef type = isa<muk::ReduceSumOp>(o) ? "ReduceSum"
                         : isa<muk::ReduceMeanOp>(o) ? "ReduceMean"
                         : isa<muk::ReduceMaxOp>(o)  ? "ReduceMax"
                                                     : "ReduceMin";
        bool keep = ints.empty() || ints[0];
        SmallVector<int64_t> axes(ints.begin() + std::min<size_t>(1, ints.size()), ints.end());
        std::vector<std::string> ri = {ins[0]};
        // Opset 17: ReduceSum takes axes as an input, the others as an attribute.
        if (!axes.empty() && type == "ReduceSum") ri.push_back(i64s(axes));
        onnx::NodeProto *n;
        std::string r = op(type, ri, "", &n);
        attrInt(n, "keepdims", keep);
        if (!axes.empty() && type != "ReduceSum") attrInts(n, "axes", axes);
        return finish(r);
      })
      .Case([&](muk::SoftmaxOp) {
        onnx::NodeProto *n;
        std::string r = op("Softmax", {ins[0]}, "", &n);
        attrInt(n, "axis", ints.empty() ? -1 : ints[0]);
        return finish(r);
      })
      .Case([&](muk::RmsNormOp) {
        // x / sqrt(mean(x^2) + eps) * w: the pattern ONNX Runtime fuses into
        // SimplifiedLayerNormalization.
        onnx::NodeProto *n;
        std::string ms = op("ReduceMean", {op("Pow", {ins[0], f32(2.0f)})}, "", &n);
        attrInts(n, "axes", {-1});
        attrInt(n, "keepdims", 1);
        std::string y =
            op("Div", {again(0), op("Sqrt", {op("Add", {ms, f32(floatAt(&o, 0, 1e-5f))})})});
        if (ins.size() > 1) y = op("Mul", {y, ins[1]});
        return finish(y);
      })
      .Case([&](muk::LayerNormOp) {
        SmallVector<Value> s = slotsOf(&o, 3);
        int64_t d = cast<RankedTensorType>(o.getOperand(0).getType()).getShape().back();
        std::vector<std::string> li = {ins[0]};
        size_t next = 1;
        for (int k = 1; k < 3; ++k) {
          if (s[k]) {
            li.push_back(ins[next++]);
          } else {
            std::vector<float> fill(size_t(d), k == 1 ? 1.0f : 0.0f);
            li.push_back(initializer(k == 1 ? "ln_ones" : "ln_zeros", TensorProto::FLOAT, {d},
                                     fill.data(), fill.size() * 4));
          }
        }
        onnx::NodeProto *n;
        std::string r = op("LayerNormalization", li, "", &n);
        attrInt(n, "axis", -1);
        attrFloat(n, "epsilon", floatAt(&o, 0, 1e-5f));
        return finish(r);
      })
      .Case([&](muk::MatmulOp) { return binary("MatMul"); })
      .Case([&](muk::GluOp) {
        return finish(op("Mul", {activation(ints.empty() ? 0 : ints[0], ins[0], 0, again), ins[1]}));
      })
      .Case([&](muk::RopeOp) { return emitRopeWith(o, ins, again); })
      .Case([&](muk::LinearOp) { return emitLinear(o); })
      .Case([&](muk::AttentionOp) { return emitAttention(o); })
      .Case([&](muk::QuantizeOp) { return finish(ins[0]); })
      .Case([&](muk::RoundOp) { return finish(roundTrip(ins[0], !ints.empty() && ints[0] == 2)); })
      .Default([&](Operation *) { return fail(&o, "no ONNX form for this kernel"); });
}

bool GraphBuilder::emitRopeWith(Operation &o, const std::vector<std::string> &ins,
                                const std::function<std::string(unsigned)> &again) {
  auto type = cast<RankedTensorType>(o.getOperand(0).getType());
  int64_t d = type.getShape().back(), h = d / 2, rank = type.getRank();
  SmallVector<int64_t> ints = intsOf(&o);
  const std::string &x = ins[0];
  std::string rot;
  if (!ints.empty() && ints[0] == 1) {
    // Interleaved pairs (x0, x1) -> (-x1, x0).
    SmallVector<int64_t> pairs(size_t(rank - 1), 0), back(size_t(rank - 1), 0);
    pairs.append({h, 2});
    back.push_back(d);
    std::string xr = op("Reshape", {again(0), i64s(pairs)});
    std::string even = op("Slice", {xr, i64s({0}), i64s({1}), i64s({-1})});
    std::string odd = op("Slice", {xr, i64s({1}), i64s({2}), i64s({-1})});
    onnx::NodeProto *n;
    std::string c = op("Concat", {op("Neg", {odd}), even}, "", &n);
    attrInt(n, "axis", -1);
    rot = op("Reshape", {c, i64s(back)});
  } else {
    // Rotate half: (x1, x2) -> (-x2, x1).
    std::string x1 = op("Slice", {again(0), i64s({0}), i64s({h}), i64s({-1})});
    std::string x2 = op("Slice", {again(0), i64s({h}), i64s({d}), i64s({-1})});
    onnx::NodeProto *n;
    rot = op("Concat", {op("Neg", {x2}), x1}, "", &n);
    attrInt(n, "axis", -1);
  }
  define(o.getResult(0), op("Add", {op("Mul", {x, ins[1]}), op("Mul", {rot, ins[2]})}));
  return true;
}

std::optional<std::vector<float>> GraphBuilder::floatValues(Value v) {
  Operation *c = v.getDefiningOp();
  std::vector<uint8_t> raw;
  if (!c || !isa<ConstantOp>(c) || !constBytes(c, raw))
    return std::nullopt;
  Type et = elemOf(v);
  size_t n = size_t(cast<RankedTensorType>(v.getType()).getNumElements());
  std::vector<float> out(n);
  for (size_t i = 0; i < n; ++i) {
    if (et.isF32()) {
      std::memcpy(&out[i], raw.data() + 4 * i, 4);
    } else if (et.isF16() || et.isBF16()) {
      uint16_t hv;
      std::memcpy(&hv, raw.data() + 2 * i, 2);
      out[i] = et.isF16() ? halfToFloat(hv) : bf16ToFloat(hv);
    } else {
      return std::nullopt;
    }
  }
  return out;
}

bool GraphBuilder::emitLinear(Operation &o) {
  SmallVector<Value> s = slotsOf(&o, 3);
  Value x = s[0], w = s[1], b = s[2];
  auto xf = floatOf(x);
  if (!xf) return false;
  std::string wf;
  auto wq = qparamsOf(elemOf(w));
  auto wType = cast<RankedTensorType>(w.getType());
  if (wType.getRank() != 2) return fail(&o, "weight is not 2-d");
  int64_t N = wType.getDimSize(0), K = wType.getDimSize(1);
  if (wq && wq->block) {
    // Blocks of B inputs per output channel: the [N, K] integers viewed as
    // [N*K/B, B] rows with one scale each (per-axis DQ), then [K, N].
    auto sc = w.getDefiningOp<mlir::quant::StorageCastOp>();
    if (!sc || !sc.getInput().getDefiningOp<ConstantOp>())
      return fail(&o, "block-quantized weight is not a constant");
    std::vector<uint8_t> raw;
    if (!constBytes(sc.getInput().getDefiningOp(), raw)) return false;
    int64_t B = wq->block;
    if (K % B) return fail(&o, "input size is not a multiple of the weight block");
    std::string init = initializer(constName(sc.getInput().getDefiningOp()) + ".blocks",
                                   wq->onnxType(), {N * K / B, B}, raw.data(), raw.size());
    QParams rows = *wq;
    rows.block = 0;
    rows.axis = 0;
    std::string dq = dequantize(init, elemOf(w), rows, 0);
    wf = op("Transpose", {op("Reshape", {dq, i64s({N, K})})});
  } else {
    auto f = floatOf(w, /*transposeWeight=*/true);
    if (!f) return false;
    wf = *f;
  }
  std::string y = op("MatMul", {*xf, wf});
  if (b) {
    auto xq = qparamsOf(elemOf(x));
    auto bv = floatValues(b);
    if (xq && xq->axis < 0 && wq && !wq->block && bv && int64_t(bv->size()) == N) {
      // int32 bias at s_in * s_w: the integer accumulator's scale.
      std::vector<float> scales(size_t(wq->scales.size() > 1 ? N : 1));
      std::vector<int32_t> q(static_cast<size_t>(N));
      for (int64_t c = 0; c < N; ++c) {
        float sw = wq->scales.size() > 1 ? wq->scales[size_t(c)] : wq->scales[0];
        float st = xq->scales[0] * sw;
        if (c < int64_t(scales.size())) scales[size_t(c)] = st;
        double r = st > 0 ? std::nearbyint(double((*bv)[size_t(c)]) / st) : 0.0;
        q[size_t(c)] = int32_t(std::clamp(r, -2147483648.0, 2147483647.0));
      }
      QParams bq;
      bq.bits = 32;
      bq.axis = scales.size() > 1 ? 0 : -1;
      auto [bs, bz] = qparamTensors(elemOf(b), bq, scales);
      std::string bi = initializer(constName(b.getDefiningOp()) + ".i32", TensorProto::INT32, {N},
                                   q.data(), q.size() * 4);
      onnx::NodeProto *n;
      std::string bf = op("DequantizeLinear", {bi, bs, bz}, "", &n);
      if (bq.axis >= 0) attrInt(n, "axis", 0);
      ++summary.dequantizeNodes;
      y = op("Add", {y, bf});
    } else {
      auto bf = floatOf(b);
      if (!bf) return false;
      y = op("Add", {y, *bf});
    }
  }
  define(o.getResult(0), y);
  return true;
}

bool GraphBuilder::emitAttention(Operation &o) {
  SmallVector<Value> s = slotsOf(&o, 7);
  auto q = floatOf(s[0]), k = floatOf(s[1]), v = floatOf(s[2]);
  if (!q || !k || !v) return false;
  std::string kAll = *k, vAll = *v;
  // In-place cache (mu-static-shapes): present = past with rows
  // [pos, pos + S) replaced by the new rows, as Where over a row mask; the
  // queries then read the whole fixed-size cache under a position mask.
  std::string position;
  int64_t capacity = 0, newRows = 0;
  if (s[6]) {
    auto pk = floatOf(s[4]), pv = floatOf(s[5]), pos = floatOf(s[6]);
    if (!pk || !pv || !pos || o.getNumResults() != 3) return false;
    auto ct = cast<RankedTensorType>(s[4].getType());
    auto nt = cast<RankedTensorType>(s[1].getType());
    capacity = ct.getDimSize(2);
    newRows = nt.getDimSize(2);
    if (ShapedType::isDynamic(capacity) || ShapedType::isDynamic(newRows))
      return fail(&o, "an in-place cache needs static cache and chunk sizes");
    position = *pos;
    std::string rows = op("Range", {i64s({0}, true), i64s({capacity}, true), i64s({1}, true)});
    std::string rel = op("Sub", {rows, position});
    std::string inWin = op("And", {op("GreaterOrEqual", {rel, i64s({0}, true)}),
                                   op("Less", {rel, i64s({newRows}, true)})});
    std::string src = op("Min", {op("Max", {rel, i64s({0}, true)}), i64s({newRows - 1}, true)});
    std::string win4 = op("Reshape", {inWin, i64s({1, 1, capacity, 1})});
    onnx::NodeProto *n;
    auto update = [&](const std::string &past, const std::string &cur) {
      std::string spread = op("Gather", {cur, src}, "", &n);
      attrInt(n, "axis", 2);
      return op("Where", {win4, spread, past});
    };
    kAll = update(*pk, *k);
    vAll = update(*pv, *v);
  } else if (s[4]) {
    if (!s[5] || o.getNumResults() != 3) return fail(&o, "a key cache without a value cache");
    auto pk = floatOf(s[4]), pv = floatOf(s[5]);
    if (!pk || !pv) return false;
    onnx::NodeProto *n;
    kAll = op("Concat", {*pk, *k}, "", &n);
    attrInt(n, "axis", 2);
    vAll = op("Concat", {*pv, *v}, "", &n);
    attrInt(n, "axis", 2);
  }
  auto qt = cast<RankedTensorType>(s[0].getType()), kt = cast<RankedTensorType>(s[1].getType()),
       vt = cast<RankedTensorType>(s[2].getType());
  int64_t Hq = qt.getDimSize(1), D = qt.getDimSize(3), Hkv = kt.getDimSize(1), Dv = vt.getDimSize(3);
  if (ShapedType::isDynamic(Hq) || ShapedType::isDynamic(Hkv) || ShapedType::isDynamic(D) ||
      ShapedType::isDynamic(Dv) || Hkv == 0 || Hq % Hkv)
    return fail(&o, "head counts and sizes must be static");
  int64_t G = Hq / Hkv;
  std::string q5 = *q, k5 = kAll, v5 = vAll;
  if (G > 1) {
    // Grouped-query attention without repeating K/V: queries as
    // [B, Hkv, G, S, D] against keys broadcast as [B, Hkv, 1, T, D].
    q5 = op("Reshape", {*q, i64s({0, Hkv, G, -1, D})});
    k5 = op("Unsqueeze", {kAll, i64s({2})});
    v5 = op("Unsqueeze", {vAll, i64s({2})});
  }
  onnx::NodeProto *n;
  std::string kT = op("Transpose", {k5}, "", &n);
  attrInts(n, "perm", G > 1 ? SmallVector<int64_t>{0, 1, 2, 4, 3} : SmallVector<int64_t>{0, 1, 3, 2});
  std::string sc = op("Mul", {op("MatMul", {q5, kT}), f32(floatAt(&o, 0, 1.0f))});
  const float lowest = std::numeric_limits<float>::lowest();
  SmallVector<int64_t> ints = intsOf(&o);
  if (!position.empty()) {
    // Query i (at position pos + i) sees keys t <= pos + i; without causal
    // masking, the rows written so far (t < pos + S).
    std::string cols = op("Range", {i64s({0}, true), i64s({capacity}, true), i64s({1}, true)});
    std::string qpos = op("Add", {op("Range", {i64s({0}, true), i64s({newRows}, true), i64s({1}, true)}),
                                  position});
    std::string bad = !ints.empty() && ints[0]
                          ? op("Greater", {cols, op("Unsqueeze", {qpos, i64s({1})})})
                          : op("GreaterOrEqual", {cols, op("Add", {position, i64s({newRows}, true)})});
    sc = op("Where", {bad, f32(lowest), sc});
  } else if (!ints.empty() && ints[0]) {
    // Causal over the cache: query i (of S) sees keys t <= i + (T - S).
    auto dim = [&](const std::string &x, int64_t axis) {
      onnx::NodeProto *sn;
      std::string r = op("Shape", {x}, "", &sn);
      attrInt(sn, "start", axis);
      attrInt(sn, "end", axis + 1);
      return op("Reshape", {r, i64s({}, false)});
    };
    std::string T = dim(s[4] ? kAll : *floatOf(s[1]), 2), S = dim(*floatOf(s[0]), 2);
    std::string zero = i64s({0}, true), one = i64s({1}, true);
    std::string rows = op("Add", {op("Range", {zero, S, one}), op("Sub", {T, S})});
    std::string cols = op("Range", {zero, T, one});
    std::string bad = op("Greater", {cols, op("Unsqueeze", {rows, i64s({1})})});
    sc = op("Where", {bad, f32(lowest), sc});
  }
  if (s[3]) {
    auto m = floatOf(s[3]);
    if (!m) return false;
    auto mt = cast<RankedTensorType>(s[3].getType());
    std::string mm = *m;
    if (G > 1) {
      if (mt.getRank() == 4 && mt.getDimSize(1) != 1)
        return fail(&o, "a per-head mask with grouped-query attention");
      if (mt.getRank() == 4)
        mm = op("Unsqueeze", {mm, i64s({2})});
    }
    if (mt.getElementType().isInteger(1))
      sc = op("Where", {op("Not", {mm}), f32(lowest), sc});
    else
      sc = op("Add", {sc, mm});
  }
  std::string p = op("Softmax", {sc}, "", &n);
  attrInt(n, "axis", -1);
  std::string out = op("MatMul", {p, v5});
  if (G > 1)
    out = op("Reshape", {out, i64s({0, Hq, -1, Dv})});
  define(o.getResult(0), out);
  if (o.getNumResults() == 3) {
    define(o.getResult(1), kAll);
    define(o.getResult(2), vAll);
  }
  return true;
}

std::string GraphBuilder::inputDims(onnx::ValueInfoProto *vi, Value v, int type,
                                    ArrayRef<std::string> dimNames) {
  auto *tt = vi->mutable_type()->mutable_tensor_type();
  tt->set_elem_type(type);
  auto *shape = tt->mutable_shape();
  auto rt = cast<RankedTensorType>(v.getType());
  for (int64_t i = 0; i < rt.getRank(); ++i) {
    auto *d = shape->add_dim();
    if (!rt.isDynamicDim(i))
      d->set_dim_value(rt.getDimSize(i));
    else if (size_t(i) < dimNames.size() && !dimNames[size_t(i)].empty())
      d->set_dim_param(dimNames[size_t(i)]);
    else
      d->set_dim_param(vi->name() + "_dim" + std::to_string(i));
  }
  return vi->name();
}

bool GraphBuilder::program(func::FuncOp f, int64_t fixedSeq, bool encoder) {
  Block &body = f.getBody().front();
  kernelNames = muk::kernelResultNames(body);
  g.set_name(f.getSymName().str());
  const std::string seqName = encoder ? "source_length" : "sequence_length";
  for (BlockArgument a : f.getArguments()) {
    unsigned i = a.getArgNumber();
    auto t = onnxTypeOf(elemOf(a));
    if (!t) {
      error = "@" + f.getSymName().str() + ": unsupported argument type";
      return false;
    }
    std::string name = "arg" + std::to_string(i);
    if (auto n = f.getArgAttrOfType<StringAttr>(i, "mu.name")) name = n.str();
    auto rt = cast<RankedTensorType>(a.getType());
    if (auto st = f.getArgAttrOfType<StringAttr>(i, "mu.state")) {
      onnx::ValueInfoProto *vi = g.add_input();
      vi->set_name(stateTensorName(st.getValue(), false));
      used.insert(vi->name());
      std::string past = st.getValue().starts_with("cross_") ? "source_length" : "past_sequence_length";
      names[a] = inputDims(vi, a, *t, {"batch_size", "", past, ""});
      continue;
    }
    if (name == "position" && rt.getRank() == 0 && rt.getElementType().isInteger(64)) {
      // position_ids [1, S] as ONNX Runtime GenAI passes them; the program
      // needs the first (positions are contiguous).
      onnx::ValueInfoProto *vi = g.add_input();
      vi->set_name("position_ids");
      used.insert(vi->name());
      auto *tt = vi->mutable_type()->mutable_tensor_type();
      tt->set_elem_type(TensorProto::INT64);
      tt->mutable_shape()->add_dim()->set_dim_value(1);
      auto *d = tt->mutable_shape()->add_dim();
      if (fixedSeq > 0) d->set_dim_value(fixedSeq);
      else d->set_dim_param(seqName);
      current = "position";
      names[a] = op("Reshape", {op("Slice", {"position_ids", i64s({0}), i64s({1}), i64s({1})}),
                                i64s({}, false)});
      current.clear();
      continue;
    }
    onnx::ValueInfoProto *vi = g.add_input();
    vi->set_name(name);
    used.insert(name);
    std::vector<std::string> dims(size_t(rt.getRank()));
    if (auto dn = f.getArgAttrOfType<ArrayAttr>(i, "mu.dim_names"))
      for (auto [k, e] : llvm::enumerate(dn))
        if (auto s = dyn_cast<StringAttr>(e); s && k < dims.size())
          dims[k] = (s.getValue() == "seq" || s.getValue() == "src_seq") ? seqName : s.str();
    if (fixedSeq > 0 && rt.getRank() == 2 && rt.isDynamicDim(1)) {
      // Static sequence: fix the dimension in the declared shape.
      inputDims(vi, a, *t, dims);
      vi->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(1)->set_dim_value(fixedSeq);
      names[a] = name;
      continue;
    }
    names[a] = inputDims(vi, a, *t, dims);
  }
  for (Operation &o : body) {
    if (isa<ConstantOp, mlir::quant::StorageCastOp>(o))
      continue;
    if (auto dq = dyn_cast<muk::DequantizeOp>(o)) {
      dequantOf[dq.getResult(0)] = dq.getOperand(0);
      continue;
    }
    if (auto ret = dyn_cast<func::ReturnOp>(o)) {
      for (auto [ri, v] : llvm::enumerate(ret.getOperands())) {
        std::string name = "output" + std::to_string(ri);
        if (auto st = f.getResultAttrOfType<StringAttr>(unsigned(ri), "mu.state"))
          name = stateTensorName(st.getValue(), true);
        else if (auto n = f.getResultAttrOfType<StringAttr>(unsigned(ri), "mu.name"))
          name = n.str();
        current = name;
        currentOnHost = false;
        auto fv = floatOf(v);
        if (!fv) return false;
        used.insert(name);
        node("Identity", {*fv}, {name});
        onnx::ValueInfoProto *vi = g.add_output();
        vi->set_name(name);
        Type et = elemOf(v);
        int t = (et.isF16() || et.isBF16() || isQuant(v)) ? int(TensorProto::FLOAT)
                                                          : onnxTypeOf(et).value_or(0);
        bool isState = name.rfind("present.", 0) == 0, isCross = name.rfind("cross.", 0) == 0;
        inputDims(vi, v, t,
                  {"batch_size", isState || isCross ? "" : seqName,
                   isState ? "total_sequence_length" : seqName, ""});
        if (fixedSeq > 0 && !isState)
          for (int k = 0; k < vi->type().tensor_type().shape().dim_size(); ++k)
            if (vi->type().tensor_type().shape().dim(k).has_dim_param())
              vi->mutable_type()->mutable_tensor_type()->mutable_shape()->mutable_dim(k)->set_dim_value(
                  k == 1 ? 1 : fixedSeq);
      }
      continue;
    }
    if (muk::opcodeName(&o).empty()) {
      fail(&o, "not a kernel op (run mu-lower-to-kernels)");
      return false;
    }
    current = o.getNumResults() ? kernelNames.lookup(o.getResult(0)) : "";
    currentOnHost = o.hasAttr("muk.device");
    if (!emit(o))
      return false;
  }
  return true;
}

/// Moves large initializers into the shared data file `location` (ONNX
/// external data) when the model's weights pass `threshold`. Initializers
/// with the same name and bytes (prefill and decode share their weights) are
/// stored once.
void externalize(onnx::ModelProto &m, const std::string &location, uint64_t threshold,
                 std::string &dataBytes, std::map<std::string, uint64_t> &stored) {
  uint64_t total = 0;
  for (const TensorProto &t : m.graph().initializer()) total += t.raw_data().size();
  if (!threshold || total <= threshold)
    return;
  for (TensorProto &t : *m.mutable_graph()->mutable_initializer()) {
    if (t.raw_data().size() < 1024)
      continue;
    std::string key = t.name() + '\0' + t.raw_data();
    auto it = stored.find(key);
    uint64_t off;
    if (it != stored.end()) {
      off = it->second;
    } else {
      while (dataBytes.size() % 4096) dataBytes.push_back('\0');
      off = dataBytes.size();
      dataBytes += t.raw_data();
      stored[key] = off;
    }
    uint64_t len = t.raw_data().size();
    t.clear_raw_data();
    t.set_data_location(TensorProto::EXTERNAL);
    auto add = [&](const char *k, const std::string &v) {
      auto *e = t.add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    add("location", location);
    add("offset", std::to_string(off));
    add("length", std::to_string(len));
  }
}

/// Writes bytes to `path` through a temporary file and a rename.
bool writeAtomically(StringRef path, StringRef bytes, std::string &error) {
  std::string tmp = (path + ".tmp").str();
  {
    std::error_code ec;
    llvm::raw_fd_ostream os(tmp, ec);
    if (ec) {
      error = "cannot write " + tmp + ": " + ec.message();
      return false;
    }
    os << bytes;
    os.close();
    if (os.has_error()) {
      error = "cannot write " + tmp + ": " + os.error().message();
      os.clear_error();
      llvm::sys::fs::remove(tmp);
      return false;
    }
  }
  if (std::error_code ec = llvm::sys::fs::rename(tmp, path)) {
    error = "cannot rename " + tmp + " to " + path.str() + ": " + ec.message();
    llvm::sys::fs::remove(tmp);
    return false;
  }
  return true;
}

} // namespace

bool exportQdqOnnx(ModuleOp module, const QdqOnnxOptions &opts, StringRef outDir,
                   QdqOnnxSummary &summary, std::string &error) {
  auto prefill = module.lookupSymbol<func::FuncOp>("prefill");
  auto decode = module.lookupSymbol<func::FuncOp>("decode");
  auto encode = module.lookupSymbol<func::FuncOp>("encode");
  struct Entry {
    func::FuncOp f;
    std::string file, role;
    int64_t seq;
  };
  std::vector<Entry> entries;
  std::string dir = outDir.str();
  if (!opts.singleFile.empty()) {
    auto main = module.lookupSymbol<func::FuncOp>("main");
    if (!main) {
      error = "a single .onnx file holds the whole-sequence program 'main', which this model "
              "does not have (pass -o DIR for its prefill/decode or encoder/decoder graphs)";
      return false;
    }
    entries = {{main, llvm::sys::path::filename(opts.singleFile).str(), "model", 0}};
    dir = llvm::sys::path::parent_path(opts.singleFile).str();
    if (dir.empty()) dir = ".";
  } else if (encode && decode) {
    entries = {{encode, "encoder.onnx", "encoder", opts.prefillChunk},
               {decode, "decoder.onnx", "decoder", 1}};
  } else if (prefill && decode) {
    entries = {{prefill, "prefill.onnx", "prefill", opts.prefillChunk}, {decode, "decode.onnx", "decode", 1}};
  } else if (auto main = module.lookupSymbol<func::FuncOp>("main")) {
    entries = {{main, "model.onnx", "model", 0}};
  } else {
    error = "no entry point to export (expected prefill/decode, encode/decode or main)";
    return false;
  }
  if (std::error_code ec = llvm::sys::fs::create_directories(dir)) {
    error = "cannot create " + dir + ": " + ec.message();
    return false;
  }
  llvm::json::Object models;
  int64_t layers = 0, kvHeads = 0, headDim = 0;
  // External data shared by every graph of the model.
  const std::string dataName =
      (opts.singleFile.empty() ? std::string("model") : llvm::sys::path::stem(opts.singleFile).str()) +
      ".onnx.data";
  std::string data;
  std::map<std::string, uint64_t> stored;
  // Everything is serialized first and written at the end (external data
  // first), so a failure leaves no model behind.
  std::vector<std::pair<std::string, std::string>> pending;
  for (Entry &e : entries) {
    onnx::ModelProto m;
    m.set_ir_version(8);
    m.set_producer_name("mu-compile");
    m.set_producer_version(opts.producerVersion);
    m.set_doc_string("QDQ model for target '" + opts.target + "', scheme '" + opts.scheme +
                     "' (mu-compile --emit=qdq-onnx)");
    auto meta = [&](const char *k, const std::string &v) {
      auto *p = m.add_metadata_props();
      p->set_key(k);
      p->set_value(v);
    };
    meta("mu.target", opts.target);
    meta("mu.scheme", opts.scheme);
    meta("mu.role", e.role);
    QdqOnnxSummary part;
    GraphBuilder b(*m.mutable_graph(), opts, part, error);
    if (!b.program(e.f, e.seq, e.role == "encoder")) {
      error = e.file + ": " + error;
      return false;
    }
    auto *def = m.add_opset_import();
    def->set_domain("");
    def->set_version(kOpset);
    if (b.usedMsDomain) {
      auto *ms = m.add_opset_import();
      ms->set_domain(kMsDomain);
      ms->set_version(1);
    }
    if (&e == &entries.back()) // the per-token program lists every cache
      for (BlockArgument a : e.f.getArguments())
        if (auto st = e.f.getArgAttrOfType<StringAttr>(a.getArgNumber(), "mu.state"))
          if (st.getValue().starts_with("k_cache_")) {
            auto rt = cast<RankedTensorType>(a.getType());
            ++layers;
            kvHeads = rt.getDimSize(1);
            headDim = rt.getDimSize(3);
          }
    llvm::SmallString<256> path(dir);
    llvm::sys::path::append(path, e.file);
    externalize(m, dataName, opts.externalDataThreshold, data, stored);
    std::string bytes;
    {
      google::protobuf::io::StringOutputStream sos(&bytes);
      google::protobuf::io::CodedOutputStream cos(&sos);
      cos.SetSerializationDeterministic(true);
      if (!m.SerializeToCodedStream(&cos)) {
        error = e.file + ": protobuf serialization failed";
        return false;
      }
    }
    pending.emplace_back(path.str().str(), std::move(bytes));
    summary.nodes += part.nodes;
    summary.quantizeNodes += part.quantizeNodes;
    summary.dequantizeNodes += part.dequantizeNodes;
    if (e.role == "decode" || e.role == "decoder" || entries.size() == 1)
      summary.hostNodes = part.hostNodes;
    llvm::json::Array hostNames;
    for (const std::string &n : part.hostNodes) hostNames.push_back(n);
    llvm::json::Object mo{{"file", e.file}, {"nodes", part.nodes},
                          {"host_nodes", int64_t(part.hostNodes.size())},
                          {"host_node_names", std::move(hostNames)}};
    if (e.seq > 0) mo["sequence_length"] = e.seq;
    models[e.role] = std::move(mo);
  }
  auto flush = [&]() {
    if (!data.empty()) {
      llvm::SmallString<256> dp(dir);
      llvm::sys::path::append(dp, dataName);
      pending.insert(pending.begin(), {dp.str().str(), std::move(data)});
    }
    for (auto &[path, bytes] : pending) {
      if (!writeAtomically(path, bytes, error))
        return false;
      summary.files.push_back(path);
    }
    return true;
  };
  if (!opts.singleFile.empty())
    return flush();
  llvm::json::Object cfg;
  for (auto &[k, v] : opts.config) cfg[k] = v;
  llvm::json::Array tokFiles;
  for (const std::string &t : opts.tokenizerFiles) {
    auto buf = llvm::MemoryBuffer::getFile(t);
    if (!buf) {
      error = "cannot read " + t;
      return false;
    }
    llvm::SmallString<256> path(outDir);
    llvm::sys::path::append(path, llvm::sys::path::filename(t));
    pending.emplace_back(path.str().str(), (*buf)->getBuffer().str());
    tokFiles.push_back(llvm::sys::path::filename(t).str());
  }
  llvm::json::Array eosIds;
  for (int id : opts.eosIds) eosIds.push_back(id);
  llvm::json::Object tok;
  tok["files"] = std::move(tokFiles);
  tok["bos_token_id"] = opts.bosId >= 0 ? llvm::json::Value(opts.bosId) : llvm::json::Value(nullptr);
  tok["eos_token_ids"] = std::move(eosIds);
  llvm::json::Object side{
      {"format", "mu-qdq-onnx"},
      {"version", 1},
      {"producer", "mu-compile " + opts.producerVersion},
      {"target", opts.target},
      {"scheme", opts.scheme},
      {"float", opts.emulateFloat ? "emulated (Cast pairs)" : "fp32 (runtime's choice)"},
      {"architecture", opts.architecture},
      {"opset", kOpset},
      {"models", std::move(models)},
      {"kv_cache", llvm::json::Object{{"layers", layers}, {"kv_heads", kvHeads}, {"head_dim", headDim},
                                      {"max_length", opts.maxCtx}, {"dtype", "float32"},
                                      {"static", opts.prefillChunk > 0},
                                      {"layout", opts.prefillChunk > 0
                                                     ? "batch, kv_heads, max_length, head_dim: a fixed "
                                                       "buffer; each call writes its rows at "
                                                       "position_ids[0, 0] and returns the whole buffer"
                                                     : "batch, kv_heads, sequence, head_dim"}}},
      {"inputs", llvm::json::Object{{"input_ids", "input_ids"}, {"position_ids", "position_ids"},
                                    {"length", opts.prefillChunk > 0
                                                   ? "prefill only: valid tokens of the chunk "
                                                     "(the rest is padding), int64 scalar"
                                                   : ""},
                                    {"past_key_names", "past_key_values.%d.key"},
                                    {"past_value_names", "past_key_values.%d.value"}}},
      {"outputs", llvm::json::Object{{"logits", "logits (last position of the call)"},
                                     {"present_key_names", "present.%d.key"},
                                     {"present_value_names", "present.%d.value"}}},
      {"config", std::move(cfg)},
      {"tokenizer", std::move(tok)},
  };
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(side))) << "\n";
  llvm::SmallString<256> path(outDir);
  llvm::sys::path::append(path, "mu-qdq.json");
  pending.emplace_back(path.str().str(), text);
  return flush();
}

} // namespace mu
