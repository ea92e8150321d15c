//===- Target.cpp - reading target description files ---------------------===//
#include "mu/Target/Target.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace mu {
namespace target {

/// Shipped target files (generated from targets/*/target.json).
struct BuiltinTarget {
  const char *name;
  const char *text;
};
extern const BuiltinTarget kBuiltinTargets[];
extern const size_t kNumBuiltinTargets;

const char *actEncodingName(ActEncoding e) {
  switch (e) {
  case ActEncoding::IntAsymmetric: return "int-asymmetric";
  case ActEncoding::IntSymmetric: return "int-symmetric";
  case ActEncoding::UintAsymmetric: return "uint-asymmetric";
  }
  return "?";
}

const char *floatPrecisionName(FloatPrecision p) {
  switch (p) {
  case FloatPrecision::F32: return "f32";
  case FloatPrecision::F16: return "f16";
  case FloatPrecision::BF16: return "bf16";
  }
  return "?";
}

const SchemeRule *Target::scheme(const std::string &n) const {
  for (const SchemeRule &s : schemes)
    if (s.name == n)
      return &s;
  return nullptr;
}

std::string Target::schemeList() const {
  std::string s;
  for (const SchemeRule &r : schemes)
    s += (s.empty() ? "" : ", ") + r.name;
  return s;
}

namespace {

using llvm::json::Array;
using llvm::json::Object;
using llvm::json::Value;

/// Strict reader: every key of every object must be consumed; errors carry
/// the file and the key path.
class Reader {
public:
  Reader(const std::string &file, std::string &error) : file(file), error(error) {}

  bool fail(const std::string &path, const std::string &msg) {
    if (error.empty())
      error = file + ": " + (path.empty() ? "" : "'" + path + "': ") + msg;
    return false;
  }

  /// Checks that `o` has only `keys` (and "sources"/"notes"/"extends" where allowed).
  bool onlyKeys(const Object &o, const std::string &path,
                std::initializer_list<const char *> keys) {
    for (const auto &kv : o) {
      llvm::StringRef k = kv.first;
      if (std::none_of(keys.begin(), keys.end(), [&](const char *a) { return k == a; })) {
        std::string allowed;
        for (const char *a : keys)
          allowed += (allowed.empty() ? "" : ", ") + std::string(a);
        return fail(join(path, k.str()), "unknown key (expected one of: " + allowed + ")");
      }
    }
    return true;
  }

  static std::string join(const std::string &a, const std::string &b) {
    return a.empty() ? b : a + "." + b;
  }

  const Object *object(const Object &o, const std::string &path, const char *key, bool required) {
    const Value *v = o.get(key);
    if (!v) {
      if (required)
        fail(join(path, key), "missing");
      return nullptr;
    }
    if (!v->getAsObject()) {
      fail(join(path, key), "must be an object");
      return nullptr;
    }
    return v->getAsObject();
  }

  bool string(const Object &o, const std::string &path, const char *key, std::string &out,
              bool required) {
    const Value *v = o.get(key);
    if (!v)
      return required ? fail(join(path, key), "missing") : true;
    if (!v->getAsString())
      return fail(join(path, key), "must be a string");
    out = v->getAsString()->str();
    return true;
  }

  bool boolean(const Object &o, const std::string &path, const char *key, bool &out) {
    const Value *v = o.get(key);
    if (!v)
      return true;
    if (!v->getAsBoolean())
      return fail(join(path, key), "must be true or false");
    out = *v->getAsBoolean();
    return true;
  }

  bool number(const Object &o, const std::string &path, const char *key, double &out, double lo,
              double hi) {
    const Value *v = o.get(key);
    if (!v)
      return true;
    std::optional<double> d = v->getAsNumber();
    if (!d || !std::isfinite(*d))
      return fail(join(path, key), "must be a number");
    if (*d < lo || *d > hi)
      return fail(join(path, key),
                  llvm::formatv("{0} is out of range [{1}, {2}]", *d, lo, hi).str());
    out = *d;
    return true;
  }

