//===- QdqCheck.cpp - provider-convention rules on a QDQ ONNX graph -------===//
#include "mu/Export/QdqCheck.h"

#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <google/protobuf/io/coded_stream.h>
#include <onnx/onnx_pb.h>

#include <climits>
#include <cmath>
#include <cstring>
#include <map>
#include <set>

using onnx::TensorProto;

namespace mu {
namespace {

bool isDataMovement(const std::string &op) {
  static const std::set<std::string> ops = {"Reshape", "Transpose", "Slice",   "Concat",
                                            "Expand",  "Squeeze",   "Unsqueeze", "Split",
                                            "Gather",  "Flatten",   "Identity"};
  return ops.count(op) > 0;
}

bool isIntegerType(int t) {
  return t == TensorProto::INT8 || t == TensorProto::UINT8 || t == TensorProto::INT16 ||
         t == TensorProto::UINT16 || t == TensorProto::INT32;
}

int bitsOf(int t) {
  switch (t) {
  case TensorProto::INT8: case TensorProto::UINT8: return 8;
  case TensorProto::INT16: case TensorProto::UINT16: return 16;
  default: return 32;
  }
}
bool isUnsignedType(int t) { return t == TensorProto::UINT8 || t == TensorProto::UINT16; }

bool isPowerOfTwo(double s) {
  if (!(s > 0)) return false;
  int e;
  return std::frexp(s, &e) == 0.5;
}

class Checker {
public:
  Checker(const onnx::ModelProto &m, const std::string &dir, QdqCheckResult &r)
      : model(m), g(m.graph()), dir(dir), res(r) {
    for (const TensorProto &t : g.initializer()) inits[t.name()] = &t;
    for (int i = 0; i < g.node_size(); ++i) {
      const onnx::NodeProto &n = g.node(i);
      for (const std::string &o : n.output()) producer[o] = i;
      for (int s = 0; s < n.input_size(); ++s)
        if (!n.input(s).empty()) consumers[n.input(s)].push_back({i, s});
    }
    for (const auto &o : g.output()) outputs.insert(o.name());
    for (const auto &op : m.opset_import())
      if (op.domain().empty() || op.domain() == "ai.onnx") opset = int(op.version());
  }

