//===- SafetensorsImporter.cpp - safetensors + config.json -> mu graph ----===//
///
/// \file
/// Reads a safetensors checkpoint (validating the header against the file)
/// and builds the fused mu graph for the architecture named in config.json.
/// Weights are not copied: the file is mapped once and every resource blob
/// points into the mapping, which stays alive as long as any blob does.
///
//===----------------------------------------------------------------------===//
#include "mu/Import/Import.h"
#include "NonFinite.h"
#include "mu/Import/ModelConfig.h"
#include "mu/Support/Half.h"
#include "mu/Support/MappedFile.h"

#include "dialects/Mu/MuOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/Verifier.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <set>
#include <tuple>

using namespace mlir;
using namespace mu;

namespace {

struct TensorInfo {
  std::string dtype;
  SmallVector<int64_t> shape;
  uint64_t begin = 0, end = 0; ///< absolute file offsets
};

/// A parsed, validated safetensors file.
struct Safetensors {
  std::shared_ptr<MappedFile> file;
  llvm::StringMap<TensorInfo> tensors;
};

int64_t dtypeSize(StringRef dt) {
  return llvm::StringSwitch<int64_t>(dt)
      .Cases({"F16", "BF16", "I16", "U16"}, 2)
      .Cases({"F32", "I32", "U32"}, 4)
      .Cases({"F64", "I64", "U64"}, 8)
      .Cases({"I8", "U8", "BOOL"}, 1)
      .Default(0);
}

bool parseSafetensors(StringRef path, Safetensors &st, std::string &error) {
  auto fail = [&](const Twine &msg) {
    error = (path + ": " + msg).str();
    return false;
  };
  st.file = std::make_shared<MappedFile>();
  if (!st.file->open(path.str(), error))
    return false;
  uint64_t size = st.file->size();
  if (size < 8)
    return fail(llvm::formatv("file is {0} bytes, too short for a safetensors "
                              "header", size));
  uint64_t hlen;
  std::memcpy(&hlen, st.file->data(), 8);
  if (hlen > size - 8 || hlen > (100u << 20))
    return fail(llvm::formatv("header length {0} (bytes 0-7) points past the "
                              "end of the {1}-byte file (truncated or not "
                              "safetensors?)", hlen, size));
  StringRef header(reinterpret_cast<const char *>(st.file->data()) + 8, hlen);
  auto parsed = llvm::json::parse(header);
  if (!parsed)
    return fail("header (bytes 8-" + Twine(8 + hlen) + ") is not valid JSON: " +
                llvm::toString(parsed.takeError()));
  const llvm::json::Object *o = parsed->getAsObject();
  if (!o)
    return fail("header is not a JSON object");
  uint64_t dataStart = 8 + hlen, dataSize = size - dataStart;
  for (const auto &kv : *o) {
    StringRef name = kv.first;
    if (name == "__metadata__")
      continue;
    const llvm::json::Object *t = kv.second.getAsObject();
    auto dt = t ? t->getString("dtype") : std::nullopt;
    const llvm::json::Array *shape = t ? t->getArray("shape") : nullptr;
    const llvm::json::Array *offs = t ? t->getArray("data_offsets") : nullptr;
    if (!dt || !shape || !offs || offs->size() != 2)
      return fail("tensor '" + name + "': header entry needs dtype, shape and "
                  "data_offsets [begin, end]");
    TensorInfo info;
    info.dtype = dt->str();
    int64_t esz = dtypeSize(*dt);
    if (!esz)
      return fail("tensor '" + name + "': unsupported dtype " + *dt);
    int64_t n = 1;
    for (const auto &d : *shape) {
      auto v = d.getAsInteger();
      if (!v || *v < 0)
        return fail("tensor '" + name + "': bad shape entry");
      info.shape.push_back(*v);
      // Element counts and byte sizes stay below 2^62 (no overflow below).
      if (*v != 0 && n > (int64_t(1) << 62) / esz / *v)
        return fail("tensor '" + name + "': shape has more elements than any file can hold");
      n *= *v;
    }
    auto b0 = (*offs)[0].getAsUINT64(), e0 = (*offs)[1].getAsUINT64();
    if (!b0 || !e0 || *b0 > *e0)
      return fail("tensor '" + name + "': bad data_offsets");
    if (*e0 > dataSize)
      return fail(llvm::formatv("tensor '{0}': data_offsets [{1}, {2}] point "
                                "past the end of the data section ({3} bytes "
                                "from byte {4}; file is {5} bytes): truncated "
                                "file?", name, *b0, *e0, dataSize, dataStart,
                                size));
    if (*e0 - *b0 != uint64_t(n * esz))
      return fail(llvm::formatv("tensor '{0}': {1} bytes of data but shape "
                                "and dtype {2} need {3}", name, *e0 - *b0, *dt,
                                n * esz));
    info.begin = dataStart + *b0;
    info.end = dataStart + *e0;
    st.tensors[name] = std::move(info);
  }
  // Tensors do not overlap (the format lays them out back to back).
  std::vector<std::pair<const TensorInfo *, StringRef>> byBegin;
  for (const auto &kv : st.tensors)
    byBegin.push_back({&kv.second, kv.getKey()});
  llvm::sort(byBegin, [](const auto &a, const auto &b) {
    return a.first->begin != b.first->begin ? a.first->begin < b.first->begin
                                            : a.first->end < b.first->end;
  });
  for (size_t i = 1; i < byBegin.size(); ++i)
    if (byBegin[i].first->begin < byBegin[i - 1].first->end &&
        byBegin[i].first->end > byBegin[i].first->begin)
      return fail("tensors '" + byBegin[i - 1].second + "' and '" + byBegin[i].second +
                  "' overlap (data_offsets [" + Twine(byBegin[i - 1].first->begin - dataStart) +
                  ", " + Twine(byBegin[i - 1].first->end - dataStart) + "] and [" +
                  Twine(byBegin[i].first->begin - dataStart) + ", " +
                  Twine(byBegin[i].first->end - dataStart) + "])");
  return true;
}


/// One LoRA module of a PEFT adapter: delta = scale * B [out, r] x A [r, in].
struct LoraModule {
  std::string a, b; ///< tensor names in the adapter file
  double scale = 0;
};

/// A parsed PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors).
struct LoraAdapter {
  std::string dir;
  Safetensors st;
  std::map<std::string, LoraModule> modules; ///< by base weight name
};

/// PEFT's per-module pattern lookup: a key matches a module name that equals
/// it or ends in "." + key.
const llvm::json::Value *patternFor(const llvm::json::Object *pat, StringRef module) {
  if (!pat)
    return nullptr;
  for (const auto &kv : *pat) {
    StringRef key = kv.first;
    if (module == key || module.ends_with(("." + key).str()))
      return &kv.second;
  }
  return nullptr;
}

bool parseLoraAdapter(StringRef dir, LoraAdapter &ad, std::string &error) {
  ad.dir = dir.str();
  SmallString<256> cfgPath(dir), wPath(dir);
  llvm::sys::path::append(cfgPath, "adapter_config.json");
  llvm::sys::path::append(wPath, "adapter_model.safetensors");
  auto fail = [&](const Twine &msg) {
    error = (cfgPath + ": " + msg).str();
    return false;
  };
  auto buf = llvm::MemoryBuffer::getFile(cfgPath);
  if (!buf)
    return fail("cannot read: " + buf.getError().message());
  auto parsed = llvm::json::parse((*buf)->getBuffer());
  if (!parsed)
    return fail("not valid JSON: " + llvm::toString(parsed.takeError()));
  const llvm::json::Object *c = parsed->getAsObject();
  if (!c)
    return fail("not a JSON object");
  if (auto pt = c->getString("peft_type"); pt && *pt != "LORA")
    return fail("'peft_type' is " + *pt + "; only LORA adapters are supported");
  auto r = c->getInteger("r");
  auto alpha = c->getNumber("lora_alpha");
  if (!r || *r <= 0)
    return fail("'r' must be a positive integer");
  if (!alpha)
    return fail("'lora_alpha' is missing");
  if (c->getBoolean("use_dora").value_or(false))
    return fail("'use_dora': DoRA adapters (magnitude vectors) are not supported");
  if (c->getBoolean("fan_in_fan_out").value_or(false))
    return fail("'fan_in_fan_out': adapters for transposed (Conv1D) weights are not supported");
  if (const llvm::json::Value *m = c->get("modules_to_save"))
    if (const llvm::json::Array *arr = m->getAsArray(); arr && !arr->empty())
      return fail("'modules_to_save': adapters that replace whole modules are not supported");
  if (auto bias = c->getString("bias"); bias && *bias != "none")
    return fail("'bias' is " + *bias + "; only bias \"none\" is supported");
  bool rs = c->getBoolean("use_rslora").value_or(false);
  const llvm::json::Object *rankPat = c->getObject("rank_pattern");
  const llvm::json::Object *alphaPat = c->getObject("alpha_pattern");
  if (!parseSafetensors(wPath, ad.st, error))
    return false;
  const StringRef prefix = "base_model.model.";
  for (const auto &kv : ad.st.tensors) {
    StringRef name = kv.first();
    StringRef rest = name;
    if (!rest.consume_front(prefix))
      return fail("adapter tensor '" + name + "' does not start with '" + prefix + "'");
    bool isA = rest.consume_back(".lora_A.weight");
    bool isB = !isA && rest.consume_back(".lora_B.weight");
    if (!isA && !isB)
      return fail("adapter tensor '" + name +
                  "' is not a lora_A/lora_B weight (embedding adapters, DoRA magnitudes and "
                  "saved modules are not supported)");
    LoraModule &m = ad.modules[(rest + ".weight").str()];
    (isA ? m.a : m.b) = name.str();
  }
  for (auto &[base, m] : ad.modules) {
    StringRef module = StringRef(base).drop_back(strlen(".weight"));
    if (m.a.empty() || m.b.empty())
      return fail("module '" + module + "' has only one of lora_A / lora_B");
    int64_t rank = *r;
    double al = *alpha;
    if (const llvm::json::Value *v = patternFor(rankPat, module)) {
      if (!v->getAsInteger() || *v->getAsInteger() <= 0)
        return fail("'rank_pattern' entry for '" + module + "' is not a positive integer");
      rank = *v->getAsInteger();
    }
    if (const llvm::json::Value *v = patternFor(alphaPat, module)) {
      if (!v->getAsNumber())
        return fail("'alpha_pattern' entry for '" + module + "' is not a number");
      al = *v->getAsNumber();
    }
    const TensorInfo &ta = ad.st.tensors.find(m.a)->second, &tb = ad.st.tensors.find(m.b)->second;
    if (ta.shape.size() != 2 || tb.shape.size() != 2 || ta.shape[0] != rank || tb.shape[1] != rank)
      return fail(llvm::formatv("module '{0}': lora_A is [{1}], lora_B is [{2}]; rank {3} needs "
                                "[{3}, in] and [out, {3}]", module,
                                llvm::make_range(ta.shape.begin(), ta.shape.end()),
                                llvm::make_range(tb.shape.begin(), tb.shape.end()), rank));
    m.scale = rs ? al / std::sqrt(double(rank)) : al / double(rank);
  }
  if (ad.modules.empty())
    return fail("the adapter has no LoRA tensors");
  return true;
}

/// float -> bfloat16, round to nearest even (NaN kept quiet).
uint16_t floatToBf16(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  if ((b & 0x7fffffffu) > 0x7f800000u)
    return uint16_t((b >> 16) | 0x40u);
  b += 0x7fffu + ((b >> 16) & 1u);
  return uint16_t(b >> 16);
}

/// Element `i` of a float tensor in the mapping, as double.
double loadFloat(const Safetensors &st, const TensorInfo &t, size_t i) {
  const uint8_t *p = st.file->data() + t.begin;
  if (t.dtype == "F32") {
    float f;
    std::memcpy(&f, p + 4 * i, 4);
    return f;
  }
  if (t.dtype == "F64") {
    double d;
    std::memcpy(&d, p + 8 * i, 8);
    return d;
  }
  uint16_t h;
  std::memcpy(&h, p + 2 * i, 2);
  return t.dtype == "F16" ? double(halfToFloat(h)) : double(bf16ToFloat(h));
}

/// Builds the mu graph for one architecture from a checkpoint.
class GraphBuilder {
public:
  GraphBuilder(MLIRContext &ctx, StringRef path, const Safetensors &st,
               const ModelConfig &cfg, std::string &error)
      : ctx(ctx), b(&ctx), loc(FileLineColLoc::get(&ctx, path, 0, 0)),
        path(path), st(st), cfg(cfg), error(error) {}

