//===- MuOps.h - the mu graph dialect -------------------------*- C++ -*-===//
///
/// \file
/// Declarations of the `mu` dialect, its attributes and ops, plus the shape
/// helpers (numpy broadcasting, axis normalization) that the ops, the
/// importers and the passes share.
///
//===----------------------------------------------------------------------===//
#ifndef MU_DIALECTS_MU_MUOPS_H
#define MU_DIALECTS_MU_MUOPS_H

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Dialect.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/IR/TypeUtilities.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "dialects/Mu/MuDialect.h.inc"
#include "dialects/Mu/MuEnums.h.inc"
#define GET_ATTRDEF_CLASSES
#include "dialects/Mu/MuAttrs.h.inc"
#define GET_OP_CLASSES
#include "dialects/Mu/MuOps.h.inc"

namespace mu {

/// Numpy-broadcasts two shapes (ShapedType::kDynamic for `?`). Returns
/// failure when two static dims differ and neither is 1.
mlir::LogicalResult broadcastShapes(llvm::ArrayRef<int64_t> a,
                                    llvm::ArrayRef<int64_t> b,
                                    llvm::SmallVectorImpl<int64_t> &out);

/// Maps a possibly negative axis into [0, rank); returns -1 when out of range.
int64_t normalizeAxis(int64_t axis, int64_t rank);

/// Element count of a static shape, or -1 if any dim is dynamic.
int64_t staticNumElements(llvm::ArrayRef<int64_t> shape);

/// True if `v` is produced by a mu.constant whose value is a splat; the
/// splat is returned as double in `out`.
bool matchSplatConstant(mlir::Value v, double &out);

} // namespace mu

#endif // MU_DIALECTS_MU_MUOPS_H
