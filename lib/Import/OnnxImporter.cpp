//===- OnnxImporter.cpp - ONNX protobuf -> mu graph -----------------------===//
///
/// \file
/// Imports an ONNX ModelProto into `func.func @main` of mu ops.
///
/// Exporters compute shapes inside the graph (Shape -> Gather -> Unsqueeze ->
/// Concat -> Reshape). The importer evaluates such integer subgraphs while it
/// imports: every value carries a symbolic shape (each dim `k * sym + c`,
/// where symbols are the model's dynamic dims such as `seq`) and, for small
/// integer tensors, symbolic contents. Shape arithmetic therefore folds away
/// at import time and reshapes get static target types with `?` only for the
/// dynamic dims. Integer values that are needed at run time (e.g. the limit of
/// a Range over the sequence length) are materialized with `mu.dim`.
///
//===----------------------------------------------------------------------===//
#include "mu/Import/Import.h"
#include "NonFinite.h"

#include "dialects/Mu/MuOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl.h>
#include <onnx/onnx_pb.h>

#include <climits>
#include <fcntl.h>
#include <map>
#include <unistd.h>

using namespace mlir;
using namespace mu;

namespace {

constexpr int64_t kDyn = ShapedType::kDynamic;
/// Integer tensors up to this size are tracked symbolically at import time.
constexpr int64_t kMaxKnown = 4096;
/// Float constants up to this size become dense attributes (visible to
/// folding and pattern matching); larger ones become resource blobs.
constexpr int64_t kMaxDenseFloat = 64;

//===----------------------------------------------------------------------===//
// Symbolic integers
//===----------------------------------------------------------------------===//

/// An integer `k * sym + c`; `sym < 0` (or k == 0) means the constant `c`.
struct DimExpr {
  int64_t k = 0;
  int sym = -1;
  int64_t c = 0;
  static DimExpr cst(int64_t v) { return {0, -1, v}; }
  static DimExpr symbol(int s) { return {1, s, 0}; }
  bool isConst() const { return sym < 0 || k == 0; }
  bool same(const DimExpr &o) const {
    if (isConst() || o.isConst())
      return isConst() && o.isConst() && c == o.c;
    return k == o.k && sym == o.sym && c == o.c;
  }
};

using Shape = SmallVector<DimExpr, 4>;
using Known = SmallVector<DimExpr>;

std::optional<DimExpr> addE(DimExpr a, DimExpr b) {
  if (a.isConst())
    return DimExpr{b.isConst() ? 0 : b.k, b.isConst() ? -1 : b.sym, a.c + b.c};
  if (b.isConst())
    return DimExpr{a.k, a.sym, a.c + b.c};
  if (a.sym == b.sym) {
    int64_t k = a.k + b.k;
    return DimExpr{k, k ? a.sym : -1, a.c + b.c};
  }
  return std::nullopt;
}
std::optional<DimExpr> negE(DimExpr a) {
  return DimExpr{-a.k, a.sym, -a.c};
}
std::optional<DimExpr> mulE(DimExpr a, DimExpr b) {
  if (!a.isConst() && !b.isConst())
    return std::nullopt;
  if (!a.isConst())
    std::swap(a, b);
  if (b.isConst())
    return DimExpr::cst(a.c * b.c);
  return DimExpr{b.k * a.c, a.c ? b.sym : -1, b.c * a.c};
}
std::optional<DimExpr> divE(DimExpr a, DimExpr b) { // ONNX integer Div truncates
  if (!b.isConst() || b.c == 0)
    return std::nullopt;
  if (a.isConst())
    return DimExpr::cst(a.c / b.c);
  if (a.k % b.c == 0 && a.c % b.c == 0)
    return DimExpr{a.k / b.c, a.sym, a.c / b.c};
  return std::nullopt;
}

int64_t numel(ArrayRef<DimExpr> shape) {
  int64_t n = 1;
  for (const DimExpr &d : shape) {
    if (!d.isConst())
      return -1;
    n *= d.c;
  }
  return n;
}

//===----------------------------------------------------------------------===//
// The importer
//===----------------------------------------------------------------------===//

struct Entry {
  Value value;                ///< materialized SSA value, may be null
  Type elem;                  ///< element type
  Shape shape;                ///< symbolic shape
  std::optional<Known> known; ///< contents of a small integer/bool tensor
};

struct Symbol {
  std::string name;
  Value source; ///< function argument holding the dim, if any
  int64_t axis = 0;
};

class OnnxImporter {
public:
  OnnxImporter(MLIRContext &ctx, StringRef path, std::string &error)
      : ctx(ctx), b(&ctx), path(path.str()), error(error) {}

  OwningOpRef<ModuleOp> run();

private:
  // --- errors ---------------------------------------------------------------
  bool fail(const Twine &msg) {
    if (error.empty())
      error = (path + ": " + msg).str();
    return false;
  }
  bool failNode(const onnx::NodeProto &n, const Twine &msg) {
    std::string who = n.name().empty() ? "node #" + std::to_string(nodeIndex)
                                       : "node '" + n.name() + "'";
    return fail(who + " (" + n.op_type() + "): " + msg);
  }
  int nodeIndex = 0;

  // --- model-level steps ----------------------------------------------------
  bool parse();
  bool checkSupported();
  bool importInitializer(const onnx::TensorProto &t);
  bool importInputs(SmallVectorImpl<Type> &types, SmallVectorImpl<DictionaryAttr> &attrs);
  bool importNode(const onnx::NodeProto &n);

  // --- tensors and types ----------------------------------------------------
  Type elemTypeOf(int32_t onnxType);
  bool tensorBytes(const onnx::TensorProto &t, std::string &storage,
                   StringRef &bytes);
  /// `initializer`: a graph initializer, where a NaN is an error (damage;
  /// infinities are not: exporters write -inf mask constants).
  bool entryFromTensor(const onnx::TensorProto &t, StringRef name, Entry &out,
                       bool initializer = false);

  RankedTensorType typeOf(ArrayRef<DimExpr> shape, Type elem) {
    SmallVector<int64_t> dims;
    for (const DimExpr &d : shape)
      dims.push_back(d.isConst() ? d.c : kDyn);
    return RankedTensorType::get(dims, elem);
  }
  Shape shapeOf(Value v) {
    Shape s;
    for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
      s.push_back(d == kDyn ? DimExpr::symbol(freshSymbol()) : DimExpr::cst(d));
    return s;
  }
  int freshSymbol(StringRef name = "") {
    syms.push_back({name.str(), Value(), 0});
    return syms.size() - 1;
  }

  // --- values ---------------------------------------------------------------
  Entry *lookup(const onnx::NodeProto &n, int i);
  Value val(Entry &e);
  Value materializeDim(DimExpr d);
  Value scalarI64(int64_t v);
  std::optional<SmallVector<int64_t>> constInts(Entry &e) {
    if (!e.known)
      return std::nullopt;
    SmallVector<int64_t> out;
    for (const DimExpr &d : *e.known) {
      if (!d.isConst())
        return std::nullopt;
      out.push_back(d.c);
    }
    return out;
  }
  void define(const onnx::NodeProto &n, int i, Entry e) {
    if (i < n.output_size() && !n.output(i).empty())
      values[n.output(i)] = std::move(e);
  }
  void defineValue(const onnx::NodeProto &n, int i, Value v, Shape shape) {
    Entry e;
    e.value = v;
    e.elem = cast<RankedTensorType>(v.getType()).getElementType();
    e.shape = std::move(shape);
    define(n, i, std::move(e));
  }

  // --- attributes -----------------------------------------------------------
  const onnx::AttributeProto *attr(const onnx::NodeProto &n, StringRef name) {
    for (const auto &a : n.attribute())
      if (a.name() == name)
        return &a;
    return nullptr;
  }
  int64_t attrInt(const onnx::NodeProto &n, StringRef name, int64_t def) {
    auto *a = attr(n, name);
    return a ? a->i() : def;
  }
  float attrFloat(const onnx::NodeProto &n, StringRef name, float def) {
    auto *a = attr(n, name);
    return a ? a->f() : def;
  }
  std::optional<SmallVector<int64_t>> attrInts(const onnx::NodeProto &n,
                                               StringRef name) {
    auto *a = attr(n, name);
    if (!a)
      return std::nullopt;
    return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
  }
  /// Axes given as attribute (old opsets) or as input `idx` (new opsets).
  bool axesOf(const onnx::NodeProto &n, int idx,
              std::optional<SmallVector<int64_t>> &axes) {
    axes = attrInts(n, "axes");
    if (idx < n.input_size() && !n.input(idx).empty()) {
      Entry *e = lookup(n, idx);
      if (!e)
        return false;
      axes = constInts(*e);
      if (!axes)
        return failNode(n, "axes must be a constant");
    }
    return true;
  }

