//===- MubWriter.cpp - fused mu module -> .mub bytes ----------------------===//
///
/// \file
/// Lowering: every mu op maps to exactly one runtime kernel instruction
/// (see the OpCode table in mub.fbs and docs/artifact-format.md); function
/// arguments become program inputs, `mu.constant`s become constant-segment
/// tensors (one segment per distinct blob, shared across programs), all other
/// values get an arena slot from the planner.
///
//===----------------------------------------------------------------------===//
#include "mu/Artifact/MubWriter.h"
#include "mu/runtime/Packing.h"
#include "mu/Artifact/MubFormat.h"
#include "mu/Version.h"

#include "dialects/Kernel/MukOps.h"
#include "dialects/Mu/MuOps.h"
#include "passes/Passes.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/Pass/PassManager.h"
#include "mub_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/Quant.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/SHA256.h"
#include "llvm/ADT/StringExtras.h"

#include <cstring>

using namespace mlir;

namespace mu {

namespace {

std::optional<mub::DType> dtypeOf(Type t) {
  if (auto q = dyn_cast<mlir::quant::QuantizedType>(t)) {
    if (q.getStorageTypeIntegralWidth() == 8)
      return q.isSigned() ? mub::DType::I8 : mub::DType::U8;
    if (q.getStorageTypeIntegralWidth() == 16)
      return q.isSigned() ? mub::DType::I16 : mub::DType::U16;
    if (q.getStorageTypeIntegralWidth() == 32 && q.isSigned())
      return mub::DType::I32;
    return std::nullopt;
  }
  if (t.isF32()) return mub::DType::F32;
  if (t.isF16()) return mub::DType::F16;
  if (t.isBF16()) return mub::DType::BF16;
  if (t.isInteger(64)) return mub::DType::I64;
  if (t.isInteger(32)) return mub::DType::I32;
  if (t.isInteger(16)) return mub::DType::I16;
  if (t.isUnsignedInteger(8)) return mub::DType::U8;
  if (t.isInteger(8)) return mub::DType::I8;
  if (t.isInteger(1)) return mub::DType::Bool;
  return std::nullopt;
}

size_t elemBytes(mub::DType t) {
  switch (t) {
  case mub::DType::F32: case mub::DType::I32: return 4;
  case mub::DType::F16: case mub::DType::BF16: case mub::DType::I16: case mub::DType::U16: return 2;
  case mub::DType::I64: return 8;
  default: return 1;
  }
}

/// Bytes of a constant in runtime layout (bool as one byte per element,
/// splats expanded).
bool constantBytes(ElementsAttr attr, std::vector<uint8_t> &out, std::string &error) {
  auto type = cast<RankedTensorType>(attr.getType());
  auto dt = dtypeOf(type.getElementType());
  if (!dt) {
    error = "unsupported constant element type";
    return false;
  }
  size_t es = elemBytes(*dt), n = size_t(type.getNumElements());
  out.resize(n * es);
  if (auto r = dyn_cast<DenseResourceElementsAttr>(attr)) {
    AsmResourceBlob *blob = r.getRawHandle().getBlob();
    if (!blob || blob->getData().size() != out.size()) {
      error = "weight blob '" + r.getRawHandle().getKey().str() + "' is missing or has the wrong size";
      return false;
    }
    std::memcpy(out.data(), blob->getData().data(), out.size());
    return true;
  }
  auto d = dyn_cast<DenseElementsAttr>(attr);
  if (!d) {
    error = "unsupported constant attribute";
    return false;
  }
  if (*dt == mub::DType::Bool) {
    size_t i = 0;
    for (bool b : d.getValues<bool>())
      out[i++] = b;
    return true;
  }
  ArrayRef<char> raw = d.getRawData();
  if (d.isSplat()) {
    for (size_t i = 0; i < n; ++i)
      std::memcpy(out.data() + i * es, raw.data(), es);
  } else {
    std::memcpy(out.data(), raw.data(), out.size());
  }
  return true;
}

std::string valueName(Value v, unsigned fallback) {
  if (auto arg = dyn_cast<BlockArgument>(v)) {
    auto f = dyn_cast<func::FuncOp>(arg.getOwner()->getParentOp());
    if (f)
      if (auto n = f.getArgAttrOfType<StringAttr>(arg.getArgNumber(), "mu.name"))
        return n.str();
    return "arg" + std::to_string(arg.getArgNumber());
  }
  Operation *op = v.getDefiningOp();
  if (auto c = dyn_cast<ConstantOp>(op))
    if (auto r = dyn_cast<DenseResourceElementsAttr>(c.getValue()))
      return r.getRawHandle().getKey().str();
  std::string base = op->getName().stripDialect().str();
  if (auto nl = dyn_cast<NameLoc>(op->getLoc()))
    base = nl.getName().str();
  return base + "#" + std::to_string(fallback);
}

std::optional<mub::OpCode> opcodeByName(StringRef name) {
  for (mub::OpCode c : mub::EnumValuesOpCode())
    if (name == mub::EnumNameOpCode(c))
      return c;
  return std::nullopt;
}

struct TensorRec {
  std::string name;
  mub::DType dtype;
  std::vector<int64_t> shape, maxShape;
  mub::Storage storage = mub::Storage::Arena;
  uint64_t offset = 0, size = 0;
  uint32_t segment = 0;
  int32_t state = -1;
  std::vector<float> scales; ///< quantized tensors: per tensor or per axis
  std::vector<int64_t> zeroPoints;
  int32_t quantAxis = -1;
  int32_t blockSize = 0;
  int64_t qmin = 0, qmax = 0; ///< 0, 0: the storage type's full range
  mub::Layout layout = mub::Layout::RowMajor;
};

/// Fills the quantization parameters of `t` from a quantized element type;
/// returns a reason if the type is not representable.
std::string quantParamsOf(Type et, TensorRec &t) {
  t.scales.clear();
  t.zeroPoints.clear();
  if (auto pa = dyn_cast<mlir::quant::UniformQuantizedPerAxisType>(et)) {
    t.scales.assign(pa.getScales().begin(), pa.getScales().end());
    t.zeroPoints.assign(pa.getZeroPoints().begin(), pa.getZeroPoints().end());
    t.quantAxis = pa.getQuantizedDimension();
  } else if (auto sc = dyn_cast<mlir::quant::UniformQuantizedSubChannelType>(et)) {
    ArrayRef<int64_t> blocks = sc.getBlockSizes();
    ArrayRef<int32_t> dims = sc.getQuantizedDimensions();
    if (dims.size() != 2 || dims[0] != 0 || dims[1] != 1 || blocks[0] != 1)
      return "only [1, B] blocks over a 2-d [out, in] weight are supported";
    for (APFloat v : sc.getScales().getValues<APFloat>())
      t.scales.push_back(float(v.convertToDouble()));
    for (APInt v : sc.getZeroPoints().getValues<APInt>())
      t.zeroPoints.push_back(v.getSExtValue());
    t.quantAxis = 0;
    t.blockSize = int32_t(blocks[1]);
  } else if (auto u = dyn_cast<mlir::quant::UniformQuantizedType>(et)) {
    t.scales = {float(u.getScale())};
    t.zeroPoints = {u.getZeroPoint()};
    t.quantAxis = -1;
  } else {
    return "unsupported quantized type";
  }
  if (llvm::all_of(t.zeroPoints, [](int64_t z) { return z == 0; }))
    t.zeroPoints.clear();
  auto q = cast<mlir::quant::QuantizedType>(et);
  int64_t fullMin = q.getDefaultMinimumForInteger(q.isSigned(), q.getStorageTypeIntegralWidth());
  int64_t fullMax = q.getDefaultMaximumForInteger(q.isSigned(), q.getStorageTypeIntegralWidth());
  if (q.getStorageTypeMin() != fullMin || q.getStorageTypeMax() != fullMax) {
    t.qmin = q.getStorageTypeMin();
    t.qmax = q.getStorageTypeMax();
  }
  return "";
}

struct InstrRec {
  mub::OpCode op;
  std::vector<int32_t> ins, outs;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  mub::Device device = mub::Device::Target;
};

struct ProgramRec {
  std::string name;
  std::vector<TensorRec> tensors;
  std::vector<InstrRec> instrs;
  std::vector<int32_t> inputs, outputs;
  uint64_t arena = 0;
};

/// Serializes planned muk functions into program records.
class Serializer {
public:
  Serializer(const MubOptions &o, std::string &e) : opts(o), error(e) {}
  bool program(func::FuncOp f, ProgramRec &p);

