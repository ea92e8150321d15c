//===- Ptq.cpp - post-training quantization driver ------------------------===//
#include "mu/Driver/Ptq.h"
#include "mu/Driver/Report.h"

#include "JsonFile.h"

#include "dialects/Kernel/MukOps.h"
#include "passes/Passes.h"
#include "passes/PatternUtils.h"
#include "mu/runtime/Eval.h"
#include "mu/runtime/Runtime.h"
#include "mu/runtime/Tokenizer.h"
#include "mub_generated.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FileUtilities.h"
#include "llvm/Support/GlobPattern.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <chrono>
#include <cmath>
#include <map>
#include <set>
#include <unistd.h>

using namespace mlir;

namespace mu {
namespace quant {

namespace {

void drawProgress(size_t done, size_t total, double seconds) {
  const int width = 30;
  int filled = total ? int(width * done / total) : width;
  std::string bar(size_t(filled), '#');
  bar.resize(width, '-');
  std::fprintf(stderr, "\rcalibrating [%s] %zu/%zu sequences, %.1f s", bar.c_str(), done, total,
               seconds);
  if (done == total)
    std::fprintf(stderr, "\n");
  std::fflush(stderr);
}

/// Writes `art` to a temporary file and maps it with the runtime (the file
/// is unlinked at once; the mapping stays valid).
std::unique_ptr<rt::Model> loadTemporary(const MubArtifact &art, std::string &error) {
  SmallString<128> tmp;
  int fd;
  if (auto ec = llvm::sys::fs::createTemporaryFile("mu-float", "mub", fd, tmp)) {
    error = "cannot create a temporary file for the float model: " + ec.message();
    return nullptr;
  }
  llvm::FileRemover remover(tmp);
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    art.write(os);
    if (os.has_error()) {
      error = "cannot write the float model to " + tmp.str().str();
      os.clear_error();
      return nullptr;
    }
  }
  rt::Status st;
  std::unique_ptr<rt::Model> model = rt::Model::load(tmp.str().str(), st);
  if (!model)
    error = "float model: " + st.message;
  return model;
}

/// Decoder-only calibration / report input: `main` must take one id
/// tensor; its logits' last dim bounds the ids; text is tokenized with the
/// artifact's tokenizer.
bool loadDecoderOnlyInput(const rt::Model &model, const std::string &path, CalibFormat format,
                          int64_t count, int64_t length, const char *what,
                          CalibrationInput &input, std::string &error) {
  const mub::Program *p = model.program("main");
  if (!p || !p->inputs() || p->inputs()->size() != 1) {
    error = std::string(what) + " runs the decoder-only `main` program (one input_ids input) or "
            "an encoder-decoder's `encode` + `decode_full`; this model has neither";
    return false;
  }
  rt::Tokenizer tok;
  if (model.fb().tokenizer())
    (void)tok.init(model.fb().tokenizer());
  int64_t vocab = 0;
  if (const mub::Tensor *out = p->tensors()->Get(p->outputs()->Get(0)))
    vocab = out->shape()->size() ? out->shape()->Get(out->shape()->size() - 1) : 0;
  return loadCalibrationInput(path, format, tok, count, length, vocab, input, error);
}

/// Runs mu-smooth-quant on `module`.
bool applySmoothing(ModuleOp module, double alpha, std::shared_ptr<const CalibrationStats> stats,
                    std::shared_ptr<SmoothingFactors> factors, std::string &error) {
  std::string diag;
  ScopedDiagnosticHandler handler(module.getContext(), [&](Diagnostic &d) {
    diag += d.str() + "\n";
    return success();
  });
  PassManager pm(module.getContext());
  SmoothQuantOptions so;
  so.alpha = alpha;
  pm.addPass(createSmoothQuant(so, std::move(stats), std::move(factors)));
  if (failed(pm.run(module))) {
    error = "SmoothQuant failed: " + diag;
    return false;
  }
  return true;
}

/// Names of the tensors linear layers read (`inputs`) and write, over all
/// programs.
void linearTensors(ModuleOp lowered, int64_t minWeightElements, std::set<std::string> &inputs,
                   std::set<std::string> &all, std::map<std::string, std::string> &kinds) {
  for (auto f : lowered.getOps<func::FuncOp>()) {
    Block &body = f.getBody().front();
    llvm::DenseMap<Value, std::string> names = artifactTensorNames(f);
    for (auto lin : body.getOps<muk::LinearOp>()) {
      // Only linears whose weight mu-quantize-weights quantizes (2-d, at
      // least its min-elements) become integer linears.
      auto wt = cast<RankedTensorType>(lin->getOperand(1).getType());
      if (wt.getRank() != 2 || wt.getNumElements() < minWeightElements)
        continue;
      auto it = names.find(lin->getOperand(0));
      if (it != names.end()) {
        inputs.insert(it->second);
        all.insert(it->second);
        Operation *def = lin->getOperand(0).getDefiningOp();
        kinds[it->second] = def ? def->getName().stripDialect().str() : "input";
      }
      kinds[names.lookup(lin->getResult(0))] = "linear";
      bool returned = llvm::any_of(lin->getResult(0).getUsers(),
                                   [](Operation *u) { return isa<func::ReturnOp>(u); });
      if (!returned)
        all.insert(names.lookup(lin->getResult(0)));
    }
  }
}

/// The range of one tensor at `bits`: per channel (min-max of each channel
/// of the last dim) when `perChannel` and the statistics have them.
ActivationRange makeRange(const TensorStats &st, const PtqOptions &o, int bits, bool perChannel) {
  RangeOptions ro = o.range;
  ro.bits = bits;
  ro.symmetric = o.symmetric;
  ro.isUnsigned = o.unsignedActivations;
  // Tensors promoted to 16 bits keep their full range: at 16 bits clipping
  // costs more than resolution.
  if (bits != o.activationBits)
    ro.method = RangeMethod::MinMax;
  Range r = chooseRange(st, ro);
  if (o.minRange > 0 && r.hi - r.lo < o.minRange) {
    // A target's minimum real range (e.g. 1e-4 on HTP): widen around the data.
    double grow = o.minRange - (r.hi - r.lo);
    if (r.lo == 0)
      r.hi += grow;
    else if (r.hi == 0)
      r.lo -= grow;
    else {
      r.lo -= grow / 2;
      r.hi += grow / 2;
    }
  }
  ActivationRange a;
  a.lo = r.lo;
  a.hi = r.hi;
  a.bits = bits;
  a.symmetric = o.symmetric || o.powerOfTwo;
  a.isUnsigned = o.unsignedActivations;
  a.powerOfTwo = o.powerOfTwo;
  if (o.powerOfTwo) {
    // The range search re-run under the constraint: candidates are the
    // power-of-two scale covering the chosen range and the next two smaller
    // ones (clipping more, rounding less); keep the least squared error
    // over the histogram, and store the range that scale covers exactly.
    Encoding e = a.encoding();
    QParams best = chooseParams(r, e);
    double bestErr = histogramError(st, best);
    for (int k = 1; k <= 2; ++k) {
      QParams c = best;
      c.scale = chooseParams(r, e).scale / double(int64_t(1) << k);
      double err = histogramError(st, c);
      if (err < bestErr) {
        bestErr = err;
        best = c;
      }
    }
    a.lo = -best.scale * double(best.qmax);
    a.hi = best.scale * double(best.qmax);
    return a;
  }
  // Per-channel min-max ranges are tight: values a little outside what
  // calibration saw are clipped. Worth it for 8-bit resolution only; 16-bit
  // tensors use one (full) range.
  if (perChannel && bits == 8 && !st.chMin.empty())
    for (size_t c = 0; c < st.chMin.size(); ++c) {
      a.channelLo.push_back(std::min(0.0, double(st.chMin[c])));
      a.channelHi.push_back(std::max(0.0, double(st.chMax[c])));
    }
  return a;
}

/// Runs the logits program on the examples of `input` with every tensor in
/// `bits` quantized and dequantized in place (simulation of the integer program: same ranges,
/// same rounding) and returns the mean KL(float || quantized) of the
/// next-token distributions against `reference` logits.
struct Simulator {
  const rt::Model &model;
  const CalibrationInput &input; ///< the sequences (or examples) simulated
  const CalibrationStats &stats;
  const PtqOptions &opts;
  const std::set<std::string> &perChannel;
  std::vector<std::vector<float>> reference; ///< float logits per sequence
  int64_t vocab = 0;
  std::map<std::pair<std::string, int>, std::vector<QParams>> params;