  // --- op families ----------------------------------------------------------
  bool importBinary(const onnx::NodeProto &n, StringRef op);
  bool importUnary(const onnx::NodeProto &n, StringRef op);
  bool importReshapeLike(const onnx::NodeProto &n, Entry &x, Shape target);
  bool importReduce(const onnx::NodeProto &n, StringRef op);
  bool importSlice(const onnx::NodeProto &n);
  bool importGather(const onnx::NodeProto &n);
  bool importGemm(const onnx::NodeProto &n);
  bool importConstantNode(const onnx::NodeProto &n);

  /// Shapes must be checked before building ops whose result types are
  /// inferred: MLIR's generated builders abort on inference failure, and a
  /// malformed model must get an error, not a crash.
  bool checkBroadcast(const onnx::NodeProto &n, ArrayRef<Value> vs) {
    SmallVector<int64_t> acc;
    for (Value v : vs) {
      SmallVector<int64_t> next;
      if (failed(broadcastShapes(acc, cast<RankedTensorType>(v.getType()).getShape(), next))) {
        std::string msg;
        llvm::raw_string_ostream os(msg);
        os << "operand shapes do not broadcast:";
        for (Value u : vs)
          os << " " << u.getType();
        return failNode(n, msg);
      }
      acc = next;
    }
    return true;
  }

  Location locOf(const onnx::NodeProto &n) {
    return NameLoc::get(StringAttr::get(&ctx, n.name().empty() ? n.op_type()
                                                                : n.name()),
                        FileLineColLoc::get(&ctx, path, 0, 0));
  }

  MLIRContext &ctx;
  OpBuilder b;
  std::string path;
  std::string &error;
  onnx::ModelProto model;
  int64_t opset = 0;
  Location loc = UnknownLoc::get(&ctx);
  llvm::StringMap<Entry> values;
  std::vector<Symbol> syms;
  llvm::StringMap<int> symByName;
  std::map<int64_t, Value> i64Scalars;
};

//===----------------------------------------------------------------------===//
// Parsing and validation
//===----------------------------------------------------------------------===//

bool OnnxImporter::parse() {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return fail(llvm::formatv("cannot open: {0}", std::strerror(errno)).str());
  off_t size = ::lseek(fd, 0, SEEK_END);
  ::lseek(fd, 0, SEEK_SET);
  bool ok;
  int64_t stoppedAt;
  {
    google::protobuf::io::FileInputStream fis(fd);
    google::protobuf::io::CodedInputStream cis(&fis);
    cis.SetTotalBytesLimit(INT_MAX);
    ok = model.ParseFromCodedStream(&cis) && cis.ConsumedEntireMessage();
    stoppedAt = cis.CurrentPosition();
  }
  ::close(fd);
  if (!ok)
    return fail(llvm::formatv("not a valid ONNX model: protobuf parsing stopped "
                              "at byte {0} of {1} (truncated or not an ONNX "
                              "file?)",
                              stoppedAt, (int64_t)size)
                    .str());
  if (!model.has_graph() || model.graph().node_size() == 0)
    return fail("not a valid ONNX model: it has no graph nodes (truncated or "
                "not an ONNX file?)");
  for (const auto &o : model.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      opset = o.version();
  if (opset == 0)
    return fail("model declares no default-domain opset (opset_import is "
                "missing; the file may be truncated)");
  // Opsets 13+ are the target; 7-12 import too where an op's semantics
  // did not change (attribute-vs-input forms are handled per op, and
  // Softmax's old flattening semantics are accepted for the last axis only).
  if (opset < 7)
    return fail(llvm::formatv("opset {0} is older than 7, the oldest this "
                              "importer accepts; upgrade it with "
                              "onnx.version_converter.convert_version(model, 17)",
                              opset)
                    .str());
  return true;
}

/// Op types the importer handles (default domain).
const llvm::StringSet<> &supportedOps() {
  static const llvm::StringSet<> ops = {
      "Abs", "Add", "And", "Cast", "CastLike", "Concat", "Constant",
      "ConstantOfShape", "Cos", "Div", "Equal", "Erf", "Exp", "Expand",
      "Flatten", "Gather", "Gelu", "Gemm", "Greater", "GreaterOrEqual",
      "Identity", "LayerNormalization", "Less", "LessOrEqual", "Log", "MatMul",
      "Max", "Min", "Mul", "Neg", "Not", "Or", "Pow", "Range", "Reciprocal",
      "ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum", "Relu", "Reshape",
      "Shape", "Sigmoid", "Sin", "Size", "Slice", "Softmax", "Split", "Sqrt",
      "Squeeze", "Sub", "Tanh", "Transpose", "Unsqueeze", "Where"};
  return ops;
}

bool OnnxImporter::checkSupported() {
  // One diagnostic for everything unsupported: op type, count, node names.
  std::map<std::string, std::vector<std::string>> missing;
  for (const auto &n : model.graph().node()) {
    bool defaultDomain = n.domain().empty() || n.domain() == "ai.onnx";
    if (defaultDomain && supportedOps().contains(n.op_type()))
      continue;
    std::string key = defaultDomain ? n.op_type() : n.domain() + "::" + n.op_type();
    missing[key].push_back(n.name().empty() ? "<unnamed>" : n.name());
  }
  if (missing.empty())
    return true;
  std::string msg = "unsupported ONNX operators (nothing was imported): ";
  bool first = true;
  for (auto &[op, names] : missing) {
    if (!first)
      msg += "; ";
    first = false;
    msg += llvm::formatv("{0} x{1} (", op, names.size()).str();
    for (size_t i = 0; i < names.size() && i < 5; ++i)
      msg += (i ? ", " : "") + names[i];
    if (names.size() > 5)
      msg += llvm::formatv(", ... {0} more", names.size() - 5).str();
    msg += ")";
  }
  return fail(msg);
}

//===----------------------------------------------------------------------===//
// Tensors
//===----------------------------------------------------------------------===//

Type OnnxImporter::elemTypeOf(int32_t t) {
  switch (t) {
  case onnx::TensorProto::FLOAT: return b.getF32Type();
  case onnx::TensorProto::FLOAT16: return b.getF16Type();
  case onnx::TensorProto::BFLOAT16: return b.getBF16Type();
  case onnx::TensorProto::DOUBLE: return b.getF64Type();
  case onnx::TensorProto::INT64: return b.getI64Type();
  case onnx::TensorProto::INT32: return b.getI32Type();
  case onnx::TensorProto::INT16: return b.getI16Type();
  case onnx::TensorProto::INT8: return b.getI8Type();
  case onnx::TensorProto::UINT8:
    return IntegerType::get(&ctx, 8, IntegerType::Unsigned);
  case onnx::TensorProto::BOOL: return b.getI1Type();
  default: return {};
  }
}

/// Little-endian bytes of a tensor's data, from raw_data, the typed fields or
/// an external-data file. `storage` owns converted data when needed.
bool OnnxImporter::tensorBytes(const onnx::TensorProto &t, std::string &storage,
                               StringRef &bytes) {
  Type et = elemTypeOf(t.data_type());
  int64_t n = 1;
  for (int64_t d : t.dims()) {
    if (d < 0 || (d != 0 && n > (int64_t(1) << 56) / d))
      return fail(llvm::formatv("initializer '{0}': dims have more elements than any file "
                                "can hold", t.name())
                      .str());
    n *= d;
  }
  unsigned width = et.isInteger(1) ? 8 : et.getIntOrFloatBitWidth();
  size_t want = size_t(n) * width / 8;
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    std::string location;
    int64_t offset = 0, length = -1;
    for (const auto &kv : t.external_data()) {
      if (kv.key() == "location") {
        location = kv.value();
      } else if (kv.key() == "offset" || kv.key() == "length") {
        int64_t v;
        if (StringRef(kv.value()).getAsInteger(10, v) || v < 0)
          return fail(llvm::formatv("initializer '{0}': external data {1} '{2}' is not a "
                                    "non-negative integer",
                                    t.name(), kv.key(), kv.value())
                          .str());
        (kv.key() == "offset" ? offset : length) = v;
      }
    }
    if (location.empty())
      return fail(llvm::formatv("initializer '{0}': external data without a location",
                                t.name())
                      .str());
    SmallString<256> file(llvm::sys::path::parent_path(path));
    llvm::sys::path::append(file, location);
    auto buf = llvm::MemoryBuffer::getFileSlice(
        file, length < 0 ? want : length, offset, /*IsVolatile=*/false);
    if (!buf)
      return fail(llvm::formatv("initializer '{0}': cannot read {1} bytes at "
                                "offset {2} of external data file '{3}': {4}",
                                t.name(), want, offset, file,
                                buf.getError().message())
                      .str());
    storage.assign((*buf)->getBufferStart(), (*buf)->getBufferSize());
    bytes = storage;
  } else if (t.has_raw_data()) {
    bytes = t.raw_data();
  } else {
    storage.resize(want);
    char *dst = storage.data();
    auto need = [&](int64_t have) {
      return have == n ? true
                       : fail(llvm::formatv("initializer '{0}' holds {1} values "
                                            "but its shape needs {2}",
                                            t.name(), have, n)
                                  .str());
    };
    switch (t.data_type()) {
    case onnx::TensorProto::FLOAT:
      if (!need(t.float_data_size())) return false;
      std::memcpy(dst, t.float_data().data(), want);
      break;
    case onnx::TensorProto::DOUBLE:
      if (!need(t.double_data_size())) return false;
      std::memcpy(dst, t.double_data().data(), want);
      break;
    case onnx::TensorProto::INT64:
      if (!need(t.int64_data_size())) return false;
      std::memcpy(dst, t.int64_data().data(), want);
      break;
    default: // int32_data carries int32/16/8, uint8, bool, float16, bfloat16
      if (!need(t.int32_data_size())) return false;
      for (int64_t i = 0; i < n; ++i) {
        int32_t v = t.int32_data(i);
        std::memcpy(dst + i * (width / 8), &v, width / 8);
      }
    }
    bytes = storage;
  }
  if (bytes.size() != want)
    return fail(llvm::formatv("initializer '{0}' has {1} bytes of data but "
                              "shape and type need {2}",
                              t.name(), bytes.size(), want)
                    .str());
  return true;
}

bool OnnxImporter::entryFromTensor(const onnx::TensorProto &t, StringRef name,
                                   Entry &out, bool initializer) {
  Type et = elemTypeOf(t.data_type());
  if (!et)
    return fail(llvm::formatv("tensor '{0}' has unsupported data type {1}",
                              name, t.data_type())
                    .str());
  for (int64_t d : t.dims())
    if (d < 0)
      return fail(llvm::formatv("tensor '{0}' has a negative dim", name).str());
  std::string storage;
  StringRef bytes;
  if (!tensorBytes(t, storage, bytes))
    return false;
  std::optional<RawFloat> kind;
  switch (t.data_type()) {
  case onnx::TensorProto::FLOAT16: kind = RawFloat::F16; break;
  case onnx::TensorProto::BFLOAT16: kind = RawFloat::BF16; break;
  case onnx::TensorProto::FLOAT: kind = RawFloat::F32; break;
  case onnx::TensorProto::DOUBLE: kind = RawFloat::F64; break;
  default: break;
  }
  if (initializer && kind)
    if (int64_t bad = firstNonFinite(bytes.data(), bytes.size(), *kind, false); bad >= 0)
      return fail(llvm::formatv("initializer '{0}' element {1} is NaN", name, bad).str());
  out.elem = et;
  out.shape.clear();
  for (int64_t d : t.dims())
    out.shape.push_back(DimExpr::cst(d));
  int64_t n = numel(out.shape);
  auto type = typeOf(out.shape, et);
  if (isa<IntegerType>(et) && n <= kMaxKnown) {
    Known k;
    unsigned w = et.isInteger(1) ? 1 : et.getIntOrFloatBitWidth() / 8;
    for (int64_t i = 0; i < n; ++i) {
      int64_t v = 0;
      const char *p = bytes.data() + i * w;
      switch (w) {
      case 1: v = et.isUnsignedInteger() ? (int64_t)(uint8_t)*p : (int64_t)(int8_t)*p; break;
      case 2: { int16_t x; std::memcpy(&x, p, 2); v = x; break; }
      case 4: { int32_t x; std::memcpy(&x, p, 4); v = x; break; }
      default: std::memcpy(&v, p, 8);
      }
      k.push_back(DimExpr::cst(et.isInteger(1) ? (v != 0) : v));
    }
    out.known = std::move(k);
    return true;
  }
  OpBuilder::InsertionGuard g(b);
  if (et.isInteger(1)) {
    SmallVector<bool> vals(bytes.begin(), bytes.end());
    out.value = ConstantOp::create(b, loc, DenseElementsAttr::get(type, vals));
  } else if (n <= kMaxDenseFloat) {
    out.value = ConstantOp::create(
        b, loc, DenseElementsAttr::getFromRawBuffer(type, ArrayRef<char>(bytes.data(), bytes.size())));
  } else {
    AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
        ArrayRef<char>(bytes.data(), bytes.size()), 64);
    out.value = ConstantOp::create(
        b, loc, DenseResourceElementsAttr::get(type, name, std::move(blob)));
  }
  return true;
}