  OwningOpRef<ModuleOp> build();

private:
  bool fail(const Twine &msg) {
    if (error.empty())
      error = (path + ": " + msg).str();
    return false;
  }

  Type f32() { return b.getF32Type(); }
  RankedTensorType t(ArrayRef<int64_t> shape, Type et = {}) {
    return RankedTensorType::get(shape, et ? et : f32());
  }

  /// The checkpoint tensor as stored (e.g. f16), checked against `shape`.
  Value raw(StringRef name, ArrayRef<int64_t> shape);
  /// The tensor converted to f32 for compute; null (and error) if missing.
  Value weight(StringRef name, ArrayRef<int64_t> shape);
  Value optWeight(StringRef name, ArrayRef<int64_t> shape) {
    return st.tensors.count(name) ? weight(name, shape) : Value();
  }

  Value linear(Value x, StringRef prefix, int64_t out, int64_t in, bool bias);
  Value norm(Value x, StringRef prefix);
  Value ffn(Value x, StringRef prefix);
  Value attention(Value xq, Value xkv, StringRef prefix, bool causal,
                  Value cosQ, Value sinQ, Value cosK, Value sinK);
  std::pair<Value, Value> ropeTables(Value ids);
  Value embed(Value ids);
  Value block(Value x, StringRef prefix, bool causal, Value cos, Value sin,
              Value enc);
  func::FuncOp startFunc(StringRef name, ArrayRef<Type> args,
                         ArrayRef<DictionaryAttr> argAttrs);
  DictionaryAttr argAttr(StringRef name, ArrayRef<StringRef> dims);
  void finishFunc(func::FuncOp f, Value result, StringRef name);

