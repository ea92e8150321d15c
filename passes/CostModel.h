//===- CostModel.h - per-op cost estimate on a target -----------*- C++ -*-===//
///
/// \file
/// Estimates, from the planned kernel programs and a target's throughput
/// and bandwidth, what each op costs on the device: multiply-accumulates,
/// bytes moved (weights streamed from DRAM, the KV cache read, activations
/// that do not fit the on-chip memory), and cycles as the larger of compute
/// time and memory time (the roofline rule Arm Vela uses per layer). Per
/// program it sums to a time: the prefill of a prompt (time to first
/// token) and one decode step at a context length (tokens/s). Ops placed
/// on the CPU are costed with the host CPU's figures (the `cpu-x86` file)
/// plus the transfers at the boundaries. What it ignores is in
/// docs/targets.md.
///
//===----------------------------------------------------------------------===//
#ifndef MU_PASSES_COSTMODEL_H
#define MU_PASSES_COSTMODEL_H

#include "mu/Target/Target.h"

#include "mlir/IR/BuiltinOps.h"

#include <string>
#include <vector>

namespace mu {

struct OpCost {
  std::string program, node, op;
  bool onCpu = false;
  double macs = 0;    ///< multiply-accumulates (elementwise ops: elements)
  double bytes = 0;   ///< moved to/from DRAM
  double seconds = 0; ///< max(compute, memory)
  bool memoryBound = false;
  bool resident = false; ///< the op's activations fit on chip
};

struct ProgramCost {
  std::string program;
  int64_t tokens = 0, past = 0; ///< tokens processed, tokens already cached
  /// Calls of a static-shape prefill (padded fixed chunks; 0: one dynamic
  /// call): the ops are one call's, the totals all calls'.
  int64_t calls = 0, chunk = 0;
  double macs = 0, bytes = 0, seconds = 0;
  /// Memory plan against the on-chip memory: the planned activation arena
  /// (at the planning bound), the weights, and what does not fit.
  double arenaBytes = 0, weightBytes = 0, onChipBytes = 0, spillBytes = 0;
  std::vector<OpCost> ops;
};

struct CostReport {
  std::string target;
  double clockHz = 0, bandwidth = 0;
  ProgramCost prefill, decode; ///< empty program name: absent
  double ttftMs = 0, decodeTokensPerS = 0;
  /// Totals and the most expensive op kinds, for people.
  std::string summary() const;
  /// Per program and per op (format mu-cost-estimate).
  std::string toJson() const;
};

/// Estimates the `prefill` program (encoder-decoder: `encode` plus one decode
/// step; else `main`) on `promptTokens` tokens and
/// the `decode` program at `contextTokens` cached tokens. `host` costs ops
/// placed on the CPU (may be the target itself for CPU targets). False with
/// `error` when the target has no performance figures.
bool estimateCost(mlir::ModuleOp module, const target::Target &target, const target::Target &host,
                  int64_t promptTokens, int64_t contextTokens, CostReport &out, std::string &error);

} // namespace mu

#endif // MU_PASSES_COSTMODEL_H
