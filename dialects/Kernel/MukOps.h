//===- MukOps.h - the muk kernel-program dialect ---------------*- C++ -*-===//
///
/// \file
/// Kernel programs: one op per runtime kernel, produced from the mu graph by
/// mu-lower-to-kernels, planned by mu-plan-memory, serialized to .mub.
///
//===----------------------------------------------------------------------===//
#ifndef MU_DIALECTS_KERNEL_MUKOPS_H
#define MU_DIALECTS_KERNEL_MUKOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Value.h"
#include "llvm/ADT/DenseMap.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/Kernel/MukDialect.h.inc"
#define GET_OP_CLASSES
#include "dialects/Kernel/MukOps.h.inc"

namespace muk {
/// The runtime opcode name of a muk op ("" for other ops).
llvm::StringRef opcodeName(mlir::Operation *op);

/// Names of the kernel results of a function body (`block`), as the .mub
/// writer records them: the op's NameLoc name (`:k` for result k > 0), else
/// `<kind>`; `/n` suffixes make repeats unique (one graph op lowered to
/// several kernels). Calibration statistics and
/// reports are keyed by these names.
llvm::DenseMap<mlir::Value, std::string> kernelResultNames(mlir::Block &block);
} // namespace muk

#endif // MU_DIALECTS_KERNEL_MUKOPS_H