bool OnnxImporter::importInitializer(const onnx::TensorProto &t) {
  Entry e;
  if (!entryFromTensor(t, t.name(), e, /*initializer=*/true))
    return false;
  values[t.name()] = std::move(e);
  return true;
}

//===----------------------------------------------------------------------===//
// Values
//===----------------------------------------------------------------------===//

Entry *OnnxImporter::lookup(const onnx::NodeProto &n, int i) {
  if (i >= n.input_size() || n.input(i).empty()) {
    failNode(n, llvm::formatv("missing required input #{0}", i).str());
    return nullptr;
  }
  auto it = values.find(n.input(i));
  if (it == values.end()) {
    failNode(n, "input '" + n.input(i) +
                    "' is not produced by any earlier node, initializer or "
                    "graph input (graph not topologically sorted?)");
    return nullptr;
  }
  return &it->second;
}

Value OnnxImporter::scalarI64(int64_t v) {
  auto it = i64Scalars.find(v);
  if (it != i64Scalars.end())
    return it->second;
  OpBuilder::InsertionGuard g(b);
  b.setInsertionPointToStart(b.getInsertionBlock());
  auto t = RankedTensorType::get({}, b.getI64Type());
  Value c = ConstantOp::create(b, loc, DenseElementsAttr::get(t, APInt(64, v)));
  i64Scalars[v] = c;
  return c;
}

Value OnnxImporter::materializeDim(DimExpr d) {
  if (d.isConst())
    return scalarI64(d.c);
  const Symbol &s = syms[d.sym];
  if (!s.source) {
    fail("a dynamic dimension that is not an input dimension is needed as a "
         "run-time value; this shape computation is not supported");
    return {};
  }
  Value v = DimOp::create(b, loc, s.source, s.axis);
  if (d.k != 1)
    v = MulOp::create(b, loc, v, scalarI64(d.k));
  if (d.c != 0)
    v = AddOp::create(b, loc, v, scalarI64(d.c));
  return v;
}

Value OnnxImporter::val(Entry &e) {
  if (e.value)
    return e.value;
  if (!e.known)
    return {};
  auto type = typeOf(e.shape, e.elem);
  bool allConst = llvm::all_of(*e.known, [](const DimExpr &d) { return d.isConst(); });
  if (allConst) {
    Attribute attr;
    if (e.elem.isInteger(1)) {
      SmallVector<bool> v;
      for (auto &d : *e.known) v.push_back(d.c != 0);
      attr = DenseElementsAttr::get(type, v);
    } else {
      unsigned w = e.elem.getIntOrFloatBitWidth();
      SmallVector<APInt> v;
      for (auto &d : *e.known) v.push_back(APInt(w, d.c, true));
      attr = DenseElementsAttr::get(type, v);
    }
    e.value = ConstantOp::create(b, loc, cast<ElementsAttr>(attr));
    return e.value;
  }
  // Mixed symbolic contents: build from scalars.
  SmallVector<Value> parts;
  auto one = RankedTensorType::get({1}, b.getI64Type());
  for (const DimExpr &d : *e.known) {
    Value s = materializeDim(d);
    if (!s)
      return {};
    parts.push_back(ReshapeOp::create(b, loc, one, s));
  }
  Value v = parts.size() == 1 ? parts[0]
                              : ConcatOp::create(b, loc, parts, 0).getResult();
  auto i64Type = typeOf(e.shape, b.getI64Type());
  if (cast<RankedTensorType>(v.getType()) != i64Type)
    v = ReshapeOp::create(b, loc, i64Type, v);
  if (e.elem != b.getI64Type())
    v = CastOp::create(b, loc, type, v);
  e.value = v;
  return v;
}

//===----------------------------------------------------------------------===//
// Op families
//===----------------------------------------------------------------------===//

Shape broadcastShape(ArrayRef<DimExpr> a, ArrayRef<DimExpr> b) {
  size_t r = std::max(a.size(), b.size());
  Shape out;
  for (size_t i = 0; i < r; ++i) {
    DimExpr da = i < r - a.size() ? DimExpr::cst(1) : a[i - (r - a.size())];
    DimExpr db = i < r - b.size() ? DimExpr::cst(1) : b[i - (r - b.size())];
    if (da.isConst() && da.c == 1)
      out.push_back(db);
    else if (db.isConst() && db.c == 1)
      out.push_back(da);
    else if (da.isConst())
      out.push_back(da);
    else
      out.push_back(db.isConst() ? db : da);
  }
  return out;
}

