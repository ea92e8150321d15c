//===- mu-compile.cpp - the mu-compile driver -----------------------------===//
///
/// \file
/// Checkpoint in, compiled model out: parses the command line into
/// mu::driver::CompileOptions and runs mu::driver::compile (lib/Driver).
///
//===----------------------------------------------------------------------===//
#include "mu/Driver/Compile.h"
#include "mu/Version.h"
#include "llvm/Config/llvm-config.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/raw_ostream.h"

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

using mu::driver::Emit;
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
static cl::opt<std::string> compileTo("compile-to",
    cl::desc("Stop after a phase and write its module: import (the imported graph), fuse "
             "(the fused graph), kernels (the planned kernel programs, MLIR text). import and "
             "fuse are MLIR bytecode unless -o ends in .mlir, and resume with --compile-from"),
    cl::value_desc("phase"), cl::cat(category));
static cl::opt<std::string> compileFrom("compile-from",
    cl::desc("Resume from a module written by --compile-to=import|fuse (instead of a "
             "checkpoint; config.json and tokenizer.json come from the checkpoint it names)"),
    cl::value_desc("file"), cl::cat(category));
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
using mu::driver::QuantScheme;
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
using mu::driver::Diagnostics;
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

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::SetVersionPrinter([](llvm::raw_ostream &os) {
    os << "mu-compile " << MU_VERSION_STRING << " (" << MU_GIT_REVISION
       << "), MLIR " << LLVM_VERSION_STRING << "\n";
  });
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv, overview);
  mu::driver::CompileOptions o;
  o.inputPath = inputPath;
  o.outputPath = outputPath;
  o.configPath = configPath;
  o.emit = emit;
  o.loraSpec = loraSpec;
  o.adapterSpecs.assign(adapterSpecs.begin(), adapterSpecs.end());
  o.adapterOut = adapterOut;
  o.adapterBase = adapterBase;
  o.qdqEmulateFloat = qdqEmulateFloat;
  o.qdqExternalData = qdqExternalData;
  o.compileTo = compileTo;
  o.compileFrom = compileFrom;
  o.noFuse = noFuse;
  o.elideWeights = elideWeights;
  o.compileThreads = compileThreads;
  o.maxSeq = maxSeq;
  o.tokenizerPath = tokenizerPath;
  o.noKvCache = noKvCache;
  o.prefillChunk = prefillChunk;
  o.maxCtx = maxCtx;
  o.quantScheme = quantScheme;
  o.weightBlock = weightBlock;
  o.calibPath = calibPath;
  o.calibFormat = calibFormat;
  o.calibSeqs = calibSeqs;
  o.calibLen = calibLen;
  o.calibStats = calibStats;
  o.calibMethod = calibMethod;
  o.calibPercentile = calibPercentile;
  o.weightRounding = weightRounding;
  o.mixedPrecision = mixedPrecision;
  o.mpTargetKl = mpTargetKl;
  o.mpMaxPromoted = mpMaxPromoted;
  o.mpSeqs = mpSeqs;
  o.actGranularity = actGranularity;
  o.reportPath = reportPath;
  o.reportText = reportText;
  o.reportSeqs = reportSeqs;
  o.reportSkip = reportSkip;
  o.overridesPath = overridesPath;
  o.smoothQuant = smoothQuant;
  o.biasCorrection = biasCorrection;
  o.actSymmetric = actSymmetric;
  o.targetName = targetName;
  o.targetFile = targetFile;
  o.listTargets = listTargets;
  o.noFallback = noFallback;
  o.costPrompt = costPrompt;
  o.costContext = costContext;
  o.diagnostics = diagnostics;
  o.emitGiven = emit.getNumOccurrences() > 0;
  o.targetNameGiven = targetName.getNumOccurrences() > 0;
  o.quantSchemeGiven = quantScheme.getNumOccurrences() > 0;
  o.actGranularityGiven = actGranularity.getNumOccurrences() > 0;
  o.reportSeqsGiven = reportSeqs.getNumOccurrences() > 0;
  return mu::driver::compile(o);
}