  const std::vector<QParams> &paramsOf(const std::string &name, int bits) {
    auto key = std::make_pair(name, bits);
    auto it = params.find(key);
    if (it != params.end())
      return it->second;
    ActivationRange a = makeRange(stats.tensors.at(name), opts, bits, perChannel.count(name) > 0);
    std::vector<QParams> ps;
    if (a.channelLo.empty())
      ps.push_back(chooseParams({a.lo, a.hi}, a.encoding()));
    for (size_t c = 0; c < a.channelLo.size(); ++c)
      ps.push_back(chooseParams({a.channelLo[c], a.channelHi[c]}, a.encoding()));
    return params[key] = ps;
  }

  bool run(const std::map<std::string, int> *bits, double &klOut, std::string &error) {
    rt::Session session(model);
    if (bits)
      session.setObserver([&](const std::string &name, rt::TensorRef &t) {
        auto it = bits->find(name);
        if (it == bits->end() || t.dtype != rt::DType::F32)
          return;
        const std::vector<QParams> &ps = paramsOf(name, it->second);
        float *x = static_cast<float *>(t.data);
        int64_t C = int64_t(ps.size());
        if (C > 1 && (t.shape.empty() || t.shape.back() != C))
          return;
        for (int64_t i = 0, n = t.numel(); i < n; ++i) {
          const QParams &p = ps[size_t(C > 1 ? i % C : 0)];
          float scale = float(p.scale);
          float q = std::nearbyint(x[i] / scale) + float(p.zeroPoint);
          q = std::min(std::max(q, float(p.qmin)), float(p.qmax));
          x[i] = (q - float(p.zeroPoint)) * scale;
        }
      });
    double kl = 0;
    int64_t count = 0;
    for (size_t s = 0; s < input.sequences.size(); ++s) {
      std::vector<rt::HostTensor> outs;
      if (!runExample(session, input, s, outs, error))
        return false;
      const float *logits = outs[0].as<float>();
      vocab = outs[0].shape.back();
      int64_t rows = int64_t(outs[0].storage.size() / 4) / vocab;
      if (!bits) {
        reference.emplace_back(logits, logits + rows * vocab);
        continue;
      }
      const std::vector<float> &ref = reference[s];
      for (int64_t r = 0; r < rows; ++r) {
        kl += rt::klDivergence(ref.data() + r * vocab, logits + r * vocab, vocab);
        ++count;
      }
    }
    klOut = count ? kl / double(count) : 0;
    return true;
  }
};

} // namespace

bool promoteSensitive(const rt::Model &model, const CalibrationInput &input,
                      const CalibrationStats &stats, const PtqOptions &o,
                      const std::set<std::string> &pinned, ActivationRanges &ranges,
                      std::string &error) {
  // The first mpSequences sequences (or examples) are simulated.
  CalibrationInput subset = input;
  size_t n = std::min<size_t>(input.sequences.size(), size_t(std::max(1, o.mpSequences)));
  subset.sequences.resize(n);
  if (subset.seq2seq()) {
    subset.sources.resize(n);
    subset.labels.resize(n);
  }
  std::set<std::string> perChannel;
  for (auto &[name, r] : ranges)
    if (!r.channelLo.empty())
      perChannel.insert(name);
  Simulator sim{model, subset, stats, o, perChannel, {}, 0, {}};
  double kl;
  if (!sim.run(nullptr, kl, error))
    return false;
  std::map<std::string, int> bits;
  for (auto &[name, r] : ranges)
    bits[name] = r.bits;
  double base;
  if (!sim.run(&bits, base, error))
    return false;
  size_t cap = size_t(double(bits.size()) * o.mpMaxPromoted / 100.0);
  double current = base;
  std::vector<std::string> promoted;
  // Rounds: measure the gain of promoting each remaining 8-bit tensor from
  // the current state, then promote in order of gain, keeping a promotion
  // only if the simulated KL of the whole model goes down.
  for (int round = 0; round < 3 && current > o.mpTargetKl && promoted.size() < cap; ++round) {
    std::vector<std::pair<double, std::string>> gains;
    for (auto &[name, b] : bits) {
      if (b != 8 || pinned.count(name))
        continue;
      b = 16;
      double k;
      if (!sim.run(&bits, k, error))
        return false;
      b = 8;
      if (getenv("MU_MP_DEBUG"))
        std::fprintf(stderr, "round %d %s: %.6f -> %.6f\n", round, name.c_str(), current, k);
      if (k < current)
        gains.emplace_back(current - k, name);
    }
    std::stable_sort(gains.begin(), gains.end(),
                     [](auto &a, auto &b) { return a.first > b.first; });
    size_t before = promoted.size();
    for (auto &[gain, name] : gains) {
      if (current <= o.mpTargetKl || promoted.size() >= cap)
        break;
      bits[name] = 16;
      double k;
      if (!sim.run(&bits, k, error))
        return false;
      if (k >= current) {
        bits[name] = 8;
        continue;
      }
      current = k;
      promoted.push_back(name);
      ranges[name] = makeRange(stats.tensors.at(name), o, 16, perChannel.count(name) > 0);
    }
    if (promoted.size() == before)
      break;
  }
  std::fprintf(stderr,
               "mixed precision: simulated mean KL %.3g with all %zu activations at 8 bits, "
               "%.3g after promoting %zu to 16 bits (target %.3g)\n",
               base, bits.size(), current, promoted.size(), o.mpTargetKl);
  for (const std::string &n : promoted)
    std::fprintf(stderr, "  16-bit: %s\n", n.c_str());
  return true;
}

bool calibrate(ModuleOp module, const MubOptions &floatOptions, const PtqOptions &o,
               CalibrationStats &stats, ActivationRanges &ranges, std::string &error) {
  // A float copy, lowered and planned (weights are shared, not copied).
  OwningOpRef<ModuleOp> copy(cast<ModuleOp>(module->clone()));
  MubOptions fopts = floatOptions;
  fopts.weightBits = 0;
  fopts.activationRanges = nullptr;
  fopts.targetRules = nullptr; // calibrate the plain FP32 model
  fopts.prefillChunk = 0;       // with dynamic shapes (whole sources)
  fopts.targetCheck = nullptr;
  fopts.embedAdapters = true; // calibration runs every swappable adapter
  if (o.calibLength > fopts.maxSeq)
    fopts.maxSeq = o.calibLength;
  MubArtifact art;
  if (!prepareMub(*copy, fopts, art, error))
    return false;
  std::set<std::string> inputs, wanted;
  std::map<std::string, std::string> kinds;
  linearTensors(*copy, QuantizeWeightsOptions().minElements, inputs, wanted, kinds);

  std::unique_ptr<rt::Model> model;
  CalibrationInput input;
  if (!o.calibPath.empty()) {
    // Run the float artifact from a temporary file (mmap, like deployment).
    model = loadTemporary(art, error);
    if (!model)
      return false;
    if (model->program("encode")) {
      // Encoder-decoder: encode the inputs, teacher-force decode_full on the
      // targets; cross-attention K/V are computed (and observed) in encode.
      if (!model->program("decode_full")) {
        error = "encoder-decoder calibration runs `encode` then `decode_full`; the float model "
                "has no decode_full program";
        return false;
      }
      if (!loadSeq2SeqInput(o.calibPath, *model, 0, o.calibCount, o.calibLength, input, error))
        return false;
    } else {
      if (!loadDecoderOnlyInput(*model, o.calibPath, o.calibFormat, o.calibCount, o.calibLength,
                                "calibration", input, error))
        return false;
    }
    std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now();
    auto progress = [&](size_t done, size_t total) {
      if (o.progress)
        drawProgress(done, total,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
    if (!collectStats(*model, input, o.gram ? inputs : std::set<std::string>(), stats,
                      progress, error))
      return false;
    if (o.smoothAlpha > 0) {
      // SmoothQuant on the module being compiled, then calibrate the
      // smoothed model: its activations (and Gram matrices) changed.
      auto first = std::make_shared<const CalibrationStats>(std::move(stats));
      auto factors = std::make_shared<SmoothingFactors>();
      if (!applySmoothing(module, o.smoothAlpha, first, factors, error))
        return false;
      OwningOpRef<ModuleOp> smoothed(cast<ModuleOp>(module->clone()));
      MubArtifact art2;
      if (!prepareMub(*smoothed, fopts, art2, error))
        return false;
      model = loadTemporary(art2, error);
      if (!model)
        return false;
      stats = CalibrationStats();
      t0 = std::chrono::steady_clock::now();
      if (!collectStats(*model, input, o.gram ? inputs : std::set<std::string>(), stats,
                        progress, error))
        return false;
      stats.smoothAlpha = o.smoothAlpha;
      stats.smoothing = *factors;
      std::fprintf(stderr, "smoothquant: alpha %.2f, %zu activations smoothed\n", o.smoothAlpha,
                   factors->size());
    }
    stats.modelSha256 = o.modelSha256;
    if (!o.statsPath.empty() && !writeFileAtomically(o.statsPath, stats.toJson(), error))
      return false;
  } else {
    auto buf = llvm::MemoryBuffer::getFile(o.statsPath);
    if (!buf) {
      error = "cannot read calibration statistics '" + o.statsPath + "'";
      return false;
    }
    if (!CalibrationStats::fromJson((*buf)->getBuffer().str(), stats, error)) {
      error = o.statsPath + ": " + error;
      return false;
    }
    if (!o.modelSha256.empty() && !stats.modelSha256.empty() && stats.modelSha256 != o.modelSha256) {
      error = o.statsPath + ": statistics were collected on a different checkpoint (sha256 " +
              stats.modelSha256.substr(0, 12) + "..., this one " + o.modelSha256.substr(0, 12) +
              "...)";
      return false;
    }
    if (!stats.smoothing.empty()) {
      // The statistics describe the smoothed model: smooth it the same way.
      auto factors = std::make_shared<SmoothingFactors>(stats.smoothing);
      if (!applySmoothing(module, stats.smoothAlpha, nullptr, factors, error))
        return false;
    } else if (o.smoothAlpha > 0) {
      error = o.statsPath + ": statistics were collected without SmoothQuant; recalibrate with "
              "--calib to use --smooth-quant";
      return false;
    }
  }

  if (o.activationBits == 0)
    return true; // weight-only: the statistics (Gram matrices) are the result
  for (const std::string &name : wanted) {
    auto it = stats.tensors.find(name);
    if (it == stats.tensors.end() || it->second.batches == 0)
      continue;
    // Linear outputs (not read by another linear) may use per-channel scales.
    bool perChannel = o.perChannelOutputs && !inputs.count(name);
    ranges[name] = makeRange(it->second, o, o.activationBits, perChannel);
  }
  if (ranges.empty()) {
    error = "calibration statistics cover none of this model's linear-layer tensors";
    return false;
  }
  // Overrides: pinned precision by name pattern / producing op.
  std::set<std::string> pinned;
  for (size_t i = 0; i < o.overrides.size(); ++i) {
    const PrecisionOverride &ov = o.overrides[i];
    llvm::Expected<llvm::GlobPattern> glob = llvm::GlobPattern::create(ov.match.empty() ? "*" : ov.match);
    if (!glob) {
      error = "override " + std::to_string(i) + ": bad pattern '" + ov.match + "': " +
              llvm::toString(glob.takeError());
      return false;
    }
    int matched = 0;
    for (const std::string &name : wanted) {
      if (!glob->match(name) || (!ov.op.empty() && kinds[name] != ov.op) ||
          !stats.tensors.count(name))
        continue;
      ++matched;
      pinned.insert(name);
      if (ov.bits == 0)
        ranges.erase(name);
      else
        ranges[name] = makeRange(stats.tensors.at(name), o, ov.bits,
                                 o.perChannelOutputs && !inputs.count(name));
    }
    if (!matched)
      std::fprintf(stderr, "mu-compile: warning: override %zu (match '%s', op '%s') matches no "
                           "quantized tensor\n", i, ov.match.c_str(), ov.op.c_str());
  }
  if (o.mixedPrecision && o.activationBits == 8) {
    if (!model) {
      error = "mixed precision measures the model on calibration data: pass --calib";
      return false;
    }
    if (!promoteSensitive(*model, input, stats, o, pinned, ranges, error))
      return false;
  }
  return true;
}

bool parseOverrides(const std::string &text, std::vector<PrecisionOverride> &out,
                    std::string &error) {
  std::optional<llvm::json::Value> v =
      parseDocument(text, "mu-quant-overrides", "a precision overrides file", error);
  if (!v)
    return false;
  const llvm::json::Array *list = v->getAsObject()->getArray("overrides");
  if (!list) {
    error = "expected {\"format\": \"mu-quant-overrides\", \"overrides\": [...]}";
    return false;
  }
  for (size_t i = 0; i < list->size(); ++i) {
    const llvm::json::Object *e = (*list)[i].getAsObject();
    auto bad = [&](const std::string &m) {
      error = "overrides[" + std::to_string(i) + "]: " + m;
      return false;
    };
    if (!e)
      return bad("not an object");
    PrecisionOverride ov;
    if (auto m = e->getString("match")) ov.match = m->str();
    if (auto op = e->getString("op")) ov.op = op->str();
    if (ov.match.empty() && ov.op.empty())
      return bad("needs \"match\" (a tensor-name glob) and/or \"op\" (a kernel kind)");
    auto prec = e->getString("precision");
    if (!prec)
      return bad("needs \"precision\": \"int8\", \"int16\" or \"float\"");
    if (*prec == "int8") ov.bits = 8;
    else if (*prec == "int16") ov.bits = 16;
    else if (*prec == "float") ov.bits = 0;
    else return bad("precision '" + prec->str() + "' is not int8, int16 or float");
    out.push_back(ov);
  }
  return true;
}

bool report(ModuleOp floatModule, const MubOptions &floatOptions, const std::string &quantPath,
            const ActivationRanges *ranges, const ReportRequest &req, std::string &error) {
  MubOptions fopts = floatOptions;
  fopts.weightBits = 0;
  fopts.targetRules = nullptr; // the reference: the plain FP32 model
  fopts.prefillChunk = 0;
  fopts.targetCheck = nullptr;
  fopts.weightBlock = 0;
  fopts.activationRanges = nullptr;
  fopts.calibration = nullptr;
  fopts.maxSeq = std::max<int64_t>(fopts.maxSeq, req.length);
  MubArtifact art;
  if (!prepareMub(floatModule, fopts, art, error))
    return false;
  std::unique_ptr<rt::Model> floatModel = loadTemporary(art, error);
  if (!floatModel)
    return false;
  rt::Status st;
  std::unique_ptr<rt::Model> quantModel = rt::Model::load(quantPath, st);
  if (!quantModel) {
    error = st.message;
    return false;
  }
  CalibrationInput input;
  ReportOptions ro;
  if (quantModel->program("encode")) {
    // Encoder-decoder: teacher-forced measures on the examples, and greedy
    // exact match of both artifacts when the file has targets.
    std::vector<rt::Example> examples;
    if (!loadSeq2SeqInput(req.textPath, *floatModel, req.skip, req.sequences, req.length, input,
                          error, &examples))
      return false;
    if (!examples[0].target.empty()) {
      rt::Tokenizer tok;
      (void)tok.init(quantModel->fb().tokenizer());
      rt::Session fs(*floatModel), qs(*quantModel);
      rt::Generator fg(*floatModel, fs), qg(*quantModel, qs);
      rt::EvalOptions eo;
      eo.decoderStart = rt::decoderStartId(*quantModel, tok);
      eo.maxNew = int(std::min<int64_t>(req.length, quantModel->fb().max_ctx()));
      rt::EvalResult fr, qr;
      rt::Status est = rt::evaluate(fg, tok, examples, eo, fr);
      if (est.ok)
        est = rt::evaluate(qg, tok, examples, eo, qr);
      if (!est.ok) {
        error = req.textPath + ": " + est.message;
        return false;
      }
      ro.task.source = req.textPath.substr(req.textPath.find_last_of('/') + 1);
      ro.task.examples = qr.examples;
      ro.task.exactFloat = fr.exact;
      ro.task.exactQuant = qr.exact;
      ro.task.failures.assign(qr.failures.begin(),
                              qr.failures.begin() + std::min<size_t>(20, qr.failures.size()));
    }
  } else {
    if (!loadDecoderOnlyInput(*quantModel, req.textPath, req.format,
                              req.sequences ? req.sequences : 16, req.length, "--report", input,
                              error))
      return false;
  }
  ro.scheme = req.scheme;
  ro.evalSource = input.description;
  ro.targetJson = req.targetJson;
  ro.targetText = req.targetText;
  ActivationRanges none;
  if (ranges)
    for (auto &[name, r] : *ranges)
      if (r.bits == 16 && llvm::any_of(*ranges, [](auto &kv) { return kv.second.bits == 8; }))
        ro.promoted.push_back(name);
  return writeReport(*floatModel, *quantModel, input, ranges ? *ranges : none, ro, req.jsonPath,
                     req.htmlPath, error);
}

} // namespace quant
} // namespace mu