/// Row-major index of `idx` (over `out`) into a broadcast operand `s`.
int64_t broadcastIndex(ArrayRef<int64_t> idx, ArrayRef<DimExpr> s) {
  int64_t off = idx.size() - s.size(), flat = 0;
  for (size_t i = 0; i < s.size(); ++i)
    flat = flat * s[i].c + (s[i].c == 1 ? 0 : idx[i + off]);
  return flat;
}

/// Evaluates an elementwise op over known operands; nullopt if any element
/// is not expressible.
std::optional<Known>
evalKnown(ArrayRef<Entry *> ins, const Shape &outShape,
          function_ref<std::optional<DimExpr>(ArrayRef<DimExpr>)> fn) {
  int64_t n = numel(outShape);
  if (n < 0 || n > kMaxKnown)
    return std::nullopt;
  for (Entry *e : ins)
    if (!e->known || numel(e->shape) < 0)
      return std::nullopt;
  Known out;
  SmallVector<int64_t> idx(outShape.size(), 0);
  SmallVector<DimExpr> args(ins.size());
  for (int64_t i = 0; i < n; ++i) {
    for (size_t k = 0; k < ins.size(); ++k)
      args[k] = (*ins[k]->known)[broadcastIndex(idx, ins[k]->shape)];
    auto r = fn(args);
    if (!r)
      return std::nullopt;
    out.push_back(*r);
    for (int64_t d = (int64_t)idx.size() - 1; d >= 0; --d) {
      if (++idx[d] < outShape[d].c)
        break;
      idx[d] = 0;
    }
  }
  return out;
}

std::optional<DimExpr> cmpE(DimExpr a, DimExpr b, StringRef op) {
  if (op == "Equal" && a.same(b))
    return DimExpr::cst(1);
  // Symbolic values are dims (symbols >= 0): k*sym + c with k > 0 is >= c,
  // which settles exporters' `dim == -1` checks.
  if (op == "Equal" && a.isConst() != b.isConst()) {
    DimExpr s = a.isConst() ? b : a, k = a.isConst() ? a : b;
    if (s.k > 0 && k.c < s.c)
      return DimExpr::cst(0);
  }
  if (!a.isConst() || !b.isConst())
    return std::nullopt;
  int64_t r = op == "Equal" ? a.c == b.c
            : op == "Less" ? a.c < b.c
            : op == "Greater" ? a.c > b.c
            : op == "LessOrEqual" ? a.c <= b.c
            : a.c >= b.c;
  return DimExpr::cst(r);
}

bool OnnxImporter::importBinary(const onnx::NodeProto &n, StringRef op) {
  if (n.input_size() < 2 && (op == "Max" || op == "Min")) {
    Entry *x = lookup(n, 0);
    if (!x) return false;
    define(n, 0, *x);
    return true;
  }
  Entry *lhs = lookup(n, 0);
  for (int i = 1; i < n.input_size(); ++i) {
    Entry *rhs = lookup(n, i);
    if (!lhs || !rhs)
      return false;
    Shape shape = broadcastShape(lhs->shape, rhs->shape);
    bool isCmp = op == "Equal" || op == "Less" || op == "Greater" ||
                 op == "LessOrEqual" || op == "GreaterOrEqual";
    bool isLogic = op == "And" || op == "Or";
    Entry res;
    res.shape = shape;
    res.elem = (isCmp || isLogic) ? b.getI1Type() : lhs->elem;
    if (isa<IntegerType>(lhs->elem)) {
      res.known = evalKnown({lhs, rhs}, shape, [&](ArrayRef<DimExpr> a)
                                                   -> std::optional<DimExpr> {
        if (op == "Add") return addE(a[0], a[1]);
        if (op == "Sub") return addE(a[0], *negE(a[1]));
        if (op == "Mul") return mulE(a[0], a[1]);
        if (op == "Div") return divE(a[0], a[1]);
        if (isCmp) return cmpE(a[0], a[1], op);
        if (!a[0].isConst() || !a[1].isConst()) return std::nullopt;
        if (op == "Max") return DimExpr::cst(std::max(a[0].c, a[1].c));
        if (op == "Min") return DimExpr::cst(std::min(a[0].c, a[1].c));
        if (op == "And") return DimExpr::cst(a[0].c && a[1].c);
        if (op == "Or") return DimExpr::cst(a[0].c || a[1].c);
        return std::nullopt;
      });
    }
    if (!res.known) {
      Value l = val(*lhs), r = val(*rhs);
      if (!l || !r)
        return false;
      auto lt = cast<RankedTensorType>(l.getType());
      auto rt = cast<RankedTensorType>(r.getType());
      if (lt.getElementType() != rt.getElementType()) {
        if (op != "Pow")
          return failNode(n, llvm::formatv("operand element types differ ({0} "
                                           "vs {1})", lt.getElementType(),
                                           rt.getElementType()).str());
        r = CastOp::create(b, loc, RankedTensorType::get(rt.getShape(), lt.getElementType()), r);
      }
      if (!checkBroadcast(n, {l, r}))
        return false;
      Value v;
      if (op == "Add") v = AddOp::create(b, loc, l, r);
      else if (op == "Sub") v = SubOp::create(b, loc, l, r);
      else if (op == "Mul") v = MulOp::create(b, loc, l, r);
      else if (op == "Div") v = DivOp::create(b, loc, l, r);
      else if (op == "Pow") v = PowOp::create(b, loc, l, r);
      else if (op == "Max") v = MaxOp::create(b, loc, l, r);
      else if (op == "Min") v = MinOp::create(b, loc, l, r);
      else if (op == "And") v = AndOp::create(b, loc, l, r);
      else if (op == "Or") v = OrOp::create(b, loc, l, r);
      else if (op == "Equal") v = EqualOp::create(b, loc, l, r);
      else if (op == "Less") v = LessOp::create(b, loc, l, r);
      else if (op == "Greater") v = GreaterOp::create(b, loc, l, r);
      else if (op == "LessOrEqual")
        v = NotOp::create(b, loc, GreaterOp::create(b, loc, l, r));
      else if (op == "GreaterOrEqual")
        v = NotOp::create(b, loc, LessOp::create(b, loc, l, r));
      res.value = v;
    }
    values[n.output(0)] = res;
    lhs = &values[n.output(0)];
  }
  return true;
}

bool OnnxImporter::importUnary(const onnx::NodeProto &n, StringRef op) {
  Entry *x = lookup(n, 0);
  if (!x)
    return false;
  if (x->known && (op == "Neg" || op == "Abs" || op == "Not")) {
    Entry res = *x;
    res.value = {};
    if (auto k = evalKnown({x}, x->shape, [&](ArrayRef<DimExpr> a) -> std::optional<DimExpr> {
          if (op == "Neg") return negE(a[0]);
          if (!a[0].isConst()) return std::nullopt;
          return DimExpr::cst(op == "Abs" ? std::abs(a[0].c) : !a[0].c);
        })) {
      res.known = k;
      define(n, 0, res);
      return true;
    }
  }
  Value v = val(*x);
  if (!v)
    return false;
  Value r;
  if (op == "Neg") r = NegOp::create(b, loc, v);
  else if (op == "Abs") r = AbsOp::create(b, loc, v);
  else if (op == "Not") r = NotOp::create(b, loc, v);
  else if (op == "Exp") r = ExpOp::create(b, loc, v);
  else if (op == "Log") r = LogOp::create(b, loc, v);
  else if (op == "Sqrt") r = SqrtOp::create(b, loc, v);
  else if (op == "Reciprocal") r = ReciprocalOp::create(b, loc, v);
  else if (op == "Tanh") r = TanhOp::create(b, loc, v);
  else if (op == "Erf") r = ErfOp::create(b, loc, v);
  else if (op == "Sin") r = SinOp::create(b, loc, v);
  else if (op == "Cos") r = CosOp::create(b, loc, v);
  else if (op == "Sigmoid") r = SigmoidOp::create(b, loc, v);
  else if (op == "Relu") r = ReluOp::create(b, loc, v);
  else if (op == "Gelu") {
    auto *a = attr(n, "approximate");
    bool tanh = a && a->s() == "tanh";
    r = GeluOp::create(b, loc, v, GeluApproximationAttr::get(&ctx, tanh ? GeluApproximation::tanh : GeluApproximation::none));
  } else if (op == "Softmax") {
    int64_t rank = x->shape.size();
    int64_t axis = attrInt(n, "axis", opset < 13 ? 1 : -1);
    if (normalizeAxis(axis, rank) < 0)
      return failNode(n, llvm::formatv("axis {0} out of range", axis).str());
    // Before opset 13 Softmax flattened the input to 2-d at `axis`: that is
    // the per-axis softmax only when `axis` is the last dim.
    if (opset < 13 && normalizeAxis(axis, rank) != rank - 1)
      return failNode(n, "opset < 13 Softmax over a non-last axis (coerced to 2-d) is not supported");
    r = SoftmaxOp::create(b, loc, v, axis);
  }
  defineValue(n, 0, r, x->shape);
  return true;
}

