//===- MukOps.td - the muk kernel-program dialect ----------*- tablegen -*-===//
//
// One op per runtime kernel (the OpCode table of include/mu/Artifact/mub.fbs).
// Every op has the same shape: tensor operands in kernel slot order (absent
// optional slots listed in `absent`), op parameters exactly as the runtime
// reads them (`ints`, `floats`), and, after mu-plan-memory, the arena offset
// of each result (`offsets`). The .mub writer serializes this IR 1:1.
//
//===----------------------------------------------------------------------===//
#ifndef MUK_OPS_TD
#define MUK_OPS_TD

include "mlir/IR/OpBase.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

def Muk_Dialect : Dialect {
  let name = "muk";
  let cppNamespace = "::muk";
  let summary = "Kernel programs: one op per mu runtime kernel, on planned buffers";
}

class Muk_KernelOp<string mnemonic, string opcode> : Op<Muk_Dialect, mnemonic, [Pure]> {
  let summary = "runtime kernel " # opcode;
  let arguments = (ins Variadic<AnyRankedTensor>:$operands,
                       OptionalAttr<DenseI64ArrayAttr>:$ints,
                       OptionalAttr<DenseF32ArrayAttr>:$floats,
                       OptionalAttr<DenseI32ArrayAttr>:$absent,
                       OptionalAttr<DenseI64ArrayAttr>:$offsets);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$operands attr-dict `:` functional-type($operands, $results)";
  // The runtime opcode (mub::OpCode) this op serializes to.
  let extraClassDeclaration = "static llvm::StringRef getOpcodeName() { return \"" # opcode # "\"; }";
}

def Muk_AddOp : Muk_KernelOp<"add", "Add">;
def Muk_SubOp : Muk_KernelOp<"sub", "Sub">;
def Muk_MulOp : Muk_KernelOp<"mul", "Mul">;
def Muk_DivOp : Muk_KernelOp<"div", "Div">;
def Muk_PowOp : Muk_KernelOp<"pow", "Pow">;
def Muk_MaxOp : Muk_KernelOp<"max", "Max">;
def Muk_MinOp : Muk_KernelOp<"min", "Min">;
def Muk_AndOp : Muk_KernelOp<"and", "And">;
def Muk_OrOp : Muk_KernelOp<"or", "Or">;
def Muk_EqualOp : Muk_KernelOp<"equal", "Equal">;
def Muk_LessOp : Muk_KernelOp<"less", "Less">;
def Muk_GreaterOp : Muk_KernelOp<"greater", "Greater">;
def Muk_NegOp : Muk_KernelOp<"neg", "Neg">;
def Muk_AbsOp : Muk_KernelOp<"abs", "Abs">;
def Muk_NotOp : Muk_KernelOp<"not", "Not">;
def Muk_ExpOp : Muk_KernelOp<"exp", "Exp">;
def Muk_LogOp : Muk_KernelOp<"log", "Log">;
def Muk_SqrtOp : Muk_KernelOp<"sqrt", "Sqrt">;
def Muk_RsqrtOp : Muk_KernelOp<"rsqrt", "Rsqrt">;
def Muk_ReciprocalOp : Muk_KernelOp<"reciprocal", "Reciprocal">;
def Muk_TanhOp : Muk_KernelOp<"tanh", "Tanh">;
def Muk_ErfOp : Muk_KernelOp<"erf", "Erf">;
def Muk_SinOp : Muk_KernelOp<"sin", "Sin">;
def Muk_CosOp : Muk_KernelOp<"cos", "Cos">;
def Muk_SigmoidOp : Muk_KernelOp<"sigmoid", "Sigmoid">;
def Muk_ReluOp : Muk_KernelOp<"relu", "Relu">;
def Muk_SiluOp : Muk_KernelOp<"silu", "Silu">;
def Muk_GeluOp : Muk_KernelOp<"gelu", "Gelu">;
def Muk_GeluTanhOp : Muk_KernelOp<"gelu_tanh", "GeluTanh">;
def Muk_WhereOp : Muk_KernelOp<"where", "Where">;
def Muk_CastOp : Muk_KernelOp<"cast", "Cast">;
def Muk_ReshapeOp : Muk_KernelOp<"reshape", "Reshape">;
def Muk_BroadcastToOp : Muk_KernelOp<"broadcast_to", "BroadcastTo">;
def Muk_TransposeOp : Muk_KernelOp<"transpose", "Transpose">;
def Muk_ConcatOp : Muk_KernelOp<"concat", "Concat">;
def Muk_SliceOp : Muk_KernelOp<"slice", "Slice">;
def Muk_SplitOp : Muk_KernelOp<"split", "Split">;
def Muk_GatherOp : Muk_KernelOp<"gather", "Gather">;
def Muk_RangeOp : Muk_KernelOp<"range", "Range">;
def Muk_DimOp : Muk_KernelOp<"dim", "Dim">;
def Muk_ReduceSumOp : Muk_KernelOp<"reduce_sum", "ReduceSum">;
def Muk_ReduceMeanOp : Muk_KernelOp<"reduce_mean", "ReduceMean">;
def Muk_ReduceMaxOp : Muk_KernelOp<"reduce_max", "ReduceMax">;
def Muk_ReduceMinOp : Muk_KernelOp<"reduce_min", "ReduceMin">;
def Muk_SoftmaxOp : Muk_KernelOp<"softmax", "Softmax">;
def Muk_RmsNormOp : Muk_KernelOp<"rms_norm", "RmsNorm">;
def Muk_LayerNormOp : Muk_KernelOp<"layer_norm", "LayerNorm">;
def Muk_MatmulOp : Muk_KernelOp<"matmul", "MatMul">;
def Muk_LinearOp : Muk_KernelOp<"linear", "Linear">;
def Muk_GluOp : Muk_KernelOp<"glu", "Glu">;
def Muk_RopeOp : Muk_KernelOp<"rope", "Rope">;
def Muk_AttentionOp : Muk_KernelOp<"attention", "Attention">;
// f32 -> !quant.uniform integer tensor (round half even, saturate), and back.
// The kernel-level form of upstream quant.qcast / quant.dcast: planned and
// serialized like every kernel.
def Muk_QuantizeOp : Muk_KernelOp<"quantize", "Quantize">;
def Muk_DequantizeOp : Muk_KernelOp<"dequantize", "Dequantize">;
// f32 -> f32 rounded through a target's float precision (ints [1] = FP16,
// [2] = BF16): host emulation of NPUs whose float regions run in FP16/BF16.
// f32 base + B (A x) of the session's adapter for site ints[0] (mu.lora).
def Muk_LoraOp : Muk_KernelOp<"lora", "Lora">;
def Muk_RoundOp : Muk_KernelOp<"round", "Round">;

#endif // MUK_OPS_TD