  bool integer(const Object &o, const std::string &path, const char *key, int64_t &out, int64_t lo,
               int64_t hi) {
    const Value *v = o.get(key);
    if (!v)
      return true;
    std::optional<int64_t> i = v->getAsInteger();
    if (!i)
      return fail(join(path, key), "must be an integer");
    if (*i < lo || *i > hi)
      return fail(join(path, key),
                  llvm::formatv("{0} is out of range [{1}, {2}]", *i, lo, hi).str());
    out = *i;
    return true;
  }

  bool bits(const Object &o, const std::string &path, int &out) {
    int64_t b = out;
    if (!integer(o, path, "bits", b, 0, 64))
      return false;
    if (b != 8 && b != 16)
      return fail(join(path, "bits"), std::to_string(b) + " is not supported (8 or 16)");
    out = int(b);
    return true;
  }

  bool strings(const Object &o, const std::string &path, const char *key,
               std::vector<std::string> &out, const std::set<std::string> &allowed) {
    const Value *v = o.get(key);
    if (!v)
      return true;
    const Array *a = v->getAsArray();
    if (!a)
      return fail(join(path, key), "must be an array of strings");
    for (size_t i = 0; i < a->size(); ++i) {
      std::string p = join(path, key) + "[" + std::to_string(i) + "]";
      if (!(*a)[i].getAsString())
        return fail(p, "must be a string");
      std::string s = (*a)[i].getAsString()->str();
      if (!allowed.empty() && !allowed.count(s)) {
        std::string list;
        for (const std::string &x : allowed)
          list += (list.empty() ? "" : ", ") + x;
        return fail(p, "'" + s + "' is not one of: " + list);
      }
      out.push_back(s);
    }
    return true;
  }

  bool granularity(const Object &o, const std::string &path, Granularity &out) {
    std::string g;
    if (!string(o, path, "granularity", g, false))
      return false;
    if (g.empty())
      return true;
    if (g == "tensor")
      out = Granularity::Tensor;
    else if (g == "channel")
      out = Granularity::Channel;
    else
      return fail(join(path, "granularity"), "'" + g + "' is not tensor or channel");
    return true;
  }

  bool activations(const Object &o, const std::string &path, ActivationRule &r) {
    if (!onlyKeys(o, path, {"bits", "encoding", "granularity", "power_of_two", "min_range"}))
      return false;
    r.bits = 0;
    if (!o.get("bits"))
      return fail(join(path, "bits"), "missing");
    if (!bits(o, path, r.bits))
      return false;
    std::string e;
    if (!string(o, path, "encoding", e, true))
      return false;
    if (e == "int-asymmetric")
      r.encoding = ActEncoding::IntAsymmetric;
    else if (e == "int-symmetric")
      r.encoding = ActEncoding::IntSymmetric;
    else if (e == "uint-asymmetric")
      r.encoding = ActEncoding::UintAsymmetric;
    else
      return fail(join(path, "encoding"),
                  "'" + e + "' is not int-asymmetric, int-symmetric or uint-asymmetric");
    if (!granularity(o, path, r.granularity) || !boolean(o, path, "power_of_two", r.powerOfTwo) ||
        !number(o, path, "min_range", r.minRange, 0, 1e6))
      return false;
    if (r.powerOfTwo && r.encoding != ActEncoding::IntSymmetric)
      return fail(join(path, "power_of_two"), "power-of-two scales need encoding int-symmetric");
    return true;
  }

  bool weights(const Object &o, const std::string &path, WeightRule &r) {
    if (!onlyKeys(
            o, path,
            {"bits", "symmetric", "narrow_range", "granularity", "block_sizes", "power_of_two"}))
      return false;
    if (!o.get("bits"))
      return fail(join(path, "bits"), "missing");
    if (!bits(o, path, r.bits))
      return false;
    // Weights are symmetric narrow range everywhere in this compiler; a
    // file may say so explicitly, and saying otherwise is an error rather
    // than silently ignored.
    bool symmetric = true, narrow = true;
    if (!boolean(o, path, "symmetric", symmetric) || !boolean(o, path, "narrow_range", narrow))
      return false;
    if (!symmetric)
      return fail(join(path, "symmetric"), "asymmetric weights are not supported (symmetric only)");
    if (!narrow)
      return fail(join(path, "narrow_range"),
                  "full-range weights are not supported (narrow range [-(2^(b-1)-1), 2^(b-1)-1])");
    if (!granularity(o, path, r.granularity) || !boolean(o, path, "power_of_two", r.powerOfTwo))
      return false;
    if (const Value *v = o.get("block_sizes")) {
      const Array *a = v->getAsArray();
      if (!a)
        return fail(join(path, "block_sizes"), "must be an array of integers");
      for (size_t i = 0; i < a->size(); ++i) {
        std::optional<int64_t> b = (*a)[i].getAsInteger();
        if (!b || *b < 8 || *b > 4096 || (*b & (*b - 1)))
          return fail(join(path, "block_sizes") + "[" + std::to_string(i) + "]",
                      "must be a power of two in [8, 4096]");
        r.blockSizes.push_back(*b);
      }
    }
    return true;
  }