/// Reshape-like ops (Reshape, Unsqueeze, Squeeze, Flatten) on `x` to `target`.
bool OnnxImporter::importReshapeLike(const onnx::NodeProto &n, Entry &x,
                                     Shape target) {
  Entry res;
  res.elem = x.elem;
  res.shape = target;
  if (x.known && numel(target) >= 0) {
    res.known = x.known;
    define(n, 0, res);
    return true;
  }
  int dyn = 0;
  for (auto &d : target)
    dyn += !d.isConst();
  if (dyn > 1)
    return failNode(n, "reshape to a shape with more than one dynamic dim is "
                       "not supported");
  Value v = val(x);
  if (!v)
    return false;
  auto type = typeOf(target, x.elem);
  res.value = v.getType() == type ? v : ReshapeOp::create(b, loc, type, v).getResult();
  define(n, 0, res);
  return true;
}

bool OnnxImporter::importReduce(const onnx::NodeProto &n, StringRef op) {
  Entry *x = lookup(n, 0);
  if (!x)
    return false;
  std::optional<SmallVector<int64_t>> axes;
  if (!axesOf(n, 1, axes))
    return false;
  bool keep = attrInt(n, "keepdims", 1) != 0;
  if ((!axes || axes->empty()) && attrInt(n, "noop_with_empty_axes", 0)) {
    define(n, 0, *x);
    return true;
  }
  int64_t rank = x->shape.size();
  SmallVector<bool> red(rank, !axes || axes->empty());
  if (axes)
    for (int64_t a : *axes) {
      int64_t ax = normalizeAxis(a, rank);
      if (ax < 0)
        return failNode(n, llvm::formatv("axis {0} out of range for rank {1}", a, rank).str());
      red[ax] = true;
    }
  SmallVector<int64_t> norm;
  Shape shape;
  for (int64_t i = 0; i < rank; ++i) {
    if (red[i])
      norm.push_back(i);
    if (!red[i])
      shape.push_back(x->shape[i]);
    else if (keep)
      shape.push_back(DimExpr::cst(1));
  }
  Value v = val(*x);
  if (!v)
    return false;
  bool k = keep;
  Value r;
  if (op == "ReduceMean") r = ReduceMeanOp::create(b, loc, v, ArrayRef<int64_t>(norm), k);
  else if (op == "ReduceSum") r = ReduceSumOp::create(b, loc, v, ArrayRef<int64_t>(norm), k);
  else if (op == "ReduceMax") r = ReduceMaxOp::create(b, loc, v, ArrayRef<int64_t>(norm), k);
  else r = ReduceMinOp::create(b, loc, v, ArrayRef<int64_t>(norm), k);
  defineValue(n, 0, r, shape);
  return true;
}

/// ONNX Slice: a negative bound counts from the end, then bounds clamp to
/// [0, dim] (positive step) or [-1, dim - 1] (negative step).
int64_t clampSliceBound(int64_t v, int64_t dim, int64_t step) {
  if (v < 0)
    v += dim;
  return step > 0 ? std::clamp<int64_t>(v, 0, dim)
                  : std::clamp<int64_t>(v, -1, dim - 1);
}

bool OnnxImporter::importSlice(const onnx::NodeProto &n) {
  Entry *x = lookup(n, 0);
  if (!x)
    return false;
  auto knownInput = [&](int i, StringRef what) -> std::optional<Known> {
    if (i >= n.input_size() || n.input(i).empty())
      return Known();
    Entry *e = lookup(n, i);
    if (!e)
      return std::nullopt;
    if (!e->known) {
      failNode(n, ("'" + what + "' must be computable at compile time").str());
      return std::nullopt;
    }
    return *e->known;
  };
  auto starts = knownInput(1, "starts"), ends = knownInput(2, "ends"),
       axesK = knownInput(3, "axes"), stepsK = knownInput(4, "steps");
  if (opset < 10) { // starts/ends/axes were attributes
    auto fromAttr = [&](StringRef name) {
      Known k;
      if (auto v = attrInts(n, name))
        for (int64_t i : *v)
          k.push_back(DimExpr::cst(i));
      return k;
    };
    starts = fromAttr("starts");
    ends = fromAttr("ends");
    axesK = fromAttr("axes");
    stepsK = Known();
  }
  if (!starts || !ends || !axesK || !stepsK)
    return false;
  int64_t rank = x->shape.size();
  size_t m = starts->size();
  if (ends->size() != m || (!axesK->empty() && axesK->size() != m) ||
      (!stepsK->empty() && stepsK->size() != m))
    return failNode(n, "starts, ends, axes and steps differ in length");
  SmallVector<int64_t> axes, st, en, steps;
  Shape shape = x->shape;
  for (size_t i = 0; i < m; ++i) {
    int64_t ax = axesK->empty() ? i : (*axesK)[i].c;
    int64_t step = stepsK->empty() ? 1 : (*stepsK)[i].c;
    int64_t nax = normalizeAxis(ax, rank);
    if (nax < 0 || step == 0)
      return failNode(n, "bad slice axis or zero step");
    DimExpr dim = x->shape[nax];
    DimExpr s = (*starts)[i], e = (*ends)[i];
    // A symbolic end equal to the dim means "to the end".
    if (!e.isConst() && e.same(dim))
      e = DimExpr::cst(INT64_MAX);
    if (!s.isConst() || !e.isConst())
      return failNode(n, "slice bounds depend on a dynamic dim in a way this "
                         "importer cannot fold");
    axes.push_back(nax);
    st.push_back(s.c);
    en.push_back(e.c);
    steps.push_back(step);
    if (dim.isConst()) {
      int64_t b0 = clampSliceBound(s.c, dim.c, step);
      int64_t e0 = clampSliceBound(e.c, dim.c, step);
      int64_t len = step > 0 ? (e0 - b0 + step - 1) / step
                             : (b0 - e0 - step - 1) / (-step);
      shape[nax] = DimExpr::cst(std::max<int64_t>(len, 0));
    } else if (s.c == 0 && e.c >= INT32_MAX && step == 1) {
      shape[nax] = dim;
    } else if (s.c >= 0 && e.c >= INT32_MAX && step == 1) {
      shape[nax] = *addE(dim, DimExpr::cst(-s.c));
    } else {
      shape[nax] = DimExpr::symbol(freshSymbol());
    }
  }
  // Known 1-d integer tensors (shape vectors) slice at import time.
  if (x->known && rank == 1 && m == 1 && x->shape[0].isConst()) {
    Entry res;
    res.elem = x->elem;
    res.shape = shape;
    int64_t d = x->shape[0].c, step = steps[0];
    int64_t s0 = clampSliceBound(st[0], d, step), e0 = clampSliceBound(en[0], d, step);
    Known k;
    for (int64_t i = s0; step > 0 ? i < e0 : i > e0; i += step)
      k.push_back((*x->known)[i]);
    res.known = k;
    define(n, 0, res);
    return true;
  }
  Value v = val(*x);
  if (!v)
    return false;
  Value r = SliceOp::create(b, loc, v, axes, st, en, steps);
  defineValue(n, 0, r, shape);
  return true;
}

bool OnnxImporter::importGather(const onnx::NodeProto &n) {
  Entry *data = lookup(n, 0), *idx = lookup(n, 1);
  if (!data || !idx)
    return false;
  int64_t rank = data->shape.size();
  int64_t axis = normalizeAxis(attrInt(n, "axis", 0), rank);
  if (axis < 0)
    return failNode(n, "axis out of range");
  Shape shape(data->shape.begin(), data->shape.begin() + axis);
  shape.append(idx->shape.begin(), idx->shape.end());
  shape.append(data->shape.begin() + axis + 1, data->shape.end());
  if (data->known && idx->known && rank == 1 && data->shape[0].isConst()) {
    auto ids = constInts(*idx);
    if (ids) {
      Entry res;
      res.elem = data->elem;
      res.shape = shape;
      Known k;
      for (int64_t i : *ids) {
        int64_t j = i < 0 ? i + data->shape[0].c : i;
        if (j < 0 || j >= data->shape[0].c)
          return failNode(n, llvm::formatv("index {0} out of range", i).str());
        k.push_back((*data->known)[j]);
      }
      res.known = k;
      define(n, 0, res);
      return true;
    }
  }
  Value d = val(*data), i = val(*idx);
  if (!d || !i)
    return false;
  Value r = GatherOp::create(b, loc, d, i, axis);
  defineValue(n, 0, r, shape);
  return true;
}