  struct StateRec {
    std::string name;
    mub::DType dtype;
    std::vector<int64_t> maxShape;
    uint64_t size = 0;
  };
  std::vector<MubSegment> segments;
  std::vector<StateRec> states;

private:
  bool fail(Operation *op, const Twine &msg) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op->getLoc().print(os);
    error = ("cannot serialize '" + op->getName().getStringRef() + "' at " + loc + ": " + msg).str();
    return false;
  }
  int32_t tensorFor(Value v, ProgramRec &p, mub::Storage storage);
  int32_t stateIndex(StringRef name, const TensorRec &t);

  const MubOptions &opts;
  std::string &error;
  DenseMap<Value, int32_t> ids;
  DenseMap<Value, std::string> kernelNames; // of the current program
  DenseMap<Attribute, uint32_t> segmentOf; // shared across programs
  unsigned counter = 0;
  int64_t bound = 0;
};

int32_t Serializer::stateIndex(StringRef name, const TensorRec &t) {
  for (size_t i = 0; i < states.size(); ++i)
    if (states[i].name == name)
      return int32_t(i);
  StateRec s;
  s.name = name.str();
  s.dtype = t.dtype;
  s.maxShape = t.maxShape;
  uint64_t n = 1;
  for (int64_t d : s.maxShape)
    n *= uint64_t(d);
  s.size = n * elemBytes(t.dtype);
  states.push_back(s);
  return int32_t(states.size() - 1);
}

int32_t Serializer::tensorFor(Value v, ProgramRec &p, mub::Storage storage) {
  auto it = ids.find(v);
  if (it != ids.end())
    return it->second;
  auto type = cast<RankedTensorType>(v.getType());
  TensorRec t;
  auto kn = kernelNames.find(v);
  t.name = kn != kernelNames.end() ? kn->second : valueName(v, counter++);
  t.dtype = *dtypeOf(type.getElementType());
  if (isa<mlir::quant::QuantizedType>(type.getElementType()))
    quantParamsOf(type.getElementType(), t);
  uint64_t n = 1;
  for (int64_t d : type.getShape()) {
    t.shape.push_back(d == ShapedType::kDynamic ? -1 : d);
    t.maxShape.push_back(d == ShapedType::kDynamic
                             ? (storage == mub::Storage::State ? opts.maxCtx : bound)
                             : d);
    n *= uint64_t(t.maxShape.back());
  }
  t.storage = storage;
  t.size = n * elemBytes(t.dtype);
  p.tensors.push_back(std::move(t));
  int32_t id = int32_t(p.tensors.size() - 1);
  ids[v] = id;
  return id;
}

bool Serializer::program(func::FuncOp f, ProgramRec &p) {
  ids.clear();
  kernelNames = muk::kernelResultNames(f.getBody().front());
  p.name = f.getSymName().str();
  auto ms = f->getAttrOfType<IntegerAttr>("muk.max_seq");
  auto arena = f->getAttrOfType<IntegerAttr>("muk.arena_size");
  if (!ms || !arena) {
    error = "function @" + p.name + " is not a planned kernel program (run mu-plan-memory)";
    return false;
  }
  bound = ms.getInt();
  p.arena = uint64_t(arena.getInt());
  for (BlockArgument a : f.getArguments()) {
    auto type = dyn_cast<RankedTensorType>(a.getType());
    if (!type || !dtypeOf(type.getElementType())) {
      error = "function @" + p.name + ": unsupported argument type";
      return false;
    }
    if (auto st = f.getArgAttrOfType<StringAttr>(a.getArgNumber(), "mu.state")) {
      int32_t id = tensorFor(a, p, mub::Storage::State);
      p.tensors[id].state = stateIndex(st.getValue(), p.tensors[id]);
      p.tensors[id].name = st.str();
      continue;
    }
    p.inputs.push_back(tensorFor(a, p, mub::Storage::Input));
    p.tensors.back().size = 0;
  }
  for (Operation &op : f.getBody().front()) {
    for (Type t : op.getResultTypes())
      if (!isa<mlir::quant::StorageCastOp>(op) &&
          (!isa<RankedTensorType>(t) || !dtypeOf(cast<RankedTensorType>(t).getElementType())))
        return fail(&op, "unsupported result type");
    if (auto c = dyn_cast<ConstantOp>(op)) {
      // mu-pack-weights chose the kernels' packed layout for this weight.
      bool packed = false;
      if (auto l = c->getAttrOfType<StringAttr>("muk.layout")) {
        if (l.getValue() != "i8n16k4")
          return fail(&op, "unknown weight layout '" + l.getValue() + "'");
        packed = true;
      }
      // The same blob may be stored once row-major and once packed.
      Attribute key = packed ? Attribute(ArrayAttr::get(c.getContext(), {c.getValue(),
                                                                       c->getAttr("muk.layout")}))
                             : c.getValue();
      uint32_t seg;
      auto it = segmentOf.find(key);
      if (it != segmentOf.end()) {
        seg = it->second;
      } else if (packed) {
        MubSegment segData;
        std::vector<uint8_t> rowMajor;
        if (!constantBytes(c.getValue(), rowMajor, error))
          return fail(&op, error);
        auto ctype = cast<RankedTensorType>(c.getType());
        int64_t n = ctype.getDimSize(0), k = ctype.getDimSize(1);
        segData.owned.resize(size_t(rt::packedI8Bytes(n, k)));
        if (!rt::packI8N16K4(reinterpret_cast<const int8_t *>(rowMajor.data()), n, k,
                             segData.owned.data()))
          return fail(&op, "weight holds -128, outside the packed layout's range");
        seg = uint32_t(segments.size());
        segments.push_back(std::move(segData));
        segmentOf[key] = seg;
      } else {
        MubSegment segData;
        // Resource blobs already hold the runtime layout: reference them (no
        // copy; they live as long as the module). Dense attributes are small
        // and get converted.
        auto res = dyn_cast<DenseResourceElementsAttr>(c.getValue());
        AsmResourceBlob *blob = res ? res.getRawHandle().getBlob() : nullptr;
        auto ctype = cast<RankedTensorType>(c.getType());
        auto cdt = dtypeOf(ctype.getElementType());
        if (blob && cdt && *cdt != mub::DType::Bool &&
            blob->getData().size() == size_t(ctype.getNumElements()) * elemBytes(*cdt)) {
          segData.view = blob->getData();
        } else if (!constantBytes(c.getValue(), segData.owned, error)) {
          return fail(&op, error);
        }
        seg = uint32_t(segments.size());
        segments.push_back(std::move(segData));
        segmentOf[key] = seg;
      }
      int32_t id = tensorFor(c.getResult(), p, mub::Storage::Constant);
      p.tensors[id].segment = seg;
      if (packed)
        p.tensors[id].layout = mub::Layout::I8N16K4;
      continue;
    }
    if (auto sc = dyn_cast<mlir::quant::StorageCastOp>(op)) {
      // A quantized view of a stored integer constant: same bytes, plus the
      // quantization parameters of the result type.
      Value src = sc.getInput();
      auto it = ids.find(src);
      if (it == ids.end() || p.tensors[it->second].storage != mub::Storage::Constant)
        return fail(&op, "quant.scast of something other than a constant");
      TensorRec t = p.tensors[it->second];
      Type et = cast<RankedTensorType>(sc.getType()).getElementType();
      if (std::string why = quantParamsOf(et, t); !why.empty())
        return fail(&op, why);
      t.name += ".q";
      p.tensors.push_back(t);
      ids[sc.getResult()] = int32_t(p.tensors.size() - 1);
      continue;
    }
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [ri, v] : llvm::enumerate(ret.getOperands())) {
        int32_t id = ids.lookup(v);
        TensorRec &t = p.tensors[id];
        if (auto st = f.getResultAttrOfType<StringAttr>(ri, "mu.state")) {
          // The updated cache goes back to its state buffer, in place.
          t.storage = mub::Storage::State;
          for (size_t d = 0; d < t.shape.size(); ++d)
            if (t.shape[d] < 0)
              t.maxShape[d] = opts.maxCtx;
          t.state = stateIndex(st.getValue(), t);
          t.name = st.str() + ".updated";
          continue;
        }
        if (t.storage != mub::Storage::Arena)
          return fail(&op, "returns an input, constant or duplicate (run mu-lower-to-kernels)");
        t.storage = mub::Storage::Output;
        if (auto n = f.getResultAttrOfType<StringAttr>(ri, "mu.name"))
          t.name = n.str();
        p.outputs.push_back(id);
      }
      continue;
    }
    StringRef opname = muk::opcodeName(&op);
    std::optional<mub::OpCode> code = opcodeByName(opname);
    if (!code)
      return fail(&op, "not a kernel op (run mu-lower-to-kernels)");
    InstrRec in;
    in.op = *code;
    if (op.hasAttr("muk.device"))
      in.device = mub::Device::HostCpu;
    ArrayRef<int32_t> absent;
    if (auto a = op.getAttrOfType<DenseI32ArrayAttr>("absent"))
      absent = a.asArrayRef();
    unsigned next = 0, slots = op.getNumOperands() + absent.size();
    for (unsigned i = 0; i < slots; ++i) {
      if (llvm::is_contained(absent, int32_t(i))) {
        in.ins.push_back(-1);
        continue;
      }
      Value v = op.getOperand(next++);
      if (!ids.count(v))
        return fail(&op, "operand defined outside the function body");
      in.ins.push_back(ids.lookup(v));
    }
    if (auto a = op.getAttrOfType<DenseI64ArrayAttr>("ints"))
      in.ints.assign(a.asArrayRef().begin(), a.asArrayRef().end());
    if (auto a = op.getAttrOfType<DenseF32ArrayAttr>("floats"))
      in.floats.assign(a.asArrayRef().begin(), a.asArrayRef().end());
    auto offs = op.getAttrOfType<DenseI64ArrayAttr>("offsets");
    if (!offs || offs.size() != int64_t(op.getNumResults()))
      return fail(&op, "no planned offsets (run mu-plan-memory)");
    for (OpResult r : op.getResults()) {
      int32_t id = tensorFor(r, p, mub::Storage::Arena);
      p.tensors[id].offset = offs[r.getResultNumber()] < 0 ? 0 : uint64_t(offs[r.getResultNumber()]);
      in.outs.push_back(id);
    }
    p.instrs.push_back(std::move(in));
  }
  return true;
}