  bool schemes(const Object &o, const std::string &path, Target &t) {
    for (const auto &kv : o) {
      std::string name = kv.first.str(), p = join(path, name);
      if (name != "none" && name != "w8" && name != "w8a8" && name != "w8a16" && name != "w16a16")
        return fail(p, "unknown scheme (none, w8, w8a8, w8a16, w16a16)");
      const Object *s = kv.second.getAsObject();
      if (!s)
        return fail(p, "must be an object");
      SchemeRule r;
      r.name = name;
      if (name == "none") { // float: the target's float precision, nothing to say
        if (!onlyKeys(*s, p, {"mode"}) || !string(*s, p, "mode", r.mode, false))
          return false;
        t.schemes.push_back(r);
        continue;
      }
      if (!onlyKeys(*s, p, {"mode", "activations", "weights"}))
        return false;
      if (!string(*s, p, "mode", r.mode, false))
        return false;
      const Object *w = object(*s, p, "weights", true);
      if (!w || !weights(*w, join(p, "weights"), r.weights))
        return false;
      const Object *a = object(*s, p, "activations", name != "w8");
      if (!error.empty())
        return false;
      if (name == "w8" && a)
        return fail(join(p, "activations"), "w8 is weight-only (float activations)");
      if (a) {
        ActivationRule ar;
        if (!activations(*a, join(p, "activations"), ar))
          return false;
        int want = name == "w8a8" ? 8 : 16;
        if (ar.bits != want)
          return fail(join(p, "activations.bits"),
                      llvm::formatv("{0} activations must be {1}-bit", name, want).str());
        r.activations = ar;
      }
      int wantW = name == "w16a16" ? 16 : 8;
      if (r.weights.bits != wantW)
        return fail(join(p, "weights.bits"),
                    llvm::formatv("{0} weights must be {1}-bit", name, wantW).str());
      t.schemes.push_back(r);
    }
    if (t.schemes.empty())
      return fail(path, "no schemes");
    // JSON objects are unordered: keep the schemes in a fixed order.
    auto rank = [](const std::string &n) {
      static const char *order[] = {"none", "w8", "w8a8", "w8a16", "w16a16"};
      return std::find_if(std::begin(order), std::end(order),
                          [&](const char *o) { return n == o; }) -
             std::begin(order);
    };
    std::sort(t.schemes.begin(), t.schemes.end(),
              [&](const SchemeRule &a, const SchemeRule &b) { return rank(a.name) < rank(b.name); });
    return true;
  }