bool OnnxImporter::importGemm(const onnx::NodeProto &n) {
  Entry *a = lookup(n, 0), *w = lookup(n, 1);
  if (!a || !w)
    return false;
  float alpha = attrFloat(n, "alpha", 1.0f), beta = attrFloat(n, "beta", 1.0f);
  bool ta = attrInt(n, "transA", 0), tb = attrInt(n, "transB", 0);
  Value av = val(*a), wv = val(*w);
  if (!av || !wv)
    return false;
  if (a->shape.size() != 2 || w->shape.size() != 2)
    return failNode(n, "Gemm operands must be 2-d");
  if (ta)
    av = TransposeOp::create(b, loc, av, ArrayRef<int64_t>{1, 0});
  Value bias;
  if (n.input_size() > 2 && !n.input(2).empty()) {
    Entry *c = lookup(n, 2);
    if (!c || !(bias = val(*c)))
      return false;
  }
  Shape shape = {ta ? a->shape[1] : a->shape[0], tb ? w->shape[0] : w->shape[1]};
  Value r;
  if (tb) {
    r = LinearOp::create(b, loc, av, wv, Value());
  } else {
    r = MatMulOp::create(b, loc, av, wv);
  }
  auto et = cast<RankedTensorType>(r.getType()).getElementType();
  auto scalar = [&](float f) {
    return ConstantOp::create(b, loc, DenseElementsAttr::get(RankedTensorType::get({}, et), APFloat(f))).getResult();
  };
  if (alpha != 1.0f)
    r = MulOp::create(b, loc, r, scalar(alpha));
  if (bias) {
    if (beta != 1.0f)
      bias = MulOp::create(b, loc, bias, scalar(beta));
    r = AddOp::create(b, loc, r, bias);
  }
  defineValue(n, 0, r, shape);
  return true;
}

bool OnnxImporter::importConstantNode(const onnx::NodeProto &n) {
  if (n.attribute_size() != 1)
    return failNode(n, "Constant needs exactly one value attribute");
  const auto &a = n.attribute(0);
  Entry e;
  std::string name = n.output(0);
  if (a.name() == "value") {
    if (!entryFromTensor(a.t(), name, e))
      return false;
  } else if (a.name() == "value_float" || a.name() == "value_floats") {
    SmallVector<float> fs;
    if (a.name() == "value_float") fs.push_back(a.f());
    else fs.assign(a.floats().begin(), a.floats().end());
    e.elem = b.getF32Type();
    if (a.name() == "value_floats") e.shape.push_back(DimExpr::cst(fs.size()));
    e.value = ConstantOp::create(b, loc, DenseElementsAttr::get(typeOf(e.shape, e.elem), ArrayRef<float>(fs)));
  } else if (a.name() == "value_int" || a.name() == "value_ints") {
    e.elem = b.getI64Type();
    Known k;
    if (a.name() == "value_int") k.push_back(DimExpr::cst(a.i()));
    else {
      for (int64_t v : a.ints()) k.push_back(DimExpr::cst(v));
      e.shape.push_back(DimExpr::cst(k.size()));
    }
    e.known = k;
  } else {
    return failNode(n, "Constant attribute '" + a.name() + "' is not supported");
  }
  define(n, 0, e);
  return true;
}

//===----------------------------------------------------------------------===//
// Nodes
//===----------------------------------------------------------------------===//