/// A swappable adapter stored in the base artifact: segments per site.
struct EmbeddedAdapter {
  std::string name, source;
  struct Site {
    uint32_t site, rank, aSegment, bSegment;
  };
  std::vector<Site> sites;
};

/// Reads mu.lora_sites / mu.adapters into `art.loraSites` and either new
/// segments (`embedded`) or `art.adapters`.
bool loraTables(ModuleOp module, const MubOptions &opts, std::vector<MubSegment> &segments,
                MubArtifact &art, std::vector<EmbeddedAdapter> &embedded, std::string &error) {
  art.loraSites.clear();
  art.adapters.clear();
  auto bad = [&](const Twine &msg) {
    error = ("module attribute " + msg).str();
    return false;
  };
  if (auto arr = module->getAttrOfType<ArrayAttr>("mu.lora_sites")) {
    for (Attribute a : arr) {
      auto d = dyn_cast<DictionaryAttr>(a);
      auto n = d ? d.getAs<StringAttr>("name") : StringAttr();
      auto in = d ? d.getAs<IntegerAttr>("in") : IntegerAttr();
      auto out = d ? d.getAs<IntegerAttr>("out") : IntegerAttr();
      if (!n || !in || !out || in.getInt() <= 0 || out.getInt() <= 0)
        return bad("mu.lora_sites: each entry needs name, in > 0 and out > 0");
      art.loraSites.push_back({n.str(), in.getInt(), out.getInt()});
    }
  }
  auto arr = module->getAttrOfType<ArrayAttr>("mu.adapters");
  if (!arr)
    return true;
  for (Attribute a : arr) {
    auto d = dyn_cast<DictionaryAttr>(a);
    auto n = d ? d.getAs<StringAttr>("name") : StringAttr();
    auto src = d ? d.getAs<StringAttr>("source") : StringAttr();
    auto sites = d ? d.getAs<DictionaryAttr>("sites") : DictionaryAttr();
    if (!n || !sites)
      return bad("mu.adapters: each entry needs a name and sites");
    AdapterBlob blob;
    blob.name = n.str();
    blob.source = src ? src.str() : "";
    EmbeddedAdapter ea{blob.name, blob.source, {}};
    for (NamedAttribute na : sites) {
      auto it = llvm::find_if(art.loraSites,
                              [&](const LoraSiteInfo &si) { return si.name == na.getName(); });
      auto ab = dyn_cast<ArrayAttr>(na.getValue());
      if (it == art.loraSites.end() || !ab || ab.size() != 2)
        return bad("mu.adapters: adapter '" + blob.name + "' site '" + na.getName().getValue() +
                   "' is not in mu.lora_sites or is not [A, B]");
      auto A = dyn_cast<ElementsAttr>(ab[0]), B = dyn_cast<ElementsAttr>(ab[1]);
      auto at = A ? dyn_cast<RankedTensorType>(A.getType()) : RankedTensorType();
      auto bt = B ? dyn_cast<RankedTensorType>(B.getType()) : RankedTensorType();
      if (!at || !bt || !at.getElementType().isF32() || !bt.getElementType().isF32() ||
          at.getRank() != 2 || bt.getRank() != 2 || at.getDimSize(1) != it->in ||
          bt.getDimSize(0) != it->out || bt.getDimSize(1) != at.getDimSize(0))
        return bad("mu.adapters: adapter '" + blob.name + "' site '" + na.getName().getValue() +
                   "' needs f32 A [r, in] and B [out, r] matching the site");
      uint32_t site = uint32_t(it - art.loraSites.begin());
      auto &store = art.adapterData;
      store.emplace_back();
      if (!constantBytes(A, store.back(), error))
        return false;
      store.emplace_back();
      if (!constantBytes(B, store.back(), error))
        return false;
      const std::vector<uint8_t> &ad = store[store.size() - 2], &bd = store.back();
      AdapterBlob::Site bs;
      bs.site = site;
      bs.rank = at.getDimSize(0);
      bs.a = ArrayRef<float>(reinterpret_cast<const float *>(ad.data()), ad.size() / 4);
      bs.b = ArrayRef<float>(reinterpret_cast<const float *>(bd.data()), bd.size() / 4);
      blob.sites.push_back(bs);
      if (opts.embedAdapters) {
        uint32_t aSeg = uint32_t(segments.size());
        segments.emplace_back();
        segments.back().view = ArrayRef<char>(reinterpret_cast<const char *>(ad.data()), ad.size());
        segments.emplace_back();
        segments.back().view = ArrayRef<char>(reinterpret_cast<const char *>(bd.data()), bd.size());
        ea.sites.push_back({site, uint32_t(bs.rank), aSeg, aSeg + 1});
      }
    }
    if (opts.embedAdapters)
      embedded.push_back(std::move(ea));
    else
      art.adapters.push_back(std::move(blob));
  }
  return true;
}

} // namespace