  bool target(const Object &root, Target &t) {
    if (!onlyKeys(root, "",
                  {"format", "version", "name", "description", "kind", "fallback", "quantization",
                   "float_precision", "ops", "fixed_encodings", "shapes", "packing", "memory",
                   "performance", "sources"}))
      return false;
    std::string format;
    if (!string(root, "", "format", format, true))
      return false;
    if (format != "mu-target")
      return fail("format", "'" + format + "' is not mu-target");
    int64_t version = 0;
    if (!integer(root, "", "version", version, 0, 1 << 20))
      return false;
    if (version != 1)
      return fail("version", std::to_string(version) + " is not supported (this compiler reads 1)");
    if (!string(root, "", "name", t.name, true) ||
        !string(root, "", "description", t.description, false) ||
        !string(root, "", "kind", t.kind, true))
      return false;
    if (t.kind != "cpu" && t.kind != "npu")
      return fail("kind", "'" + t.kind + "' is not cpu or npu");
    if (const Object *f = object(root, "", "fallback", false)) {
      if (!onlyKeys(*f, "fallback", {"cpu"}) || !boolean(*f, "fallback", "cpu", t.cpuFallback))
        return false;
    } else if (!error.empty()) {
      return false;
    }

    const Object *q = object(root, "", "quantization", true);
    if (!q || !onlyKeys(*q, "quantization", {"default", "schemes"}))
      return false;
    const Object *s = object(*q, "quantization", "schemes", true);
    if (!s || !schemes(*s, "quantization.schemes", t))
      return false;
    if (!string(*q, "quantization", "default", t.defaultScheme, true))
      return false;
    if (!t.scheme(t.defaultScheme))
      return fail("quantization.default",
                  "'" + t.defaultScheme + "' is not one of the schemes (" + t.schemeList() + ")");

    std::string fp = "f32";
    if (!string(root, "", "float_precision", fp, false))
      return false;
    if (fp == "f32")
      t.floatPrecision = FloatPrecision::F32;
    else if (fp == "f16")
      t.floatPrecision = FloatPrecision::F16;
    else if (fp == "bf16")
      t.floatPrecision = FloatPrecision::BF16;
    else
      return fail("float_precision", "'" + fp + "' is not f32, f16 or bf16");

    static const std::set<std::string> kOps = {
        "add",        "sub",        "mul",          "div",       "pow",        "max",
        "min",        "and",        "or",           "equal",     "less",       "greater",
        "neg",        "abs",        "not",          "exp",       "log",        "sqrt",
        "rsqrt",      "reciprocal", "tanh",         "erf",       "sin",        "cos",
        "sigmoid",    "relu",       "silu",         "gelu",      "gelu_tanh",  "where",
        "cast",       "reshape",    "broadcast_to", "transpose", "concat",     "slice",
        "split",      "gather",     "range",        "dim",       "reduce_sum", "reduce_mean",
        "reduce_max", "reduce_min", "softmax",      "rms_norm",  "layer_norm", "matmul",
        "linear",     "glu",        "rope",         "attention", "quantize",   "dequantize"};
    static const std::set<std::string> kClasses = {"float", "i8",  "u8",  "i16",
                                                   "u16",   "i32", "i64", "bool"};
    const Object *ops = object(root, "", "ops", true);
    if (!ops)
      return false;
    for (const auto &kv : *ops) {
      std::string op = kv.first.str(), p = "ops." + op;
      if (!kOps.count(op) && op != "*")
        return fail(p, "unknown op (the kernel ops are listed in docs/dialect.md; \"*\" is "
                       "every op not named)");
      const Object *r = kv.second.getAsObject();
      if (!r)
        return fail(p, "must be an object");
      OpRule rule;
      if (!onlyKeys(*r, p, {"inputs", "weights", "outputs"}) ||
          !strings(*r, p, "inputs", rule.inputs, kClasses) ||
          !strings(*r, p, "weights", rule.weights, kClasses) ||
          !strings(*r, p, "outputs", rule.outputs, kClasses))
        return false;
      t.ops[op] = rule;
    }

    if (const Value *fe = root.get("fixed_encodings")) {
      const Object *o = fe->getAsObject();
      if (!o)
        return fail("fixed_encodings", "must be an object");
      for (const auto &kv : *o) {
        std::string op = kv.first.str(), p = "fixed_encodings." + op;
        if (op != "sigmoid" && op != "tanh" && op != "softmax")
          return fail(p, "fixed encodings exist for sigmoid, tanh and softmax");
        const Object *byType = kv.second.getAsObject();
        if (!byType)
          return fail(p, "must be an object keyed by storage type (u8, u16, i8, i16)");
        for (const auto &tv : *byType) {
          std::string st = tv.first.str(), pp = p + "." + st;
          FixedEncoding e;
          e.op = op;
          if (st == "u8" || st == "i8")
            e.bits = 8;
          else if (st == "u16" || st == "i16")
            e.bits = 16;
          else
            return fail(pp, "storage type must be u8, u16, i8 or i16");
          e.isUnsigned = st[0] == 'u';
          const Object *eo = tv.second.getAsObject();
          if (!eo || !onlyKeys(*eo, pp, {"scale", "zero_point"}))
            return eo ? false : fail(pp, "must be an object {scale, zero_point}");
          if (!eo->get("scale"))
            return fail(pp + ".scale", "missing");
          int64_t lo = e.isUnsigned ? 0 : -(int64_t(1) << (e.bits - 1));
          int64_t hi = e.isUnsigned ? (int64_t(1) << e.bits) - 1 : (int64_t(1) << (e.bits - 1)) - 1;
          if (!number(*eo, pp, "scale", e.scale, 1e-12, 1e6) ||
              !integer(*eo, pp, "zero_point", e.zeroPoint, lo, hi))
            return false;
          t.fixedEncodings.push_back(e);
        }
      }
    }

    if (const Object *sh = object(root, "", "shapes", false)) {
      if (!onlyKeys(*sh, "shapes",
                    {"static", "prefill_chunk", "decode_step", "max_context", "max_rank",
                     "inner_alignment"}) ||
          !boolean(*sh, "shapes", "static", t.staticShapes) ||
          !integer(*sh, "shapes", "prefill_chunk", t.prefillChunk, 1, 1 << 20) ||
          !integer(*sh, "shapes", "decode_step", t.decodeStep, 1, 1) ||
          !integer(*sh, "shapes", "max_context", t.maxContext, 1, 1 << 24) ||
          !integer(*sh, "shapes", "max_rank", t.maxRank, 1, 8) ||
          !integer(*sh, "shapes", "inner_alignment", t.innerAlignment, 1, 4096))
        return false;
      if (t.staticShapes && t.prefillChunk == 0)
        return fail("shapes.prefill_chunk", "static shapes need a prefill chunk");
    } else if (!error.empty()) {
      return false;
    }
    if (const Object *pk = object(root, "", "packing", false)) {
      if (!onlyKeys(*pk, "packing", {"weight_layout"}) ||
          !string(*pk, "packing", "weight_layout", t.weightLayout, false))
        return false;
      if (t.weightLayout != "row-major" && t.weightLayout != "i8n16k4")
        return fail("packing.weight_layout",
                    "'" + t.weightLayout + "' is not row-major or i8n16k4");
    } else if (!error.empty()) {
      return false;
    }
    if (const Object *m = object(root, "", "memory", false)) {
      if (!onlyKeys(*m, "memory", {"on_chip_bytes"}) ||
          !integer(*m, "memory", "on_chip_bytes", t.onChipBytes, 0, int64_t(1) << 40))
        return false;
    } else if (!error.empty()) {
      return false;
    }
    if (const Object *pf = object(root, "", "performance", false)) {
      if (!onlyKeys(*pf, "performance",
                    {"clock_hz", "macs_per_cycle", "bandwidth_bytes_per_s",
                     "elementwise_per_cycle", "efficiency"}) ||
          !number(*pf, "performance", "clock_hz", t.performance.clockHz, 1e6, 1e11) ||
          !number(*pf, "performance", "bandwidth_bytes_per_s", t.performance.bandwidthBytesPerS,
                  1e6, 1e14) ||
          !number(*pf, "performance", "elementwise_per_cycle", t.performance.elementwisePerCycle,
                  1e-3, 1e7))
        return false;
      if (const Object *ef = object(*pf, "performance", "efficiency", false)) {
        if (!onlyKeys(*ef, "performance.efficiency", {"compute", "memory"}) ||
            !number(*ef, "performance.efficiency", "compute", t.performance.computeEfficiency,
                    0.001, 1) ||
            !number(*ef, "performance.efficiency", "memory", t.performance.memoryEfficiency,
                    0.001, 1))
          return false;
      } else if (!error.empty()) {
        return false;
      }
      if (const Object *mc = object(*pf, "performance", "macs_per_cycle", false)) {
        for (const auto &kv : *mc) {
          std::string k = kv.first.str(), p = "performance.macs_per_cycle." + k;
          if (k != "i8" && k != "i16" && k != "float")
            return fail(p, "unknown dtype class (i8, i16, float)");
          double v = 0;
          if (!number(*mc, "performance.macs_per_cycle", kv.first.str().c_str(), v, 1, 1e7))
            return false;
          t.performance.macsPerCycle[k] = v;
        }
      } else if (!error.empty()) {
        return false;
      }
    } else if (!error.empty()) {
      return false;
    }
    if (const Object *src = object(root, "", "sources", false)) {
      for (const auto &kv : *src) {
        if (!kv.second.getAsString())
          return fail("sources." + kv.first.str(), "must be a string");
        t.sources[kv.first.str()] = kv.second.getAsString()->str();
      }
    } else if (!error.empty()) {
      return false;
    }
    return true;
  }

private:
  std::string file;
  std::string &error;
};

/// Deep merge: keys of `over` replace those of `base`; objects merge.
void mergeInto(Object &base, const Object &over) {
  for (const auto &kv : over) {
    Value *b = base.get(kv.first);
    if (b && b->getAsObject() && kv.second.getAsObject())
      mergeInto(*b->getAsObject(), *kv.second.getAsObject());
    else
      base[kv.first] = kv.second;
  }
}

/// "amd-xdna, cpu, ..." for messages.
std::string builtinList() {
  std::string names;
  for (const std::string &n : builtinTargetNames())
    names += (names.empty() ? "" : ", ") + n;
  return names;
}

const char *builtinText(const std::string &name) {
  for (size_t i = 0; i < kNumBuiltinTargets; ++i)
    if (name == kBuiltinTargets[i].name)
      return kBuiltinTargets[i].text;
  return nullptr;
}

bool parseObject(const std::string &text, const std::string &file, Object &out, std::string &error,
                 int depth);

/// Resolves "extends": a shipped target whose keys this file overrides.
bool resolveExtends(Object &o, const std::string &file, std::string &error, int depth) {
  const Value *e = o.get("extends");
  if (!e)
    return true;
  if (!e->getAsString()) {
    error = file + ": 'extends': must be the name of a shipped target";
    return false;
  }
  std::string base = e->getAsString()->str();
  const char *text = builtinText(base);
  if (!text) {
    error = file + ": 'extends': '" + base + "' is not a shipped target (" + builtinList() + ")";
    return false;
  }
  if (depth > 4) {
    error = file + ": 'extends': chain too deep";
    return false;
  }
  Object merged;
  if (!parseObject(text, "targets/" + base + "/target.json", merged, error, depth + 1))
    return false;
  o.erase("extends");
  // A derived target's op table and schemes replace the base's wholesale
  // only where it names them; everything else merges key by key.
  mergeInto(merged, o);
  o = std::move(merged);
  return true;
}

bool parseObject(const std::string &text, const std::string &file, Object &out, std::string &error,
                 int depth) {
  llvm::Expected<Value> v = llvm::json::parse(text);
  if (!v) {
    error = file + ": not valid JSON: " + llvm::toString(v.takeError());
    return false;
  }
  if (!v->getAsObject()) {
    error = file + ": a target file is a JSON object";
    return false;
  }
  out = std::move(*v->getAsObject());
  return resolveExtends(out, file, error, depth);
}

} // namespace

bool parseTarget(const std::string &text, const std::string &file, Target &out,
                 std::string &error) {
  Object root;
  if (!parseObject(text, file, root, error, 0))
    return false;
  Target t;
  t.file = file;
  Reader r(file, error);
  if (!r.target(root, t))
    return false;
  out = std::move(t);
  return true;
}

bool loadTargetFile(const std::string &path, Target &out, std::string &error) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buf) {
    error = "cannot read target file '" + path + "': " + buf.getError().message();
    return false;
  }
  return parseTarget((*buf)->getBuffer().str(), path, out, error);
}

