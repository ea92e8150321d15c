//===- CostModel.cpp - per-op cost estimate on a target ------------------===//
#include "passes/CostModel.h"
#include "passes/Passes.h"
#include "passes/PatternUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/Quant/IR/QuantTypes.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <algorithm>
#include <map>

using namespace mlir;

namespace mu {

namespace {

/// Bytes per element as stored.
double elementBytes(Type t) {
  Type e = cast<ShapedType>(t).getElementType();
  if (auto q = dyn_cast<mlir::quant::QuantizedType>(e))
    return q.getStorageTypeIntegralWidth() / 8.0;
  if (e.isInteger(1))
    return 1;
  return std::max(1u, e.getIntOrFloatBitWidth() / 8);
}

/// Elements of `v` with dynamic dims bound to `dyn`.
double elements(Value v, int64_t dyn) {
  double n = 1;
  for (int64_t d : cast<RankedTensorType>(v.getType()).getShape())
    n *= double(d < 0 ? dyn : d);
  return n;
}

/// The rate class of an op's arithmetic: i8, i16 or float.
std::string rateClass(Operation *op) {
  if (op->getNumOperands() == 0)
    return "float";
  Type e = cast<ShapedType>(op->getOperand(0).getType()).getElementType();
  if (auto q = dyn_cast<mlir::quant::QuantizedType>(e))
    return q.getStorageTypeIntegralWidth() <= 8 ? "i8" : "i16";
  return "float";
}

/// No arithmetic and (in a planned program) no copy worth counting.
bool isFree(StringRef kind) { return kind == "reshape" || kind == "dim" || kind == "range"; }

struct Rates {
  double clock = 0, bandwidth = 0, onChip = 0;
  std::map<std::string, double> macsPerCycle;
  double elementwise = 0, computeEff = 1;
  /// Elements per second of a non-MAC op.
  double elementRate() const { return elementwise > 0 ? elementwise * clock : rate("float"); }
  double rate(const std::string &cls) const {
    auto it = macsPerCycle.find(cls);
    double r = it != macsPerCycle.end() ? it->second : 0;
    if (r <= 0) // unknown class: the float rate, else the slowest given
      for (auto &kv : macsPerCycle)
        r = r <= 0 ? kv.second : std::min(r, kv.second);
    return std::max(r, 1.0) * clock * computeEff;
  }
};

Rates ratesOf(const target::Target &t) {
  const target::Performance &p = t.performance;
  return {p.clockHz,
          p.bandwidthBytesPerS * p.memoryEfficiency,
          double(t.onChipBytes),
          p.macsPerCycle,
          p.elementwisePerCycle,
          p.computeEfficiency};
}

void costProgram(func::FuncOp f, int64_t tokens, int64_t past, const Rates &dev, const Rates &host,
                 ProgramCost &pc) {
  pc.program = f.getSymName().str();
  pc.tokens = tokens;
  pc.past = past;
  Block &body = f.getBody().front();
  llvm::DenseMap<Value, std::string> names = muk::kernelResultNames(body);
  // Weights stay on chip when all of them fit in half of it.
  double weightBytes = 0;
  for (Operation &op : body)
    if (auto c = dyn_cast<ConstantOp>(op))
      weightBytes += elements(c.getResult(), 1) * elementBytes(c.getType());
  pc.weightBytes = weightBytes;
  pc.onChipBytes = dev.onChip;
  if (auto a = f->getAttrOfType<IntegerAttr>("muk.arena_size"))
    pc.arenaBytes = double(a.getInt());
  // Activations first, then weights: what exceeds the on-chip memory lives
  // in DRAM (the spill).
  pc.spillBytes = std::max(0.0, pc.arenaBytes + weightBytes - dev.onChip);
  for (Operation &op : body) {
    if (!op.getDialect() || op.getDialect()->getNamespace() != "muk")
      continue;
    StringRef kind = op.getName().stripDialect();
    if (isFree(kind))
      continue;
    OpCost c;
    c.program = pc.program;
    c.node = op.getNumResults() ? names.lookup(op.getResult(0)) : kind.str();
    c.op = kind.str();
    c.onCpu = op.hasAttr("muk.device");
    const Rates &r = c.onCpu ? host : dev;
    bool weightsOnChip = !c.onCpu && weightBytes <= r.onChip / 2;
    double act = 0, wbytes = 0;
    if (kind == "linear") {
      auto w = cast<RankedTensorType>(op.getOperand(1).getType()).getShape();
      c.macs = elements(op.getOperand(0), tokens) / double(w[1]) * double(w[0]) * double(w[1]);
    } else if (kind == "matmul") {
      auto b = cast<RankedTensorType>(op.getOperand(1).getType()).getShape();
      c.macs = elements(op.getOperand(0), tokens) * double(b.back() < 0 ? tokens : b.back());
    } else if (kind == "attention") {
      // q [b, h, s, d] against past + s keys (causal prefill: on average half).
      auto q = cast<RankedTensorType>(op.getOperand(0).getType()).getShape();
      double d = double(q.back()), keys = double(past) + (tokens + 1) / 2.0;
      c.macs = 2 * elements(op.getOperand(0), tokens) / d * keys * d;
      // The cache read: `past` rows of K and V (an in-place cache of fixed
      // capacity is read only up to the position).
      if (op.getNumOperands() > 4)
        for (unsigned i = 3; i < op.getNumOperands(); ++i) {
          auto ct = cast<RankedTensorType>(op.getOperand(i).getType());
          if (ct.getRank() != 4)
            continue; // a mask or the cache position
          double perRow = elements(op.getOperand(i), 1) /
                          double(ct.isDynamicDim(2) ? 1 : std::max<int64_t>(ct.getDimSize(2), 1));
          act += perRow * double(past) * elementBytes(ct);
        }
    } else {
      c.macs = op.getNumResults() ? elements(op.getResult(0), tokens) : 0;
    }
    double local = 0;
    bool attention = kind == "attention";
    for (auto [i, v] : llvm::enumerate(op.getOperands())) {
      if (attention && i >= 3)
        continue; // the cache: counted above, in DRAM
      if (!isStoredWeight(v)) {
        local += elements(v, tokens) * elementBytes(v.getType());
        continue;
      }
      // A gather reads only the rows it returns.
      wbytes += kind == "gather" ? elements(op.getResult(0), tokens) * elementBytes(v.getType())
                                 : elements(v, 1) * elementBytes(v.getType());
    }
    for (auto [i, v] : llvm::enumerate(op.getResults()))
      if (!(attention && i >= 1)) // the updated cache: only the new rows, written in place
        local += elements(v, tokens) * elementBytes(v.getType());
    c.resident = local <= r.onChip;
    c.bytes = act + (weightsOnChip ? 0 : wbytes) + (c.resident ? 0 : local);
    bool mac = kind == "linear" || kind == "matmul" || kind == "attention";
    double compute = c.macs / (mac ? r.rate(rateClass(&op)) : r.elementRate());
    double memory = r.bandwidth > 0 ? c.bytes / r.bandwidth : 0;
    // Values crossing between the target and the CPU go through DRAM.
    for (Value v : op.getOperands())
      if (Operation *d = v.getDefiningOp())
        if (d->getDialect() && d->getDialect()->getNamespace() == "muk" &&
            d->hasAttr("muk.device") != op.hasAttr("muk.device")) {
          double b = 2 * elements(v, tokens) * elementBytes(v.getType());
          c.bytes += b;
          memory += b / std::max(dev.bandwidth, 1.0);
        }
    c.memoryBound = memory > compute;
    c.seconds = std::max(compute, memory);
    pc.macs += c.macs;
    pc.bytes += c.bytes;
    pc.seconds += c.seconds;
    pc.ops.push_back(std::move(c));
  }
}

llvm::json::Value programJson(const ProgramCost &p) {
  llvm::json::Array ops;
  for (const OpCost &c : p.ops)
    ops.push_back(llvm::json::Object{{"node", c.node},
                                     {"op", c.op},
                                     {"device", c.onCpu ? "cpu" : "target"},
                                     {"macs", c.macs},
                                     {"bytes", c.bytes},
                                     {"us", c.seconds * 1e6},
                                     {"bound", c.memoryBound ? "memory" : "compute"},
                                     {"on_chip", c.resident}});
  return llvm::json::Object{{"program", p.program},
                            {"tokens", p.tokens},
                            {"past", p.past},
                            {"chunk_calls", p.calls},
                            {"chunk", p.chunk},
                            {"macs", p.macs},
                            {"bytes", p.bytes},
                            {"ms", p.seconds * 1e3},
                            {"arena_bytes", p.arenaBytes},
                            {"weight_bytes", p.weightBytes},
                            {"on_chip_bytes", p.onChipBytes},
                            {"spill_bytes", p.spillBytes},
                            {"ops", std::move(ops)}};
}

} // namespace

bool estimateCost(ModuleOp module, const target::Target &t, const target::Target &host,
                  int64_t promptTokens, int64_t contextTokens, CostReport &out,
                  std::string &error) {
  if (t.performance.clockHz <= 0 || t.performance.bandwidthBytesPerS <= 0 ||
      t.performance.macsPerCycle.empty()) {
    error = "target '" + t.name +
            "' has no performance figures (performance.clock_hz, "
            "macs_per_cycle, bandwidth_bytes_per_s) to estimate with";
    return false;
  }
  Rates dev = ratesOf(t), cpu = host.performance.clockHz > 0 ? ratesOf(host) : dev;
  out = CostReport();
  out.target = t.name;
  out.clockHz = dev.clock;
  out.bandwidth = dev.bandwidth;
  func::FuncOp prefill, decode;
  func::FuncOp mainFn, encode;
  for (auto f : module.getOps<func::FuncOp>()) {
    if (f.getSymName() == "prefill")
      prefill = f;
    if (f.getSymName() == "main")
      mainFn = f;
    if (f.getSymName() == "encode")
      encode = f;
    if (f.getSymName() == "decode")
      decode = f;
  }
  // Encoder-decoder models: the encoder runs once over the prompt.
  bool seq2seq = !prefill && encode;
  if (!prefill)
    prefill = encode ? encode : mainFn;
  // A static-shape prefill runs ceil(prompt / chunk) full (padded) chunks.
  int64_t chunk = 0;
  if (prefill && prefill->hasAttr("mu.static") && prefill.getNumArguments() > 0)
    if (auto ids = dyn_cast<RankedTensorType>(prefill.getArgument(0).getType());
        ids && ids.getRank() == 2 && !ids.isDynamicDim(1))
      chunk = ids.getDimSize(1);
  if (prefill && chunk > 0) {
    int64_t calls = std::max<int64_t>(1, (promptTokens + chunk - 1) / chunk);
    for (int64_t j = 0; j < calls; ++j) {
      ProgramCost pc;
      costProgram(prefill, chunk, j * chunk, dev, cpu, pc);
      if (j == 0) {
        out.prefill = std::move(pc);
        continue;
      }
      out.prefill.macs += pc.macs;
      out.prefill.bytes += pc.bytes;
      out.prefill.seconds += pc.seconds;
    }
    out.prefill.tokens = promptTokens;
    out.prefill.calls = calls;
    out.prefill.chunk = chunk;
    out.ttftMs = out.prefill.seconds * 1e3;
  } else if (prefill) {
    costProgram(prefill, promptTokens, 0, dev, cpu, out.prefill);
    out.ttftMs = out.prefill.seconds * 1e3;
  }
  if (decode) {
    costProgram(decode, 1, std::max<int64_t>(contextTokens - 1, 0), dev, cpu, out.decode);
    out.decodeTokensPerS = out.decode.seconds > 0 ? 1.0 / out.decode.seconds : 0;
    if (seq2seq) // the first token also needs one decoder step
      out.ttftMs += out.decode.seconds * 1e3;
  }
  return true;
}

std::string CostReport::summary() const {
  std::string s = llvm::formatv("cost estimate on {0} ({1:F2} GHz, {2:F1} GB/s):", target,
                                clockHz / 1e9, bandwidth / 1e9)
                      .str();
  auto line = [&](const ProgramCost &p, const char *what) {
    if (p.program.empty())
      return;
    std::string calls =
        p.calls > 0 ? llvm::formatv(" in {0} chunk(s) of {1}", p.calls, p.chunk).str() : "";
    s += llvm::formatv("\n  {0} (@{1}, {2} tokens{7}, {3} cached): {4:F3} GMAC, {5:F2} MB moved, "
                       "{6:F3} ms",
                       what, p.program, p.tokens, p.past, p.macs / 1e9, p.bytes / 1e6,
                       p.seconds * 1e3, calls)
             .str();
    s += llvm::formatv("\n    memory: arena {0:F2} MB + weights {1:F2} MB vs {2:F2} MB on chip: ",
                       p.arenaBytes / 1e6, p.weightBytes / 1e6, p.onChipBytes / 1e6)
             .str();
    s += p.spillBytes > 0 ? llvm::formatv("{0:F2} MB spill to DRAM", p.spillBytes / 1e6).str()
                          : std::string("fits");
    std::map<std::string, std::pair<double, int>> byKind;
    for (const OpCost &c : p.ops) {
      byKind[c.op + (c.onCpu ? " (cpu)" : "")].first += c.seconds;
      byKind[c.op + (c.onCpu ? " (cpu)" : "")].second += c.memoryBound;
    }
    std::vector<std::pair<std::string, double>> top;
    for (auto &kv : byKind)
      top.push_back({kv.first, kv.second.first});
    std::sort(top.begin(), top.end(), [](auto &a, auto &b) { return a.second > b.second; });
    s += "\n    ";
    for (size_t i = 0; i < top.size() && i < 4; ++i)
      s += llvm::formatv("{0}{1} {2:F1}%", i ? ", " : "", top[i].first,
                         p.seconds > 0 ? 100 * top[i].second / p.seconds : 0)
               .str();
  };
  line(prefill, "prefill");
  line(decode, "decode step");
  s += llvm::formatv("\n  estimated TTFT {0:F2} ms, decode {1:F1} tokens/s\n", ttftMs,
                     decodeTokensPerS)
           .str();
  return s;
}

std::string CostReport::toJson() const {
  llvm::json::Object root{{"format", "mu-cost-estimate"},
                          {"target", target},
                          {"clock_hz", clockHz},
                          {"bandwidth_bytes_per_s", bandwidth},
                          {"ttft_ms", ttftMs},
                          {"decode_tokens_per_s", decodeTokensPerS}};
  if (!prefill.program.empty())
    root["prefill"] = programJson(prefill);
  if (!decode.program.empty())
    root["decode"] = programJson(decode);
  std::string s;
  llvm::raw_string_ostream os(s);
  os << llvm::formatv("{0:2}", llvm::json::Value(std::move(root))) << "\n";
  return s;
}

} // namespace mu