bool constantData(ElementsAttr value, std::vector<uint8_t> &bytes, std::string &error) {
  return constantBytes(value, bytes, error);
}

bool prepareMub(ModuleOp module, const MubOptions &opts, MubArtifact &art,
                std::string &error) {
  // Lower to kernel programs and plan memory (the module is updated in place).
  {
    std::string diag;
    ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
      llvm::raw_string_ostream os(diag);
      d.getLocation().print(os);
      os << ": " << d.str() << "\n";
      return success();
    });
    PassManager pm(module.getContext());
    if (opts.prefillChunk > 0) {
      StaticShapesOptions st;
      st.prefillChunk = opts.prefillChunk;
      st.maxContext = opts.maxCtx;
      pm.addPass(createStaticShapes(st));
    }
    pm.addPass(createLowerToKernels());
    if (opts.weightBits) {
      QuantizeWeightsOptions q;
      q.bits = opts.weightBits;
      q.blockSize = opts.weightBlock;
      q.gptq = opts.gptq;
      q.biasCorrection = opts.biasCorrection;
      q.perTensor = opts.weightPerTensor;
      q.powerOfTwo = opts.weightPowerOfTwo;
      pm.addPass(createQuantizeWeights(q, opts.calibration));
    }
    if (opts.activationRanges)
      pm.addPass(createQuantizeActivations({}, opts.activationRanges));
    if (opts.targetRules) {
      CheckTargetOptions c;
      c.scheme = opts.targetScheme;
      c.noFallback = opts.noFallback;
      pm.addPass(createCheckTarget(c, opts.targetRules, opts.targetCheck));
      RoundFloatOptions r;
      r.precision = target::floatPrecisionName(opts.targetRules->floatPrecision);
      if (r.precision != "f32")
        pm.addPass(createRoundFloat(r));
    }
    if (opts.packWeights)
      pm.addPass(createPackWeights());
    PlanMemoryOptions planOpts;
    planOpts.maxSeq = opts.maxSeq;
    pm.addPass(createPlanMemory(planOpts));
    if (failed(pm.run(module))) {
      error = diag;
      return false;
    }
  }
  Serializer lowering(opts, error);
  std::vector<ProgramRec> programs;
  for (auto f : module.getOps<func::FuncOp>()) {
    programs.emplace_back();
    if (!lowering.program(f, programs.back()))
      return false;
  }
  if (programs.empty()) {
    error = "module has no functions to compile";
    return false;
  }

  // LoRA sites and swappable adapters (module attributes of the importer).
  std::vector<EmbeddedAdapter> embedded;
  if (!loraTables(module, opts, lowering.segments, art, embedded, error))
    return false;

  // Segments: 64-aligned, in first-use order.
  std::vector<uint64_t> segOffsets;
  uint64_t dataSize = 0;
  for (const auto &s : lowering.segments) {
    dataSize = alignTo(dataSize, kMubAlignment);
    segOffsets.push_back(dataSize);
    dataSize += s.size();
  }

  // The FlatBuffer is built twice: without artifact_id to hash it (with the
  // data), then with the id.
  auto buildFb = [&](flatbuffers::FlatBufferBuilder &fb, const std::string &id) {
  fb.ForceDefaults(false);
  std::vector<flatbuffers::Offset<mub::Program>> progs;
  for (const ProgramRec &p : programs) {
    std::vector<flatbuffers::Offset<mub::Tensor>> ts;
    for (const TensorRec &t : p.tensors) {
      flatbuffers::Offset<mub::QuantParams> qp = 0;
      if (!t.scales.empty())
        qp = mub::CreateQuantParams(fb, fb.CreateVector(t.scales),
                                    t.zeroPoints.empty() ? 0 : fb.CreateVector(t.zeroPoints),
                                    t.quantAxis, t.blockSize, t.qmin, t.qmax);
      ts.push_back(mub::CreateTensor(fb, fb.CreateString(t.name), t.dtype, fb.CreateVector(t.shape),
                                     fb.CreateVector(t.maxShape), t.storage, t.offset,
                                     t.storage == mub::Storage::Constant
                                         ? lowering.segments[t.segment].size()
                                         : t.size,
                                     t.segment, t.state, qp, t.layout));
    }
    std::vector<flatbuffers::Offset<mub::Instr>> is;
    for (const InstrRec &in : p.instrs)
      is.push_back(mub::CreateInstr(fb, in.op, fb.CreateVector(in.ins), fb.CreateVector(in.outs),
                                    in.ints.empty() ? 0 : fb.CreateVector(in.ints),
                                    in.floats.empty() ? 0 : fb.CreateVector(in.floats),
                                    in.device));
    progs.push_back(mub::CreateProgram(fb, fb.CreateString(p.name), fb.CreateVector(p.inputs),
                                       fb.CreateVector(p.outputs), fb.CreateVector(ts),
                                       fb.CreateVector(is), p.arena));
  }
  std::vector<flatbuffers::Offset<mub::StateBuffer>> states;
  for (const auto &st : lowering.states)
    states.push_back(mub::CreateStateBuffer(fb, fb.CreateString(st.name), st.dtype,
                                            fb.CreateVector(st.maxShape), st.size));
  std::vector<flatbuffers::Offset<mub::Segment>> segs;
  for (size_t i = 0; i < segOffsets.size(); ++i)
    segs.push_back(mub::CreateSegment(fb, segOffsets[i], lowering.segments[i].size()));
  std::vector<flatbuffers::Offset<mub::KeyValue>> kvs;
  for (const auto &[k, v] : opts.config)
    kvs.push_back(mub::CreateKeyValue(fb, fb.CreateString(k), fb.CreateString(v)));

  flatbuffers::Offset<mub::Tokenizer> tok = 0;
  const TokenizerData &td = opts.tokenizer;
  if (td.kind != TokenizerData::None) {
    std::vector<flatbuffers::Offset<flatbuffers::String>> vocab;
    for (const std::string &s : td.vocab)
      vocab.push_back(fb.CreateString(s));
    std::vector<flatbuffers::Offset<mub::MergeRule>> merges;
    for (const auto &[l, r, m] : td.merges)
      merges.push_back(mub::CreateMergeRule(fb, l, r, m));
    std::vector<flatbuffers::Offset<mub::SpecialToken>> specials;
    for (const auto &[id, c] : td.specials)
      specials.push_back(mub::CreateSpecialToken(fb, id, fb.CreateString(c)));
    tok = mub::CreateTokenizer(fb, mub::TokenizerKind(td.kind), fb.CreateVector(vocab),
                               fb.CreateVector(merges), fb.CreateVector(specials), td.byteFallback,
                               td.prependSpace, td.addBos, td.bosId, fb.CreateVector(td.eosIds),
                               td.unkId,
                               td.chatTemplate.empty() ? 0 : fb.CreateString(td.chatTemplate));
  }
  std::string version = std::string(MU_VERSION_STRING) + " (" + MU_GIT_REVISION + ")";
  // Numerics beyond the base spec, so a runtime without them refuses.
  std::vector<std::string> numerics;
  if (opts.targetRules) {
    const target::SchemeRule *s = opts.targetRules->scheme(opts.targetScheme);
    if (opts.targetRules->floatPrecision != target::FloatPrecision::F32)
      numerics.push_back(std::string(target::floatPrecisionName(opts.targetRules->floatPrecision)) +
                         "-float");
    if (s && s->activations && s->activations->encoding == target::ActEncoding::UintAsymmetric)
      numerics.push_back("uint-activations");
    if (s && ((s->activations && s->activations->powerOfTwo) || s->weights.powerOfTwo))
      numerics.push_back("power-of-two-scales");
  }
  std::vector<flatbuffers::Offset<flatbuffers::String>> numericsFb;
  for (const std::string &n : numerics)
    numericsFb.push_back(fb.CreateString(n));
  std::vector<flatbuffers::Offset<mub::LoraSite>> sitesFb;
  for (const LoraSiteInfo &si : art.loraSites)
    sitesFb.push_back(mub::CreateLoraSite(fb, fb.CreateString(si.name), si.in, si.out));
  std::vector<flatbuffers::Offset<mub::Adapter>> adaptersFb;
  for (const EmbeddedAdapter &ea : embedded) {
    std::vector<flatbuffers::Offset<mub::AdapterSite>> as;
    for (const auto &x : ea.sites)
      as.push_back(mub::CreateAdapterSite(fb, x.site, x.rank, x.aSegment, x.bSegment));
    adaptersFb.push_back(mub::CreateAdapter(fb, fb.CreateString(ea.name), fb.CreateVector(as),
                                            fb.CreateString(ea.source)));
  }
  auto model = mub::CreateModel(
      fb, kMubFormatVersion, fb.CreateString(version), fb.CreateString(opts.sourceSha256),
      fb.CreateString(opts.target), fb.CreateString(opts.architecture), fb.CreateVector(kvs),
      fb.CreateVector(progs), fb.CreateVector(states), fb.CreateVector(segs), tok, int32_t(opts.maxSeq),
      int32_t(opts.maxCtx), numericsFb.empty() ? 0 : fb.CreateVector(numericsFb),
      sitesFb.empty() ? 0 : fb.CreateVector(sitesFb),
      adaptersFb.empty() ? 0 : fb.CreateVector(adaptersFb), id.empty() ? 0 : fb.CreateString(id));
  mub::FinishModelBuffer(fb, model);
  };
  {
    flatbuffers::FlatBufferBuilder plain(1 << 16);
    buildFb(plain, "");
    llvm::SHA256 sha;
    sha.update(ArrayRef<uint8_t>(plain.GetBufferPointer(), plain.GetSize()));
    for (size_t i = 0; i < lowering.segments.size(); ++i) {
      uint64_t off = segOffsets[i];
      sha.update(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(&off), sizeof(off)));
      sha.update(ArrayRef<uint8_t>(reinterpret_cast<const uint8_t *>(lowering.segments[i].data()),
                                   lowering.segments[i].size()));
    }
    std::array<uint8_t, 32> digest = sha.final();
    art.artifactId = llvm::toHex(ArrayRef<uint8_t>(digest), /*LowerCase=*/true);
  }
  flatbuffers::FlatBufferBuilder fb(1 << 16);
  buildFb(fb, art.artifactId);

  art.header = makeHeader("MUB", kMubFormatVersion, fb.GetSize(), dataSize);
  art.flatbuffer.assign(fb.GetBufferPointer(), fb.GetBufferPointer() + fb.GetSize());
  art.segmentOffsets = segOffsets;
  art.segments = std::move(lowering.segments);
  return true;
}