bool OnnxImporter::importNode(const onnx::NodeProto &n) {
  loc = locOf(n);
  StringRef op = n.op_type();
  // Every op imported here has a result (some handlers name output 0).
  if (n.output_size() == 0 || n.output(0).empty())
    return failNode(n, "has no output");
  static const llvm::StringSet<> binary = {
      "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "And", "Or", "Equal",
      "Less", "Greater", "LessOrEqual", "GreaterOrEqual"};
  static const llvm::StringSet<> unary = {
      "Neg", "Abs", "Not", "Exp", "Log", "Sqrt", "Reciprocal", "Tanh", "Erf",
      "Sin", "Cos", "Sigmoid", "Relu", "Gelu", "Softmax"};
  if (binary.contains(op))
    return importBinary(n, op);
  if (unary.contains(op))
    return importUnary(n, op);
  if (op.starts_with("Reduce"))
    return importReduce(n, op);
  if (op == "Constant")
    return importConstantNode(n);
  if (op == "Slice")
    return importSlice(n);
  if (op == "Gather")
    return importGather(n);
  if (op == "Gemm")
    return importGemm(n);

  Entry *x = lookup(n, 0);
  if (!x)
    return false;
  int64_t rank = x->shape.size();

  if (op == "Identity") {
    define(n, 0, *x);
    return true;
  }
  if (op == "Cast" || op == "CastLike") {
    Type to;
    if (op == "Cast") {
      to = elemTypeOf(attrInt(n, "to", 0));
    } else {
      Entry *like = lookup(n, 1);
      if (!like) return false;
      to = like->elem;
    }
    if (!to)
      return failNode(n, "unsupported target type");
    Entry res = *x;
    res.elem = to;
    if (x->known && isa<IntegerType>(to)) {
      res.value = {};
      if (to.isInteger(1))
        for (auto &d : *res.known)
          if (d.isConst()) d.c = d.c != 0;
      define(n, 0, res);
      return true;
    }
    Value v = val(*x);
    if (!v)
      return false;
    if (x->elem != to)
      v = CastOp::create(b, loc, typeOf(x->shape, to), v);
    res.known.reset();
    res.value = v;
    define(n, 0, res);
    return true;
  }
  if (op == "Shape") {
    // Negative start/end count from the back; both clamp to [0, rank].
    auto clampDim = [&](int64_t v) { return std::clamp<int64_t>(v < 0 ? v + rank : v, 0, rank); };
    int64_t start = clampDim(attrInt(n, "start", 0));
    int64_t end = std::max(start, clampDim(attrInt(n, "end", rank)));
    Entry res;
    res.elem = b.getI64Type();
    res.known = Known(x->shape.begin() + start, x->shape.begin() + end);
    res.shape = {DimExpr::cst(res.known->size())};
    define(n, 0, res);
    return true;
  }
  if (op == "Size") {
    DimExpr total = DimExpr::cst(1);
    for (auto &d : x->shape) {
      auto t = mulE(total, d);
      if (!t)
        return failNode(n, "size of a tensor with several dynamic dims");
      total = *t;
    }
    Entry res;
    res.elem = b.getI64Type();
    res.known = Known{total};
    define(n, 0, res);
    return true;
  }
  if (op == "Unsqueeze" || op == "Squeeze") {
    std::optional<SmallVector<int64_t>> axes;
    if (!axesOf(n, 1, axes))
      return false;
    Shape shape;
    if (op == "Unsqueeze") {
      if (!axes)
        return failNode(n, "Unsqueeze needs axes");
      int64_t outRank = rank + axes->size();
      SmallVector<bool> ins(outRank, false);
      for (int64_t a : *axes) {
        int64_t ax = normalizeAxis(a, outRank);
        if (ax < 0)
          return failNode(n, "axis out of range");
        ins[ax] = true;
      }
      for (int64_t i = 0, j = 0; i < outRank; ++i)
        shape.push_back(ins[i] ? DimExpr::cst(1) : x->shape[j++]);
    } else {
      SmallVector<bool> drop(rank, false);
      if (axes) {
        for (int64_t a : *axes) {
          int64_t ax = normalizeAxis(a, rank);
          if (ax < 0)
            return failNode(n, "axis out of range");
          drop[ax] = true;
        }
      } else {
        for (int64_t i = 0; i < rank; ++i)
          drop[i] = x->shape[i].isConst() && x->shape[i].c == 1;
      }
      for (int64_t i = 0; i < rank; ++i)
        if (!drop[i])
          shape.push_back(x->shape[i]);
    }
    return importReshapeLike(n, *x, shape);
  }
  if (op == "Reshape") {
    Entry *s = lookup(n, 1);
    if (!s)
      return false;
    if (!s->known)
      return failNode(n, "the target shape is computed at run time in a way "
                         "this importer cannot fold");
    bool allowZero = attrInt(n, "allowzero", 0);
    Shape target;
    int inferAt = -1;
    for (size_t i = 0; i < s->known->size(); ++i) {
      DimExpr d = (*s->known)[i];
      if (d.isConst() && d.c == 0 && !allowZero) {
        if ((int64_t)i >= rank)
          return failNode(n, "0 in target shape beyond input rank");
        d = x->shape[i];
      } else if (d.isConst() && d.c == -1) {
        inferAt = i;
      }
      target.push_back(d);
    }
    if (inferAt >= 0) {
      // -1 = numel(input) / numel(other target dims), symbolically.
      DimExpr num = DimExpr::cst(1), den = DimExpr::cst(1);
      bool ok = true;
      for (auto &d : x->shape) {
        auto t = mulE(num, d);
        ok &= (bool)t;
        if (t) num = *t;
      }
      for (size_t i = 0; i < target.size(); ++i)
        if ((int)i != inferAt) {
          auto t = mulE(den, target[i]);
          ok &= (bool)t;
          if (t) den = *t;
        }
      std::optional<DimExpr> q;
      if (ok && den.isConst())
        q = divE(num, den);
      else if (ok && num.same(den))
        q = DimExpr::cst(1);
      else if (ok && !num.isConst() && !den.isConst() && num.sym == den.sym &&
               num.c == 0 && den.c == 0 && den.k != 0 && num.k % den.k == 0)
        q = DimExpr::cst(num.k / den.k);
      target[inferAt] = q ? *q : DimExpr::symbol(freshSymbol());
    }
    return importReshapeLike(n, *x, target);
  }
  if (op == "Flatten") {
    int64_t axis = attrInt(n, "axis", 1);
    if (axis < 0) axis += rank;
    DimExpr a = DimExpr::cst(1), c = DimExpr::cst(1);
    for (int64_t i = 0; i < rank; ++i) {
      auto t = mulE(i < axis ? a : c, x->shape[i]);
      if (!t)
        return failNode(n, "flatten over several dynamic dims");
      (i < axis ? a : c) = *t;
    }
    return importReshapeLike(n, *x, {a, c});
  }
  if (op == "Transpose") {
    auto perm = attrInts(n, "perm");
    SmallVector<int64_t> p;
    if (perm) p = *perm;
    else for (int64_t i = rank - 1; i >= 0; --i) p.push_back(i);
    if ((int64_t)p.size() != rank)
      return failNode(n, "perm length differs from input rank");
    Shape shape;
    for (int64_t i : p) {
      if (i < 0 || i >= rank)
        return failNode(n, "perm entry out of range");
      shape.push_back(x->shape[i]);
    }
    Value v = val(*x);
    if (!v) return false;
    defineValue(n, 0, TransposeOp::create(b, loc, v, p), shape);
    return true;
  }
  if (op == "Concat") {
    int64_t axis = normalizeAxis(attrInt(n, "axis", 0), rank);
    if (axis < 0)
      return failNode(n, "axis out of range");
    SmallVector<Entry *> ins;
    for (int i = 0; i < n.input_size(); ++i) {
      Entry *e = lookup(n, i);
      if (!e) return false;
      if ((int64_t)e->shape.size() != rank)
        return failNode(n, "inputs differ in rank");
      ins.push_back(e);
    }
    Shape shape = x->shape;
    for (size_t i = 1; i < ins.size(); ++i) {
      auto s = addE(shape[axis], ins[i]->shape[axis]);
      shape[axis] = s ? *s : DimExpr::symbol(freshSymbol());
    }
    if (rank == 1 && llvm::all_of(ins, [](Entry *e) { return e->known.has_value(); })) {
      Entry res;
      res.elem = x->elem;
      res.shape = shape;
      Known k;
      for (Entry *e : ins) k.append(e->known->begin(), e->known->end());
      res.known = k;
      define(n, 0, res);
      return true;
    }
    SmallVector<Value> vs;
    for (Entry *e : ins) {
      Value v = val(*e);
      if (!v) return false;
      vs.push_back(v);
    }
    defineValue(n, 0, ConcatOp::create(b, loc, vs, axis), shape);
    return true;
  }
  if (op == "Split") {
    int64_t axis = normalizeAxis(attrInt(n, "axis", 0), rank);
    if (axis < 0)
      return failNode(n, "axis out of range");
    std::optional<SmallVector<int64_t>> sizes = attrInts(n, "split");
    if (n.input_size() > 1 && !n.input(1).empty()) {
      Entry *s = lookup(n, 1);
      if (!s) return false;
      sizes = constInts(*s);
      if (!sizes) return failNode(n, "split sizes must be constant");
    }
    int outs = n.output_size();
    if (!sizes) {
      if (!x->shape[axis].isConst())
        return failNode(n, "even split of a dynamic dim");
      int64_t d = x->shape[axis].c, per = (d + outs - 1) / outs;
      sizes.emplace();
      for (int i = 0; i < outs; ++i)
        sizes->push_back(std::min(per, d - per * i));
    }
    if ((int)sizes->size() != outs)
      return failNode(n, "number of split sizes differs from outputs");
    SmallVector<Type> types;
    SmallVector<Shape> shapes;
    for (int64_t s : *sizes) {
      Shape sh = x->shape;
      sh[axis] = DimExpr::cst(s);
      shapes.push_back(sh);
      types.push_back(typeOf(sh, x->elem));
    }
    Value v = val(*x);
    if (!v) return false;
    auto split = SplitOp::create(b, loc, types, v, axis);
    for (int i = 0; i < outs; ++i)
      defineValue(n, i, split.getResult(i), shapes[i]);
    return true;
  }
  if (op == "Expand") {
    Entry *s = lookup(n, 1);
    if (!s) return false;
    if (!s->known)
      return failNode(n, "the target shape must be computable at compile time");
    Shape shape = broadcastShape(x->shape, *s->known);
    if (x->known) {
      if (auto k = evalKnown({x}, shape, [](ArrayRef<DimExpr> a) { return std::optional<DimExpr>(a[0]); })) {
        Entry res;
        res.elem = x->elem;
        res.shape = shape;
        res.known = k;
        define(n, 0, res);
        return true;
      }
    }
    Value v = val(*x);
    if (!v) return false;
    auto type = typeOf(shape, x->elem);
    Value r = v.getType() == type ? v : BroadcastToOp::create(b, loc, type, v).getResult();
    defineValue(n, 0, r, shape);
    return true;
  }
  if (op == "ConstantOfShape") {
    if (!x->known)
      return failNode(n, "the shape must be computable at compile time");
    Shape shape(x->known->begin(), x->known->end());
    Entry fill;
    auto *a = attr(n, "value");
    if (a) {
      if (!entryFromTensor(a->t(), n.output(0), fill))
        return false;
    } else {
      fill.elem = b.getF32Type();
      fill.value = ConstantOp::create(b, loc, DenseElementsAttr::get(RankedTensorType::get({1}, fill.elem), 0.0f));
    }
    Entry res;
    res.elem = fill.elem;
    res.shape = shape;
    if (fill.known && numel(shape) >= 0 && numel(shape) <= kMaxKnown) {
      res.known = Known(numel(shape), (*fill.known)[0]);
      define(n, 0, res);
      return true;
    }
    if (numel(shape) < 0)
      return failNode(n, "ConstantOfShape with a dynamic shape is not supported");
    Value f = val(fill);
    auto splat = cast<DenseElementsAttr>(cast<ConstantOp>(f.getDefiningOp()).getValue());
    res.value = ConstantOp::create(
        b, loc, cast<ElementsAttr>(DenseElementsAttr::get(
                    typeOf(shape, fill.elem),
                    ArrayRef<Attribute>{splat.getValues<Attribute>()[0]})));
    define(n, 0, res);
    return true;
  }
  if (op == "Range") {
    Entry *l = lookup(n, 1), *d = lookup(n, 2);
    if (!l || !d) return false;
    Entry res;
    res.elem = x->elem;
    std::optional<DimExpr> s0, l0, d0;
    if (x->known && !x->known->empty())
      s0 = (*x->known)[0];
    if (l->known && !l->known->empty())
      l0 = (*l->known)[0];
    if (d->known && !d->known->empty())
      d0 = (*d->known)[0];
    if (s0 && l0 && d0 && s0->isConst() && l0->isConst() && d0->isConst() && d0->c != 0) {
      int64_t len = std::max<int64_t>(0, (l0->c - s0->c + d0->c - (d0->c > 0 ? 1 : -1)) / d0->c);
      if (len <= kMaxKnown) {
        Known k;
        for (int64_t i = 0; i < len; ++i) k.push_back(DimExpr::cst(s0->c + i * d0->c));
        res.known = k;
        res.shape = {DimExpr::cst(len)};
        define(n, 0, res);
        return true;
      }
    }
    if (s0 && d0 && l0 && s0->isConst() && d0->isConst() && d0->c == 1)
      res.shape = {*addE(*l0, DimExpr::cst(-s0->c))};
    else
      res.shape = {DimExpr::symbol(freshSymbol())};
    Value sv = val(*x), lv = val(*l), dv = val(*d);
    if (!sv || !lv || !dv) return false;
    res.value = RangeOp::create(b, loc, typeOf(res.shape, res.elem), sv, lv, dv);
    define(n, 0, res);
    return true;
  }
  if (op == "Where") {
    Entry *xx = lookup(n, 1), *yy = lookup(n, 2);
    if (!xx || !yy) return false;
    Shape shape = broadcastShape(broadcastShape(x->shape, xx->shape), yy->shape);
    if (x->known && xx->known && yy->known && isa<IntegerType>(xx->elem)) {
      if (auto k = evalKnown({x, xx, yy}, shape, [](ArrayRef<DimExpr> a) -> std::optional<DimExpr> {
            if (!a[0].isConst()) return std::nullopt;
            return a[0].c ? a[1] : a[2];
          })) {
        Entry res;
        res.elem = xx->elem;
        res.shape = shape;
        res.known = k;
        define(n, 0, res);
        return true;
      }
    }
    Value c = val(*x), xv = val(*xx), yv = val(*yy);
    if (!c || !xv || !yv) return false;
    if (!x->elem.isInteger(1))
      return failNode(n, "condition must be a bool tensor");
    if (xx->elem != yy->elem)
      return failNode(n, "X and Y element types differ");
    if (!checkBroadcast(n, {c, xv, yv}))
      return false;
    defineValue(n, 0, WhereOp::create(b, loc, c, xv, yv), shape);
    return true;
  }
  if (op == "MatMul") {
    Entry *w = lookup(n, 1);
    if (!w) return false;
    Shape ls = x->shape, rs = w->shape;
    if (ls.empty() || rs.empty())
      return failNode(n, "MatMul operands must have rank >= 1");
    bool lv = ls.size() == 1, rv = rs.size() == 1;
    if (lv) ls.insert(ls.begin(), DimExpr::cst(1));
    if (rv) rs.push_back(DimExpr::cst(1));
    Shape shape = broadcastShape(ArrayRef<DimExpr>(ls).drop_back(2), ArrayRef<DimExpr>(rs).drop_back(2));
    if (!lv) shape.push_back(ls[ls.size() - 2]);
    if (!rv) shape.push_back(rs.back());
    Value a = val(*x), bv = val(*w);
    if (!a || !bv) return false;
    if (x->elem != w->elem)
      return failNode(n, "operand element types differ");
    DimExpr k1 = ls.back(), k2 = rs[rs.size() - 2];
    if (k1.isConst() && k2.isConst() && k1.c != k2.c)
      return failNode(n, llvm::formatv("contraction dims differ ({0} vs {1})", k1.c, k2.c).str());
    {
      auto at = cast<RankedTensorType>(a.getType()), bt = cast<RankedTensorType>(bv.getType());
      ArrayRef<int64_t> ab = at.getShape(), bb = bt.getShape();
      SmallVector<int64_t> tmp;
      if (failed(broadcastShapes(ab.drop_back(std::min<size_t>(2, ab.size())),
                                 bb.drop_back(std::min<size_t>(2, bb.size())), tmp)))
        return failNode(n, "batch dims do not broadcast");
      int64_t ka = ab.back(), kb = bb.size() >= 2 ? bb[bb.size() - 2] : bb[0];
      if (ka != ShapedType::kDynamic && kb != ShapedType::kDynamic && ka != kb)
        return failNode(n, llvm::formatv("contraction dims differ ({0} vs {1})", ka, kb).str());
    }
    auto mm = MatMulOp::create(b, loc, a, bv);
    defineValue(n, 0, mm, shape);
    return true;
  }
  if (op == "LayerNormalization") {
    int64_t axis = attrInt(n, "axis", -1);
    if (normalizeAxis(axis, rank) != rank - 1)
      return failNode(n, "only normalization over the last axis is supported");
    for (int i = 1; i < n.output_size(); ++i)
      if (!n.output(i).empty())
        return failNode(n, "the Mean/InvStdDev outputs are not supported");
    Value v = val(*x), w, bias;
    Entry *we = lookup(n, 1);
    if (!v || !we || !(w = val(*we))) return false;
    if (n.input_size() > 2 && !n.input(2).empty()) {
      Entry *be = lookup(n, 2);
      if (!be || !(bias = val(*be))) return false;
    }
    auto ln = LayerNormOp::create(b, loc, v.getType(), v, w, bias, b.getF32FloatAttr(attrFloat(n, "epsilon", 1e-5f)));
    defineValue(n, 0, ln, x->shape);
    return true;
  }
  return failNode(n, "not handled (importer bug: op listed as supported)");
}

