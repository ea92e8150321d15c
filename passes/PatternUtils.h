//===- PatternUtils.h - helpers shared by the fusion passes ----*- C++ -*-===//
#ifndef MU_PASSES_PATTERNUTILS_H
#define MU_PASSES_PATTERNUTILS_H

#include "dialects/Mu/MuOps.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinDialect.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/PatternMatch.h"

namespace mu {

/// Returns the op defining `v` if it is an OpTy.
template <typename OpTy> OpTy def(mlir::Value v) {
  return v ? v.getDefiningOp<OpTy>() : OpTy();
}

/// The ranked tensor type of `v` (all mu values are ranked tensors).
inline mlir::RankedTensorType tensorType(mlir::Value v) {
  return mlir::cast<mlir::RankedTensorType>(v.getType());
}

/// True if `v` is a splat constant within `tol` (relative) of `want`.
bool isSplat(mlir::Value v, double want, double tol = 1e-6);

/// For a commutative binary op, finds the operand order where `pred(first)`
/// holds; returns {first, other} or {nullptr, nullptr}.
std::pair<mlir::Value, mlir::Value>
pickOperand(mlir::Operation *op, llvm::function_ref<bool(mlir::Value)> pred);

/// True if `v` is a reduce_mean over exactly the last axis with keepdims.
bool isLastAxisMean(mlir::Operation *op);

/// True if `axis` names the last dim of a rank-`rank` tensor.
inline bool isLastAxis(int64_t axis, int64_t rank) {
  return normalizeAxis(axis, rank) == rank - 1;
}

/// Returns `x` if `v` is x^2 written as pow(x, 2) or mul(x, x).
mlir::Value matchSquare(mlir::Value v);

/// Returns `s` if `v` computes 1/sqrt(s) as rsqrt(s), reciprocal(sqrt(s)) or
/// div(1, sqrt(s)).
mlir::Value matchInvSqrt(mlir::Value v);

/// True if `v` is (a float cast of) a mu.constant: weights and tables.
bool isConstantLike(mlir::Value v);

/// True if a kernel reads `v` from the artifact's constants: a constant or
/// its quantized view (`quant.scast`).
bool isStoredWeight(mlir::Value v);

/// The ElementsAttr behind `v`, looking through casts; null otherwise.
mlir::ElementsAttr constantValue(mlir::Value v);

/// Raw little-endian bytes of a constant (dense or dense_resource); empty if
/// it is a splat or unavailable.
llvm::ArrayRef<char> rawConstantBytes(mlir::ElementsAttr attr);

/// A 2-d constant transposed at compile time (new resource blob named from
/// `hint`), or null if the layout is unsupported.
mlir::ElementsAttr transposeConstant2D(mlir::ElementsAttr attr,
                                       llvm::StringRef hint);

/// Elements of an f32/f16/bf16 constant as float; empty otherwise.
std::vector<float> constantFloats(mlir::ElementsAttr attr);

/// A new resource-blob constant of `type` (f32, f16 or bf16; values
/// rounded to nearest even) holding `values`, named `name`.
mlir::ElementsAttr makeFloatConstant(mlir::RankedTensorType type, llvm::ArrayRef<float> values,
                                     llvm::StringRef name);

/// The artifact's tensor name of every kernel result and argument of a muk
/// function, as the .mub writer records them and calibration observes them:
/// muk::kernelResultNames, except that a returned value takes its result's
/// `mu.name` and an argument its `mu.name` (e.g. Mu's `encoder_hidden`,
/// the input of the cross-attention K/V projections).
llvm::DenseMap<mlir::Value, std::string> artifactTensorNames(mlir::func::FuncOp f);

/// Inserts a 0-d i64 argument named `name` (`mu.name`, no dim names) at
/// `index` of `f` (the position of a cached program, a valid length).
mlir::FailureOr<mlir::Value> addScalarArg(mlir::func::FuncOp f, unsigned index,
                                          llvm::StringRef name);

} // namespace mu

#endif // MU_PASSES_PATTERNUTILS_H