  MLIRContext &ctx;
  OpBuilder b;
  Location loc;
  std::string path;
  const Safetensors &st;
  const ModelConfig &cfg;
  std::string &error;
public:
  const LoraAdapter *adapter = nullptr; ///< merged into the weights it names
  std::set<std::string> merged;         ///< base weights an adapter changed
  /// Modules a swappable adapter adapts (get a mu.lora after their linear),
  /// and those the graph used, in first-use order, with [in, out].
  std::set<std::string> swapSites;
  std::vector<std::tuple<std::string, int64_t, int64_t>> sitesUsed;
private:
  llvm::StringMap<ElementsAttr> blobs; ///< one resource per tensor, shared
  llvm::StringMap<Value> funcCache;    ///< per-function constants
  bool ok = true;
};

Value GraphBuilder::raw(StringRef name, ArrayRef<int64_t> shape) {
  if (!ok)
    return {};
  auto it = st.tensors.find(name);
  if (it == st.tensors.end()) {
    ok = fail("tensor '" + name + "' required by " + cfg.architecture +
              " is missing from the checkpoint");
    return {};
  }
  const TensorInfo &info = it->second;
  if (ArrayRef<int64_t>(info.shape) != shape) {
    std::string got, want;
    llvm::raw_string_ostream g(got), w(want);
    llvm::interleaveComma(info.shape, g);
    llvm::interleaveComma(shape, w);
    ok = fail("tensor '" + name + "' has shape [" + got + "] but config.json "
              "implies [" + want + "]");
    return {};
  }
  std::string key = ("w:" + name).str();
  if (Value v = funcCache.lookup(key))
    return v;
  ElementsAttr &attr = blobs[name];
  if (!attr) {
    Type et = llvm::StringSwitch<Type>(info.dtype)
                  .Case("F16", b.getF16Type())
                  .Case("BF16", b.getBF16Type())
                  .Case("F32", b.getF32Type())
                  .Case("F64", b.getF64Type())
                  .Default(Type());
    if (!et) {
      ok = fail("tensor '" + name + "' has dtype " + info.dtype +
                "; weights must be F16, BF16, F32 or F64");
      return {};
    }
    const char *data = reinterpret_cast<const char *>(st.file->data()) + info.begin;
    size_t len = info.end - info.begin;
    if (adapter) {
      auto m = adapter->modules.find(name.str());
      if (m != adapter->modules.end()) {
        // W + scale * B A, computed in double, stored in the base dtype.
        const TensorInfo &ta = adapter->st.tensors.find(m->second.a)->second;
        const TensorInfo &tb = adapter->st.tensors.find(m->second.b)->second;
        if (shape.size() != 2 || ta.shape[1] != shape[1] || tb.shape[0] != shape[0]) {
          ok = fail(llvm::formatv("adapter tensors '{0}' / '{1}' do not match the base weight "
                                  "'{2}' [{3}, {4}]", m->second.a, m->second.b, name,
                                  shape.empty() ? 0 : shape[0], shape.size() < 2 ? 0 : shape[1])
                        .str());
          return {};
        }
        int64_t out = shape[0], in = shape[1], rank = ta.shape[0];
        std::vector<char> bytes(len);
        for (int64_t o = 0; o < out; ++o)
          for (int64_t i = 0; i < in; ++i) {
            double d = 0;
            for (int64_t k = 0; k < rank; ++k)
              d += loadFloat(adapter->st, tb, size_t(o * rank + k)) *
                   loadFloat(adapter->st, ta, size_t(k * in + i));
            size_t idx = size_t(o * in + i);
            double w = loadFloat(st, info, idx) + m->second.scale * d;
            if (info.dtype == "F32") {
              float f = float(w);
              std::memcpy(&bytes[idx * 4], &f, 4);
            } else if (info.dtype == "F64") {
              std::memcpy(&bytes[idx * 8], &w, 8);
            } else {
              uint16_t h = info.dtype == "F16" ? floatToHalf(float(w)) : floatToBf16(float(w));
              std::memcpy(&bytes[idx * 2], &h, 2);
            }
          }
        AsmResourceBlob blob =
            HeapAsmResourceBlob::allocateAndCopyWithAlign(ArrayRef<char>(bytes), 64);
        attr = DenseResourceElementsAttr::get(t(shape, et), (name + ".lora").str(), std::move(blob));
        merged.insert(name.str());
        Value v = ConstantOp::create(b, loc, attr);
        funcCache[key] = v;
        return v;
      }
    }
    RawFloat kind = info.dtype == "F16"    ? RawFloat::F16
                    : info.dtype == "BF16" ? RawFloat::BF16
                    : info.dtype == "F32"  ? RawFloat::F32
                                           : RawFloat::F64;
    if (int64_t bad = firstNonFinite(data, len, kind, /*infToo=*/true); bad >= 0) {
      ok = fail(llvm::formatv("tensor '{0}' element {1} (byte {2} of the file) is NaN or "
                              "infinite", name, bad, info.begin + uint64_t(bad) *
                              uint64_t(dtypeSize(info.dtype))).str());
      return {};
    }
    size_t align = 64;
    while (align > 1 && reinterpret_cast<uintptr_t>(data) % align)
      align /= 2;
    // Zero-copy: the blob points into the mapping and keeps it alive.
    std::shared_ptr<MappedFile> keep = st.file;
    AsmResourceBlob blob = UnmanagedAsmResourceBlob::allocateWithAlign(
        ArrayRef<char>(data, len), align,
        [keep](void *, size_t, size_t) mutable { keep.reset(); });
    attr = DenseResourceElementsAttr::get(t(shape, et), name, std::move(blob));
  }
  Value v = ConstantOp::create(b, loc, attr);
  funcCache[key] = v;
  return v;
}

Value GraphBuilder::weight(StringRef name, ArrayRef<int64_t> shape) {
  std::string key = ("f:" + name).str();
  if (Value v = funcCache.lookup(key))
    return v;
  Value r = raw(name, shape);
  if (!r)
    return {};
  if (cast<RankedTensorType>(r.getType()).getElementType() != f32())
    r = CastOp::create(b, loc, t(shape), r);
  funcCache[key] = r;
  return r;
}

Value GraphBuilder::linear(Value x, StringRef prefix, int64_t out, int64_t in,
                           bool bias) {
  Value w = weight((prefix + ".weight").str(), {out, in});
  Value bv = bias ? weight((prefix + ".bias").str(), {out}) : Value();
  if (!w || (bias && !bv))
    return {};
  Value y = LinearOp::create(b, loc, x, w, bv);
  if (!swapSites.count(prefix.str()))
    return y;
  if (llvm::none_of(sitesUsed, [&](const auto &s) { return std::get<0>(s) == prefix; }))
    sitesUsed.emplace_back(prefix.str(), in, out);
  return LoraOp::create(b, loc, y.getType(), x, y, b.getStringAttr(prefix));
}

Value GraphBuilder::norm(Value x, StringRef prefix) {
  if (!x)
    return {};
  int64_t d = cfg.hidden;
  auto eps = b.getF32FloatAttr(static_cast<float>(cfg.normEps));
  bool layerNorm = cfg.norm == NormKind::LayerNorm || cfg.norm == NormKind::DualLayerNorm;
  Value w = weight((prefix + ".weight").str(), {d});
  if (!w)
    return {};
  if (!layerNorm)
    return RmsNormOp::create(b, loc, x, w, eps);
  Value bias = optWeight((prefix + ".bias").str(), {d});
  return LayerNormOp::create(b, loc, x.getType(), x, w, bias, eps);
}

Value GraphBuilder::ffn(Value x, StringRef prefix) {
  if (!x)
    return {};
  int64_t d = cfg.hidden, f = cfg.intermediate;
  bool bias = cfg.mlpBias;
  if (cfg.gatedFfn) {
    Value g = linear(x, (prefix + ".gate_proj").str(), f, d, bias);
    Value u = linear(x, (prefix + ".up_proj").str(), f, d, bias);
    if (!g || !u)
      return {};
    Activation act = cfg.act == FfnAct::Silu ? Activation::silu
                     : cfg.act == FfnAct::Gelu ? Activation::gelu
                     : cfg.act == FfnAct::GeluTanh ? Activation::gelu_tanh
                                                   : Activation::relu;
    Value h = GluOp::create(b, loc, g, u, ActivationAttr::get(&ctx, act));
    return linear(h, (prefix + ".down_proj").str(), d, f, bias);
  }
  Value h = linear(x, (prefix + ".fc1").str(), f, d, bias);
  if (!h)
    return {};
  switch (cfg.act) {
  case FfnAct::Silu: h = SiluOp::create(b, loc, h); break;
  case FfnAct::Relu: h = ReluOp::create(b, loc, h); break;
  case FfnAct::Gelu:
  case FfnAct::GeluTanh:
    h = GeluOp::create(b, loc, h, GeluApproximationAttr::get(
        &ctx, cfg.act == FfnAct::GeluTanh ? GeluApproximation::tanh
                                          : GeluApproximation::none));
  }
  return linear(h, (prefix + ".fc2").str(), d, f, bias);
}

/// cos/sin tables [seq, head_dim] for positions 0..seq-1 (rotate_half layout).
std::pair<Value, Value> GraphBuilder::ropeTables(Value ids) {
  int64_t hd = cfg.headDim, dyn = ShapedType::kDynamic;
  auto i64s = t({}, b.getI64Type());
  Value n = DimOp::create(b, loc, ids, 1);
  Value zero = ConstantOp::create(b, loc, DenseElementsAttr::get(i64s, APInt(64, 0)));
  Value one = ConstantOp::create(b, loc, DenseElementsAttr::get(i64s, APInt(64, 1)));
  Value r = RangeOp::create(b, loc, t({dyn}, b.getI64Type()), zero, n, one);
  Value rf = CastOp::create(b, loc, t({dyn}), r);
  Value col = ReshapeOp::create(b, loc, t({dyn, 1}), rf);
  SmallVector<float> inv;
  for (int64_t i = 0; i < hd / 2; ++i)
    inv.push_back(static_cast<float>(1.0 / std::pow(cfg.ropeTheta, 2.0 * i / hd)));
  Value invc = ConstantOp::create(b, loc, DenseElementsAttr::get(t({1, hd / 2}), ArrayRef<float>(inv)));
  Value freqs = MulOp::create(b, loc, col, invc);
  Value emb = ConcatOp::create(b, loc, ValueRange{freqs, freqs}, 1);
  return {CosOp::create(b, loc, emb), SinOp::create(b, loc, emb)};
}

Value GraphBuilder::attention(Value xq, Value xkv, StringRef prefix, bool causal,
                              Value cosQ, Value sinQ, Value cosK, Value sinK) {
  if (!xq || !xkv)
    return {};
  int64_t d = cfg.hidden, hq = cfg.numHeads, hkv = cfg.numKvHeads,
          hd = cfg.headDim, dyn = ShapedType::kDynamic;
  bool bias = cfg.attentionBias;
  auto heads = [&](Value x, StringRef proj, int64_t h, Value cos, Value sin) -> Value {
    Value p = linear(x, (prefix + "." + proj).str(), h * hd, d, bias);
    if (!p)
      return {};
    Value r = ReshapeOp::create(b, loc, t({1, dyn, h, hd}), p);
    Value tr = TransposeOp::create(b, loc, r, ArrayRef<int64_t>{0, 2, 1, 3});
    if (!cos)
      return tr;
    return RopeOp::create(b, loc, tr, cos, sin,
                          RopeModeAttr::get(&ctx, RopeMode::rotate_half));
  };
  Value q = heads(xq, "q_proj", hq, cosQ, sinQ);
  Value k = heads(xkv, "k_proj", hkv, cosK, sinK);
  Value v = heads(xkv, "v_proj", hkv, Value(), Value());
  if (!q || !k || !v)
    return {};
  auto attn = AttentionOp::create(
      b, loc, t({1, hq, dyn, hd}), TypeRange(), q, k, v, Value(), Value(),
      Value(), Value(), b.getF32FloatAttr(static_cast<float>(1.0 / std::sqrt(double(hd)))),
      b.getBoolAttr(causal));
  Value tr = TransposeOp::create(b, loc, attn.getResult(), ArrayRef<int64_t>{0, 2, 1, 3});
  Value flat = ReshapeOp::create(b, loc, t({1, dyn, hq * hd}), tr);
  return linear(flat, (prefix + ".o_proj").str(), d, hq * hd, bias);
}

/// One transformer layer. Pre-norm: x + f(norm(x)). Dual: x + post(f(pre(x))).
Value GraphBuilder::block(Value x, StringRef prefix, bool causal, Value cos,
                          Value sin, Value enc) {
  bool dual = cfg.norm == NormKind::DualLayerNorm || cfg.norm == NormKind::DualRmsNorm;
  bool llama = cfg.arch == ModelArch::DecoderOnly;
  auto sub = [&](Value in, StringRef normName,
                 llvm::function_ref<Value(Value)> body) -> Value {
    if (!in)
      return {};
    Value h = body(norm(in, (prefix + "." + normName).str()));
    if (dual)
      h = norm(h, (prefix + "." + normName.drop_back(5) + "_post_norm").str());
    if (!h)
      return {};
    return AddOp::create(b, loc, in, h);
  };
  std::string attnNorm = llama ? "input_layernorm" : "self_attn_norm";
  std::string mlpNorm = llama ? "post_attention_layernorm" : "mlp_norm";
  x = sub(x, attnNorm, [&](Value h) {
    return attention(h, h, (prefix + ".self_attn").str(), causal, cos, sin, cos, sin);
  });
  if (enc)
    x = sub(x, "cross_attn_norm", [&](Value h) {
      return attention(h, enc, (prefix + ".cross_attn").str(), false, Value(),
                       Value(), Value(), Value());
    });
  return sub(x, mlpNorm, [&](Value h) { return ffn(h, (prefix + ".mlp").str()); });
}

Value GraphBuilder::embed(Value ids) {
  StringRef name = cfg.arch == ModelArch::DecoderOnly ? "model.embed_tokens.weight"
                                                      : "shared.weight";
  Value table = raw(name, {cfg.vocabSize, cfg.hidden});
  if (!table)
    return {};
  Value g = GatherOp::create(b, loc, table, ids, 0);
  auto gt = cast<RankedTensorType>(g.getType());
  if (gt.getElementType() != f32())
    g = CastOp::create(b, loc, t(gt.getShape()), g);
  return g;
}

DictionaryAttr GraphBuilder::argAttr(StringRef name, ArrayRef<StringRef> dims) {
  SmallVector<Attribute> d;
  for (StringRef s : dims)
    d.push_back(b.getStringAttr(s));
  return b.getDictionaryAttr({b.getNamedAttr("mu.name", b.getStringAttr(name)),
                              b.getNamedAttr("mu.dim_names", b.getArrayAttr(d))});
}

func::FuncOp GraphBuilder::startFunc(StringRef name, ArrayRef<Type> args,
                                     ArrayRef<DictionaryAttr> argAttrs) {
  auto f = func::FuncOp::create(b, loc, name, b.getFunctionType(args, {}));
  f.setAllArgAttrs(argAttrs);
  funcCache.clear();
  b.setInsertionPointToEnd(f.addEntryBlock());
  return f;
}

void GraphBuilder::finishFunc(func::FuncOp f, Value result, StringRef name) {
  func::ReturnOp::create(b, loc, result);
  f.setFunctionType(b.getFunctionType(f.getArgumentTypes(), {result.getType()}));
  f.setResultAttrs(0, b.getDictionaryAttr(
                         {b.getNamedAttr("mu.name", b.getStringAttr(name))}));
  b.setInsertionPointAfter(f);
}

OwningOpRef<ModuleOp> GraphBuilder::build() {
  ctx.loadDialect<MuDialect, func::FuncDialect>();
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc);
  b.setInsertionPointToEnd(module->getBody());
  int64_t dyn = ShapedType::kDynamic, d = cfg.hidden, v = cfg.vocabSize;
  auto ids = t({1, dyn}, b.getI64Type());
  auto lmHead = [&](Value x) -> Value {
    if (!x)
      return {};
    bool tied = cfg.tieEmbeddings;
    StringRef name = tied ? (cfg.arch == ModelArch::DecoderOnly ? "model.embed_tokens.weight"
                                                                : "shared.weight")
                          : "lm_head.weight";
    Value w = weight(name, {v, d});
    return w ? LinearOp::create(b, loc, x, w, Value()).getResult() : Value();
  };