bool loadBuiltinTarget(const std::string &name, Target &out, std::string &error) {
  const char *text = builtinText(name);
  if (!text) {
    error = "unknown target '" + name + "' (shipped: " + builtinList() +
            "; or pass your own with --target-file FILE)";
    return false;
  }
  return parseTarget(text, "targets/" + name + "/target.json", out, error);
}

const SchemeRule *selectScheme(const Target &t, const SchemeRequest &r, std::string &error) {
  std::string name = r.quant.empty() ? t.defaultScheme : r.quant;
  const SchemeRule *rule = t.scheme(name);
  if (!rule) {
    error = "--quant=" + name + " is not allowed by target '" + t.name + "' (" + t.file +
            " allows: " + t.schemeList() + ")";
    return nullptr;
  }
  auto refuse = [&](const std::string &what) -> const SchemeRule * {
    error = what + " is not allowed by target '" + t.name + "' at --quant=" + name + " (" +
            t.file + ")";
    return nullptr;
  };
  if (const auto &a = rule->activations) {
    if (r.actSymmetric && a->encoding != ActEncoding::IntSymmetric)
      return refuse(std::string("--act-symmetric (the target encodes activations as ") +
                    actEncodingName(a->encoding) + ")");
    if (r.actChannel && a->granularity == Granularity::Tensor)
      return refuse("--act-granularity=channel (per-tensor activations only)");
  }
  const std::vector<int64_t> &blocks = rule->weights.blockSizes;
  if (r.weightBlock > 0 && std::find(blocks.begin(), blocks.end(), r.weightBlock) == blocks.end())
    return refuse("--weight-block=" + std::to_string(r.weightBlock) +
                  (blocks.empty() ? " (no block-wise weights)" : " (other block sizes)"));
  return rule;
}