//===----------------------------------------------------------------------===//
// Driver
//===----------------------------------------------------------------------===//

bool OnnxImporter::importInputs(SmallVectorImpl<Type> &types,
                                SmallVectorImpl<DictionaryAttr> &attrs) {
  llvm::StringSet<> inits;
  for (const auto &t : model.graph().initializer())
    inits.insert(t.name());
  for (const auto &in : model.graph().input()) {
    if (inits.contains(in.name()))
      continue;
    if (!in.type().has_tensor_type())
      return fail("graph input '" + in.name() + "' is not a tensor");
    const auto &tt = in.type().tensor_type();
    Type et = elemTypeOf(tt.elem_type());
    if (!et)
      return fail(llvm::formatv("graph input '{0}' has unsupported element "
                                "type {1}", in.name(), tt.elem_type()).str());
    if (!tt.has_shape())
      return fail("graph input '" + in.name() + "' has no shape (rank unknown)");
    Entry e;
    e.elem = et;
    SmallVector<Attribute> names;
    for (const auto &d : tt.shape().dim()) {
      if (d.has_dim_value()) {
        e.shape.push_back(DimExpr::cst(d.dim_value()));
        names.push_back(b.getStringAttr(""));
        continue;
      }
      std::string nm = d.dim_param();
      int s;
      auto it = nm.empty() ? symByName.end() : symByName.find(nm);
      if (it != symByName.end()) {
        s = it->second;
      } else {
        s = freshSymbol(nm);
        if (!nm.empty())
          symByName[nm] = s;
      }
      e.shape.push_back(DimExpr::symbol(s));
      names.push_back(b.getStringAttr(nm.empty() ? "?" : nm));
    }
    types.push_back(typeOf(e.shape, et));
    attrs.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("mu.name", b.getStringAttr(in.name())),
         b.getNamedAttr("mu.dim_names", b.getArrayAttr(names))}));
    values[in.name()] = std::move(e);
  }
  return true;
}

OwningOpRef<ModuleOp> OnnxImporter::run() {
  ctx.loadDialect<MuDialect, func::FuncDialect>();
  if (!parse() || !checkSupported())
    return {};
  OwningOpRef<ModuleOp> module = ModuleOp::create(FileLineColLoc::get(&ctx, path, 0, 0));
  b.setInsertionPointToEnd(module->getBody());
  SmallVector<Type> argTypes;
  SmallVector<DictionaryAttr> argAttrs;
  if (!importInputs(argTypes, argAttrs))
    return {};
  auto func = func::FuncOp::create(b, loc, "main", b.getFunctionType(argTypes, {}));
  func.setAllArgAttrs(argAttrs);
  Block *entry = func.addEntryBlock();
  b.setInsertionPointToEnd(entry);
  {
    unsigned i = 0;
    for (const auto &in : model.graph().input()) {
      auto it = values.find(in.name());
      if (it == values.end() || it->second.value || it->second.known)
        continue;
      it->second.value = entry->getArgument(i);
      for (auto [axis, d] : llvm::enumerate(it->second.shape))
        if (!d.isConst() && !syms[d.sym].source) {
          syms[d.sym].source = entry->getArgument(i);
          syms[d.sym].axis = axis;
        }
      ++i;
    }
  }
  // Initializers: converted once, then their protobuf bytes are released so
  // a large model is not held twice.
  auto *graph = model.mutable_graph();
  for (auto &t : *graph->mutable_initializer()) {
    loc = NameLoc::get(b.getStringAttr(t.name()));
    if (!importInitializer(t))
      return {};
    t.clear_raw_data();
  }
  for (const auto &n : graph->node()) {
    if (!importNode(n))
      return {};
    ++nodeIndex;
  }
  SmallVector<Value> results;
  SmallVector<Type> resultTypes;
  SmallVector<DictionaryAttr> resAttrs;
  for (const auto &out : graph->output()) {
    auto it = values.find(out.name());
    if (it == values.end()) {
      fail("graph output '" + out.name() + "' is not produced by any node");
      return {};
    }
    Value v = val(it->second);
    if (!v)
      return {};
    results.push_back(v);
    resultTypes.push_back(v.getType());
    resAttrs.push_back(b.getDictionaryAttr(
        {b.getNamedAttr("mu.name", b.getStringAttr(out.name()))}));
  }
  func::ReturnOp::create(b, loc, results);
  func.setFunctionType(b.getFunctionType(argTypes, resultTypes));
  func.setAllResultAttrs(resAttrs);
  module->getOperation()->setAttr("mu.source", b.getStringAttr(llvm::sys::path::filename(path)));

  std::string diag;
  {
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      llvm::raw_string_ostream os(diag);
      os << d.getLocation() << ": " << d.str();
      return success();
    });
    if (failed(verify(*module))) {
      fail("the imported graph does not verify (importer bug or inconsistent "
           "model): " + diag);
      return {};
    }
  }
  return module;
}

} // namespace

OwningOpRef<ModuleOp> mu::importOnnx(MLIRContext &ctx, StringRef path,
                                     std::string &error) {
  OnnxImporter imp(ctx, path, error);
  return imp.run();
}
