//===- MuOps.td - mu graph ops ------------------------------*- tablegen -*-===//
//
// Float tensor ops for transformer LMs and the common ONNX subset. Broadcast
// rules are numpy's (as ONNX). Shapes may carry dynamic (`?`) dims; the
// importer keeps their symbolic names as `mu.dim_names` argument attributes.
//
//===----------------------------------------------------------------------===//
#ifndef MU_OPS_TD
#define MU_OPS_TD

include "MuDialect.td"
include "mlir/IR/BuiltinAttributeInterfaces.td"
include "mlir/Interfaces/SideEffectInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"

//===----------------------------------------------------------------------===//
// Constants and shapes
//===----------------------------------------------------------------------===//

def Mu_ConstantOp : Mu_Op<"constant",
    [ConstantLike, Pure, AllTypesMatch<["value", "result"]>]> {
  let summary = "tensor constant (weights are dense_resource blobs)";
  let arguments = (ins ElementsAttr:$value);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "attr-dict $value";
  let hasFolder = 1;
  let builders = [OpBuilder<(ins "::mlir::ElementsAttr":$value), [{
    build($_builder, $_state, value.getType(), value);
  }]>];
}

def Mu_DimOp : Mu_Op<"dim", [Pure, InferTypeOpAdaptor]> {
  let summary = "size of one dimension as a 0-d i64 tensor";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis);
  let results = (outs 0DTensorOf<[I64]>:$result);
  let assemblyFormat = "$input `[` $axis `]` attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Mu_RangeOp : Mu_Op<"range", [Pure]> {
  let summary = "1-d arithmetic sequence [start, limit) by delta (ONNX Range)";
  let arguments = (ins AnyRankedTensor:$start, AnyRankedTensor:$limit,
                       AnyRankedTensor:$delta);
  let results = (outs 1DTensorOf<[AnyInteger, AnyFloat]>:$result);
  let assemblyFormat = [{
    $start `,` $limit `,` $delta attr-dict `:` type($start) `,` type($limit)
    `,` type($delta) `->` type($result)
  }];
  let hasVerifier = 1;
}