  void run(const target::Target *target, const target::SchemeRule *scheme);

private:
  void violation(const char *rule, const onnx::NodeProto &n, const std::string &msg) {
    res.violations.push_back({rule, n.name().empty() ? n.op_type() : n.name(), msg});
  }
  const onnx::NodeProto *producerOf(const std::string &v) const {
    auto it = producer.find(v);
    return it == producer.end() ? nullptr : &g.node(it->second);
  }
  /// The raw bytes of an initializer (raw_data, typed fields or external data).
  bool bytesOf(const TensorProto &t, std::string &out) const {
    if (t.data_location() == TensorProto::EXTERNAL) {
      std::string loc;
      uint64_t off = 0, len = 0;
      for (const auto &e : t.external_data()) {
        if (e.key() == "location") loc = e.value();
        else if (e.key() == "offset") off = std::stoull(e.value());
        else if (e.key() == "length") len = std::stoull(e.value());
      }
      llvm::SmallString<256> p(dir);
      llvm::sys::path::append(p, loc);
      auto buf = llvm::MemoryBuffer::getFileSlice(p, len, off);
      if (!buf) return false;
      out = (*buf)->getBuffer().str();
      return true;
    }
    if (t.has_raw_data()) {
      out = t.raw_data();
      return true;
    }
    out.clear();
    auto put = [&](const void *p, size_t n) { out.append(static_cast<const char *>(p), n); };
    if (t.data_type() == TensorProto::FLOAT)
      for (float f : t.float_data()) put(&f, 4);
    else if (t.data_type() == TensorProto::INT64)
      for (int64_t v : t.int64_data()) put(&v, 8);
    else
      for (int32_t v : t.int32_data()) {
        size_t es = bitsOf(t.data_type()) / 8;
        put(&v, es); // little-endian low bytes
      }
    return true;
  }
  std::vector<double> floats(const std::string &name) const {
    std::vector<double> v;
    auto it = inits.find(name);
    std::string b;
    if (it == inits.end() || it->second->data_type() != TensorProto::FLOAT || !bytesOf(*it->second, b))
      return v;
    for (size_t i = 0; i + 4 <= b.size(); i += 4) {
      float f;
      std::memcpy(&f, b.data() + i, 4);
      v.push_back(f);
    }
    return v;
  }
  std::vector<int64_t> ints(const std::string &name) const {
    std::vector<int64_t> v;
    auto it = inits.find(name);
    std::string b;
    if (it == inits.end() || !bytesOf(*it->second, b))
      return v;
    int t = it->second->data_type();
    size_t es = t == TensorProto::INT64 ? 8 : size_t(bitsOf(t) / 8);
    for (size_t i = 0; i + es <= b.size(); i += es) {
      int64_t x = 0;
      switch (t) {
      case TensorProto::INT8: x = int8_t(b[i]); break;
      case TensorProto::UINT8: x = uint8_t(b[i]); break;
      case TensorProto::INT16: { int16_t s; std::memcpy(&s, &b[i], 2); x = s; break; }
      case TensorProto::UINT16: { uint16_t s; std::memcpy(&s, &b[i], 2); x = s; break; }
      case TensorProto::INT32: { int32_t s; std::memcpy(&s, &b[i], 4); x = s; break; }
      case TensorProto::INT64: std::memcpy(&x, &b[i], 8); break;
      default: break;
      }
      v.push_back(x);
    }
    return v;
  }
  /// The element type of a Q/DQ's integer side: the zero point's type.
  int zeroPointType(const onnx::NodeProto &n) const {
    if (n.input_size() < 3) return TensorProto::UINT8; // ONNX default
    auto it = inits.find(n.input(2));
    return it == inits.end() ? 0 : it->second->data_type();
  }
  void checkQReaches(const onnx::NodeProto &q, const std::string &value, int depth);
  void checkBias(const onnx::NodeProto &dq);
  void checkTarget(const target::Target &t, const target::SchemeRule *s);