  if (cfg.arch == ModelArch::DecoderOnly) {
    auto f = startFunc("main", {ids}, {argAttr("input_ids", {"", "seq"})});
    Value in = f.getArgument(0);
    auto [cos, sin] = ropeTables(in);
    Value x = embed(in);
    for (int64_t i = 0; i < cfg.numLayers && x; ++i)
      x = block(x, ("model.layers." + Twine(i)).str(), true, cos, sin, Value());
    Value logits = lmHead(norm(x, "model.norm"));
    if (!logits || !ok)
      return {};
    finishFunc(f, logits, "logits");
  } else {
    auto hidden = t({1, dyn, d});
    auto fe = startFunc("encode", {ids}, {argAttr("input_ids", {"", "src_seq"})});
    Value src = fe.getArgument(0);
    auto [cosE, sinE] = ropeTables(src);
    Value x = embed(src);
    for (int64_t i = 0; i < cfg.numEncoderLayers && x; ++i)
      x = block(x, ("encoder.layers." + Twine(i)).str(), false, cosE, sinE, Value());
    x = norm(x, "encoder.norm");
    if (!x || !ok)
      return {};
    finishFunc(fe, x, "encoder_hidden");

    auto fd = startFunc("decode", {ids, hidden},
                        {argAttr("decoder_input_ids", {"", "tgt_seq"}),
                         argAttr("encoder_hidden", {"", "src_seq", ""})});
    Value tgt = fd.getArgument(0), enc = fd.getArgument(1);
    auto [cosD, sinD] = ropeTables(tgt);
    Value y = embed(tgt);
    for (int64_t i = 0; i < cfg.numLayers && y; ++i)
      y = block(y, ("decoder.layers." + Twine(i)).str(), true, cosD, sinD, enc);
    Value logits = lmHead(norm(y, "decoder.norm"));
    if (!logits || !ok)
      return {};
    finishFunc(fd, logits, "logits");
  }
  module->getOperation()->setAttr("mu.source",
                                  b.getStringAttr(llvm::sys::path::filename(path)));
  module->getOperation()->setAttr("mu.architecture", b.getStringAttr(cfg.architecture));
  std::string diag;
  ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &dg) {
    llvm::raw_string_ostream(diag) << dg.getLocation() << ": " << dg.str();
    return success();
  });
  if (failed(verify(*module))) {
    fail("the built graph does not verify (importer bug): " + diag);
    return {};
  }
  return module;
}

} // namespace

