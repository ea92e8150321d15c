//===- Compile.cpp - the compile pipeline ---------------------------------===//
///
/// \file
/// The pipeline behind `mu-compile` (include/mu/Driver/Compile.h): option
/// checks, import, fusion, KV-cache programs, calibration and PTQ, target
/// legalization, planning and the emitters.
///
//===----------------------------------------------------------------------===//
#include "mu/Driver/Compile.h"

#include "dialects/Mu/MuOps.h"
#include "mu/Artifact/MubWriter.h"
#include "mu/Export/QdqOnnx.h"
#include "mu/Import/Import.h"
#include "mu/Driver/Ptq.h"
#include "mu/Version.h"
#include "mu/runtime/Runtime.h"
#include "passes/CostModel.h"
#include "passes/Passes.h"

#include "mlir/Bytecode/BytecodeWriter.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/AsmState.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <unistd.h>

using namespace mlir;

namespace mu {
namespace driver {

/// Op histogram, parameter count and dynamic dims, for people and tests.
static void printSummary(ModuleOp module, llvm::raw_ostream &os) {
  os << "source: " << module->getAttrOfType<StringAttr>("mu.source") << "\n";
  module.walk([&](func::FuncOp f) {
    llvm::MapVector<StringRef, int64_t> ops;
    int64_t params = 0, bytes = 0;
    f.walk([&](Operation *op) {
      if (op->getDialect() && op->getDialect()->getNamespace() == "mu")
        ops[op->getName().stripDialect()]++;
      if (auto c = dyn_cast<mu::ConstantOp>(op)) {
        auto t = cast<RankedTensorType>(c.getType());
        if (t.getNumElements() > 64) {
          params += t.getNumElements();
          bytes += t.getNumElements() * std::max<int64_t>(1, t.getElementTypeBitWidth() / 8);
        }
      }
    });
    os << "func @" << f.getSymName() << ": " << f.getFunctionType() << "\n";
    for (unsigned i = 0; i < f.getNumArguments(); ++i)
      if (auto names = f.getArgAttrOfType<ArrayAttr>(i, "mu.dim_names"))
        os << "  arg " << i << " dims " << names << "\n";
    os << "  weights: " << params << " elements, " << bytes << " bytes\n";
    SmallVector<std::pair<StringRef, int64_t>> sorted(ops.begin(), ops.end());
    llvm::sort(sorted, [](auto &a, auto &b) { return a.first < b.first; });
    for (auto &[name, n] : sorted)
      os << "  " << name << ": " << n << "\n";
  });
}

/// sha256 of a file as hex ("" if unreadable).
static std::string fileSha256(llvm::StringRef path) {
  auto buf = llvm::MemoryBuffer::getFile(path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!buf)
    return "";
  llvm::SHA256 h;
  h.update(llvm::ArrayRef<uint8_t>(
      reinterpret_cast<const uint8_t *>((*buf)->getBufferStart()), (*buf)->getBufferSize()));
  auto digest = h.final();
  std::string hex;
  for (uint8_t b : digest)
    hex += llvm::formatv("{0:x-2}", b).str();
  return hex;
}

/// Scalar keys of config.json (next to the input), for the artifact metadata.
static void readConfigMetadata(const CompileOptions &O, llvm::StringRef input,
                               std::vector<std::pair<std::string, std::string>> &out,
                               std::string &architecture) {
  llvm::SmallString<256> p(O.configPath.empty() ? llvm::sys::path::parent_path(input)
                                              : llvm::StringRef(O.configPath));
  if (O.configPath.empty())
    llvm::sys::path::append(p, "config.json");
  auto buf = llvm::MemoryBuffer::getFile(p);
  if (!buf)
    return;
  llvm::Expected<llvm::json::Value> v = llvm::json::parse((*buf)->getBuffer());
  if (!v) {
    llvm::consumeError(v.takeError());
    return;
  }
  const llvm::json::Object *o = v->getAsObject();
  if (!o)
    return;
  std::vector<std::string> keys;
  for (const auto &kv : *o)
    keys.push_back(kv.first.str());
  llvm::sort(keys);
  for (const std::string &k : keys) {
    const llvm::json::Value &val = *o->get(k);
    std::string s;
    if (auto str = val.getAsString())
      s = str->str();
    else if (val.getAsNull() || val.getAsObject())
      continue;
    else
      s = llvm::formatv("{0}", val).str();
    out.emplace_back(k, s);
  }
  if (const llvm::json::Array *a = o->getArray("architectures"))
    if (!a->empty() && (*a)[0].getAsString())
      architecture = (*a)[0].getAsString()->str();
}

static const char *schemeName(QuantScheme s) {
  switch (s) {
  case QuantScheme::None: return "none";
  case QuantScheme::W8: return "w8";
  case QuantScheme::W8A8: return "w8a8";
  case QuantScheme::W8A16: return "w8a16";
  case QuantScheme::W16A16: return "w16a16";
  }
  return "?";
}

/// The deployment target and the rules of the chosen scheme.
static thread_local std::shared_ptr<mu::target::Target> theTarget;
static thread_local const mu::target::SchemeRule *theRule = nullptr;

/// Loads the target, picks the scheme (the target's default unless --quant
/// names one it allows) and checks the options that the rules constrain.
static bool resolveTarget(CompileOptions &O) {
  auto t = std::make_shared<mu::target::Target>();
  std::string error;
  bool ok = O.targetFile.empty() ? mu::target::loadBuiltinTarget(O.targetName, *t, error)
                               : mu::target::loadTargetFile(O.targetFile, *t, error);
  if (!ok) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return false;
  }
  if (!O.targetFile.empty() && O.targetNameGiven) {
    llvm::errs() << "mu-compile: error: give --target or --target-file, not both\n";
    return false;
  }
  mu::target::SchemeRequest request;
  if (O.quantSchemeGiven)
    request.quant = schemeName(O.quantScheme);
  request.actSymmetric = O.actSymmetric;
  request.actChannel = O.actGranularityGiven && O.actGranularity == "channel";
  request.weightBlock = O.weightBlock;
  theRule = mu::target::selectScheme(*t, request, error);
  if (!theRule) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return false;
  }
  for (QuantScheme s : {QuantScheme::None, QuantScheme::W8, QuantScheme::W8A8,
                        QuantScheme::W8A16, QuantScheme::W16A16})
    if (theRule->name == schemeName(s))
      O.quantScheme = s;
  theTarget = std::move(t);
  return true;
}