std::string describeTarget(const Target &t) {
  std::string s = t.name + " (" + t.kind + ", float " + floatPrecisionName(t.floatPrecision) +
                  (t.cpuFallback ? ", CPU fallback" : ", no fallback") + ", weights " +
                  t.weightLayout + "): " + t.description + "\n";
  auto granularity = [](Granularity g) {
    return g == Granularity::Channel ? "per-channel" : "per-tensor";
  };
  for (const SchemeRule &r : t.schemes) {
    s += "  " + r.name + (r.name == t.defaultScheme ? " (default)" : "");
    if (!r.mode.empty())
      s += " [" + r.mode + "]";
    if (r.name != "none") {
      s += ": weights i" + std::to_string(r.weights.bits) + " " +
           granularity(r.weights.granularity);
      if (!r.weights.blockSizes.empty())
        s += " or blocks";
      if (r.weights.powerOfTwo)
        s += " pow2";
      if (r.activations)
        s += ", activations " + std::to_string(r.activations->bits) + "-bit " +
             actEncodingName(r.activations->encoding) + " " +
             granularity(r.activations->granularity) + (r.activations->powerOfTwo ? " pow2" : "");
      else
        s += ", float activations";
    }
    s += "\n";
  }
  return s;
}

std::string TargetViolation::message() const {
  return "'" + node + "' (" + op + ", @" + program + "): " + detail;
}