bool mu::readLoraAdapter(StringRef dir, double scale, std::vector<LoraDelta> &modules,
                         std::string &error) {
  LoraAdapter ad;
  if (!parseLoraAdapter(dir, ad, error))
    return false;
  modules.clear();
  for (const auto &[weight, m] : ad.modules) {
    const TensorInfo &ta = ad.st.tensors.find(m.a)->second, &tb = ad.st.tensors.find(m.b)->second;
    LoraDelta d;
    d.site = StringRef(weight).drop_back(strlen(".weight")).str();
    d.rank = ta.shape[0];
    d.in = ta.shape[1];
    d.out = tb.shape[0];
    d.a.resize(size_t(d.rank * d.in));
    d.b.resize(size_t(d.out * d.rank));
    for (size_t i = 0; i < d.a.size(); ++i)
      d.a[i] = float(loadFloat(ad.st, ta, i));
    for (size_t i = 0; i < d.b.size(); ++i)
      d.b[i] = float(loadFloat(ad.st, tb, i) * m.scale * scale);
    for (float v : d.a)
      if (!std::isfinite(v)) {
        error = (dir + ": adapter tensor '" + m.a + "' holds a NaN or infinity").str();
        return false;
      }
    for (float v : d.b)
      if (!std::isfinite(v)) {
        error = (dir + ": adapter tensor '" + m.b + "' holds a NaN or infinity (or overflows "
                       "f32 once scaled)").str();
        return false;
      }
    modules.push_back(std::move(d));
  }
  return true;
}

