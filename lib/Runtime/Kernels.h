//===- Kernels.h - reference kernels of the mu runtime ---------*- C++ -*-===//
///
/// \file
/// One entry point per opcode family. The reference kernels are the
/// specification of every op's numerics: optimized kernels must match them.
/// Each opcode has a shape function (run first, so capacity can be checked
/// before anything is written) and an executor.
///
//===----------------------------------------------------------------------===//
#ifndef MU_RUNTIME_KERNELS_H
#define MU_RUNTIME_KERNELS_H

#include "cpu/Linear.h"
#include "mu/runtime/Runtime.h"
#include "mub_generated.h"

#include <unordered_map>
#include <vector>

namespace mu {
namespace rt {

using Shape = std::vector<int64_t>;

/// Scratch memory and per-instruction constants reused across kernel calls,
/// and the session's thread pool (null: one thread).
struct Scratch {
  ThreadPool *pool = nullptr;
  /// The session's swappable adapter (Lora instructions), or null.
  const Adapter *adapter = nullptr;
  std::unordered_map<const void *, cpu::LinearPlan> linearPlans;
  /// Row-major int8 weights packed for the fast kernels, by weight address
  /// (programs sharing a weight share the copy).
  std::unordered_map<const void *, cpu::PackedWeight> packedWeights;
  std::vector<float> f32;
  float *floats(size_t n) {
    if (f32.size() < n)
      f32.resize(n);
    return f32.data();
  }
};

/// Output shapes of `instr` given its inputs (nullptr = absent optional) and
/// the declared output shapes (-1 = dynamic).
Status inferShapes(const mub::Instr &instr,
                   const std::vector<const TensorRef *> &ins,
                   const std::vector<Shape> &declared,
                   std::vector<Shape> &out);

/// Checks operand dtypes/shapes/parameters against what the kernel assumes
/// (after shape inference, before execution).
Status checkOperands(const mub::Instr &instr, const std::vector<const TensorRef *> &ins,
                     const std::vector<TensorRef *> &outs);

/// Executes `instr`; output tensors already carry their shapes and storage.
Status execute(const mub::Instr &instr,
               const std::vector<const TensorRef *> &ins,
               const std::vector<TensorRef *> &outs, Scratch &scratch);

/// Number of inputs (min, max) and outputs (min, max) an opcode accepts.
struct Arity {
  int minIn, maxIn, minOut, maxOut;
};
bool opcodeArity(mub::OpCode op, Arity &arity);

/// Whether input `i` of `op` may be absent (operand index -1).
bool operandOptional(mub::OpCode op, size_t i);

} // namespace rt
} // namespace mu

#endif // MU_RUNTIME_KERNELS_H