def Mu_CastOp : Mu_Op<"cast", [Pure, SameOperandsAndResultShape]> {
  let summary = "element type conversion (float rounding: nearest-even)";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Mu_ReshapeOp : Mu_Op<"reshape", [Pure]> {
  let summary = "reshape to the result type (at most one dynamic dim)";
  let description = [{
    The result type is the target shape. A dynamic result dim is inferred at
    run time from the element count, so at most one may be dynamic.
  }];
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Mu_BroadcastToOp : Mu_Op<"broadcast_to", [Pure]> {
  let summary = "numpy broadcast to the result type (ONNX Expand)";
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($result)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Mu_TransposeOp : Mu_Op<"transpose", [Pure, InferTypeOpAdaptor]> {
  let summary = "permute dimensions: result dim i = input dim perm[i]";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$perm);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input $perm attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
  let hasCanonicalizer = 1;
}

def Mu_ConcatOp : Mu_Op<"concat", [Pure, InferTypeOpAdaptor]> {
  let summary = "concatenate along an axis";
  let arguments = (ins Variadic<AnyRankedTensor>:$inputs, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$inputs prop-dict attr-dict `:` type($inputs)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Mu_SliceOp : Mu_Op<"slice", [Pure, InferTypeOpAdaptor]> {
  let summary = "strided slice with ONNX Slice semantics (clamped bounds)";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                       DenseI64ArrayAttr:$starts, DenseI64ArrayAttr:$ends,
                       DenseI64ArrayAttr:$steps);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input prop-dict attr-dict `:` type($input)";
  let hasVerifier = 1;
  let hasFolder = 1;
}

def Mu_SplitOp : Mu_Op<"split", [Pure]> {
  let summary = "split along an axis into pieces given by the result types";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis);
  let results = (outs Variadic<AnyRankedTensor>:$results);
  let assemblyFormat = "$input attr-dict `:` type($input) `->` type($results)";
  let hasVerifier = 1;
}

def Mu_GatherOp : Mu_Op<"gather", [Pure, InferTypeOpAdaptor]> {
  let summary = "ONNX Gather: take slices of data along axis by indices";
  let description = [{ With axis 0 on a [vocab, d] table this is an embedding lookup. }];
  let arguments = (ins AnyRankedTensor:$data,
                       TensorOf<[AnyInteger]>:$indices, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$data `[` $indices `]` prop-dict attr-dict `:` type($data) `,` type($indices)";
  let hasVerifier = 1;
  let hasCanonicalizer = 1;
}

//===----------------------------------------------------------------------===//
// Elementwise
//===----------------------------------------------------------------------===//

class Mu_BinaryOp<string mnemonic, list<Trait> traits = []> :
    Mu_Op<mnemonic, !listconcat(traits, [Pure, InferTypeOpAdaptor])> {
  let summary = "elementwise " # mnemonic # " with numpy broadcasting";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
}

def Mu_AddOp : Mu_BinaryOp<"add", [Commutative]> { let hasFolder = 1; }
def Mu_SubOp : Mu_BinaryOp<"sub"> { let hasFolder = 1; }
def Mu_MulOp : Mu_BinaryOp<"mul", [Commutative]> { let hasFolder = 1; }
def Mu_DivOp : Mu_BinaryOp<"div"> { let hasFolder = 1; }
def Mu_PowOp : Mu_BinaryOp<"pow"> { let hasFolder = 1; }
def Mu_MaxOp : Mu_BinaryOp<"max", [Commutative]>;
def Mu_MinOp : Mu_BinaryOp<"min", [Commutative]>;
def Mu_AndOp : Mu_BinaryOp<"and", [Commutative]>;
def Mu_OrOp : Mu_BinaryOp<"or", [Commutative]>;
def Mu_EqualOp : Mu_BinaryOp<"equal", [Commutative]> { let hasFolder = 1; }
def Mu_LessOp : Mu_BinaryOp<"less"> { let hasFolder = 1; }
def Mu_GreaterOp : Mu_BinaryOp<"greater"> { let hasFolder = 1; }

class Mu_UnaryOp<string mnemonic, list<Trait> traits = []> :
    Mu_Op<mnemonic, !listconcat(traits, [Pure, SameOperandsAndResultType])> {
  let summary = "elementwise " # mnemonic;
  let arguments = (ins AnyRankedTensor:$input);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Mu_NegOp : Mu_UnaryOp<"neg"> { let hasFolder = 1; }
def Mu_AbsOp : Mu_UnaryOp<"abs">;
def Mu_NotOp : Mu_UnaryOp<"not">;
def Mu_ExpOp : Mu_UnaryOp<"exp">;
def Mu_LogOp : Mu_UnaryOp<"log">;
def Mu_SqrtOp : Mu_UnaryOp<"sqrt"> { let hasFolder = 1; }
def Mu_RsqrtOp : Mu_UnaryOp<"rsqrt">;
def Mu_ReciprocalOp : Mu_UnaryOp<"reciprocal">;
def Mu_TanhOp : Mu_UnaryOp<"tanh">;
def Mu_ErfOp : Mu_UnaryOp<"erf">;
def Mu_SinOp : Mu_UnaryOp<"sin"> { let hasFolder = 1; }
def Mu_CosOp : Mu_UnaryOp<"cos"> { let hasFolder = 1; }
def Mu_SigmoidOp : Mu_UnaryOp<"sigmoid">;
def Mu_ReluOp : Mu_UnaryOp<"relu">;
def Mu_SiluOp : Mu_UnaryOp<"silu"> { let summary = "x * sigmoid(x)"; }
def Mu_GeluOp : Mu_Op<"gelu", [Pure, SameOperandsAndResultType]> {
  let summary = "GELU, exact (erf) or tanh approximation";
  let arguments = (ins AnyRankedTensor:$input,
                       DefaultValuedAttr<Mu_GeluApproxAttr, "GeluApproximation::none">:$approximate);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
}

def Mu_WhereOp : Mu_Op<"where", [Pure, InferTypeOpAdaptor]> {
  let summary = "select x where condition is true, else y (broadcasting)";
  let arguments = (ins TensorOf<[I1]>:$condition, AnyRankedTensor:$x,
                       AnyRankedTensor:$y);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $condition `,` $x `,` $y attr-dict `:` type($condition) `,` type($x) `,` type($y)
  }];
}

//===----------------------------------------------------------------------===//
// Reductions and normalization
//===----------------------------------------------------------------------===//

class Mu_ReduceOp<string mnemonic> : Mu_Op<mnemonic, [Pure, InferTypeOpAdaptor]> {
  let summary = mnemonic # " over axes (empty axes: all)";
  let arguments = (ins AnyRankedTensor:$input, DenseI64ArrayAttr:$axes,
                       BoolAttr:$keepdims);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input $axes prop-dict attr-dict `:` type($input)";
}
def Mu_ReduceSumOp : Mu_ReduceOp<"reduce_sum">;
def Mu_ReduceMeanOp : Mu_ReduceOp<"reduce_mean">;
def Mu_ReduceMaxOp : Mu_ReduceOp<"reduce_max">;
def Mu_ReduceMinOp : Mu_ReduceOp<"reduce_min">;

def Mu_SoftmaxOp : Mu_Op<"softmax", [Pure, SameOperandsAndResultType]> {
  let summary = "softmax along axis";
  let arguments = (ins AnyRankedTensor:$input, I64Attr:$axis);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($input)";
  let hasVerifier = 1;
}

def Mu_RmsNormOp : Mu_Op<"rms_norm", [Pure, InferTypeOpAdaptor]> {
  let summary = "x / sqrt(mean(x^2, last axis) + epsilon) [* weight]";
  let arguments = (ins AnyRankedTensor:$input, Optional<AnyRankedTensor>:$weight,
                       F32Attr:$epsilon);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `:` type($weight) `)`)? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

def Mu_LayerNormOp : Mu_Op<"layer_norm", [Pure, InferTypeOpAdaptor, AttrSizedOperandSegments]> {
  let summary = "(x - mean) / sqrt(var + epsilon) * weight + bias, over the last axis";
  let arguments = (ins AnyRankedTensor:$input, Optional<AnyRankedTensor>:$weight,
                       Optional<AnyRankedTensor>:$bias, F32Attr:$epsilon);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input (`weight` `(` $weight^ `:` type($weight) `)`)?
    (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict `:` type($input)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Linear algebra and transformer blocks
//===----------------------------------------------------------------------===//

def Mu_MatMulOp : Mu_Op<"matmul", [Pure, InferTypeOpAdaptor]> {
  let summary = "numpy matmul (batched, broadcasting batch dims)";
  let arguments = (ins AnyRankedTensor:$lhs, AnyRankedTensor:$rhs);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$lhs `,` $rhs attr-dict `:` type($lhs) `,` type($rhs)";
  let hasVerifier = 1;
}

def Mu_LinearOp : Mu_Op<"linear", [Pure, InferTypeOpAdaptor]> {
  let summary = "x[..., in] * weight[out, in]^T (+ bias[out])";
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$weight,
                       Optional<AnyRankedTensor>:$bias);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`bias` `(` $bias^ `:` type($bias) `)`)? attr-dict
    `:` type($input) `,` type($weight)
  }];
  let hasVerifier = 1;
}

