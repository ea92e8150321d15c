//===- QdqCheck.h - provider-convention rules on a QDQ ONNX graph -*- C++ -*-===//
///
/// \file
/// Checks an ONNX model against the QDQ conventions vendor execution
/// providers expect (docs/qdq-onnx.md lists each rule and its source), and,
/// given a target, against that target's encodings:
///
///   weights-int-dq        integer initializers feed only DequantizeLinear
///   dq-single-consumer    a DQ output has one consumer and is no graph output
///   q-feeds-dq            a Q output reaches only DQs (through integer data
///                         movement) and is no graph output
///   bias-int32            an int32 DQ (bias) has zero point 0 and scale
///                         s_in * s_w of the MatMul it is added to
///   qdq-16bit-domain      16-bit Q/DQ in com.microsoft below opset 21
///   no-qdq-data-movement  no DQ -> Reshape/Transpose/... -> Q with one encoding
///   target-activations    activation Q/DQ: the scheme's bits, signedness,
///                         zero point 0 if symmetric, per-tensor, power of two
///   target-weights        weight DQ: the scheme's bits, symmetric, narrow
///                         range, granularity, power-of-two scales
///   target-fixed-encoding Sigmoid/Tanh/Softmax outputs use the fixed encoding
///
//===----------------------------------------------------------------------===//
#ifndef MU_EXPORT_QDQCHECK_H
#define MU_EXPORT_QDQCHECK_H

#include "mu/Target/Target.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mu {

struct QdqViolation {
  std::string rule, node, message;
};

struct QdqCheckResult {
  std::string file;
  int64_t nodes = 0, quantizeNodes = 0, dequantizeNodes = 0, hostNodes = 0;
  std::vector<QdqViolation> violations;
  /// One line per violation ("FILE: rule: node: message"), then a count.
  std::string summary() const;
  std::string toJson() const;
};

/// Checks `path` (an .onnx file). `target`/`scheme` (may be null/empty)
/// add the target-* rules. Returns false only if the file cannot be read.
bool checkQdqOnnx(const std::string &path, const target::Target *target,
                  const std::string &scheme, QdqCheckResult &result, std::string &error);

} // namespace mu

#endif // MU_EXPORT_QDQCHECK_H
