//===- Compile.h - the compile pipeline as a library ----------*- C++ -*-===//
///
/// \file
/// What `mu-compile` does, callable from a build pipeline: import (ONNX or
/// safetensors + config.json, LoRA merge) -> fuse -> KV-cache programs ->
/// calibrate -> quantize -> target legalization (check, partition,
/// static shapes) -> plan -> emit (.mub, QDQ ONNX, MLIR, summary). The tool
/// is a thin main that fills CompileOptions from its command line.
///
//===----------------------------------------------------------------------===//
#ifndef MU_DRIVER_COMPILE_H
#define MU_DRIVER_COMPILE_H

#include <string>
#include <vector>

namespace mu {
namespace driver {

enum class Emit { Mub, QdqOnnx, Kernels, Mlir, MlirBytecode, Summary };
enum class QuantScheme { None, W8, W8A8, W8A16, W16A16 };
enum class Diagnostics { Text, Json };

/// One field per `mu-compile` option, same defaults (docs/user-guide.md).
struct CompileOptions {
  /// <model.onnx | model.safetensors>
  std::string inputPath{};
  /// Output file (default: <input name>.mub, or stdout for text emissions)
  std::string outputPath{};
  /// config.json for a safetensors checkpoint (default: next to it)
  std::string configPath{};
  /// What to produce (default: from the -o extension, else mub):
  Emit emit = Emit::Mub;
  /// PEFT LoRA adapter directory (adapter_config.json + adapter_model.safetensors) to merge ...
  std::string loraSpec{};
  /// Swappable PEFT LoRA adapter NAME=DIR[:SCALE] (repeatable): the base weights are ...
  std::vector<std::string> adapterSpecs{};
  /// Write each --adapter as DIR/NAME.mua (bound to this base artifact) instead of embedding it
  std::string adapterOut{};
  /// Compile --adapter NAME=DIR against an existing base artifact (its LoRA sites) into -o ...
  std::string adapterBase{};
  /// --emit=qdq-onnx: write the target's FP16/BF16 rounding as Cast pairs, so ONNX ...
  bool qdqEmulateFloat = false;
  /// --emit=qdq-onnx: store the weights in <model>.onnx.data (ONNX external data) whatever ...
  bool qdqExternalData = false;
  /// Skip the fusion pipeline: emit the graph as imported
  bool noFuse = false;
  /// Print weight blobs as placeholders (readable, not re-parsable)
  bool elideWeights = false;
  /// Threads for the executor runs inside the compiler (calibration, GPTQ, the accuracy ...
  int compileThreads = 0;
  /// Largest sequence the artifact accepts per call (plans the arena; default 512)
  int maxSeq = 512;
  /// tokenizer.json to embed (default: next to the input, if present)
  std::string tokenizerPath{};
  /// Do not add cached prefill/decode programs to the artifact
  bool noKvCache = false;
  /// Static-shape cached programs (mu-static-shapes): prefill takes N tokens per call (a ...
  int prefillChunk = -1;
  /// KV-cache capacity in tokens (default: --max-seq)
  int maxCtx = 0;
  /// Post-training quantization scheme (default: none):
  QuantScheme quantScheme = QuantScheme::None;
  /// One weight scale per block of N input elements (32, 64, ...; 0 = per output channel, ...
  int weightBlock = 0;
  /// Calibration data: text (tokenized with the model's tokenizer), token ids ...
  std::string calibPath{};
  /// How to read --calib: auto (by extension), text, ids, npy (default: auto)
  std::string calibFormat = "auto";
  /// Calibration sequences cut from --calib (default 32)
  int calibSeqs = 32;
  /// Tokens per calibration sequence, BOS first (default 256)
  int calibLen = 256;
  /// With --calib: save the collected statistics here (JSON); without: load them and skip ...
  std::string calibStats{};
  /// Activation range method: minmax, moving-average, percentile, entropy, mse (default: ...
  std::string calibMethod{};
  /// Percentile kept by --calib-method=percentile (default 99.99)
  double calibPercentile = 99.99;
  /// With calibration data: gptq (default; error-compensating rounding using the layer ...
  std::string weightRounding = "gptq";
  /// With --quant=w8a8: measure each activation's effect on the output (simulated on ...
  bool mixedPrecision = false;
  /// Mixed-precision budget: mean KL vs the float model to reach (default 0.003)
  double mpTargetKl = 0.003;
  /// Mixed-precision cap: at most this percent of activations in int16 (default 50)
  double mpMaxPromoted = 50;
  /// Calibration sequences used to measure sensitivity (default 4)
  int mpSeqs = 4;
  /// Scales of linear-layer outputs: channel (one per output channel, min-max; the default) ...
  std::string actGranularity = "channel";
  /// Write an accuracy report (JSON here, HTML beside it): per quantized tensor SQNR and ...
  std::string reportPath{};
  /// Evaluation data for --report (text, .ids or .npy; encoder-decoder: JSONL/TSV examples, ...
  std::string reportText{};
  /// Sequences of --calib-len tokens evaluated by --report (default 16; encoder-decoder: ...
  int reportSeqs = 16;
  /// Encoder-decoder --report: skip the first N examples of --report-text (e.g. the ...
  int reportSkip = 0;
  /// JSON file pinning activation precision by tensor-name glob and/or producing op: ...
  std::string overridesPath{};
  /// SmoothQuant with this alpha (0..1, e.g. 0.5): divide outlier activation channels by ...
  double smoothQuant = 0;
  /// With calibration data: add each quantized weight's expected output error on the ...
  bool biasCorrection = false;
  /// Symmetric activations (zero point 0, narrow range); default asymmetric
  bool actSymmetric = false;
  /// Deployment target, a shipped target file (targets/<name>/target.json): cpu (the ...
  std::string targetName = "cpu";
  /// Your own target description (JSON, schema in docs/targets.md; may "extends" a shipped ...
  std::string targetFile{};
  /// Print the shipped targets (or the --target-file) with their schemes and exit
  bool listTargets = false;
  /// Ops the target cannot run are errors (all listed), even if the target allows CPU fallback
  bool noFallback = false;
  /// Prompt tokens of the cost estimate's prefill (TTFT; default 64)
  int costPrompt = 64;
  /// Cached tokens of the cost estimate's decode step (default 128)
  int costContext = 128;
  /// How target violations and the partition summary are reported on stderr:
  Diagnostics diagnostics = Diagnostics::Text;
  /// Stop after a phase and write its module (import, fuse: the mu graph
  /// for --compile-from; kernels: the planned muk programs, MLIR text).
  std::string compileTo;
  /// Resume from a module saved by --compile-to=import|fuse (instead of a
  /// checkpoint); the checkpoint it names supplies config and tokenizer.
  std::string compileFrom;
  /// Options given explicitly (their defaults depend on others).
  bool emitGiven = false, targetNameGiven = false, quantSchemeGiven = false;
  bool actGranularityGiven = false, reportSeqsGiven = false;
};

/// Runs the pipeline for `options`. Errors and the target summary go to
/// stderr (llvm::errs()), named by file, node and tensor; outputs are
/// written to a temporary name and renamed only on success. Returns the
/// exit status: 0 on success, 1 on an error.
int compile(const CompileOptions &options);

} // namespace driver
} // namespace mu

#endif // MU_DRIVER_COMPILE_H
