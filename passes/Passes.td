//===- Passes.td - mu graph passes ---------------------------*- tablegen -*-===//
//
// Graph passes, one per file, named mu-<phase>-<what>. The fusion passes turn
// what exporters emit into the dialect's high-level ops; `mu-fuse-transformer`
// (a pipeline, see Passes.cpp) runs them in order.
//
//===----------------------------------------------------------------------===//
#ifndef MU_PASSES_TD
#define MU_PASSES_TD

include "mlir/Pass/PassBase.td"

def FuseLinear : Pass<"mu-fuse-linear"> {
  let summary = "matmul(x, transpose(W)) [+ bias] -> mu.linear";
  let description = [{
    Recognizes projections with a constant 2-d weight: `matmul(x, W^T)` with
    the weight stored [out, in] (PyTorch export), `matmul(x, W)` with the
    weight stored [in, out] (the constant is transposed once, at compile
    time), and a following `add` of a 1-d bias.
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def FuseRmsNorm : Pass<"mu-fuse-rms-norm"> {
  let summary = "decomposed RMSNorm -> mu.rms_norm";
  let description = [{
    Matches `w * (x * 1/sqrt(mean(x^2) + eps))` in the forms exporters emit:
    pow or self-multiply, reciprocal/div/rsqrt, weight on either side, and an
    optional float cast around the normalization (Hugging Face computes it in
    fp32).
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def FuseLayerNorm : Pass<"mu-fuse-layer-norm"> {
  let summary = "decomposed LayerNorm -> mu.layer_norm";
  let description = [{
    Matches `((x - mean(x)) / sqrt(mean((x - mean(x))^2) + eps)) * w + b`
    (weight and bias optional). Dual LayerNorm (a norm before and after each
    sub-layer) is two independent matches.
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def FuseActivations : Pass<"mu-fuse-activations"> {
  let summary = "x*sigmoid(x) -> silu; erf/tanh GELU formulas -> gelu";
  let dependentDialects = ["mu::MuDialect"];
}

def FuseGlu : Pass<"mu-fuse-glu"> {
  let summary = "act(gate) * up -> mu.glu (SwiGLU, GeGLU)";
  let dependentDialects = ["mu::MuDialect"];
}

def FuseRope : Pass<"mu-fuse-rope"> {
  let summary = "x*cos + rotate(x)*sin -> mu.rope (rotate_half and interleaved)";
  let description = [{
    rotate_half: `concat(-x[..., d/2:], x[..., :d/2])`.
    interleaved: `x` reshaped to [..., d/2, 2], the two lanes sliced out,
    `(x0*cos - x1*sin, x0*sin + x1*cos)` stacked back and flattened; cos/sin
    tables [.., d/2] are widened to the full head_dim with repeated pairs.
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def FuseAttention : Pass<"mu-fuse-attention"> {
  let summary = "softmax(q k^T * scale + mask) v -> mu.attention (GQA aware)";
  let description = [{
    Matches scores = matmul(q, transpose(k)) scaled by a constant (mul or
    div, on the scores or on q), an optional mask (a causal `where`/`add`
    built from a range comparison becomes `causal = true`; other masks are
    kept as operands), softmax over the last axis, and matmul with v. The
    repeat-kv expansion (reshape -> broadcast_to -> reshape) in front of k
    and v is peeled off so the op sees the kv heads directly.
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def DedupeTiedEmbedding : Pass<"mu-dedupe-tied-embedding", "mlir::ModuleOp"> {
  let summary = "share one constant between embedding and LM head when equal";
  let description = [{
    Exporters often store a tied LM head as a second (possibly transposed)
    copy of the embedding table. Weight constants with identical contents are
    merged so the artifact holds the table once.
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def KvCache : Pass<"mu-kv-cache", "mlir::ModuleOp"> {
  let summary = "add KV-cache entry points (prefill/decode) to a decoder";
  let description = [{
    For `@main` (decoder-only) or `@decode` (encoder-decoder): clones the
    function, adds a `position` argument (tokens already in the cache) and,
    per causal self-attention, a key and a value cache argument/result pair
    tagged `mu.state = "<name>"`. Positions for RoPE become
    `range(position, position + seq)`; each causal attention reads
    `past(cache)` and returns the extended cache. Non-causal attention
    (encoder, cross-attention) is untouched. Decoder-only models get
    `@prefill` and `@decode` (`mu.max_seq = 1`) and keep `@main` for
    full-sequence evaluation; encoder-decoders keep the uncached decoder as
    `@decode_full`. The cached decoder-only programs return the logits of
    the last position only ([1, 1, vocab]): when the logits are
    `linear(norm(h))`, the last row of `h` is gathered first.
  }];
  let dependentDialects = ["mu::MuDialect", "mlir::func::FuncDialect"];
}

def StaticShapes : Pass<"mu-static-shapes", "mlir::ModuleOp"> {
  let summary = "static-shape prefill/decode: fixed chunk, in-place max-context KV cache";
  let description = [{
    For targets with `shapes.static` (NPUs), after `mu-kv-cache`: `@prefill`
    takes `[1, prefill-chunk]` token ids and a new `length` argument (valid
    tokens; the runtime pads the last chunk of a prompt, and the last-position
    gather reads row `length - 1`); `@decode` takes `[1, 1]`. Every
    self-attention cache becomes a `[B, Hkv, max-context, D]` state updated
    in place (`mu.attention ... at(position)`), so no program holds a growing
    tensor. Dims of static tensors fold to constants and result types are
    refined forward; a program left with a dynamic dim is an error naming
    the op. Encoder-decoders: `@encode` takes the source padded to
    `prefill-chunk` tokens plus `source_length`, its attentions and the
    decoder's cross-attention mask the padded keys, and `@decode` takes
    `source_length` too.
  }];
  let options = [Option<"prefillChunk", "prefill-chunk", "int64_t", "128",
                        "tokens per prefill call (the last chunk is padded)">,
                 Option<"maxContext", "max-context", "int64_t", "512",
                        "KV-cache capacity in tokens">];
  let dependentDialects = ["mu::MuDialect", "mlir::func::FuncDialect"];
}

def NameOps : Pass<"mu-name-ops", "mlir::ModuleOp"> {
  let summary = "unique, readable NameLoc on every graph op";
  let description = [{
    Ops reading a named weight take the weight's module path
    (`model.layers.0.self_attn.q_proj` from `...q_proj.weight`); others are
    named `<module of the last weight-reading op>.<kind>` (`#k` suffixes keep
    names unique per function). Existing NameLocs are kept (uniqued). Run
    before `mu-kv-cache`: the cached programs are clones and keep the names,
    so calibration statistics keyed by tensor name apply to every program.
  }];
  let dependentDialects = ["mu::MuDialect"];
}

def SmoothQuant : Pass<"mu-smooth-quant", "mlir::ModuleOp"> {
  let summary = "SmoothQuant: move activation outliers into the following weights";
  let description = [{
    For each norm or glu output (named by mu-name-ops) that only feeds
    linear layers: s_j = max|X_j|^alpha / max|W_:j|^(1-alpha) (activation
    per-channel range from calibration statistics, W over all consumers);
    the producer's channel j is divided by s_j (norm weight and bias, or the
    rows of the glu's `up` projection) and column j of every consuming
    weight multiplied by s_j. The function is mathematically unchanged; the
    activation's channels become even. Constants are rewritten once and
    shared by every function; a tied table that is also gathered is left
    alone.
  }];
  let options = [Option<"alpha", "alpha", "double", "0.5", "migration strength (0..1)">,
                 Option<"statsFile", "stats", "std::string", "\"\"",
                        "calibration statistics JSON (mu-calibration-stats)">];
  let dependentDialects = ["mu::MuDialect"];
}

def LowerToKernels : Pass<"mu-lower-to-kernels", "mlir::ModuleOp"> {
  let summary = "mu graph -> muk kernel program (one op per runtime kernel)";
  let description = [{
    Rewrites every mu op into the muk op of the runtime kernel that executes
    it, with operands in kernel slot order (absent optional slots recorded in
    `absent`) and the parameters as the runtime reads them (`ints`,
    `floats`). A float widening `mu.cast` of a constant whose users only read
    it as a weight (linear/norm weights and biases, gather tables) disappears:
    kernels read the stored (e.g. FP16) weight and widen rows on load. Values
    returned that are inputs or constants get an explicit copy.
  }];
  let dependentDialects = ["mu::MuDialect", "muk::MukDialect"];
}

def QuantizeWeights : Pass<"mu-quantize-weights", "mlir::ModuleOp"> {
  let summary = "weight-only quantization of kernel weights (per output channel)";
  let description = [{
    On muk kernel programs: every 2-d float constant read as a weight (the
    weight of `muk.linear`, the table of `muk.gather`) becomes a symmetric
    per-row integer constant (`bits` = 8 or 16, narrow range) viewed through
    `quant.scast` as an upstream `!quant.uniform<iN<-q:q>:f32:0, {scales}>`
    tensor (with `block-size`: a sub-channel type with one scale per block of
    that many input elements). Each row's (block's) scale minimizes the
    squared reconstruction error over
    clipping ranges (50%..100% of max|w|). Target rules: `per-tensor` gives
    one scale per weight (searched over the whole matrix), `power-of-two`
    rounds the search to scales 2^k (the covering power or one of the two
    below it, by error). Kernels dequantize rows on load.
    A tied embedding/LM-head table is quantized once and shared.
  }];
  let options = [Option<"bits", "bits", "int", "8", "weight bits (8 or 16)">,
                 Option<"blockSize", "block-size", "int64_t", "0",
                        "one scale per block of N along the input dim (0: per channel)">,
                 Option<"minElements", "min-elements", "int64_t", "4096",
                        "leave smaller weights in float">,
                 Option<"gptq", "gptq", "bool", "true",
                        "with statistics: GPTQ rounding where a Gram matrix exists">,
                 Option<"biasCorrection", "bias-correction", "bool", "false",
                        "with statistics: add (W - Wq) E[x] to each linear's bias">,
                 Option<"perTensor", "per-tensor", "bool", "false",
                        "one scale per weight (a target without per-channel weights)">,
                 Option<"powerOfTwo", "power-of-two", "bool", "false",
                        "scales are powers of two (e.g. AMD XINT8)">];
  let dependentDialects = ["muk::MukDialect", "mlir::quant::QuantDialect"];
}

def QuantizeActivations : Pass<"mu-quantize-activations", "mlir::ModuleOp"> {
  let summary = "static int8/int16 activations for linear layers (integer linear kernels)";
  let description = [{
    On muk kernel programs after mu-quantize-weights: each `muk.linear`
    with a symmetric per-channel (or per-tensor) integer weight whose input
    tensor has a range in the table becomes an integer linear. The input is
    quantized once by `muk.quantize` (reused by every linear reading it;
    an integer producer result is used directly), a constant bias becomes
    int32 at scale s_x * s_w[c] (`quant.scast` of an i32 constant), and the
    output is requantized to its own range and dequantized for float
    consumers (`muk.dequantize`), or left f32 when it has no range or is a
    program result. Ranges are keyed by tensor name (see mu-name-ops) and
    give lo/hi, bits (8/16) and symmetry; types are upstream
    `!quant.uniform`. Every other op stays f32.
  }];
  let options = [Option<"rangesFile", "ranges", "std::string", "\"\"",
                        "JSON file of activation ranges (format mu-activation-ranges)">];
  let dependentDialects = ["muk::MukDialect", "mlir::quant::QuantDialect"];
}

def PlanMemory : Pass<"mu-plan-memory", "mlir::ModuleOp"> {
  let summary = "static activation arena: liveness + greedy by size";
  let description = [{
    For each function of muk ops: every result gets a 64-byte aligned arena
    offset (`offsets`, -1 for results that go to persistent state). Dynamic
    dims are bounded by the function's `mu.max_seq` attribute or the
    `max-seq` option. Tensors are placed largest first at the lowest offset
    free during their live range (definition to last use; returned values to
    the end). The arena size is recorded as `muk.arena_size`.
  }];
  let options = [Option<"maxSeq", "max-seq", "int64_t", "512",
                        "bound for dynamic (sequence) dims">];
  let dependentDialects = ["muk::MukDialect"];
}

def PackWeights : Pass<"mu-pack-weights", "mlir::ModuleOp"> {
  let summary = "mark int8 weights for the packed kernel layout (I8N16K4)";
  let description = [{
    On quantized muk kernel programs: a 2-d symmetric int8 constant read only
    as the weight of integer `muk.linear`s (8/16-bit input, signed or unsigned, per-tensor or
    per-output-channel weight scales) and possibly as the table of
    `muk.gather` (a tied embedding) gets `muk.layout = "i8n16k4"`. The `.mub`
    writer then stores it in tiles of 16 channels x 4 inputs plus int32 row
    sums (include/mu/runtime/Packing.h), the layout the CPU kernels read in
    place. Weights holding -128 (outside the layout's [-127, 127]) and
    block-wise weights stay row-major.
  }];
  let dependentDialects = ["muk::MukDialect", "mlir::quant::QuantDialect"];
}

def CheckTarget : Pass<"mu-check-target", "mlir::ModuleOp"> {
  let summary = "check kernel programs against a target file; partition onto target and CPU";
  let description = [{
    On quantized muk kernel programs: every kernel op must be listed in the
    target's `ops` (or covered by `"*"`), with each operand's and result's
    element class (float, i8, u8, i16, u16, i32, i64, bool) allowed for its
    role (inputs; weights = constant operands; outputs) and ranks within
    `shapes.max_rank`; quantized tensors must follow the scheme's encodings
    (signed or unsigned activations, symmetric zero points, per-tensor
    activations, weight granularity, block sizes, power-of-two scales) and
    the target's fixed output encodings (sigmoid, tanh, softmax). All
    violations are collected with the op's node name. With CPU fallback
    (the target's `fallback.cpu`, unless `no-fallback`), each violating op
    gets `muk.device = "cpu"` and the artifact records the partition;
    otherwise each violation is an error and the pass fails.
  }];
  let options = [Option<"targetFile", "target-file", "std::string", "\"\"",
                        "target description (JSON, docs/targets.md)">,
                 Option<"scheme", "scheme", "std::string", "\"\"",
                        "quantization scheme whose encodings to check (default: the target's)">,
                 Option<"noFallback", "no-fallback", "bool", "false",
                        "violations are errors even if the target allows CPU fallback">];
  let dependentDialects = ["muk::MukDialect", "mlir::quant::QuantDialect"];
}

def RoundFloat : Pass<"mu-round-float", "mlir::ModuleOp"> {
  let summary = "emulate a target's FP16/BF16 float precision (round kernel outputs)";
  let description = [{
    Every f32 result of an arithmetic kernel that runs on the target (no
    `muk.device = "cpu"` from mu-check-target) goes through `muk.round`
    (to `precision` and back: ints [1] FP16, [2] BF16), so consumers see values representable in the target's precision
    (round to nearest even), as on an NPU that computes float regions in
    FP16 or BF16. Data movement, casts, quantize and shape kernels are not
    rounded again. `precision=f32` does nothing.
  }];
  let options = [Option<"precision", "precision", "std::string", "\"f16\"",
                        "f32, f16 or bf16">];
  let dependentDialects = ["muk::MukDialect"];
}

#endif // MU_PASSES_TD
