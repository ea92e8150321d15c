//===- Target.h - deployment target descriptions (data) ---------*- C++ -*-===//
///
/// \file
/// A target is data: a JSON file (format `mu-target`, schema in
/// docs/targets.md) that says which ops and dtypes a device runs, how it
/// encodes quantized activations and weights for each quantization scheme
/// it accepts, what float means on it (FP32, FP16, BF16), its shape, memory
/// and packing rules and its throughput. The shipped targets live in
/// `targets/<name>/target.json` and are compiled into the tool; a user's
/// own is read with `--target-file`. Reading is strict: an unknown key, a
/// wrong type or a value out of range is an error naming the file and the
/// key path (e.g. `quantization.schemes.w8a8.activations.bits`).
///
//===----------------------------------------------------------------------===//
#ifndef MU_TARGET_TARGET_H
#define MU_TARGET_TARGET_H

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mu {
namespace target {

/// How integer activations encode reals.
enum class ActEncoding {
  IntAsymmetric,  ///< signed, full range, integer zero point (CPU default)
  IntSymmetric,   ///< signed, zero point 0, narrow range [-(2^(b-1)-1), 2^(b-1)-1]
  UintAsymmetric, ///< unsigned [0, 2^b-1], integer zero point (QNN HTP)
};
const char *actEncodingName(ActEncoding e);

enum class Granularity { Tensor, Channel };

struct ActivationRule {
  int bits = 8; ///< 8 or 16
  ActEncoding encoding = ActEncoding::IntAsymmetric;
  Granularity granularity = Granularity::Tensor; ///< Channel: linear outputs may be per channel
  bool powerOfTwo = false;                       ///< scales must be 2^k
  double minRange = 0; ///< the real range [lo, hi] is widened to at least this
};

struct WeightRule {
  int bits = 8;                                   ///< 8 or 16
  Granularity granularity = Granularity::Channel; ///< per output channel, or one scale
  std::vector<int64_t> blockSizes; ///< block-wise scales allowed with these sizes (empty: not)
  bool powerOfTwo = false;
};

/// One quantization scheme the target accepts (`--quant` name).
struct SchemeRule {
  std::string name; ///< w8, w8a8, w8a16, w16a16
  std::string mode; ///< vendor's name for it (e.g. "XINT8", "A16W8"), or ""
  std::optional<ActivationRule> activations; ///< none: weight-only (float activations)
  WeightRule weights;
};

/// Fixed output encoding of an op's quantized result (e.g. sigmoid at 16
/// bits: scale 2^-16, zero point 0).
struct FixedEncoding {
  std::string op; ///< muk op name: sigmoid, tanh, softmax
  int bits = 16;
  bool isUnsigned = true;
  double scale = 0;
  int64_t zeroPoint = 0;
};

/// Allowed element-type classes per operand role of one op. Classes:
/// float (the target's float precision), i8, u8, i16, u16, i32, i64, bool.
struct OpRule {
  std::vector<std::string> inputs, weights, outputs;
};

enum class FloatPrecision { F32, F16, BF16 };
const char *floatPrecisionName(FloatPrecision p);

struct Performance {
  double clockHz = 0;
  std::map<std::string, double> macsPerCycle; ///< by dtype class: i8, i16, float
  double bandwidthBytesPerS = 0;
  /// Sustained elements per cycle of ops that are not multiply-accumulates
  /// (norms, activations, softmax, quantize); 0: the float MAC rate.
  double elementwisePerCycle = 0;
  /// Sustained fraction of the peak compute and bandwidth (1: roofline).
  double computeEfficiency = 1, memoryEfficiency = 1;
};

struct Target {
  std::string name, description, file;
  std::string kind;         ///< cpu or npu
  bool cpuFallback = false; ///< ops it cannot run may go to the host CPU
  std::string defaultScheme;
  std::vector<SchemeRule> schemes;
  FloatPrecision floatPrecision = FloatPrecision::F32;
  std::map<std::string, OpRule> ops; ///< by muk op name
  std::vector<FixedEncoding> fixedEncodings;
  bool staticShapes = false;
  int64_t prefillChunk = 0, decodeStep = 1, maxContext = 0, maxRank = 8, innerAlignment = 1;
  std::string weightLayout = "row-major"; ///< or "i8n16k4" (include/mu/runtime/Packing.h)
  int64_t onChipBytes = 0;
  Performance performance;
  /// Where each rule comes from: key path -> citation (docs/targets.md).
  std::map<std::string, std::string> sources;

  const SchemeRule *scheme(const std::string &name) const;
  /// "w8a8, w8a16" (for messages).
  std::string schemeList() const;
};

/// One rule of the target an op of a kernel program breaks.
struct TargetViolation {
  std::string program, node, op, detail;
  /// "'<node>' (<op>, @<program>): <detail>".
  std::string message() const;
};

/// What checking a compiled program against a target found: every
/// violation, and the partition between the target and the host CPU.
struct TargetCheckResult {
  std::string target;
  bool fallback = false;
  struct Counts {
    int64_t ops = 0;
    double macs = 0; ///< of linear/matmul ops per call, dynamic dims counted as 1
  } onTarget, cpu;
  int64_t boundaries = 0; ///< values produced on one device and read on the other
  std::vector<TargetViolation> violations;
  /// The partition summary for people (several lines).
  std::string summary() const;
  /// Violations and partition as JSON (format mu-target-check).
  std::string toJson() const;
};

/// What a compile asks of a target's schemes (the options they constrain).
struct SchemeRequest {
  std::string quant;                  ///< scheme name; "" = the target's default
  bool actSymmetric = false;          ///< symmetric activations asked for
  bool actChannel = false;            ///< per-channel activation outputs asked for explicitly
  int64_t weightBlock = 0;            ///< block-wise weights of this size (0: none)
};

/// The scheme `request` selects, or null with `error` (naming the target
/// file) when the target does not allow it or one of the options.
const SchemeRule *selectScheme(const Target &target, const SchemeRequest &request,
                               std::string &error);

/// The target and its schemes for people (`mu-compile --list-targets`).
std::string describeTarget(const Target &target);

/// Parses a target file's text; `file` names it in errors.
bool parseTarget(const std::string &text, const std::string &file, Target &out, std::string &error);

/// Reads a target file from disk.
bool loadTargetFile(const std::string &path, Target &out, std::string &error);

/// A target shipped with the compiler, by name (targets/<name>/target.json).
bool loadBuiltinTarget(const std::string &name, Target &out, std::string &error);

/// Names of the shipped targets, sorted.
std::vector<std::string> builtinTargetNames();

} // namespace target
} // namespace mu

#endif // MU_TARGET_TARGET_H