/// --list-targets: one block per target (the shipped ones, or --target-file).
static int printTargets(const CompileOptions &O) {
  std::vector<mu::target::Target> list;
  std::string error;
  if (!O.targetFile.empty()) {
    list.emplace_back();
    if (!mu::target::loadTargetFile(O.targetFile, list.back(), error)) {
      llvm::errs() << "mu-compile: error: " << error << "\n";
      return 1;
    }
  } else {
    for (const std::string &n : mu::target::builtinTargetNames()) {
      list.emplace_back();
      if (!mu::target::loadBuiltinTarget(n, list.back(), error)) {
        llvm::errs() << "mu-compile: error: " << error << "\n";
        return 1;
      }
    }
  }
  for (const mu::target::Target &t : list)
    llvm::outs() << mu::target::describeTarget(t);
  return 0;
}

/// Calibrates (or loads statistics) and fills `opts`: activation ranges for
/// w8a8/w8a16/w16a16, Gram matrices for GPTQ; reports errors itself.
/// --adapter NAME=DIR[:SCALE] -> SwappableAdapter (names are file-name safe:
/// --adapter-out writes NAME.mua).
static bool parseAdapterSpecs(const CompileOptions &O, std::vector<mu::SwappableAdapter> &out) {
  for (const std::string &spec : O.adapterSpecs) {
    llvm::StringRef name, rest;
    std::tie(name, rest) = llvm::StringRef(spec).split('=');
    auto bad = [&](const llvm::Twine &why) {
      llvm::errs() << "mu-compile: error: --adapter " << spec << ": " << why << "\n";
      return false;
    };
    if (rest.empty() || name.empty())
      return bad("expected NAME=DIR or NAME=DIR:SCALE (e.g. page=adapters/page)");
    if (!llvm::all_of(name, [](char c) { return llvm::isAlnum(c) || c == '_' || c == '-' || c == '.'; }))
      return bad("the name '" + name + "' may hold only letters, digits, '_', '-' and '.'");
    mu::SwappableAdapter a;
    a.name = name.str();
    a.dir = rest.str();
    if (size_t colon = a.dir.rfind(':'); colon != std::string::npos &&
                                         !llvm::sys::fs::is_directory(a.dir)) {
      llvm::StringRef num = llvm::StringRef(a.dir).substr(colon + 1);
      if (num.getAsDouble(a.scale) || !std::isfinite(a.scale))
        return bad("'" + num + "' is not a scale");
      a.dir.resize(colon);
    }
    out.push_back(std::move(a));
  }
  return true;
}

/// --adapter-base BASE.mub --adapter NAME=DIR -o NAME.mua.
static int compileAdapterFile(const CompileOptions &O, const std::vector<mu::SwappableAdapter> &adapters) {
  if (adapters.size() != 1 || !O.inputPath.empty()) {
    llvm::errs() << "mu-compile: error: --adapter-base takes exactly one --adapter NAME=DIR and "
                    "no checkpoint\n";
    return 1;
  }
  const mu::SwappableAdapter &a = adapters.front();
  std::string out = O.outputPath.empty() ? a.name + ".mua" : O.outputPath;
  std::vector<uint8_t> bytes;
  std::string error;
  if (!mu::compileAdapterForBase(O.adapterBase, a.name, a.dir, a.scale, bytes, error)) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return 1;
  }
  if (llvm::Error err = llvm::writeToOutput(out, [&](llvm::raw_ostream &os) {
        os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
        return llvm::Error::success();
      })) {
    llvm::errs() << "mu-compile: error: cannot write '" << out
                 << "': " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  llvm::errs() << "wrote " << out << ": adapter '" << a.name << "' for " << O.adapterBase << "\n";
  return 0;
}