std::string TargetCheckResult::summary() const {
  double macs = onTarget.macs + cpu.macs;
  int64_t ops = onTarget.ops + cpu.ops;
  std::string s = llvm::formatv("target {0}: {1} of {2} kernel ops on the target, {3} on the CPU; "
                                "{4:F1}% of linear/matmul MACs on the target; {5} boundaries\n",
                                target, onTarget.ops, ops, cpu.ops,
                                macs > 0 ? 100.0 * onTarget.macs / macs : 100.0, boundaries)
                      .str();
  // Why ops went to the CPU, grouped by op kind and reason.
  std::map<std::string, int> reasons;
  for (const TargetViolation &v : violations)
    reasons[v.op + ": " + v.detail]++;
  for (const auto &[why, n] : reasons)
    s += llvm::formatv("  {0,4} x {1}\n", n, why).str();
  return s;
}

std::string TargetCheckResult::toJson() const {
  Array vs;
  for (const TargetViolation &v : violations)
    vs.push_back(
        Object{{"program", v.program}, {"node", v.node}, {"op", v.op}, {"rule", v.detail}});
  auto counts = [](const Counts &c) { return Object{{"ops", c.ops}, {"macs", c.macs}}; };
  Object root{{"format", "mu-target-check"}, {"target", target},
              {"fallback", fallback},        {"target_ops", counts(onTarget)},
              {"cpu_ops", counts(cpu)},      {"boundaries", boundaries},
              {"violations", std::move(vs)}};
  std::string out;
  llvm::raw_string_ostream os(out);
  os << llvm::formatv("{0:2}", Value(std::move(root))) << "\n";
  return out;
}

std::vector<std::string> builtinTargetNames() {
  std::vector<std::string> n;
  for (size_t i = 0; i < kNumBuiltinTargets; ++i)
    n.push_back(kBuiltinTargets[i].name);
  std::sort(n.begin(), n.end());
  return n;
}

} // namespace target
} // namespace mu
