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
#include "mu/Artifact/MubFormat.h"
#include "mu/Version.h"

#include "dialects/Mu/MuOps.h"
#include "mub_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

#include <cstring>

using namespace mlir;

namespace mu {

namespace {

std::optional<mub::DType> dtypeOf(Type t) {
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
  case mub::DType::F16: case mub::DType::BF16: case mub::DType::I16: return 2;
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

struct TensorRec {
  std::string name;
  mub::DType dtype;
  std::vector<int64_t> shape, maxShape;
  mub::Storage storage = mub::Storage::Arena;
  uint64_t offset = 0, size = 0;
  uint32_t segment = 0;
  int32_t state = -1;
};

struct InstrRec {
  mub::OpCode op;
  std::vector<int32_t> ins, outs;
  std::vector<int64_t> ints;
  std::vector<float> floats;
};

struct ProgramRec {
  std::string name;
  std::vector<TensorRec> tensors;
  std::vector<InstrRec> instrs;
  std::vector<int32_t> inputs, outputs;
  uint64_t arena = 0;
};

class Lowering {
public:
  Lowering(const MubOptions &o, std::string &e) : opts(o), error(e) {}
  bool lower(func::FuncOp f, ProgramRec &p);

  std::vector<std::vector<uint8_t>> segments;

private:
  bool fail(Operation *op, const Twine &msg) {
    std::string loc;
    llvm::raw_string_ostream os(loc);
    op->getLoc().print(os);
    error = ("cannot lower '" + op->getName().getStringRef() + "' at " + loc + ": " + msg).str();
    return false;
  }
  int32_t tensorFor(Value v, ProgramRec &p, mub::Storage storage);
  bool lowerOp(Operation *op, ProgramRec &p);
  bool isBypassed(CastOp c);

  const MubOptions &opts;
  std::string &error;
  DenseMap<Value, int32_t> ids;
  DenseMap<Attribute, uint32_t> segmentOf; // shared across programs
  unsigned counter = 0;
  int64_t bound = 0; // planning bound for dynamic dims of this program

public:
  struct StateRec {
    std::string name;
    mub::DType dtype;
    std::vector<int64_t> maxShape;
    uint64_t size = 0;
  };
  std::vector<StateRec> states;
  int32_t stateIndex(StringRef name, const TensorRec &t);
};

int32_t Lowering::stateIndex(StringRef name, const TensorRec &t) {
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

/// Weight operands the kernels read in any float format (widening rows on
/// load): Linear weight/bias, norm weight/bias, Gather table.
static bool readsStoredWeight(OpOperand &use) {
  Operation *user = use.getOwner();
  unsigned i = use.getOperandNumber();
  if (isa<LinearOp>(user))
    return i >= 1;
  if (isa<RmsNormOp, LayerNormOp>(user))
    return i >= 1;
  if (isa<GatherOp>(user))
    return i == 0;
  return false;
}

/// A float widening cast of a constant whose every use reads stored weights:
/// it needs no instruction and no arena buffer.
bool Lowering::isBypassed(CastOp c) {
  auto cst = c.getInput().getDefiningOp<ConstantOp>();
  if (!cst || !isa<FloatType>(getElementTypeOrSelf(c.getInput().getType())) ||
      !getElementTypeOrSelf(c.getType()).isF32())
    return false;
  return llvm::all_of(c->getUses(), readsStoredWeight);
}

int32_t Lowering::tensorFor(Value v, ProgramRec &p, mub::Storage storage) {
  auto it = ids.find(v);
  if (it != ids.end())
    return it->second;
  auto type = cast<RankedTensorType>(v.getType());
  TensorRec t;
  t.name = valueName(v, counter++);
  t.dtype = *dtypeOf(type.getElementType());
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

bool Lowering::lowerOp(Operation *op, ProgramRec &p) {
  for (Type t : op->getResultTypes())
    if (!isa<RankedTensorType>(t) || !dtypeOf(cast<RankedTensorType>(t).getElementType()))
      return fail(op, "unsupported result type");
  if (auto c = dyn_cast<ConstantOp>(op)) {
    Attribute key = c.getValue();
    uint32_t seg;
    auto it = segmentOf.find(key);
    if (it != segmentOf.end()) {
      seg = it->second;
    } else {
      std::vector<uint8_t> bytes;
      if (!constantBytes(c.getValue(), bytes, error))
        return fail(op, error);
      seg = uint32_t(segments.size());
      segments.push_back(std::move(bytes));
      segmentOf[key] = seg;
    }
    int32_t id = tensorFor(c.getResult(), p, mub::Storage::Constant);
    p.tensors[id].segment = seg;
    p.tensors[id].offset = 0;
    return true;
  }
  if (auto c = dyn_cast<CastOp>(op); c && isBypassed(c))
    return true; // its users read the stored (e.g. FP16) weight directly
  InstrRec in;
  auto opt = [&](Value v) -> int32_t {
    if (!v)
      return -1;
    if (auto c = v.getDefiningOp<CastOp>(); c && isBypassed(c))
      v = c.getInput();
    return tensorFor(v, p, mub::Storage::Arena);
  };
  for (Value v : op->getOperands()) {
    auto c = v.getDefiningOp<CastOp>();
    if (!ids.count(v) && !(c && isBypassed(c)))
      return fail(op, "operand defined outside the function body");
  }
  bool handled = true;
  llvm::TypeSwitch<Operation *>(op)
      .Case([&](AddOp) { in.op = mub::OpCode::Add; })
      .Case([&](SubOp) { in.op = mub::OpCode::Sub; })
      .Case([&](MulOp) { in.op = mub::OpCode::Mul; })
      .Case([&](DivOp) { in.op = mub::OpCode::Div; })
      .Case([&](PowOp) { in.op = mub::OpCode::Pow; })
      .Case([&](MaxOp) { in.op = mub::OpCode::Max; })
      .Case([&](MinOp) { in.op = mub::OpCode::Min; })
      .Case([&](AndOp) { in.op = mub::OpCode::And; })
      .Case([&](OrOp) { in.op = mub::OpCode::Or; })
      .Case([&](EqualOp) { in.op = mub::OpCode::Equal; })
      .Case([&](LessOp) { in.op = mub::OpCode::Less; })
      .Case([&](GreaterOp) { in.op = mub::OpCode::Greater; })
      .Case([&](NegOp) { in.op = mub::OpCode::Neg; })
      .Case([&](AbsOp) { in.op = mub::OpCode::Abs; })
      .Case([&](NotOp) { in.op = mub::OpCode::Not; })
      .Case([&](ExpOp) { in.op = mub::OpCode::Exp; })
      .Case([&](LogOp) { in.op = mub::OpCode::Log; })
      .Case([&](SqrtOp) { in.op = mub::OpCode::Sqrt; })
      .Case([&](RsqrtOp) { in.op = mub::OpCode::Rsqrt; })
      .Case([&](ReciprocalOp) { in.op = mub::OpCode::Reciprocal; })
      .Case([&](TanhOp) { in.op = mub::OpCode::Tanh; })
      .Case([&](ErfOp) { in.op = mub::OpCode::Erf; })
      .Case([&](SinOp) { in.op = mub::OpCode::Sin; })
      .Case([&](CosOp) { in.op = mub::OpCode::Cos; })
      .Case([&](SigmoidOp) { in.op = mub::OpCode::Sigmoid; })
      .Case([&](ReluOp) { in.op = mub::OpCode::Relu; })
      .Case([&](SiluOp) { in.op = mub::OpCode::Silu; })
      .Case([&](GeluOp g) {
        in.op = g.getApproximate() == GeluApproximation::tanh ? mub::OpCode::GeluTanh
                                                              : mub::OpCode::Gelu;
      })
      .Case([&](WhereOp) { in.op = mub::OpCode::Where; })
      .Case([&](CastOp) { in.op = mub::OpCode::Cast; })
      .Case([&](ReshapeOp) { in.op = mub::OpCode::Reshape; })
      .Case([&](BroadcastToOp) { in.op = mub::OpCode::BroadcastTo; })
      .Case([&](TransposeOp t) {
        in.op = mub::OpCode::Transpose;
        in.ints.assign(t.getPerm().begin(), t.getPerm().end());
      })
      .Case([&](ConcatOp c) {
        in.op = mub::OpCode::Concat;
        in.ints = {c.getAxis()};
      })
      .Case([&](SliceOp s) {
        in.op = mub::OpCode::Slice;
        in.ints.push_back(int64_t(s.getAxes().size()));
        for (ArrayRef<int64_t> a : {s.getAxes(), s.getStarts(), s.getEnds(), s.getSteps()})
          in.ints.insert(in.ints.end(), a.begin(), a.end());
      })
      .Case([&](SplitOp s) {
        in.op = mub::OpCode::Split;
        in.ints = {s.getAxis()};
      })
      .Case([&](GatherOp g) {
        in.op = mub::OpCode::Gather;
        in.ints = {g.getAxis()};
      })
      .Case([&](RangeOp) { in.op = mub::OpCode::Range; })
      .Case([&](DimOp d) {
        in.op = mub::OpCode::Dim;
        in.ints = {d.getAxis()};
      })
      .Case([&](SoftmaxOp s) {
        in.op = mub::OpCode::Softmax;
        in.ints = {s.getAxis()};
      })
      .Case([&](ReduceSumOp r) { in.op = mub::OpCode::ReduceSum; in.ints = {r.getKeepdims()}; in.ints.insert(in.ints.end(), r.getAxes().begin(), r.getAxes().end()); })
      .Case([&](ReduceMeanOp r) { in.op = mub::OpCode::ReduceMean; in.ints = {r.getKeepdims()}; in.ints.insert(in.ints.end(), r.getAxes().begin(), r.getAxes().end()); })
      .Case([&](ReduceMaxOp r) { in.op = mub::OpCode::ReduceMax; in.ints = {r.getKeepdims()}; in.ints.insert(in.ints.end(), r.getAxes().begin(), r.getAxes().end()); })
      .Case([&](ReduceMinOp r) { in.op = mub::OpCode::ReduceMin; in.ints = {r.getKeepdims()}; in.ints.insert(in.ints.end(), r.getAxes().begin(), r.getAxes().end()); })
      .Case([&](RmsNormOp r) {
        in.op = mub::OpCode::RmsNorm;
        in.floats = {r.getEpsilon().convertToFloat()};
        in.ins = {opt(r.getInput()), opt(r.getWeight())};
      })
      .Case([&](LayerNormOp l) {
        in.op = mub::OpCode::LayerNorm;
        in.floats = {l.getEpsilon().convertToFloat()};
        in.ins = {opt(l.getInput()), opt(l.getWeight()), opt(l.getBias())};
      })
      .Case([&](MatMulOp) { in.op = mub::OpCode::MatMul; })
      .Case([&](LinearOp l) {
        in.op = mub::OpCode::Linear;
        in.ins = {opt(l.getInput()), opt(l.getWeight()), opt(l.getBias())};
      })
      .Case([&](GluOp g) {
        in.op = mub::OpCode::Glu;
        in.ints = {int64_t(g.getActivation())};
      })
      .Case([&](RopeOp r) {
        in.op = mub::OpCode::Rope;
        in.ints = {int64_t(r.getMode())};
      })
      .Case([&](AttentionOp a) {
        in.op = mub::OpCode::Attention;
        in.floats = {a.getScale().convertToFloat()};
        in.ints = {a.getCausal() ? 1 : 0};
        in.ins = {opt(a.getQuery()), opt(a.getKey()), opt(a.getValue()),
                  opt(a.getMask()), opt(a.getPastKey()), opt(a.getPastValue())};
      })
      .Default([&](Operation *) { handled = false; });
  if (!handled)
    return fail(op, "no runtime kernel for this op");
  if (in.ins.empty())
    for (Value v : op->getOperands())
      in.ins.push_back(opt(v));
  for (Value r : op->getResults())
    in.outs.push_back(tensorFor(r, p, mub::Storage::Arena));
  p.instrs.push_back(std::move(in));
  return true;
}

bool Lowering::lower(func::FuncOp f, ProgramRec &p) {
  ids.clear();
  p.name = f.getSymName().str();
  bound = opts.maxSeq;
  if (auto ms = f->getAttrOfType<IntegerAttr>("mu.max_seq"))
    bound = std::min<int64_t>(bound, ms.getInt());
  for (BlockArgument a : f.getArguments()) {
    if (!isa<RankedTensorType>(a.getType()) ||
        !dtypeOf(cast<RankedTensorType>(a.getType()).getElementType())) {
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
    if (auto ret = dyn_cast<func::ReturnOp>(op)) {
      for (auto [ri, v] : llvm::enumerate(ret.getOperands())) {
        int32_t id = ids.lookup(v);
        if (auto st = f.getResultAttrOfType<StringAttr>(ri, "mu.state")) {
          // The updated cache goes back to its state buffer, in place.
          TensorRec &t = p.tensors[id];
          t.storage = mub::Storage::State;
          for (size_t d = 0; d < t.shape.size(); ++d)
            if (t.shape[d] < 0)
              t.maxShape[d] = opts.maxCtx;
          t.state = stateIndex(st.getValue(), t);
          t.name = st.str() + ".updated";
          continue;
        }
        if (p.tensors[id].storage != mub::Storage::Arena) {
          // An input, a constant or an already returned value: copy it into
          // an output buffer of its own (Reshape to the same shape copies).
          TensorRec copy = p.tensors[id];
          copy.storage = mub::Storage::Arena;
          copy.offset = 0;
          copy.state = -1;
          copy.size = elemBytes(copy.dtype);
          for (int64_t d : copy.maxShape)
            copy.size *= uint64_t(d);
          p.tensors.push_back(copy);
          int32_t cid = int32_t(p.tensors.size() - 1);
          InstrRec in;
          in.op = mub::OpCode::Reshape;
          in.ins = {id};
          in.outs = {cid};
          p.instrs.push_back(in);
          id = cid;
        }
        p.tensors[id].storage = mub::Storage::Output;
        if (auto n = f.getResultAttrOfType<StringAttr>(ri, "mu.name"))
          p.tensors[id].name = n.str();
        p.outputs.push_back(id);
      }
      continue;
    }
    if (!lowerOp(&op, p))
      return false;
  }
  // Liveness over instruction indices; outputs live to the end.
  std::vector<int64_t> first(p.tensors.size(), -1), last(p.tensors.size(), -1);
  for (size_t k = 0; k < p.instrs.size(); ++k) {
    for (int32_t id : p.instrs[k].outs)
      if (first[id] < 0)
        first[id] = int64_t(k);
    for (int32_t id : p.instrs[k].ins)
      if (id >= 0)
        last[id] = int64_t(k);
  }
  std::vector<PlanItem> items;
  std::vector<int32_t> which;
  for (size_t id = 0; id < p.tensors.size(); ++id) {
    TensorRec &t = p.tensors[id];
    if (t.storage != mub::Storage::Arena && t.storage != mub::Storage::Output)
      continue;
    PlanItem it;
    it.size = alignTo(std::max<uint64_t>(t.size, 1), kMubAlignment);
    it.first = first[id];
    it.last = t.storage == mub::Storage::Output ? int64_t(p.instrs.size())
                                                : std::max(last[id], first[id]);
    items.push_back(it);
    which.push_back(int32_t(id));
  }
  p.arena = planArena(items);
  for (size_t i = 0; i < items.size(); ++i)
    p.tensors[which[i]].offset = items[i].offset;
  return true;
}

} // namespace

bool buildMub(ModuleOp module, const MubOptions &opts, std::vector<uint8_t> &bytes,
              std::string &error) {
  Lowering lowering(opts, error);
  std::vector<ProgramRec> programs;
  for (auto f : module.getOps<func::FuncOp>()) {
    programs.emplace_back();
    if (!lowering.lower(f, programs.back()))
      return false;
  }
  if (programs.empty()) {
    error = "module has no functions to compile";
    return false;
  }

  // Segments: 64-aligned, in first-use order.
  std::vector<uint64_t> segOffsets;
  uint64_t dataSize = 0;
  for (const auto &s : lowering.segments) {
    dataSize = alignTo(dataSize, kMubAlignment);
    segOffsets.push_back(dataSize);
    dataSize += s.size();
  }

  flatbuffers::FlatBufferBuilder fb(1 << 16);
  fb.ForceDefaults(false);
  std::vector<flatbuffers::Offset<mub::Program>> progs;
  for (const ProgramRec &p : programs) {
    std::vector<flatbuffers::Offset<mub::Tensor>> ts;
    for (const TensorRec &t : p.tensors)
      ts.push_back(mub::CreateTensor(fb, fb.CreateString(t.name), t.dtype, fb.CreateVector(t.shape),
                                     fb.CreateVector(t.maxShape), t.storage, t.offset,
                                     t.storage == mub::Storage::Constant
                                         ? lowering.segments[t.segment].size()
                                         : t.size,
                                     t.segment, t.state, 0));
    std::vector<flatbuffers::Offset<mub::Instr>> is;
    for (const InstrRec &in : p.instrs)
      is.push_back(mub::CreateInstr(fb, in.op, fb.CreateVector(in.ins), fb.CreateVector(in.outs),
                                    in.ints.empty() ? 0 : fb.CreateVector(in.ints),
                                    in.floats.empty() ? 0 : fb.CreateVector(in.floats)));
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
                               td.unkId);
  }
  std::string version = std::string(MU_VERSION_STRING) + " (" + MU_GIT_REVISION + ")";
  auto model = mub::CreateModel(
      fb, kMubFormatVersion, fb.CreateString(version), fb.CreateString(opts.sourceSha256),
      fb.CreateString(opts.target), fb.CreateString(opts.architecture), fb.CreateVector(kvs),
      fb.CreateVector(progs), fb.CreateVector(states), fb.CreateVector(segs), tok, int32_t(opts.maxSeq),
      int32_t(opts.maxCtx));
  mub::FinishModelBuffer(fb, model);

  MubHeader h;
  std::memset(&h, 0, sizeof(h));
  std::memcpy(h.magic, "MUB\0", 4);
  h.formatVersion = kMubFormatVersion;
  h.flatbufferOffset = kMubHeaderSize;
  h.flatbufferSize = fb.GetSize();
  h.dataOffset = alignTo(kMubHeaderSize + fb.GetSize(), kMubAlignment);
  h.dataSize = dataSize;
  h.fileSize = h.dataOffset + dataSize;
  bytes.assign(size_t(h.fileSize), 0);
  std::memcpy(bytes.data(), &h, sizeof(h));
  std::memcpy(bytes.data() + kMubHeaderSize, fb.GetBufferPointer(), fb.GetSize());
  for (size_t i = 0; i < lowering.segments.size(); ++i)
    std::memcpy(bytes.data() + h.dataOffset + segOffsets[i], lowering.segments[i].data(),
                lowering.segments[i].size());
  return true;
}

} // namespace mu