static bool calibrateModel(const CompileOptions &O, ModuleOp module, mu::MubOptions &opts) {
  bool weightOnly = O.quantScheme == QuantScheme::W8;
  if (O.weightBlock < 0) {
    llvm::errs() << "mu-compile: error: --weight-block must be positive\n";
    return false;
  }
  const char *scheme = weightOnly                          ? "w8"
                       : O.quantScheme == QuantScheme::W8A8  ? "w8a8"
                       : O.quantScheme == QuantScheme::W8A16 ? "w8a16"
                                                           : "w16a16";
  if (O.calibPath.empty() && O.calibStats.empty()) {
    llvm::errs() << "mu-compile: error: --quant=" << scheme
                 << " quantizes activations and needs calibration data: --calib FILE (text, "
                    ".ids or .npy) or --calib-stats FILE from an earlier run\n";
    return false;
  }
  mu::quant::PtqOptions po;
  po.activationBits = weightOnly ? 0 : O.quantScheme == QuantScheme::W8A8 ? 8 : 16;
  opts.weightBits = O.quantScheme == QuantScheme::W16A16 ? 16 : 8;
  po.gram = O.weightRounding == "gptq";
  if (O.weightRounding != "gptq" && O.weightRounding != "nearest") {
    llvm::errs() << "mu-compile: error: --weight-rounding must be gptq or nearest\n";
    return false;
  }
  po.symmetric = O.actSymmetric;
  if (O.actGranularity != "channel" && O.actGranularity != "tensor") {
    llvm::errs() << "mu-compile: error: --act-granularity must be channel or tensor\n";
    return false;
  }
  po.perChannelOutputs = O.actGranularity == "channel";
  if (const auto &a = theRule->activations) {
    // The target's encoding of activations.
    po.symmetric = a->encoding == mu::target::ActEncoding::IntSymmetric;
    po.unsignedActivations = a->encoding == mu::target::ActEncoding::UintAsymmetric;
    po.powerOfTwo = a->powerOfTwo;
    po.minRange = a->minRange;
    if (a->granularity == mu::target::Granularity::Tensor)
      po.perChannelOutputs = false;
  }
  std::string method = O.calibMethod.empty() ? (po.activationBits == 8 ? "percentile" : "minmax")
                                           : O.calibMethod;
  if (!mu::quant::parseRangeMethod(method, po.range.method)) {
    llvm::errs() << "mu-compile: error: unknown --calib-method '" << method
                 << "' (minmax, moving-average, percentile, entropy, mse)\n";
    return false;
  }
  if (!(O.calibPercentile > 50 && O.calibPercentile <= 100)) {
    llvm::errs() << "mu-compile: error: --calib-percentile must be in (50, 100]\n";
    return false;
  }
  po.range.percentile = O.calibPercentile;
  if (!mu::quant::parseCalibFormat(O.calibFormat, po.calibFormat)) {
    llvm::errs() << "mu-compile: error: unknown --calib-format '" << O.calibFormat
                 << "' (auto, text, ids, npy)\n";
    return false;
  }
  if (O.calibSeqs < 1 || O.calibLen < 2) {
    llvm::errs() << "mu-compile: error: --calib-seqs must be >= 1 and --calib-len >= 2\n";
    return false;
  }
  po.calibPath = O.calibPath;
  po.calibCount = O.calibSeqs;
  po.calibLength = O.calibLen;
  po.statsPath = O.calibStats;
  po.modelSha256 = opts.sourceSha256;
  po.progress = isatty(2);
  if (O.smoothQuant < 0 || O.smoothQuant > 1) {
    llvm::errs() << "mu-compile: error: --smooth-quant alpha must be in [0, 1]\n";
    return false;
  }
  if (O.smoothQuant > 0 && weightOnly) {
    llvm::errs() << "mu-compile: error: --smooth-quant needs an activation scheme\n";
    return false;
  }
  po.smoothAlpha = O.smoothQuant;
  if (!O.overridesPath.empty()) {
    auto buf = llvm::MemoryBuffer::getFile(O.overridesPath);
    std::string err;
    if (!buf) {
      llvm::errs() << "mu-compile: error: cannot read '" << O.overridesPath << "'\n";
      return false;
    }
    if (!mu::quant::parseOverrides((*buf)->getBuffer().str(), po.overrides, err)) {
      llvm::errs() << "mu-compile: error: " << O.overridesPath << ": " << err << "\n";
      return false;
    }
  }
  po.mixedPrecision = O.mixedPrecision;
  po.mpTargetKl = O.mpTargetKl;
  po.mpMaxPromoted = O.mpMaxPromoted;
  po.mpSequences = O.mpSeqs;
  if (O.mixedPrecision && po.activationBits != 8) {
    llvm::errs() << "mu-compile: error: --mixed-precision applies to --quant=w8a8\n";
    return false;
  }
  auto stats = std::make_shared<mu::quant::CalibrationStats>();
  auto ranges = std::make_shared<mu::quant::ActivationRanges>();
  std::string error;
  if (!mu::quant::calibrate(module, opts, po, *stats, *ranges, error)) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return false;
  }
  if (!weightOnly)
    opts.activationRanges = ranges;
  po.gram = po.gram && llvm::any_of(stats->tensors, [](auto &kv) { return kv.second.gramDim > 0; });
  opts.calibration = stats;
  opts.gptq = po.gram;
  opts.biasCorrection = O.biasCorrection;
  llvm::erase_if(opts.config, [](auto &kv) { return kv.first == "mu.quant"; });
  opts.quantScheme = scheme;
  opts.weightBlock = O.weightBlock;
  std::string desc = std::string(scheme) + (po.gram ? ", gptq" : ", nearest") + " weights" +
                     (O.biasCorrection ? ", bias correction" : "");
  if (!weightOnly)
    desc += std::string(", ") + method + (po.symmetric ? " symmetric" : " asymmetric") +
            (po.unsignedActivations ? " unsigned" : "") + (po.powerOfTwo ? " power-of-two" : "") +
            " activations";
  if (stats->smoothAlpha > 0)
    desc += llvm::formatv(", smoothquant alpha {0}", stats->smoothAlpha).str();
  desc += ", calibrated on " + stats->source;
  if (O.mixedPrecision) {
    std::string promoted;
    for (auto &[name, r] : *ranges)
      if (r.bits == 16)
        promoted += (promoted.empty() ? "" : ",") + name;
    opts.config.emplace_back("mu.quant.int16_activations", promoted);
  }
  opts.config.emplace_back("mu.quant", desc);
  return true;
}


