//===- mu-compile.cpp - the mu-compile driver -----------------------------===//
///
/// \file
/// Checkpoint in, compiled model out. Today: import (ONNX or safetensors +
/// config.json), fuse to transformer ops, and emit MLIR or a summary.
///
//===----------------------------------------------------------------------===//
#include "dialects/Mu/MuOps.h"
#include "mu/Artifact/MubWriter.h"
#include "mu/Export/QdqOnnx.h"
#include "mu/Import/Import.h"
#include "mu/Quant/Ptq.h"
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
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/SHA256.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <cmath>
#include <unistd.h>

using namespace mlir;
namespace cl = llvm::cl;

static cl::OptionCategory category("mu-compile options");

static cl::opt<std::string> inputPath(cl::Positional, cl::desc("<model.onnx | model.safetensors>"),
                                      cl::cat(category));
static cl::opt<std::string> outputPath("o",
    cl::desc("Output file (default: <input name>.mub, or stdout for text emissions)"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string> configPath("config",
    cl::desc("config.json for a safetensors checkpoint (default: next to it)"),
    cl::value_desc("file"), cl::cat(category));

enum class Emit { Mub, QdqOnnx, Kernels, Mlir, MlirBytecode, Summary };
static cl::opt<Emit> emit("emit",
    cl::desc("What to produce (default: from the -o extension, else mub):"),
    cl::values(clEnumValN(Emit::Mub, "mub", "deployable artifact for mu-run / libmu_runtime"),
               clEnumValN(Emit::QdqOnnx, "qdq-onnx",
                          "QDQ ONNX models for vendor runtimes in the directory -o (prefill.onnx, "
                          "decode.onnx, mu-qdq.json, tokenizer); -o X.onnx: the whole-sequence "
                          "graph only"),
               clEnumValN(Emit::Kernels, "muk", "the planned kernel programs (muk dialect) as MLIR text"),
               clEnumValN(Emit::Mlir, "mlir", "the fused mu graph as MLIR text"),
               clEnumValN(Emit::MlirBytecode, "mlirbc", "the fused mu graph as MLIR bytecode"),
               clEnumValN(Emit::Summary, "summary", "op counts, parameters and dynamic dims")),
    cl::cat(category));
static cl::opt<std::string> loraSpec("lora",
    cl::desc("PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) to "
             "merge into a safetensors checkpoint's float weights before calibration and "
             "quantization; DIR:SCALE multiplies the adapter's alpha/r by SCALE"),
    cl::value_desc("dir[:scale]"), cl::cat(category));
static cl::list<std::string> adapterSpecs("adapter",
    cl::desc("Swappable PEFT LoRA adapter NAME=DIR[:SCALE] (repeatable): the base weights are "
             "quantized once and each adapted layer gets a side branch y = Wx + B(Ax) whose A/B "
             "the runtime selects per session (mu-run --adapter NAME); calibration runs the base "
             "and every adapter"),
    cl::value_desc("name=dir[:scale]"), cl::cat(category));
static cl::opt<std::string> adapterOut("adapter-out",
    cl::desc("Write each --adapter as DIR/NAME.mua (bound to this base artifact) instead of "
             "embedding it"),
    cl::value_desc("dir"), cl::cat(category));
static cl::opt<std::string> adapterBase("adapter-base",
    cl::desc("Compile --adapter NAME=DIR against an existing base artifact (its LoRA sites) "
             "into -o NAME.mua; no checkpoint is read"),
    cl::value_desc("base.mub"), cl::cat(category));
static cl::opt<bool> qdqEmulateFloat("qdq-emulate-float",
    cl::desc("--emit=qdq-onnx: write the target's FP16/BF16 rounding as Cast pairs, so ONNX "
             "Runtime's CPU provider reproduces the target's numerics"),
    cl::cat(category));
static cl::opt<bool> qdqExternalData("qdq-external-data",
    cl::desc("--emit=qdq-onnx: store the weights in <model>.onnx.data (ONNX external data) "
             "whatever their size (default: only past 1.8 GB, protobuf's limit)"),
    cl::cat(category));
static cl::opt<bool> noFuse("no-fuse",
    cl::desc("Skip the fusion pipeline: emit the graph as imported"), cl::cat(category));
static cl::opt<bool> elideWeights("elide-weights",
    cl::desc("Print weight blobs as placeholders (readable, not re-parsable)"),
    cl::cat(category));

static cl::opt<int> compileThreads(
    "calib-threads",
    cl::desc("Threads for the executor runs inside the compiler (calibration, GPTQ, the "
             "accuracy report; default: one per physical core). The output does not depend "
             "on it"),
    cl::init(0));
static cl::opt<int> maxSeq("max-seq",
    cl::desc("Largest sequence the artifact accepts per call (plans the arena; default 512)"),
    cl::init(512), cl::cat(category));
static cl::opt<std::string> tokenizerPath("tokenizer",
    cl::desc("tokenizer.json to embed (default: next to the input, if present)"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<bool> noKvCache("no-kv-cache",
    cl::desc("Do not add cached prefill/decode programs to the artifact"),
    cl::cat(category));
static cl::opt<int> prefillChunk("prefill-chunk",
    cl::desc("Static-shape cached programs (mu-static-shapes): prefill takes N tokens per "
             "call (a prompt's last chunk padded) and the KV cache is --max-ctx rows updated "
             "in place. Default: the target's shapes.prefill_chunk on static-shape targets "
             "(NPUs), dynamic elsewhere; 0 = dynamic"),
    cl::init(-1), cl::cat(category));
static cl::opt<int> maxCtx("max-ctx",
    cl::desc("KV-cache capacity in tokens (default: --max-seq)"), cl::init(0),
    cl::cat(category));
enum class QuantScheme { None, W8, W8A8, W8A16, W16A16 };
static cl::opt<QuantScheme> quantScheme("quant",
    cl::desc("Post-training quantization scheme (default: none):"),
    cl::init(QuantScheme::None),
    cl::values(clEnumValN(QuantScheme::None, "none", "FP16/FP32 weights, FP32 math"),
               clEnumValN(QuantScheme::W8, "w8",
                          "weight-only: symmetric per-channel int8 weights with "
                          "MSE-optimal scales; FP32 activations"),
               clEnumValN(QuantScheme::W8A8, "w8a8",
                          "int8 weights, static int8 activations into/out of every linear "
                          "layer (needs --calib or --calib-stats)"),
               clEnumValN(QuantScheme::W8A16, "w8a16",
                          "int8 weights, static int16 activations (needs calibration)"),
               clEnumValN(QuantScheme::W16A16, "w16a16",
                          "int16 weights, static int16 activations (needs calibration)")),
    cl::cat(category));
static cl::opt<int> weightBlock("weight-block",
    cl::desc("One weight scale per block of N input elements (32, 64, ...; 0 = per output "
             "channel, the default). With activation schemes the integer linear combines "
             "per-block integer dot products in float"),
    cl::init(0), cl::cat(category));
static cl::opt<std::string> calibPath("calib",
    cl::desc("Calibration data: text (tokenized with the model's tokenizer), token ids "
             "(.ids/.tokens: whitespace-separated) or .npy ([N, L] int32/int64 ids)"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string> calibFormat("calib-format",
    cl::desc("How to read --calib: auto (by extension), text, ids, npy (default: auto)"),
    cl::init("auto"), cl::cat(category));
static cl::opt<int> calibSeqs("calib-seqs",
    cl::desc("Calibration sequences cut from --calib (default 32)"), cl::init(32),
    cl::cat(category));
static cl::opt<int> calibLen("calib-len",
    cl::desc("Tokens per calibration sequence, BOS first (default 256)"), cl::init(256),
    cl::cat(category));
static cl::opt<std::string> calibStats("calib-stats",
    cl::desc("With --calib: save the collected statistics here (JSON); without: load "
             "them and skip the float runs"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<std::string> calibMethod("calib-method",
    cl::desc("Activation range method: minmax, moving-average, percentile, entropy, mse "
             "(default: minmax for 16-bit activations, percentile for 8-bit)"),
    cl::cat(category));
static cl::opt<double> calibPercentile("calib-percentile",
    cl::desc("Percentile kept by --calib-method=percentile (default 99.99)"), cl::init(99.99),
    cl::cat(category));
static cl::opt<std::string> weightRounding("weight-rounding",
    cl::desc("With calibration data: gptq (default; error-compensating rounding using the "
             "layer inputs) or nearest"),
    cl::init("gptq"), cl::cat(category));
static cl::opt<bool> mixedPrecision("mixed-precision",
    cl::desc("With --quant=w8a8: measure each activation's effect on the output (simulated on "
             "calibration sequences) and promote the most sensitive to int16 until "
             "--mp-target-kl is met"),
    cl::cat(category));
static cl::opt<double> mpTargetKl("mp-target-kl",
    cl::desc("Mixed-precision budget: mean KL vs the float model to reach (default 0.003)"),
    cl::init(0.003), cl::cat(category));
static cl::opt<double> mpMaxPromoted("mp-max-promoted",
    cl::desc("Mixed-precision cap: at most this percent of activations in int16 (default 50)"),
    cl::init(50), cl::cat(category));
static cl::opt<int> mpSeqs("mp-seqs",
    cl::desc("Calibration sequences used to measure sensitivity (default 4)"), cl::init(4),
    cl::cat(category));
static cl::opt<std::string> actGranularity("act-granularity",
    cl::desc("Scales of linear-layer outputs: channel (one per output channel, min-max; the "
             "default) or tensor (one per tensor, --calib-method); inputs are per tensor"),
    cl::init("channel"), cl::cat(category));
static cl::opt<std::string> reportPath("report",
    cl::desc("Write an accuracy report (JSON here, HTML beside it): per quantized tensor SQNR "
             "and cosine vs float, end-to-end perplexity, mean KL and top-1 agreement; both "
             "models run by the executor on --report-text"),
    cl::value_desc("file.json"), cl::cat(category));
static cl::opt<std::string> reportText("report-text",
    cl::desc("Evaluation data for --report (text, .ids or .npy; encoder-decoder: JSONL/TSV "
             "examples, which add greedy exact match; default: the --calib file)"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<int> reportSeqs("report-seqs",
    cl::desc("Sequences of --calib-len tokens evaluated by --report (default 16; "
             "encoder-decoder: examples, default all)"),
    cl::init(16), cl::cat(category));
static cl::opt<int> reportSkip("report-skip",
    cl::desc("Encoder-decoder --report: skip the first N examples of --report-text (e.g. the "
             "--calib-seqs lines calibration used, when both read one file)"),
    cl::init(0), cl::cat(category));
static cl::opt<std::string> overridesPath("quant-overrides",
    cl::desc("JSON file pinning activation precision by tensor-name glob and/or producing op: "
             "{\"format\": \"mu-quant-overrides\", \"overrides\": [{\"match\": "
             "\"model.norm\", \"precision\": \"int16\"}, {\"op\": \"glu\", \"precision\": "
             "\"float\"}]}"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<double> smoothQuant("smooth-quant",
    cl::desc("SmoothQuant with this alpha (0..1, e.g. 0.5): divide outlier activation channels "
             "by s_j = max|x_j|^a / max|w_j|^(1-a) and fold s_j into the next weights; "
             "calibrates twice (default 0: off)"),
    cl::init(0), cl::cat(category));
static cl::opt<bool> biasCorrection("bias-correction",
    cl::desc("With calibration data: add each quantized weight's expected output error on the "
             "calibration inputs, (W - Wq) E[x], to the layer's bias (creating one if needed)"),
    cl::cat(category));
static cl::opt<bool> actSymmetric("act-symmetric",
    cl::desc("Symmetric activations (zero point 0, narrow range); default asymmetric"),
    cl::cat(category));
static cl::opt<std::string> targetName("target",
    cl::desc("Deployment target, a shipped target file (targets/<name>/target.json): cpu (the "
             "default), cpu-x86, cpu-arm, hexagon-htp, intel-npu, amd-xdna. It sets the default "
             "--quant scheme and the encodings, checks every kernel against the target's ops and "
             "dtypes, and partitions what it cannot run onto the CPU (docs/targets.md)"),
    cl::init("cpu"), cl::cat(category));
static cl::opt<std::string> targetFile("target-file",
    cl::desc("Your own target description (JSON, schema in docs/targets.md; may \"extends\" a "
             "shipped one); replaces --target"),
    cl::value_desc("file"), cl::cat(category));
static cl::opt<bool> listTargets("list-targets",
    cl::desc("Print the shipped targets (or the --target-file) with their schemes and exit"),
    cl::cat(category));
static cl::opt<bool> noFallback("no-fallback",
    cl::desc("Ops the target cannot run are errors (all listed), even if the target allows CPU "
             "fallback"),
    cl::cat(category));
static cl::opt<int> costPrompt("cost-prompt",
    cl::desc("Prompt tokens of the cost estimate's prefill (TTFT; default 64)"), cl::init(64),
    cl::cat(category));
static cl::opt<int> costContext("cost-context",
    cl::desc("Cached tokens of the cost estimate's decode step (default 128)"), cl::init(128),
    cl::cat(category));
enum class Diagnostics { Text, Json };
static cl::opt<Diagnostics> diagnostics("diagnostics",
    cl::desc("How target violations and the partition summary are reported on stderr:"),
    cl::init(Diagnostics::Text),
    cl::values(clEnumValN(Diagnostics::Text, "text", "lines for people (default)"),
               clEnumValN(Diagnostics::Json, "json", "one JSON document (format mu-target-check)")),
    cl::cat(category));

static const char *overview = R"(mu-compile: compile a small language model checkpoint for NPUs and CPUs

  Reads an FP16 checkpoint -- ONNX (opset 13+) or safetensors with the
  Hugging Face config.json beside it -- imports it into the `mu` graph
  dialect, fuses what exporters emit (RMSNorm/LayerNorm, RoPE, grouped-query
  attention, SwiGLU/GELU, linear layers, tied embeddings) and writes the
  result.

EXAMPLES
  mu-compile model.onnx -o model.mub                    deployable artifact (mu-run)
  mu-compile model.onnx --emit=mlir --elide-weights     fused graph, readable
  mu-compile model.safetensors --emit=summary           what the model contains
  mu-compile model.onnx --emit=mlir -o model.mlir       re-parsable IR (mu-opt)
  mu-compile model.safetensors --quant=w8a16 --calib text.txt --report r.json
                                                        calibrated int8/int16 artifact + report
  mu-compile model.safetensors --quant=w8a8 --mixed-precision --calib text.txt
                                                        int8 with the most sensitive tensors in int16

Errors name the file and the offending node/tensor and exit with status 1;
output files are written to a temporary name and renamed only on success.
Docs: docs/user-guide.md, docs/quantization.md, docs/dialect.md, docs/model-config.md
)";

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
static void readConfigMetadata(llvm::StringRef input,
                               std::vector<std::pair<std::string, std::string>> &out,
                               std::string &architecture) {
  llvm::SmallString<256> p(configPath.empty() ? llvm::sys::path::parent_path(input)
                                              : llvm::StringRef(configPath));
  if (configPath.empty())
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
static std::shared_ptr<mu::target::Target> theTarget;
static const mu::target::SchemeRule *theRule = nullptr;

/// Loads the target, picks the scheme (the target's default unless --quant
/// names one it allows) and checks the options that the rules constrain.
static bool resolveTarget() {
  auto t = std::make_shared<mu::target::Target>();
  std::string error;
  bool ok = targetFile.empty() ? mu::target::loadBuiltinTarget(targetName, *t, error)
                               : mu::target::loadTargetFile(targetFile, *t, error);
  if (!ok) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return false;
  }
  if (!targetFile.empty() && targetName.getNumOccurrences()) {
    llvm::errs() << "mu-compile: error: give --target or --target-file, not both\n";
    return false;
  }
  mu::target::SchemeRequest request;
  if (quantScheme.getNumOccurrences())
    request.quant = schemeName(quantScheme);
  request.actSymmetric = actSymmetric;
  request.actChannel = actGranularity.getNumOccurrences() && actGranularity == "channel";
  request.weightBlock = weightBlock;
  theRule = mu::target::selectScheme(*t, request, error);
  if (!theRule) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return false;
  }
  for (QuantScheme s : {QuantScheme::None, QuantScheme::W8, QuantScheme::W8A8,
                        QuantScheme::W8A16, QuantScheme::W16A16})
    if (theRule->name == schemeName(s))
      quantScheme = s;
  theTarget = std::move(t);
  return true;
}

/// --list-targets: one block per target (the shipped ones, or --target-file).
static int printTargets() {
  std::vector<mu::target::Target> list;
  std::string error;
  if (!targetFile.empty()) {
    list.emplace_back();
    if (!mu::target::loadTargetFile(targetFile, list.back(), error)) {
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
static bool parseAdapterSpecs(std::vector<mu::SwappableAdapter> &out) {
  for (const std::string &spec : adapterSpecs) {
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
static int compileAdapterFile(const std::vector<mu::SwappableAdapter> &adapters) {
  if (adapters.size() != 1 || !inputPath.empty()) {
    llvm::errs() << "mu-compile: error: --adapter-base takes exactly one --adapter NAME=DIR and "
                    "no checkpoint\n";
    return 1;
  }
  const mu::SwappableAdapter &a = adapters.front();
  std::string out = outputPath.empty() ? a.name + ".mua" : outputPath.getValue();
  std::vector<uint8_t> bytes;
  std::string error;
  if (!mu::compileAdapterForBase(adapterBase, a.name, a.dir, a.scale, bytes, error)) {
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
  llvm::errs() << "wrote " << out << ": adapter '" << a.name << "' for " << adapterBase << "\n";
  return 0;
}

static bool calibrateModel(ModuleOp module, mu::MubOptions &opts) {
  bool weightOnly = quantScheme == QuantScheme::W8;
  if (weightBlock < 0) {
    llvm::errs() << "mu-compile: error: --weight-block must be positive\n";
    return false;
  }
  const char *scheme = weightOnly                          ? "w8"
                       : quantScheme == QuantScheme::W8A8  ? "w8a8"
                       : quantScheme == QuantScheme::W8A16 ? "w8a16"
                                                           : "w16a16";
  if (calibPath.empty() && calibStats.empty()) {
    llvm::errs() << "mu-compile: error: --quant=" << scheme
                 << " quantizes activations and needs calibration data: --calib FILE (text, "
                    ".ids or .npy) or --calib-stats FILE from an earlier run\n";
    return false;
  }
  mu::quant::PtqOptions po;
  po.activationBits = weightOnly ? 0 : quantScheme == QuantScheme::W8A8 ? 8 : 16;
  opts.weightBits = quantScheme == QuantScheme::W16A16 ? 16 : 8;
  po.gram = weightRounding == "gptq";
  if (weightRounding != "gptq" && weightRounding != "nearest") {
    llvm::errs() << "mu-compile: error: --weight-rounding must be gptq or nearest\n";
    return false;
  }
  po.symmetric = actSymmetric;
  if (actGranularity != "channel" && actGranularity != "tensor") {
    llvm::errs() << "mu-compile: error: --act-granularity must be channel or tensor\n";
    return false;
  }
  po.perChannelOutputs = actGranularity == "channel";
  if (const auto &a = theRule->activations) {
    // The target's encoding of activations.
    po.symmetric = a->encoding == mu::target::ActEncoding::IntSymmetric;
    po.unsignedActivations = a->encoding == mu::target::ActEncoding::UintAsymmetric;
    po.powerOfTwo = a->powerOfTwo;
    po.minRange = a->minRange;
    if (a->granularity == mu::target::Granularity::Tensor)
      po.perChannelOutputs = false;
  }
  std::string method = calibMethod.empty() ? (po.activationBits == 8 ? "percentile" : "minmax")
                                           : calibMethod.getValue();
  if (!mu::quant::parseRangeMethod(method, po.range.method)) {
    llvm::errs() << "mu-compile: error: unknown --calib-method '" << method
                 << "' (minmax, moving-average, percentile, entropy, mse)\n";
    return false;
  }
  if (!(calibPercentile > 50 && calibPercentile <= 100)) {
    llvm::errs() << "mu-compile: error: --calib-percentile must be in (50, 100]\n";
    return false;
  }
  po.range.percentile = calibPercentile;
  if (!mu::quant::parseCalibFormat(calibFormat, po.calibFormat)) {
    llvm::errs() << "mu-compile: error: unknown --calib-format '" << calibFormat
                 << "' (auto, text, ids, npy)\n";
    return false;
  }
  if (calibSeqs < 1 || calibLen < 2) {
    llvm::errs() << "mu-compile: error: --calib-seqs must be >= 1 and --calib-len >= 2\n";
    return false;
  }
  po.calibPath = calibPath;
  po.calibCount = calibSeqs;
  po.calibLength = calibLen;
  po.statsPath = calibStats;
  po.modelSha256 = opts.sourceSha256;
  po.progress = isatty(2);
  if (smoothQuant < 0 || smoothQuant > 1) {
    llvm::errs() << "mu-compile: error: --smooth-quant alpha must be in [0, 1]\n";
    return false;
  }
  if (smoothQuant > 0 && weightOnly) {
    llvm::errs() << "mu-compile: error: --smooth-quant needs an activation scheme\n";
    return false;
  }
  po.smoothAlpha = smoothQuant;
  if (!overridesPath.empty()) {
    auto buf = llvm::MemoryBuffer::getFile(overridesPath);
    std::string err;
    if (!buf) {
      llvm::errs() << "mu-compile: error: cannot read '" << overridesPath << "'\n";
      return false;
    }
    if (!mu::quant::parseOverrides((*buf)->getBuffer().str(), po.overrides, err)) {
      llvm::errs() << "mu-compile: error: " << overridesPath << ": " << err << "\n";
      return false;
    }
  }
  po.mixedPrecision = mixedPrecision;
  po.mpTargetKl = mpTargetKl;
  po.mpMaxPromoted = mpMaxPromoted;
  po.mpSequences = mpSeqs;
  if (mixedPrecision && po.activationBits != 8) {
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
  opts.biasCorrection = biasCorrection;
  llvm::erase_if(opts.config, [](auto &kv) { return kv.first == "mu.quant"; });
  opts.quantScheme = scheme;
  opts.weightBlock = weightBlock;
  std::string desc = std::string(scheme) + (po.gram ? ", gptq" : ", nearest") + " weights" +
                     (biasCorrection ? ", bias correction" : "");
  if (!weightOnly)
    desc += std::string(", ") + method + (po.symmetric ? " symmetric" : " asymmetric") +
            (po.unsignedActivations ? " unsigned" : "") + (po.powerOfTwo ? " power-of-two" : "") +
            " activations";
  if (stats->smoothAlpha > 0)
    desc += llvm::formatv(", smoothquant alpha {0}", stats->smoothAlpha).str();
  desc += ", calibrated on " + stats->source;
  if (mixedPrecision) {
    std::string promoted;
    for (auto &[name, r] : *ranges)
      if (r.bits == 16)
        promoted += (promoted.empty() ? "" : ",") + name;
    opts.config.emplace_back("mu.quant.int16_activations", promoted);
  }
  opts.config.emplace_back("mu.quant", desc);
  return true;
}

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "mu-compile " << MU_VERSION_STRING << " (" << MU_GIT_REVISION
       << "), MLIR " << LLVM_VERSION_STRING << "\n";
  });
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, overview);
  if (compileThreads < 0) {
    llvm::errs() << "mu-compile: error: --calib-threads must be positive\n";
    return 1;
  }
  mu::rt::setDefaultThreads(compileThreads);
  if (listTargets)
    return printTargets();
  std::vector<mu::SwappableAdapter> swappable;
  if (!parseAdapterSpecs(swappable))
    return 1;
  if (!adapterBase.empty())
    return compileAdapterFile(swappable);
  if (inputPath.empty()) {
    llvm::errs() << "mu-compile: error: no input checkpoint (see --help)\n";
    return 1;
  }
  if (!resolveTarget())
    return 1;

  DialectRegistry registry;
  registry.insert<mu::MuDialect, func::FuncDialect>();
  MLIRContext ctx(registry);
  ctx.loadAllAvailableDialects();

  std::string error;
  if (!adapterOut.empty() && swappable.empty()) {
    llvm::errs() << "mu-compile: error: --adapter-out needs at least one --adapter NAME=DIR\n";
    return 1;
  }
  std::string adapterDir = loraSpec;
  double adapterScale = 1.0;
  if (size_t colon = adapterDir.rfind(':'); colon != std::string::npos &&
                                            !llvm::sys::fs::is_directory(adapterDir)) {
    llvm::StringRef num = llvm::StringRef(adapterDir).substr(colon + 1);
    if (num.getAsDouble(adapterScale) || !std::isfinite(adapterScale)) {
      llvm::errs() << "mu-compile: error: --lora " << loraSpec << ": '" << num
                   << "' is not a scale (expected DIR or DIR:SCALE, e.g. page:0.5)\n";
      return 1;
    }
    adapterDir.resize(colon);
  }
  OwningOpRef<ModuleOp> module =
      mu::importModel(ctx, inputPath, configPath, error, adapterDir, adapterScale, swappable);
  if (!module) {
    llvm::errs() << "mu-compile: error: " << error << "\n";
    return 1;
  }

  if (!noFuse) {
    std::string diag;
    ScopedDiagnosticHandler handler(&ctx, [&](Diagnostic &d) {
      llvm::raw_string_ostream(diag) << d.getLocation() << ": " << d.str() << "\n";
      return success();
    });
    PassManager pm(&ctx);
    mu::buildFuseTransformerPipeline(pm);
    if (failed(pm.run(*module))) {
      llvm::errs() << "mu-compile: error: " << inputPath
                   << ": the fusion pipeline failed (compiler bug): " << diag;
      return 1;
    }
  }

  // Emission kind: --emit, else from the -o extension, else a .mub artifact
  // named after the input.
  Emit kind = Emit::Mub;
  if (emit.getNumOccurrences())
    kind = emit;
  else if (llvm::StringRef(outputPath).ends_with(".mlir"))
    kind = Emit::Mlir;
  else if (llvm::StringRef(outputPath).ends_with(".mlirbc"))
    kind = Emit::MlirBytecode;
  std::string out = outputPath;
  if (kind == Emit::QdqOnnx && out.empty()) {
    llvm::errs() << "mu-compile: error: --emit=qdq-onnx needs -o DIR (the models' directory)\n";
    return 1;
  }
  if (out.empty())
    out = kind == Emit::Mub ? (llvm::sys::path::stem(inputPath) + ".mub").str() : "-";

  mu::MubArtifact mub;
  std::string floatTargetText; // --report: partition and cost, for the HTML page
  OwningOpRef<ModuleOp> floatCopy; // --report: the model before quantization
  mu::MubOptions floatOpts;
  // --emit=summary with a target: the graph summary, then the compiled
  // program's partition and cost estimate on that target.
  const bool targetSummary =
      kind == Emit::Summary && (targetName.getNumOccurrences() || !targetFile.empty());
  std::string summaryText, targetJson;
  std::string qdqArchitecture; // --emit=qdq-onnx: sidecar metadata and files
  std::vector<std::pair<std::string, std::string>> qdqConfig;
  std::vector<std::string> qdqTokenizerFiles;
  int qdqBos = -1;
  std::vector<int> qdqEos;
  int64_t usedChunk = 0, usedMaxCtx = maxCtx > 0 ? int64_t(maxCtx) : int64_t(maxSeq);
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
      if (!noKvCache)
        pm.addPass(mu::createKvCache());
      if (failed(pm.run(*module))) {
        llvm::errs() << "mu-compile: error: " << inputPath << ": " << diag;
        return 1;
      }
    }
    mu::MubOptions opts;
    opts.maxSeq = maxSeq;
    opts.maxCtx = maxCtx > 0 ? int(maxCtx) : int(maxSeq);
    opts.target = theTarget->name;
    opts.targetRules = theTarget;
    opts.targetScheme = theRule->name;
    opts.noFallback = noFallback;
    opts.targetCheck = std::make_shared<mu::target::TargetCheckResult>();
    // Static shapes: the target's chunk and context limit unless overridden.
    {
      int64_t chunk = prefillChunk >= 0 ? int64_t(prefillChunk)
                      : theTarget->staticShapes
                          ? (theTarget->prefillChunk > 0 ? theTarget->prefillChunk : int64_t(maxSeq))
                          : 0;
      if (noKvCache) {
        if (prefillChunk > 0) {
          llvm::errs() << "mu-compile: error: --prefill-chunk needs the cached programs of a "
                          "KV-cache artifact (drop --no-kv-cache)\n";
          return 1;
        }
        chunk = 0;
      }
      if (chunk > 0 && theTarget->maxContext > 0 && opts.maxCtx > theTarget->maxContext) {
        if (maxCtx > 0) {
          llvm::errs() << "mu-compile: error: --max-ctx " << maxCtx << " exceeds target '"
                       << theTarget->name << "' max_context " << theTarget->maxContext << "\n";
          return 1;
        }
        opts.maxCtx = theTarget->maxContext;
      }
      if (chunk > opts.maxCtx) {
        if (prefillChunk > 0) {
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
    opts.embedAdapters = adapterOut.empty();
    if (kind == Emit::QdqOnnx && !swappable.empty()) {
      llvm::errs() << "mu-compile: error: --adapter: QDQ ONNX has no swappable side branches "
                      "(ONNX Runtime's multi-LoRA is a GenAI feature); export one model per "
                      "adapter with --lora DIR\n";
      return 1;
    }
    opts.config.emplace_back("mu.target.scheme", theRule->name);
    if (!theRule->mode.empty())
      opts.config.emplace_back("mu.target.mode", theRule->mode);
    opts.sourceSha256 = fileSha256(inputPath);
    if (quantScheme == QuantScheme::W8) {
      opts.weightBits = 8;
      opts.weightBlock = weightBlock;
      opts.quantScheme = "w8";
      opts.config.emplace_back("mu.quant", weightBlock > 0 ? "w8 block " + std::to_string(weightBlock) : "w8");
    }
    readConfigMetadata(inputPath, opts.config, opts.architecture);
    std::string tokPath = tokenizerPath;
    if (tokPath.empty()) {
      llvm::SmallString<256> p(llvm::sys::path::parent_path(inputPath));
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
    if (weightBlock < 0 || (weightBlock > 0 && quantScheme == QuantScheme::None)) {
      llvm::errs() << "mu-compile: error: --weight-block needs --quant and a positive size\n";
      return 1;
    }
    if (maxSeq < 1) {
      llvm::errs() << "mu-compile: error: --max-seq must be positive\n";
      return 1;
    }
    if (quantScheme == QuantScheme::W8A8 || quantScheme == QuantScheme::W8A16 ||
        quantScheme == QuantScheme::W16A16 ||
        (quantScheme == QuantScheme::W8 && (!calibPath.empty() || !calibStats.empty()))) {
      if (!calibrateModel(*module, opts))
        return 1;
    } else if (!calibPath.empty() || !calibStats.empty()) {
      llvm::errs() << "mu-compile: error: --calib/--calib-stats need --quant (w8 uses them "
                      "for GPTQ weight rounding; w8a8, w8a16, w16a16 also for activations)\n";
      return 1;
    }
    if (!reportPath.empty()) {
      // Without quantization a report still measures a target whose float
      // regions run in FP16/BF16 against the FP32 model.
      if (quantScheme == QuantScheme::None &&
          theTarget->floatPrecision == mu::target::FloatPrecision::F32) {
        llvm::errs() << "mu-compile: error: --report compares a quantized (or reduced-precision "
                        "target) artifact with the FP32 model: pass --quant\n";
        return 1;
      }
      if (quantScheme == QuantScheme::None)
        opts.config.emplace_back(
            "mu.quant", std::string("none, ") +
                            mu::target::floatPrecisionName(theTarget->floatPrecision) +
                            " float regions (" + theTarget->name + ")");
      if (reportText.empty() && calibPath.empty()) {
        llvm::errs() << "mu-compile: error: --report needs evaluation data: --report-text FILE "
                        "(or --calib FILE)\n";
        return 1;
      }
      if (reportSeqs < 1 || reportSkip < 0) {
        llvm::errs() << "mu-compile: error: --report-seqs must be >= 1 and --report-skip >= 0\n";
        return 1;
      }
      floatCopy = OwningOpRef<ModuleOp>(cast<ModuleOp>((*module)->clone()));
      floatOpts = opts;
    }
    bool prepared = mu::prepareMub(*module, opts, mub, error);
    const mu::target::TargetCheckResult &check = *opts.targetCheck;
    if (diagnostics == Diagnostics::Json && !check.target.empty())
      llvm::errs() << check.toJson();
    if (!prepared) {
      if (!check.violations.empty() && !check.fallback) {
        if (diagnostics == Diagnostics::Text)
          llvm::errs() << "mu-compile: error: " << inputPath << ": " << check.violations.size()
                       << " violation(s) of target '" << check.target
                       << "' (CPU fallback " << (noFallback ? "disabled by --no-fallback"
                                                            : "not allowed by the target")
                       << "):\n" << error;
        return 1;
      }
      llvm::errs() << "mu-compile: error: " << inputPath << ": " << error << "\n";
      return 1;
    }
    if (diagnostics == Diagnostics::Text && !targetSummary &&
        (theTarget->kind == "npu" || check.cpu.ops > 0))
      llvm::errs() << check.summary();
    // The cost estimate: in the summary and the report.
    mu::target::Target host;
    std::string costError;
    (void)mu::target::loadBuiltinTarget("cpu-x86", host, costError);
    mu::CostReport cost;
    bool costed = costPrompt > 0 && costContext > 0 &&
                  mu::estimateCost(*module, *theTarget, host, costPrompt, costContext, cost,
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
    q.emulateFloat = qdqEmulateFloat;
    if (qdqExternalData)
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
      llvm::errs() << "mu-compile: error: " << inputPath << ": " << error << "\n";
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
      if (elideWeights)
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
  if (kind == Emit::Mub && !adapterOut.empty()) {
    if (std::error_code ec = llvm::sys::fs::create_directories(adapterOut)) {
      llvm::errs() << "mu-compile: error: --adapter-out " << adapterOut << ": " << ec.message()
                   << "\n";
      return 1;
    }
    for (const mu::AdapterBlob &a : mub.adapters) {
      std::vector<uint8_t> bytes;
      if (!mu::buildAdapterFile(mub.artifactId, mub.loraSites, a, bytes, error)) {
        llvm::errs() << "mu-compile: error: " << error << "\n";
        return 1;
      }
      llvm::SmallString<256> path(adapterOut.getValue());
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
    req.jsonPath = reportPath;
    llvm::StringRef jp(reportPath);
    req.htmlPath = (jp.ends_with(".json") ? jp.drop_back(5).str() : jp.str()) + ".html";
    req.textPath = reportText.empty() ? calibPath.getValue() : reportText.getValue();
    (void)mu::quant::parseCalibFormat(calibFormat, req.format);
    if (!reportText.empty())
      req.format = mu::quant::CalibFormat::Auto;
    req.sequences = reportSeqs;
    req.skip = reportSkip;
    bool isEncoderDecoder = floatCopy->lookupSymbol("encode") != nullptr;
    if (isEncoderDecoder && !reportSeqs.getNumOccurrences())
      req.sequences = 0; // every example
    req.length = calibLen;
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
