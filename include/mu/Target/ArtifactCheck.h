//===- ArtifactCheck.h - a written .mub against its target file -*- C++ -*-===//
///
/// \file
/// Independent of the compiler's own check (mu-check-target runs on the IR
/// before serialization), this reads the bytes a `.mub` actually holds and
/// verifies every tensor and instruction against a target description: the
/// target name and scheme recorded in the artifact, every quantized
/// activation's storage type, zero points, granularity and power-of-two
/// scales, every quantized weight's bits, narrow range, granularity and
/// block size, packed layouts only where the target packs, the declared
/// target numerics, and every instruction placed on the target against the
/// target's op table. Used by `mu-check`.
///
//===----------------------------------------------------------------------===//
#ifndef MU_TARGET_ARTIFACTCHECK_H
#define MU_TARGET_ARTIFACTCHECK_H

#include "mu/Target/Target.h"
#include "mu/runtime/Runtime.h"

#include <string>
#include <vector>

namespace mu {
namespace target {

struct ArtifactCheckStats {
  int64_t tensors = 0, quantized = 0, instructions = 0, onCpu = 0;
};

/// Appends one line per problem to `problems` (empty: the artifact obeys
/// `target`); `scheme` overrides the scheme recorded in the artifact.
void checkArtifact(const rt::Model &model, const Target &target, const std::string &scheme,
                   std::vector<std::string> &problems, ArtifactCheckStats &stats);

} // namespace target
} // namespace mu

#endif // MU_TARGET_ARTIFACTCHECK_H