void MubArtifact::write(llvm::raw_ostream &os) const {
  static const char zeros[kMubAlignment] = {};
  os.write(reinterpret_cast<const char *>(&header), sizeof(header));
  os.write(reinterpret_cast<const char *>(flatbuffer.data()), flatbuffer.size());
  uint64_t at = kMubHeaderSize + flatbuffer.size();
  auto padTo = [&](uint64_t target) {
    while (at < target) {
      uint64_t n = std::min<uint64_t>(target - at, kMubAlignment);
      os.write(zeros, n);
      at += n;
    }
  };
  padTo(header.dataOffset);
  for (size_t i = 0; i < segments.size(); ++i) {
    padTo(header.dataOffset + segmentOffsets[i]);
    os.write(segments[i].data(), segments[i].size());
    at += segments[i].size();
  }
}

bool buildMub(ModuleOp module, const MubOptions &opts, std::vector<uint8_t> &bytes,
              std::string &error) {
  MubArtifact art;
  if (!prepareMub(module, opts, art, error))
    return false;
  bytes.clear();
  bytes.reserve(size_t(art.header.fileSize));
  std::string buf;
  llvm::raw_string_ostream os(buf);
  art.write(os);
  os.flush();
  bytes.assign(buf.begin(), buf.end());
  return true;
}

} // namespace mu