int compile(const CompileOptions &options) {
  CompileOptions O = options; // the target may set the scheme
  if (O.compileThreads < 0) {
    llvm::errs() << "mu-compile: error: --calib-threads must be positive\n";
    return 1;
  }
  mu::rt::setDefaultThreads(O.compileThreads);
  if (O.listTargets)
    return printTargets(O);
  std::vector<mu::SwappableAdapter> swappable;
  if (!parseAdapterSpecs(O, swappable))
    return 1;
  if (!O.adapterBase.empty())
    return compileAdapterFile(O, swappable);
  if (!O.compileTo.empty() && O.compileTo != "import" && O.compileTo != "fuse" &&
      O.compileTo != "kernels") {
    llvm::errs() << "mu-compile: error: --compile-to: unknown phase '" << O.compileTo
                 << "' (import, fuse, kernels)\n";
    return 1;
  }
  if (!O.compileTo.empty() && O.emitGiven) {
    llvm::errs() << "mu-compile: error: --compile-to and --emit both choose the output; give one\n";
    return 1;
  }
  if (!O.compileFrom.empty() && !O.inputPath.empty()) {
    llvm::errs() << "mu-compile: error: give a checkpoint or --compile-from FILE, not both\n";
    return 1;
  }
  if (O.inputPath.empty() && O.compileFrom.empty()) {
    llvm::errs() << "mu-compile: error: no input checkpoint (see --help)\n";
    return 1;
  }
  if (!resolveTarget(O))
    return 1;

  DialectRegistry registry;
  registry.insert<mu::MuDialect, func::FuncDialect>();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  // A saved phase (--compile-to=import|fuse): the graph and the checkpoint it
  // came from, whose config.json / tokenizer.json are read as usual.
  OwningOpRef<ModuleOp> resumed;
  std::string resumedSha;
  bool resumedFused = false;
  if (!O.compileFrom.empty()) {
    if (!O.loraSpec.empty() || !swappable.empty()) {
      llvm::errs() << "mu-compile: error: --compile-from: adapters are applied at import; pass "
                      "--lora/--adapter when saving the phase\n";
      return 1;
    }
    std::string diag;
    {
      ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
        llvm::raw_string_ostream(diag) << d.getLocation() << ": " << d.str() << "\n";
        return success();
      });
      resumed = parseSourceFile<ModuleOp>(O.compileFrom, &ctx);
    }
    if (!resumed) {
      llvm::errs() << "mu-compile: error: --compile-from " << O.compileFrom
                   << ": not a readable MLIR module: " << diag;
      return 1;
    }
    auto phase = (*resumed)->getAttrOfType<StringAttr>("mu.phase");
    auto input = (*resumed)->getAttrOfType<StringAttr>("mu.input");
    if (!phase || (phase.getValue() != "import" && phase.getValue() != "fuse") || !input) {
      llvm::errs() << "mu-compile: error: --compile-from " << O.compileFrom
                   << ": not a saved 'import' or 'fuse' phase (module attributes mu.phase, "
                      "mu.input; write one with --compile-to=fuse)\n";
      return 1;
    }
    resumedFused = phase.getValue() == "fuse";
    O.inputPath = input.str();
    if (auto sha = (*resumed)->getAttrOfType<StringAttr>("mu.input_sha256"))
      resumedSha = sha.str();
  }
  // Writes the module at a phase boundary (bytecode unless -o names .mlir
  // or stdout), recording the phase and the checkpoint for --compile-from.
  auto savePhase = [&](ModuleOp m, StringRef phase) {
    llvm::SmallString<256> abs(O.inputPath);
    (void)llvm::sys::fs::make_absolute(abs);
    Builder b(m.getContext());
    m->setAttr("mu.phase", b.getStringAttr(phase));
    m->setAttr("mu.input", b.getStringAttr(abs));
    m->setAttr("mu.input_sha256",
               b.getStringAttr(resumedSha.empty() ? fileSha256(O.inputPath) : resumedSha));
    std::string out = O.outputPath.empty()
                          ? (llvm::sys::path::stem(O.inputPath) + "." + phase + ".mlirbc").str()
                          : O.outputPath;
    bool text = out == "-" || llvm::StringRef(out).ends_with(".mlir");
    if (llvm::Error e = llvm::writeToOutput(out, [&](llvm::raw_ostream &os) -> llvm::Error {
          if (text) {
            OpPrintingFlags flags;
            if (O.elideWeights)
              flags.elideLargeElementsAttrs(16).elideLargeResourceString(64);
            m.print(os, flags);
          } else if (failed(writeBytecodeToFile(m, os))) {
            return llvm::createStringError("bytecode writer failed");
          }
          return llvm::Error::success();
        })) {
      llvm::errs() << "mu-compile: error: cannot write '" << out
                   << "': " << llvm::toString(std::move(e)) << "\n";
      return 1;
    }
    return 0;
  };

  std::string error;
  if (!O.adapterOut.empty() && swappable.empty()) {
    llvm::errs() << "mu-compile: error: --adapter-out needs at least one --adapter NAME=DIR\n";
    return 1;
  }
  std::string adapterDir = O.loraSpec;
  double adapterScale = 1.0;
  if (size_t colon = adapterDir.rfind(':'); colon != std::string::npos &&
                                            !llvm::sys::fs::is_directory(adapterDir)) {
    llvm::StringRef num = llvm::StringRef(adapterDir).substr(colon + 1);
    if (num.getAsDouble(adapterScale) || !std::isfinite(adapterScale)) {
      llvm::errs() << "mu-compile: error: --lora " << O.loraSpec << ": '" << num
                   << "' is not a scale (expected DIR or DIR:SCALE, e.g. page:0.5)\n";
      return 1;
    }
    adapterDir.resize(colon);
  }
  OwningOpRef<ModuleOp> module =
      resumed ? std::move(resumed)
              : mu::importModel(ctx, O.inputPath, O.configPath, error, adapterDir, adapterScale,
                                swappable);
  if (!module) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return 1;
  }
  if (O.compileTo == "import")
    return savePhase(*module, "import");

  if (!O.noFuse && !resumedFused) {
    std::string diag;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      llvm::raw_string_ostream(diag) << d.getLocation() << ": " << d.str() << "\n";
      return success();
    });
    PassManager pm(&ctx);
    mu::buildFuseTransformerPipeline(pm);
    if (failed(pm.run(*module))) {
      llvm::errs() << "mu-compile: error: " << O.inputPath
                   << ": the fusion pipeline failed (compiler bug): " << diag;
      return 1;
    }
  }

  if (O.compileTo == "fuse")
    return savePhase(*module, "fuse");

  // Emission kind: --emit, else from the -o extension, else a .mub artifact
  // named after the input.
  Emit kind = Emit::Mub;
  if (O.compileTo == "kernels")
    kind = Emit::Kernels;
  else if (O.emitGiven)
    kind = O.emit;
  else if (llvm::StringRef(O.outputPath).ends_with(".mlir"))
    kind = Emit::Mlir;
  else if (llvm::StringRef(O.outputPath).ends_with(".mlirbc"))
    kind = Emit::MlirBytecode;
  std::string out = O.outputPath;
  if (kind == Emit::QdqOnnx && out.empty()) {
    llvm::errs() << "mu-compile: error: --emit=qdq-onnx needs -o DIR (the models' directory)\n";
    return 1;
  }
  if (out.empty())
    out = kind == Emit::Mub ? (llvm::sys::path::stem(O.inputPath) + ".mub").str() : "-";

  mu::MubArtifact mub;
  std::string floatTargetText; // --report: partition and cost, for the HTML page
  OwningOpRef<ModuleOp> floatCopy; // --report: the model before quantization
  mu::MubOptions floatOpts;
  // --emit=summary with a target: the graph summary, then the compiled
  // program's partition and cost estimate on that target.
  const bool targetSummary =
      kind == Emit::Summary && (O.targetNameGiven || !O.targetFile.empty());
  std::string summaryText, targetJson;
  std::string qdqArchitecture; // --emit=qdq-onnx: sidecar metadata and files
  std::vector<std::pair<std::string, std::string>> qdqConfig;
  std::vector<std::string> qdqTokenizerFiles;
  int qdqBos = -1;
  std::vector<int> qdqEos;
  int64_t usedChunk = 0, usedMaxCtx = O.maxCtx > 0 ? int64_t(O.maxCtx) : int64_t(O.maxSeq);
  if (targetSummary) {
    llvm::raw_string_ostream os(summaryText);
    printSummary(*module, os);
  }
  if (kind == Emit::Mub || kind == Emit::QdqOnnx || kind == Emit::Kernels || targetSummary) {
    {
      std::string diag;
      ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
        llvm::raw_string_ostream(diag) << d.str() << "\n";
        return success();
      });
      PassManager pm(&ctx);
      // Names first: the cached programs are clones and keep them.
      pm.addPass(mu::createNameOps());
      if (!O.noKvCache)
        pm.addPass(mu::createKvCache());
      if (failed(pm.run(*module))) {
        llvm::errs() << "mu-compile: error: " << O.inputPath << ": " << diag;
        return 1;
      }
    }
    mu::MubOptions opts;
    opts.maxSeq = O.maxSeq;
    opts.maxCtx = O.maxCtx > 0 ? int(O.maxCtx) : int(O.maxSeq);
    opts.target = theTarget->name;
    opts.targetRules = theTarget;
    opts.targetScheme = theRule->name;
    opts.noFallback = O.noFallback;
    opts.targetCheck = std::make_shared<mu::target::TargetCheckResult>();
    // Static shapes: the target's chunk and context limit unless overridden.
    {
      int64_t chunk = O.prefillChunk >= 0 ? int64_t(O.prefillChunk)
                      : theTarget->staticShapes
                          ? (theTarget->prefillChunk > 0 ? theTarget->prefillChunk : int64_t(O.maxSeq))
                          : 0;
      if (O.noKvCache) {
        if (O.prefillChunk > 0) {
          llvm::errs() << "mu-compile: error: --prefill-chunk needs the cached programs of a "
                          "KV-cache artifact (drop --no-kv-cache)\n";
          return 1;
        }
        chunk = 0;
      }
      if (chunk > 0 && theTarget->maxContext > 0 && opts.maxCtx > theTarget->maxContext) {
        if (O.maxCtx > 0) {
          llvm::errs() << "mu-compile: error: --max-ctx " << O.maxCtx << " exceeds target '"
                       << theTarget->name << "' max_context " << theTarget->maxContext << "\n";
          return 1;
        }
        opts.maxCtx = theTarget->maxContext;
      }
      if (chunk > opts.maxCtx) {
        if (O.prefillChunk > 0) {
          llvm::errs() << "mu-compile: error: --prefill-chunk " << chunk
                       << " exceeds the KV-cache capacity " << opts.maxCtx << " (--max-ctx)\n";
          return 1;
        }
        chunk = opts.maxCtx; // the target's chunk does not fit this context
      }
      opts.prefillChunk = chunk;
      usedChunk = chunk;
      usedMaxCtx = opts.maxCtx;
      if (chunk > 0)
        opts.config.emplace_back("mu.prefill_chunk", std::to_string(chunk));
    }
    // QDQ ONNX takes row-major integer weights (the runtime repacks them).
    opts.packWeights = theTarget->weightLayout == "i8n16k4" && kind != Emit::QdqOnnx;
    opts.weightPerTensor = theRule->weights.granularity == mu::target::Granularity::Tensor;
    opts.weightPowerOfTwo = theRule->weights.powerOfTwo;
    opts.embedAdapters = O.adapterOut.empty();
    if (kind == Emit::QdqOnnx && !swappable.empty()) {
      llvm::errs() << "mu-compile: error: --adapter: QDQ ONNX has no swappable side branches "
                      "(ONNX Runtime's multi-LoRA is a GenAI feature); export one model per "
                      "adapter with --lora DIR\n";
      return 1;
    }
    opts.config.emplace_back("mu.target.scheme", theRule->name);
    if (!theRule->mode.empty())
      opts.config.emplace_back("mu.target.mode", theRule->mode);
    opts.sourceSha256 = resumedSha.empty() ? fileSha256(O.inputPath) : resumedSha;
    if (O.quantScheme == QuantScheme::W8) {
      opts.weightBits = 8;
      opts.weightBlock = O.weightBlock;
      opts.quantScheme = "w8";
      opts.config.emplace_back("mu.quant", O.weightBlock > 0 ? "w8 block " + std::to_string(O.weightBlock) : "w8");
    }
    readConfigMetadata(O, O.inputPath, opts.config, opts.architecture);
    std::string tokPath = O.tokenizerPath;
    if (tokPath.empty()) {
      llvm::SmallString<256> p(llvm::sys::path::parent_path(O.inputPath));
      llvm::sys::path::append(p, "tokenizer.json");
      if (llvm::sys::fs::exists(p))
        tokPath = p.str().str();
    }
    qdqArchitecture = opts.architecture;
    qdqConfig = opts.config;
    if (!tokPath.empty()) {
      qdqTokenizerFiles.push_back(tokPath);
      llvm::SmallString<256> tc(llvm::sys::path::parent_path(tokPath));
      llvm::sys::path::append(tc, "tokenizer_config.json");
      if (llvm::sys::fs::exists(tc))
        qdqTokenizerFiles.push_back(tc.str().str());
    }
    if (!tokPath.empty() && !mu::importTokenizerJson(tokPath, opts.tokenizer, error)) {
      llvm::errs() << "mu-compile: error: " << error << "\n";
      return 1;
    }
    for (const auto &[key, value] : opts.config)
      if (key == "vocab_size" && !tokPath.empty()) {
        long long n = std::atoll(value.c_str());
        if (n > 0 && opts.tokenizer.vocab.size() > size_t(n)) {
          llvm::errs() << "mu-compile: error: " << tokPath << ": token id "
                       << opts.tokenizer.vocab.size() - 1 << " ('"
                       << opts.tokenizer.vocab.back() << "') is outside the model's vocabulary of "
                       << n << " (config vocab_size)\n";
          return 1;
        }
      }
    qdqBos = opts.tokenizer.bosId;
    qdqEos = opts.tokenizer.eosIds;
    if (O.weightBlock < 0 || (O.weightBlock > 0 && O.quantScheme == QuantScheme::None)) {
      llvm::errs() << "mu-compile: error: --weight-block needs --quant and a positive size\n";
      return 1;
    }
    if (O.maxSeq < 1) {
      llvm::errs() << "mu-compile: error: --max-seq must be positive\n";
      return 1;
    }
    if (O.quantScheme == QuantScheme::W8A8 || O.quantScheme == QuantScheme::W8A16 ||
        O.quantScheme == QuantScheme::W16A16 ||
        (O.quantScheme == QuantScheme::W8 && (!O.calibPath.empty() || !O.calibStats.empty()))) {
      if (!calibrateModel(O, *module, opts))
        return 1;
    } else if (!O.calibPath.empty() || !O.calibStats.empty()) {
      llvm::errs() << "mu-compile: error: --calib/--calib-stats need --quant (w8 uses them "
                      "for GPTQ weight rounding; w8a8, w8a16, w16a16 also for activations)\n";
      return 1;
    }
    if (!O.reportPath.empty()) {
      // Without quantization a report still measures a target whose float
      // regions run in FP16/BF16 against the FP32 model.
      if (O.quantScheme == QuantScheme::None &&
          theTarget->floatPrecision == mu::target::FloatPrecision::F32) {
        llvm::errs() << "mu-compile: error: --report compares a quantized (or reduced-precision "
                        "target) artifact with the FP32 model: pass --quant\n";
        return 1;
      }
      if (O.quantScheme == QuantScheme::None)
        opts.config.emplace_back(
            "mu.quant", std::string("none, ") +
                            mu::target::floatPrecisionName(theTarget->floatPrecision) +
                            " float regions (" + theTarget->name + ")");
      if (O.reportText.empty() && O.calibPath.empty()) {
        llvm::errs() << "mu-compile: error: --report needs evaluation data: --report-text FILE "
                        "(or --calib FILE)\n";
        return 1;
      }
      if (O.reportSeqs < 1 || O.reportSkip < 0) {
        llvm::errs() << "mu-compile: error: --report-seqs must be >= 1 and --report-skip >= 0\n";
        return 1;
      }
      floatCopy = OwningOpRef<ModuleOp>(cast<ModuleOp>((*module)->clone()));
      floatOpts = opts;
    }
    bool prepared = mu::prepareMub(*module, opts, mub, error);
    const mu::target::TargetCheckResult &check = *opts.targetCheck;
    if (O.diagnostics == Diagnostics::Json && !check.target.empty())
      llvm::errs() << check.toJson();
    if (!prepared) {
      if (!check.violations.empty() && !check.fallback) {
        if (O.diagnostics == Diagnostics::Text)
          llvm::errs() << "mu-compile: error: " << O.inputPath << ": " << check.violations.size()
                       << " violation(s) of target '" << check.target
                       << "' (CPU fallback " << (O.noFallback ? "disabled by --no-fallback"
                                                            : "not allowed by the target")
                       << "):\n" << error;
        return 1;
      }
      llvm::errs() << "mu-compile: error: " << O.inputPath << ": " << error << "\n";
      return 1;
    }
    if (O.diagnostics == Diagnostics::Text && !targetSummary &&
        (theTarget->kind == "npu" || check.cpu.ops > 0))
      llvm::errs() << check.summary();
    // The cost estimate: in the summary and the report.
    mu::target::Target host;
    std::string costError;
    (void)mu::target::loadBuiltinTarget("cpu-x86", host, costError);
    mu::CostReport cost;
    bool costed = O.costPrompt > 0 && O.costContext > 0 &&
                  mu::estimateCost(*module, *theTarget, host, O.costPrompt, O.costContext, cost,
                                   costError);
    std::string targetText = check.summary() + (costed ? cost.summary() : costError + "\n");
    targetJson = "{\"check\": " + check.toJson() + ", \"cost\": " +
                 (costed ? cost.toJson() : std::string("null")) + "}";
    if (targetSummary)
      summaryText += targetText;
    floatTargetText = targetText;
  }

  if (kind == Emit::QdqOnnx) {
    mu::QdqOnnxOptions q;
    q.target = theTarget->name;
    q.scheme = theRule->name;
    q.emulateFloat = O.qdqEmulateFloat;
    if (O.qdqExternalData)
      q.externalDataThreshold = 1; // every initializer of 1 KB or more
    q.prefillChunk = usedChunk;
    q.maxCtx = usedMaxCtx;
    q.architecture = qdqArchitecture;
    q.producerVersion = std::string(MU_VERSION_STRING) + " (" + MU_GIT_REVISION + ")";
    q.config = qdqConfig;
    q.tokenizerFiles = qdqTokenizerFiles;
    q.bosId = qdqBos;
    q.eosIds = qdqEos;
    if (llvm::StringRef(out).ends_with(".onnx"))
      q.singleFile = out; // the whole-sequence graph only
    mu::QdqOnnxSummary qs;
    if (!mu::exportQdqOnnx(*module, q, out, qs, error)) {
      llvm::errs() << "mu-compile: error: " << O.inputPath << ": " << error << "\n";
      return 1;
    }
    llvm::errs() << "wrote " << out << ": " << qs.nodes << " nodes (" << qs.quantizeNodes
                 << " QuantizeLinear, " << qs.dequantizeNodes << " DequantizeLinear)";
    if (!qs.hostNodes.empty())
      llvm::errs() << ", " << qs.hostNodes.size()
                   << " decode-graph nodes stay on the host CPU in float (doc_string 'mu: runs on "
                      "the host CPU')";
    llvm::errs() << "\n";
  }

  llvm::Error err = kind == Emit::QdqOnnx ? llvm::Error::success() :
      llvm::writeToOutput(out, [&](llvm::raw_ostream &os) -> llvm::Error {
    switch (kind) {
    case Emit::Mub:
      mub.write(os);
      break;
    case Emit::QdqOnnx:
      break;
    case Emit::Kernels: // the planned muk programs, as MLIR text
    case Emit::Mlir: {
      OpPrintingFlags flags;
      if (O.elideWeights)
        flags.elideLargeElementsAttrs(16).elideLargeResourceString(64);
      module->print(os, flags);
      break;
    }
    case Emit::MlirBytecode:
      if (failed(writeBytecodeToFile(*module, os)))
        return llvm::createStringError("bytecode writer failed");
      break;
    case Emit::Summary:
      if (targetSummary)
        os << summaryText;
      else
        printSummary(*module, os);
      break;
    }
    return llvm::Error::success();
  });
  if (err) {
    llvm::errs() << "mu-compile: error: cannot write '" << out
                 << "': " << llvm::toString(std::move(err)) << "\n";
    return 1;
  }
  if (kind == Emit::Mub && !O.adapterOut.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(O.adapterOut)) {
      llvm::errs() << "mu-compile: error: --adapter-out " << O.adapterOut << ": " << ec.message()
                   << "\n";
      return 1;
    }
    for (const mu::AdapterBlob &a : mub.adapters) {
      std::vector<uint8_t> bytes;
      if (!mu::buildAdapterFile(mub.artifactId, mub.loraSites, a, bytes, error)) {
        llvm::errs() << "mu-compile: error: " << error << "\n";
        return 1;
      }
      llvm::SmallString<256> path(O.adapterOut);
      llvm::sys::path::append(path, a.name + ".mua");
      if (llvm::Error e = llvm::writeToOutput(path, [&](llvm::raw_ostream &os) {
            os.write(reinterpret_cast<const char *>(bytes.data()), bytes.size());
            return llvm::Error::success();
          })) {
        llvm::errs() << "mu-compile: error: cannot write '" << path
                     << "': " << llvm::toString(std::move(e)) << "\n";
        return 1;
      }
      llvm::errs() << "wrote " << path << ": adapter '" << a.name << "'\n";
    }
  }
  if (floatCopy) {
    mu::quant::ReportRequest req;
    req.jsonPath = O.reportPath;
    llvm::StringRef jp(O.reportPath);
    req.htmlPath = (jp.ends_with(".json") ? jp.drop_back(5).str() : jp.str()) + ".html";
    req.textPath = O.reportText.empty() ? O.calibPath : O.reportText;
    (void)mu::quant::parseCalibFormat(O.calibFormat, req.format);
    if (!O.reportText.empty())
      req.format = mu::quant::CalibFormat::Auto;
    req.sequences = O.reportSeqs;
    req.skip = O.reportSkip;
    bool isEncoderDecoder = floatCopy->lookupSymbol("encode") != nullptr;
    if (isEncoderDecoder && !O.reportSeqsGiven)
      req.sequences = 0; // every example
    req.length = O.calibLen;
    for (auto &kv : floatOpts.config)
      if (kv.first == "mu.quant")
        req.scheme = kv.second;
    req.targetJson = targetJson;
    req.targetText = floatTargetText;
    if (!mu::quant::report(*floatCopy, floatOpts, out, floatOpts.activationRanges.get(), req,
                           error)) {
      llvm::errs() << "mu-compile: error: --report: " << error << "\n";
      return 1;
    }
  }
  return 0;
}

} // namespace driver
} // namespace mu