def Mu_LoraOp : Mu_Op<"lora", [Pure, AllTypesMatch<["base", "result"]>]> {
  let summary = "swappable LoRA side branch: base + B (A input) of the session's adapter";
  let description = [{
    `base` is the output of the linear layer `site` names (its weight's
    module, e.g. `decoder.layers.0.self_attn.q_proj`) and `input` that
    layer's input [..., in]. The result is `base + B (A input)` with the A
    [r, in] and B [out, r] (scale folded in) of the adapter selected at run
    time for this site, or `base` when none is selected or the adapter does
    not adapt the site. The adapters and sites live in the module attributes
    `mu.adapters` and `mu.lora_sites` (docs/lora.md).
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$base, StrAttr:$site);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$input `,` $base attr-dict `:` type($input) `,` type($base)";
  let hasVerifier = 1;
}

def Mu_GluOp : Mu_Op<"glu", [Pure, InferTypeOpAdaptor]> {
  let summary = "gated linear unit: activation(gate) * up (SwiGLU, GeGLU)";
  let arguments = (ins AnyRankedTensor:$gate, AnyRankedTensor:$up,
                       Mu_ActivationAttr:$activation);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$gate `,` $up attr-dict `:` type($gate) `,` type($up)";
}

def Mu_RopeOp : Mu_Op<"rope", [Pure, InferTypeOpAdaptor]> {
  let summary = "rotary position embedding: x * cos + rotate(x) * sin";
  let description = [{
    `x` is [..., seq, head_dim]; `cos` and `sin` broadcast to it (typically
    [seq, head_dim]). `rotate_half` (Hugging Face / GPT-NeoX layout) pairs
    element i with i + head_dim/2: rotate(x) = concat(-x[d/2:], x[:d/2]).
    `interleaved` (GPT-J / llama2.c / Meta layout) pairs 2i with 2i+1:
    rotate(x)[2i] = -x[2i+1], rotate(x)[2i+1] = x[2i].
  }];
  let arguments = (ins AnyRankedTensor:$input, AnyRankedTensor:$cos,
                       AnyRankedTensor:$sin, Mu_RopeModeAttr:$mode);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = [{
    $input `,` $cos `,` $sin attr-dict `:` type($input) `,` type($cos) `,` type($sin)
  }];
  let hasVerifier = 1;
}

def Mu_AttentionOp : Mu_Op<"attention", [Pure, AttrSizedOperandSegments]> {
  let summary = "scaled dot-product attention with grouped-query heads";
  let description = [{
    query [B, Hq, S, D], key [B, Hkv, T, D], value [B, Hkv, T, Dv]; Hq must be
    a multiple of Hkv (grouped-query attention: query head h reads kv head
    h / (Hq / Hkv)). result [B, Hq, S, Dv] = softmax(scale * q k^T + mask) v.

    `mask` broadcasts to [B, Hq, S, T']: i1 (true = attend) or float
    (additive). `causal` masks key j for query i when j > i + (T' - S)
    (bottom-right aligned, so decode steps with a cache work).

    With `past_key`/`past_value` ([B, Hkv, P, D]), keys/values are
    concat(past, new) along the sequence and returned as `present` results
    (KV cache). Cross-attention is the same op with key/value computed from
    the encoder output and `causal = false`.

    With `at(position)` (0-d i64, mu-static-shapes) the cache is a
    preallocated [B, Hkv, M, D] buffer updated in place: the new rows are
    written at [position, position + S) (rows past M are dropped), `present`
    has the past's (static) type, and query i reads keys [0, position + i]
    when causal (keys [0, min(position + S, M)) otherwise).
  }];
  let arguments = (ins AnyRankedTensor:$query, AnyRankedTensor:$key,
                       AnyRankedTensor:$value, Optional<AnyRankedTensor>:$mask,
                       Optional<AnyRankedTensor>:$past_key,
                       Optional<AnyRankedTensor>:$past_value,
                       Optional<AnyRankedTensor>:$cache_position,
                       F32Attr:$scale, BoolAttr:$causal);
  let results = (outs AnyRankedTensor:$result,
                      Variadic<AnyRankedTensor>:$present);
  let assemblyFormat = [{
    $query `,` $key `,` $value (`mask` `(` $mask^ `:` type($mask) `)`)?
    (`past` `(` $past_key^ `,` $past_value `:` type($past_key) `,` type($past_value) `)`)?
    (`at` `(` $cache_position^ `:` type($cache_position) `)`)?
    attr-dict `:` type($query) `,` type($key) `,` type($value) `->` type($result)
    (`,` type($present)^)?
  }];
  let hasVerifier = 1;
}

#endif // MU_OPS_TD