namespace {
/// An f32 resource attribute holding `v` with `shape`.
ElementsAttr f32Resource(MLIRContext &ctx, StringRef name, ArrayRef<int64_t> shape,
                         const std::vector<float> &v) {
  AsmResourceBlob blob = HeapAsmResourceBlob::allocateAndCopyWithAlign(
      ArrayRef<char>(reinterpret_cast<const char *>(v.data()), v.size() * sizeof(float)), 64);
  return DenseResourceElementsAttr::get(RankedTensorType::get(shape, Float32Type::get(&ctx)),
                                        name, std::move(blob));
}
} // namespace

OwningOpRef<ModuleOp> mu::importSafetensors(MLIRContext &ctx, StringRef path,
                                            StringRef configPath, std::string &error,
                                            StringRef adapterDir, double adapterScale,
                                            ArrayRef<SwappableAdapter> swappable) {
  std::string cfgPath = configPath.str();
  if (cfgPath.empty()) {
    SmallString<256> p(llvm::sys::path::parent_path(path));
    llvm::sys::path::append(p, "config.json");
    cfgPath = p.str().str();
    if (!llvm::sys::fs::exists(cfgPath)) {
      error = (path + ": config.json not found next to the checkpoint (" +
               cfgPath + "); pass --config FILE")
                  .str();
      return {};
    }
  }
  ModelConfig cfg;
  if (!parseModelConfig(cfgPath, cfg, error))
    return {};
  Safetensors st;
  if (!parseSafetensors(path, st, error))
    return {};
  LoraAdapter adapter;
  if (!adapterDir.empty() && !parseLoraAdapter(adapterDir, adapter, error))
    return {};
  for (auto &kv : adapter.modules)
    kv.second.scale *= adapterScale;
  std::vector<std::vector<LoraDelta>> swaps(swappable.size());
  for (size_t i = 0; i < swappable.size(); ++i) {
    if (!readLoraAdapter(swappable[i].dir, swappable[i].scale, swaps[i], error))
      return {};
    for (size_t j = 0; j < i; ++j)
      if (swappable[j].name == swappable[i].name) {
        error = "--adapter " + swappable[i].name + "=" + swappable[i].dir +
                ": an adapter named '" + swappable[i].name + "' is already given";
        return {};
      }
  }
  GraphBuilder gb(ctx, path, st, cfg, error);
  if (!adapterDir.empty())
    gb.adapter = &adapter;
  for (const auto &mods : swaps)
    for (const LoraDelta &d : mods)
      gb.swapSites.insert(d.site);
  OwningOpRef<ModuleOp> m = gb.build();
  if (m && !swappable.empty()) {
    Builder b(&ctx);
    SmallVector<Attribute> sites;
    std::map<std::string, std::pair<int64_t, int64_t>> dims;
    for (const auto &[name, in, out] : gb.sitesUsed) {
      sites.push_back(b.getDictionaryAttr({b.getNamedAttr("name", b.getStringAttr(name)),
                                           b.getNamedAttr("in", b.getI64IntegerAttr(in)),
                                           b.getNamedAttr("out", b.getI64IntegerAttr(out))}));
      dims[name] = {in, out};
    }
    SmallVector<Attribute> adapters;
    for (size_t i = 0; i < swappable.size(); ++i) {
      SmallVector<NamedAttribute> perSite;
      for (const LoraDelta &d : swaps[i]) {
        std::string where = (swappable[i].dir + ": adapter module '" + d.site + "'");
        auto it = dims.find(d.site);
        if (it == dims.end()) {
          error = where + " is not a linear layer of the model";
          return {};
        }
        if (d.in != it->second.first || d.out != it->second.second) {
          error = llvm::formatv("{0}: lora_A is [{1}, {2}] and lora_B [{3}, {1}], but the base "
                                "weight is [{4}, {5}]", where, d.rank, d.in, d.out,
                                it->second.second, it->second.first).str();
          return {};
        }
        std::string res = swappable[i].name + "." + d.site;
        perSite.push_back(b.getNamedAttr(
            d.site, b.getArrayAttr({f32Resource(ctx, res + ".lora_A", {d.rank, d.in}, d.a),
                                    f32Resource(ctx, res + ".lora_B", {d.out, d.rank}, d.b)})));
      }
      adapters.push_back(b.getDictionaryAttr(
          {b.getNamedAttr("name", b.getStringAttr(swappable[i].name)),
           b.getNamedAttr("source", b.getStringAttr(swappable[i].dir)),
           b.getNamedAttr("sites", b.getDictionaryAttr(perSite))}));
    }
    m->getOperation()->setAttr("mu.lora_sites", b.getArrayAttr(sites));
    m->getOperation()->setAttr("mu.adapters", b.getArrayAttr(adapters));
  }
  if (m && !adapterDir.empty()) {
    for (const auto &kv : adapter.modules)
      if (!gb.merged.count(kv.first)) {
        error = (adapterDir + ": adapter module '" + kv.second.a + "' targets '" + kv.first +
                 "', which the model does not use")
                    .str();
        return {};
      }
  }
  return m;
}