  const onnx::ModelProto &model;
  const onnx::GraphProto &g;
  std::string dir;
  QdqCheckResult &res;
  std::map<std::string, const TensorProto *> inits;
  std::map<std::string, int> producer;
  std::map<std::string, std::vector<std::pair<int, int>>> consumers;
  std::set<std::string> outputs;
  int opset = 0;
};

void Checker::checkQReaches(const onnx::NodeProto &q, const std::string &value, int depth) {
  if (outputs.count(value))
    violation("q-feeds-dq", q, "quantized tensor '" + value + "' is a graph output");
  auto it = consumers.find(value);
  if (it == consumers.end()) return;
  for (auto [ni, slot] : it->second) {
    const onnx::NodeProto &c = g.node(ni);
    if (c.op_type() == "DequantizeLinear" && slot == 0) continue;
    if (isDataMovement(c.op_type()) && slot == 0 && depth < 16) {
      for (const std::string &o : c.output()) checkQReaches(q, o, depth + 1);
      continue;
    }
    violation("q-feeds-dq", q,
              "quantized tensor '" + value + "' feeds " + c.op_type() + " '" + c.name() + "'");
  }
}

void Checker::checkBias(const onnx::NodeProto &dq) {
  for (int64_t z : ints(dq.input_size() > 2 ? dq.input(2) : ""))
    if (z != 0) {
      violation("bias-int32", dq, "int32 bias has a non-zero zero point");
      break;
    }
  auto cs = consumers.find(dq.output(0));
  if (cs == consumers.end() || cs->second.size() != 1 || g.node(cs->second[0].first).op_type() != "Add") {
    violation("bias-int32", dq, "int32 bias is not added to a MatMul result");
    return;
  }
  const onnx::NodeProto &add = g.node(cs->second[0].first);
  const onnx::NodeProto *mm = producerOf(add.input(1 - cs->second[0].second));
  const onnx::NodeProto *dx = mm && mm->op_type() == "MatMul" ? producerOf(mm->input(0)) : nullptr;
  const onnx::NodeProto *dw = mm && mm->op_type() == "MatMul" ? producerOf(mm->input(1)) : nullptr;
  if (!dx || !dw || dx->op_type() != "DequantizeLinear" || dw->op_type() != "DequantizeLinear") {
    violation("bias-int32", dq, "int32 bias is not added to a MatMul of two DequantizeLinear");
    return;
  }
  std::vector<double> sb = floats(dq.input(1)), sx = floats(dx->input(1)), sw = floats(dw->input(1));
  if (sx.size() != 1 || sb.empty() || sw.empty() || (sb.size() != sw.size() && sb.size() != 1)) {
    violation("bias-int32", dq, "bias, input and weight scales do not line up");
    return;
  }
  for (size_t c = 0; c < sb.size(); ++c) {
    double want = sx[0] * sw[c < sw.size() ? c : 0];
    if (std::fabs(sb[c] - want) > 1e-5 * std::fabs(want)) {
      violation("bias-int32", dq,
                llvm::formatv("bias scale {0} is not s_in * s_w = {1} (channel {2})", sb[c], want, c).str());
      return;
    }
  }
}

void Checker::checkTarget(const target::Target &t, const target::SchemeRule *s) {
  for (const onnx::NodeProto &n : g.node()) {
    bool q = n.op_type() == "QuantizeLinear", dq = n.op_type() == "DequantizeLinear";
    if (!q && !dq) continue;
    int zt = zeroPointType(n);
    std::vector<double> scales = floats(n.input(1));
    bool weight = dq && inits.count(n.input(0)) && zt != TensorProto::INT32;
    if (dq && !weight) continue; // activation DQs repeat their Q's encoding
    if (zt == TensorProto::INT32) continue;
    std::vector<int64_t> zps = ints(n.input_size() > 2 ? n.input(2) : "");
    bool zeroZp = std::all_of(zps.begin(), zps.end(), [](int64_t z) { return z == 0; });
    if (weight) {
      const target::WeightRule &w = s->weights;
      if (bitsOf(zt) != w.bits || isUnsignedType(zt))
        violation("target-weights", n, llvm::formatv("weights are {0}-bit {1}, the scheme wants signed {2}-bit",
                                                     bitsOf(zt), isUnsignedType(zt) ? "unsigned" : "signed", w.bits).str());
      if (!zeroZp)
        violation("target-weights", n, "weights are not symmetric (non-zero zero point)");
      int64_t lim = (int64_t(1) << (bitsOf(zt) - 1)) - 1;
      for (int64_t v : ints(n.input(0)))
        if (v < -lim || v > lim) {
          violation("target-weights", n, "weights use " + std::to_string(v) + ", outside the narrow range");
          break;
        }
      bool blocked = false;
      if (auto c = consumers.find(n.output(0)); c != consumers.end() && c->second.size() == 1 &&
                                                g.node(c->second[0].first).op_type() == "Reshape")
        blocked = true;
      if (blocked) {
        const TensorProto &wt = *inits.at(n.input(0));
        int64_t b = wt.dims_size() == 2 ? wt.dims(1) : 0;
        if (std::find(w.blockSizes.begin(), w.blockSizes.end(), b) == w.blockSizes.end())
          violation("target-weights", n, "weight blocks of " + std::to_string(b) + " are not allowed");
      } else if (w.granularity == target::Granularity::Tensor && scales.size() > 1) {
        violation("target-weights", n, "per-channel weight scales; the scheme wants one per tensor");
      }
      if (w.powerOfTwo)
        for (double sc : scales)
          if (!isPowerOfTwo(sc)) {
            violation("target-weights", n, llvm::formatv("weight scale {0} is not a power of two", sc).str());
            break;
          }
      continue;
    }
    // An activation quantizer.
    const onnx::NodeProto *src = producerOf(n.input(0));
    bool fixedChecked = false;
    if (src)
      for (const target::FixedEncoding &fe : t.fixedEncodings) {
        std::string op = src->op_type();
        for (char &ch : op) ch = char(std::tolower(ch));
        if (op != fe.op) continue;
        fixedChecked = true;
        if (scales.size() != 1 || std::fabs(scales[0] - fe.scale) > 1e-6 * fe.scale ||
            zps.size() != 1 || zps[0] != fe.zeroPoint || bitsOf(zt) != fe.bits ||
            isUnsignedType(zt) != fe.isUnsigned)
          violation("target-fixed-encoding", n, src->op_type() + " output does not use the fixed encoding");
      }
    if (fixedChecked) continue;
    if (!s->activations) {
      violation("target-activations", n, "scheme '" + s->name + "' keeps activations float");
      continue;
    }
    const target::ActivationRule &a = *s->activations;
    bool wantUnsigned = a.encoding == target::ActEncoding::UintAsymmetric;
    if (bitsOf(zt) != a.bits || isUnsignedType(zt) != wantUnsigned)
      violation("target-activations", n,
                llvm::formatv("activations are {0}-bit {1}, the scheme wants {2}-bit {3}", bitsOf(zt),
                              isUnsignedType(zt) ? "unsigned" : "signed", a.bits,
                              wantUnsigned ? "unsigned" : "signed").str());
    if (a.encoding == target::ActEncoding::IntSymmetric && !zeroZp)
      violation("target-activations", n, "activations must be symmetric (zero point 0)");
    if (a.granularity == target::Granularity::Tensor && scales.size() > 1)
      violation("target-activations", n, "per-channel activation scales; the target wants one per tensor");
    if (a.powerOfTwo)
      for (double sc : scales)
        if (!isPowerOfTwo(sc)) {
          violation("target-activations", n, llvm::formatv("scale {0} is not a power of two", sc).str());
          break;
        }
  }
}

void Checker::run(const target::Target *target, const target::SchemeRule *scheme) {
  // The rules index the inputs and outputs of Q/DQ, MatMul, Add and data
  // movement nodes: a node with fewer than its op has is not valid ONNX;
  // it is reported and no other rule runs.
  bool malformed = false;
  for (const onnx::NodeProto &n : g.node()) {
    const std::string &op = n.op_type();
    int minIn = op == "QuantizeLinear" || op == "DequantizeLinear" || op == "MatMul" ||
                        op == "Add"
                    ? 2
                : isDataMovement(op) ? 1
                                     : 0;
    if (n.input_size() < minIn || ((minIn > 0 || isDataMovement(op)) && n.output_size() < 1)) {
      violation("onnx-structure", n, op + " has " + std::to_string(n.input_size()) +
                                         " inputs and " + std::to_string(n.output_size()) +
                                         " outputs (needs at least " + std::to_string(minIn) +
                                         " and 1)");
      malformed = true;
    }
  }
  if (malformed) {
    res.nodes = g.node_size();
    return;
  }
  for (const onnx::NodeProto &n : g.node()) {
    ++res.nodes;
    if (n.doc_string().rfind("mu: runs on the host CPU", 0) == 0) ++res.hostNodes;
    bool q = n.op_type() == "QuantizeLinear", dq = n.op_type() == "DequantizeLinear";
    if (q) ++res.quantizeNodes;
    if (dq) ++res.dequantizeNodes;
    if ((q || dq) && bitsOf(zeroPointType(n)) == 16 && opset < 21 && n.domain() != "com.microsoft")
      violation("qdq-16bit-domain", n, "16-bit " + n.op_type() + " needs opset 21 or the com.microsoft domain");
    if (q) {
      if (inits.count(n.input(0)))
        violation("weights-int-dq", n, "QuantizeLinear on the initializer '" + n.input(0) +
                                           "' (store weights as integers feeding a DequantizeLinear)");
      checkQReaches(n, n.output(0), 0);
    }
    if (dq) {
      auto c = consumers.find(n.output(0));
      size_t uses = c == consumers.end() ? 0 : c->second.size();
      if (uses != 1 && !outputs.count(n.output(0)))
        violation("dq-single-consumer", n, "output has " + std::to_string(uses) + " consumers");
      if (outputs.count(n.output(0)))
        violation("dq-single-consumer", n, "output is a graph output");
      if (inits.count(n.input(0)) && inits.at(n.input(0))->data_type() == TensorProto::INT32)
        checkBias(n);
    }
    if (isDataMovement(n.op_type()) && n.input_size() > 0) {
      const onnx::NodeProto *p = producerOf(n.input(0));
      auto c = consumers.find(n.output(0));
      if (p && p->op_type() == "DequantizeLinear" && c != consumers.end() && !c->second.empty()) {
        bool allQ = true;
        for (auto [ni, slot] : c->second) {
          const onnx::NodeProto &qn = g.node(ni);
          allQ = allQ && qn.op_type() == "QuantizeLinear" && slot == 0 &&
                 floats(qn.input(1)) == floats(p->input(1)) &&
                 ints(qn.input_size() > 2 ? qn.input(2) : "") == ints(p->input_size() > 2 ? p->input(2) : "");
        }
        if (allQ)
          violation("no-qdq-data-movement", n, n.op_type() + " between a DQ and a Q of one encoding "
                                                             "(move the integers instead)");
      }
    }
  }
  // Integer initializers feed only Q/DQ (data or zero point).
  for (const auto &[name, t] : inits) {
    if (!isIntegerType(t->data_type())) continue;
    auto c = consumers.find(name);
    if (c == consumers.end()) continue;
    for (auto [ni, slot] : c->second) {
      const onnx::NodeProto &n = g.node(ni);
      bool ok = (n.op_type() == "DequantizeLinear" && (slot == 0 || slot == 2)) ||
                (n.op_type() == "QuantizeLinear" && slot == 2);
      if (!ok)
        violation("weights-int-dq", n, "integer initializer '" + name + "' feeds " + n.op_type() +
                                           " (input " + std::to_string(slot) + ")");
    }
  }
  if (target && scheme)
    checkTarget(*target, scheme);
}

} // namespace

std::string QdqCheckResult::summary() const {
  std::string s;
  for (const QdqViolation &v : violations)
    s += file + ": " + v.rule + ": " + v.node + ": " + v.message + "\n";
  s += file + ": " + std::to_string(nodes) + " nodes (" + std::to_string(quantizeNodes) +
       " QuantizeLinear, " + std::to_string(dequantizeNodes) + " DequantizeLinear, " +
       std::to_string(hostNodes) + " on the host CPU): " +
       (violations.empty() ? "OK" : std::to_string(violations.size()) + " violation(s)") + "\n";
  return s;
}

std::string QdqCheckResult::toJson() const {
  llvm::json::Array vs;
  for (const QdqViolation &v : violations)
    vs.push_back(llvm::json::Object{{"rule", v.rule}, {"node", v.node}, {"message", v.message}});
  llvm::json::Object o{{"file", file},
                       {"nodes", nodes},
                       {"quantize_nodes", quantizeNodes},
                       {"dequantize_nodes", dequantizeNodes},
                       {"host_nodes", hostNodes},
                       {"ok", violations.empty()},
                       {"violations", std::move(vs)}};
  std::string text;
  llvm::raw_string_ostream os(text);
  os << llvm::json::Value(std::move(o)) << "\n";
  return text;
}

bool checkQdqOnnx(const std::string &path, const target::Target *target, const std::string &scheme,
                  QdqCheckResult &result, std::string &error) {
  result = QdqCheckResult();
  result.file = path;
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buf) {
    error = path + ": cannot read: " + buf.getError().message();
    return false;
  }
  onnx::ModelProto m;
  google::protobuf::io::CodedInputStream in(
      reinterpret_cast<const uint8_t *>((*buf)->getBufferStart()), int((*buf)->getBufferSize()));
  in.SetTotalBytesLimit(INT_MAX);
  if (!m.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage()) {
    error = path + ": not an ONNX model (protobuf parse failed)";
    return false;
  }
  const target::SchemeRule *rule = nullptr;
  if (target) {
    std::string want = scheme;
    if (want.empty())
      for (const auto &p : m.metadata_props())
        if (p.key() == "mu.scheme") want = p.value();
    if (want.empty()) want = target->defaultScheme;
    for (const target::SchemeRule &s : target->schemes)
      if (s.name == want) rule = &s;
    if (!rule && want != "none") {
      error = path + ": target '" + target->name + "' has no scheme '" + want + "'";
      return false;
    }
  }
  Checker c(m, llvm::sys::path::parent_path(path).str(), result);
  c.run(target, rule);
  return true;
}

} // namespace mu
