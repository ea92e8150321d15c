#!/usr/bin/env python3
"""Generate random-weight FP16 checkpoints of the reference model shapes.

Shapes (see ../shared/design/ARCHITECTURE.md):
  micro       decoder-only micro LM, ~28.9M params: hidden 512, 8 layers,
              8 q / 2 kv heads, head_dim 64, SwiGLU 1408, vocab 12288,
              RMSNorm, RoPE theta 1e6, tied embeddings
  mu          Mu-class encoder-decoder, ~333M params: 20 enc / 10 dec layers,
              d_model 1024, 6 q / 3 kv heads x 64, FFN 4096 GELU-tanh,
              Dual LayerNorm, linear biases, RoPE theta 1e4, vocab 32128, tied
  micro-tiny, mu-tiny
              the same architectures, tiny, for tests

Formats:
  safetensors  model.safetensors + config.json (schema: docs/model-config.md)
  onnx         model.onnx, opset 17, laid out the way torch.onnx.export emits
               such models: decomposed norms/GELU/attention, rotate_half RoPE
               via Slice/Neg/Concat, repeat_kv via Unsqueeze/Expand/Reshape,
               shapes computed in-graph from Shape/Gather/Concat, FP16
               initializers each followed by a Cast to float32, and the tied
               LM head stored a second time as a transposed copy.

Only numpy is needed for safetensors; onnx (python3-onnx) for ONNX.
Deterministic: the same --seed gives byte-identical files.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

SHAPES = {
    "micro": dict(arch="decoder", vocab=12288, hidden=512, layers=8, heads=8,
                  kv_heads=2, head_dim=64, ffn=1408, act="silu", theta=1e6,
                  eps=1e-5),
    "micro-tiny": dict(arch="decoder", vocab=384, hidden=64, layers=2, heads=4,
                       kv_heads=2, head_dim=16, ffn=96, act="silu", theta=1e6,
                       eps=1e-5),
    # micro-tiny with the micro-LM tokenizer's vocabulary (12288): for tests
    # that pair random weights with ../shared/models/microlm-tokenizer.
    "micro-tiny-bpe": dict(arch="decoder", vocab=12288, hidden=64, layers=2, heads=4,
                           kv_heads=2, head_dim=16, ffn=96, act="silu", theta=1e6,
                           eps=1e-5),
    "mu": dict(arch="encdec", vocab=32128, hidden=1024, enc_layers=20,
               layers=10, heads=6, kv_heads=3, head_dim=64, ffn=4096,
               act="gelu_tanh", theta=1e4, eps=1e-5),
    "mu-tiny": dict(arch="encdec", vocab=320, hidden=64, enc_layers=2,
                    layers=2, heads=2, kv_heads=1, head_dim=16, ffn=128,
                    act="gelu_tanh", theta=1e4, eps=1e-5),
}


# ----------------------------------------------------------------------------
# Weights
# ----------------------------------------------------------------------------

def make_weights(s, rng):
    """Name -> fp16 array, in a fixed order."""
    w = {}
    d, hd, f = s["hidden"], s["head_dim"], s["ffn"]
    hq, hkv = s["heads"], s["kv_heads"]

    def mat(out, inp):
        return (rng.standard_normal((out, inp), dtype=np.float32)
                * (1.0 / np.sqrt(inp))).astype(np.float16)

    def vec(n, base=0.0, scale=0.02):
        return (base + scale * rng.standard_normal(n, dtype=np.float32)).astype(np.float16)

    if s["arch"] == "decoder":
        w["model.embed_tokens.weight"] = (rng.standard_normal((s["vocab"], d), dtype=np.float32) * 0.5).astype(np.float16)
        for i in range(s["layers"]):
            p = f"model.layers.{i}."
            w[p + "input_layernorm.weight"] = vec(d, 1.0, 0.1)
            w[p + "self_attn.q_proj.weight"] = mat(hq * hd, d)
            w[p + "self_attn.k_proj.weight"] = mat(hkv * hd, d)
            w[p + "self_attn.v_proj.weight"] = mat(hkv * hd, d)
            w[p + "self_attn.o_proj.weight"] = mat(d, hq * hd)
            w[p + "post_attention_layernorm.weight"] = vec(d, 1.0, 0.1)
            w[p + "mlp.gate_proj.weight"] = mat(f, d)
            w[p + "mlp.up_proj.weight"] = mat(f, d)
            w[p + "mlp.down_proj.weight"] = mat(d, f)
        w["model.norm.weight"] = vec(d, 1.0, 0.1)
        return w

    w["shared.weight"] = (rng.standard_normal((s["vocab"], d), dtype=np.float32) * 0.5).astype(np.float16)

    def attn(p):
        w[p + "q_proj.weight"] = mat(hq * hd, d)
        w[p + "q_proj.bias"] = vec(hq * hd)
        w[p + "k_proj.weight"] = mat(hkv * hd, d)
        w[p + "k_proj.bias"] = vec(hkv * hd)
        w[p + "v_proj.weight"] = mat(hkv * hd, d)
        w[p + "v_proj.bias"] = vec(hkv * hd)
        w[p + "o_proj.weight"] = mat(d, hq * hd)
        w[p + "o_proj.bias"] = vec(d)

    def norm(p):
        w[p + ".weight"] = vec(d, 1.0, 0.1)
        w[p + ".bias"] = vec(d)

    def mlp(p):
        w[p + "fc1.weight"] = mat(f, d)
        w[p + "fc1.bias"] = vec(f)
        w[p + "fc2.weight"] = mat(d, f)
        w[p + "fc2.bias"] = vec(d)

    for i in range(s["enc_layers"]):
        p = f"encoder.layers.{i}."
        norm(p + "self_attn_norm")
        attn(p + "self_attn.")
        norm(p + "self_attn_post_norm")
        norm(p + "mlp_norm")
        mlp(p + "mlp.")
        norm(p + "mlp_post_norm")
    norm("encoder.norm")
    for i in range(s["layers"]):
        p = f"decoder.layers.{i}."
        norm(p + "self_attn_norm")
        attn(p + "self_attn.")
        norm(p + "self_attn_post_norm")
        norm(p + "cross_attn_norm")
        attn(p + "cross_attn.")
        norm(p + "cross_attn_post_norm")
        norm(p + "mlp_norm")
        mlp(p + "mlp.")
        norm(p + "mlp_post_norm")
    norm("decoder.norm")
    return w


def config_json(s):
    if s["arch"] == "decoder":
        return {
            "architectures": ["LlamaForCausalLM"], "model_type": "llama",
            "hidden_size": s["hidden"], "intermediate_size": s["ffn"],
            "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
            "num_key_value_heads": s["kv_heads"], "head_dim": s["head_dim"],
            "vocab_size": s["vocab"], "max_position_embeddings": 2048,
            "rms_norm_eps": s["eps"], "rope_theta": s["theta"],
            "rope_scaling": None, "hidden_act": "silu",
            "attention_bias": False, "mlp_bias": False,
            "tie_word_embeddings": True, "torch_dtype": "float16",
            "bos_token_id": 1, "eos_token_id": 2,
        }
    return {
        "architectures": ["MuForConditionalGeneration"], "model_type": "mu",
        "vocab_size": s["vocab"], "d_model": s["hidden"],
        "num_encoder_layers": s["enc_layers"],
        "num_decoder_layers": s["layers"],
        "num_attention_heads": s["heads"],
        "num_key_value_heads": s["kv_heads"], "head_dim": s["head_dim"],
        "intermediate_size": s["ffn"], "hidden_act": s["act"],
        "gated_ffn": False, "norm_type": "dual_layernorm",
        "norm_eps": s["eps"], "rope_theta": s["theta"],
        "attention_bias": True, "mlp_bias": True,
        "tie_word_embeddings": True, "max_position_embeddings": 2048,
        "torch_dtype": "float16",
        "bos_token_id": 1, "eos_token_id": 2, "pad_token_id": 0,
        "decoder_start_token_id": 0,
    }


def write_safetensors(path, weights):
    header, offset = {}, 0
    for name in sorted(weights):
        a = weights[name]
        header[name] = {"dtype": "F16", "shape": list(a.shape),
                        "data_offsets": [offset, offset + a.nbytes]}
        offset += a.nbytes
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for name in sorted(weights):
            f.write(np.ascontiguousarray(weights[name]).astype("<f2").tobytes())
    os.replace(tmp, path)


# ----------------------------------------------------------------------------
# ONNX, exporter style
# ----------------------------------------------------------------------------

class G:
    """Tiny graph builder producing torch.onnx-like node soup."""

    def __init__(self, onnx, helper, numpy_helper):
        self.onnx, self.h, self.nh = onnx, helper, numpy_helper
        self.nodes, self.inits, self.n = [], [], 0
        self.casted = {}

    def name(self, base):
        self.n += 1
        return f"/{base}_{self.n}"

    def node(self, op, inputs, base=None, n_out=1, **attrs):
        nm = self.name(base or op)
        outs = [f"{nm}_output_{i}" for i in range(n_out)]
        self.nodes.append(self.h.make_node(op, inputs, outs, name=nm, **attrs))
        return outs[0] if n_out == 1 else outs

    def const(self, value, dtype=np.int64):
        arr = np.array(value, dtype=dtype)
        return self.node("Constant", [], value=self.nh.from_array(arr))

    def weight(self, name, arr):
        """FP16 initializer + Cast to float32 (once per name)."""
        if name not in self.casted:
            self.inits.append(self.nh.from_array(arr, name))
            out = name + "_fp32"
            self.nodes.append(self.h.make_node("Cast", [name], [out], name="Cast_" + name,
                                               to=self.onnx.TensorProto.FLOAT))
            self.casted[name] = out
        return self.casted[name]

    def dim(self, x, i):
        return self.node("Gather", [self.node("Shape", [x]), self.const(i)], axis=0)

    def shape_of(self, *parts):
        """Concat of 1-d pieces: ints become constants, strings are scalars."""
        pieces = []
        for p in parts:
            if isinstance(p, str):
                pieces.append(self.node("Unsqueeze", [p, self.const([0])]))
            else:
                pieces.append(self.const([p]))
        return self.node("Concat", pieces, axis=0)


def onnx_linear(g, x, w, name, bias=None):
    wt = g.node("Transpose", [g.weight(name + ".weight", w[name + ".weight"])], perm=[1, 0])
    y = g.node("MatMul", [x, wt])
    if bias:
        y = g.node("Add", [g.weight(name + ".bias", w[name + ".bias"]), y])
    return y


def onnx_rmsnorm(g, x, w, name, eps):
    p = g.node("Pow", [x, g.const(2.0, np.float32)])
    m = g.node("ReduceMean", [p], axes=[-1], keepdims=1)
    s = g.node("Sqrt", [g.node("Add", [m, g.const(eps, np.float32)])])
    r = g.node("Div", [g.const(1.0, np.float32), s])
    n = g.node("Mul", [x, r])
    return g.node("Mul", [g.weight(name + ".weight", w[name + ".weight"]), n])


def onnx_layernorm(g, x, w, name, eps):
    mean = g.node("ReduceMean", [x], axes=[-1], keepdims=1)
    d = g.node("Sub", [x, mean])
    var = g.node("ReduceMean", [g.node("Pow", [d, g.const(2.0, np.float32)])], axes=[-1], keepdims=1)
    n = g.node("Div", [d, g.node("Sqrt", [g.node("Add", [var, g.const(eps, np.float32)])])])
    y = g.node("Mul", [n, g.weight(name + ".weight", w[name + ".weight"])])
    return g.node("Add", [y, g.weight(name + ".bias", w[name + ".bias"])])


def onnx_gelu_tanh(g, x):
    c = g.node("Mul", [g.node("Pow", [x, g.const(3.0, np.float32)]), g.const(0.044715, np.float32)])
    inner = g.node("Mul", [g.node("Add", [x, c]), g.const(np.sqrt(2.0 / np.pi), np.float32)])
    t = g.node("Add", [g.node("Tanh", [inner]), g.const(1.0, np.float32)])
    return g.node("Mul", [g.node("Mul", [g.const(0.5, np.float32), x]), t])


def onnx_rope_interleaved(g, x, cos, sin, hd):
    """GPT-J / llama2.c pairs (2i, 2i+1): view as [..., d/2, 2], rotate, flatten."""
    b0, h, sq = g.dim(x, 0), g.dim(x, 1), g.dim(x, 2)
    pairs = g.node("Reshape", [x, g.shape_of(b0, h, sq, hd // 2, 2)])
    x0 = g.node("Gather", [pairs, g.const(0)], axis=-1)
    x1 = g.node("Gather", [pairs, g.const(1)], axis=-1)
    re = g.node("Sub", [g.node("Mul", [x0, cos]), g.node("Mul", [x1, sin])])
    im = g.node("Add", [g.node("Mul", [x0, sin]), g.node("Mul", [x1, cos])])
    st = g.node("Concat", [g.node("Unsqueeze", [re, g.const([-1])]),
                           g.node("Unsqueeze", [im, g.const([-1])])], axis=-1)
    return g.node("Reshape", [st, g.shape_of(b0, h, sq, hd)])


def onnx_rope_tables(g, ids, s):
    """Positions 0..seq-1 -> (cos, sin, causal mask). rotate_half tables are
    [seq, head_dim] (frequencies repeated); interleaved ones [seq, head_dim/2]
    (each entry serves a pair)."""
    seq = g.dim(ids, 1)
    r = g.node("Range", [g.const(0), g.node("Cast", [seq], to=7), g.const(1)])
    rf = g.node("Cast", [r], to=1)
    hd = s["head_dim"]
    inv = 1.0 / (s["theta"] ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
    freqs = g.node("Mul", [g.node("Unsqueeze", [rf, g.const([1])]), g.const(inv.reshape(1, -1), np.float32)])
    emb = freqs if s.get("rope") == "interleaved" else g.node("Concat", [freqs, freqs], axis=-1)
    mask = g.node("Greater", [g.node("Unsqueeze", [r, g.const([0])]), g.node("Unsqueeze", [r, g.const([1])])])
    return g.node("Cos", [emb]), g.node("Sin", [emb]), mask


def onnx_rotate_half(g, x, cos, sin, hd):
    xc = g.node("Mul", [x, cos])
    x1 = g.node("Slice", [x, g.const([0]), g.const([hd // 2]), g.const([3]), g.const([1])])
    x2 = g.node("Slice", [x, g.const([hd // 2]), g.const([2**63 - 1]), g.const([3]), g.const([1])])
    rot = g.node("Concat", [g.node("Neg", [x2]), x1], axis=-1)
    return g.node("Add", [xc, g.node("Mul", [rot, sin])])


def onnx_attention(g, xq, xkv, w, p, s, bias, rope, mask):
    hq, hkv, hd = s["heads"], s["kv_heads"], s["head_dim"]
    b0, sq, skv = g.dim(xq, 0), g.dim(xq, 1), g.dim(xkv, 1)

    def heads(x, proj, h, seqd):
        y = onnx_linear(g, x, w, p + proj, bias)
        y = g.node("Reshape", [y, g.shape_of(b0, seqd, h, hd)])
        return g.node("Transpose", [y], perm=[0, 2, 1, 3])

    q, k, v = heads(xq, "q_proj", hq, sq), heads(xkv, "k_proj", hkv, skv), heads(xkv, "v_proj", hkv, skv)
    if rope:
        fn = onnx_rope_interleaved if s.get("rope") == "interleaved" else onnx_rotate_half
        q = fn(g, q, rope[0], rope[1], hd)
        k = fn(g, k, rope[0], rope[1], hd)
    rep = hq // hkv
    if rep > 1:
        def repeat(t):
            t5 = g.node("Unsqueeze", [t, g.const([2])])
            e = g.node("Expand", [t5, g.shape_of(b0, hkv, rep, skv, hd)])
            return g.node("Reshape", [e, g.shape_of(b0, hq, skv, hd)])
        k, v = repeat(k), repeat(v)
    sc = g.node("MatMul", [q, g.node("Transpose", [k], perm=[0, 1, 3, 2])])
    sc = g.node("Mul", [sc, g.const(1.0 / np.sqrt(hd), np.float32)])
    if mask is not None:
        sc = g.node("Where", [g.node("Cast", [mask], to=9), g.const(-np.inf, np.float32), sc])
    pr = g.node("Softmax", [sc], axis=-1)
    o = g.node("Transpose", [g.node("MatMul", [pr, v])], perm=[0, 2, 1, 3])
    o = g.node("Reshape", [o, g.shape_of(b0, sq, hq * hd)])
    return onnx_linear(g, o, w, p + "o_proj", bias)


def write_onnx(path, s, w):
    import onnx
    from onnx import helper, numpy_helper, TensorProto
    g = G(onnx, helper, numpy_helper)
    eps = s["eps"]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, [1, "seq"])]
    if s["arch"] == "decoder":
        ids = "input_ids"
        cos, sin, mask = onnx_rope_tables(g, ids, s)
        x = g.node("Gather", [g.weight("model.embed_tokens.weight", w["model.embed_tokens.weight"]), ids])
        for i in range(s["layers"]):
            p = f"model.layers.{i}."
            h = onnx_rmsnorm(g, x, w, p + "input_layernorm", eps)
            x = g.node("Add", [x, onnx_attention(g, h, h, w, p + "self_attn.", s, False, (cos, sin), mask)])
            h = onnx_rmsnorm(g, x, w, p + "post_attention_layernorm", eps)
            gate = onnx_linear(g, h, w, p + "mlp.gate_proj")
            up = onnx_linear(g, h, w, p + "mlp.up_proj")
            act = g.node("Mul", [gate, g.node("Sigmoid", [gate])])
            x = g.node("Add", [x, onnx_linear(g, g.node("Mul", [act, up]), w, p + "mlp.down_proj")])
        x = onnx_rmsnorm(g, x, w, "model.norm", eps)
        # The exporter's copy of the tied head: a transposed [d, vocab] initializer.
        head = np.ascontiguousarray(w["model.embed_tokens.weight"].T)
        logits = g.node("MatMul", [x, g.weight("lm_head.weight_transposed", head)])
    else:
        inputs.append(helper.make_tensor_value_info("decoder_input_ids", TensorProto.INT64, [1, "tgt_seq"]))

        def block(x, p, rope, mask, enc):
            def sub(x, norm, fn):
                h = fn(onnx_layernorm(g, x, w, p + norm, eps))
                return g.node("Add", [x, onnx_layernorm(g, h, w, p + norm[:-5] + "_post_norm", eps)])
            x = sub(x, "self_attn_norm", lambda h: onnx_attention(g, h, h, w, p + "self_attn.", s, True, rope, mask))
            if enc is not None:
                x = sub(x, "cross_attn_norm", lambda h: onnx_attention(g, h, enc, w, p + "cross_attn.", s, True, None, None))
            return sub(x, "mlp_norm", lambda h: onnx_linear(g, onnx_gelu_tanh(g, onnx_linear(g, h, w, p + "mlp.fc1", True)), w, p + "mlp.fc2", True))

        table = g.weight("shared.weight", w["shared.weight"])
        cos, sin, _ = onnx_rope_tables(g, "input_ids", s)
        x = g.node("Gather", [table, "input_ids"])
        for i in range(s["enc_layers"]):
            x = block(x, f"encoder.layers.{i}.", (cos, sin), None, None)
        enc = onnx_layernorm(g, x, w, "encoder.norm", eps)
        cosd, sind, maskd = onnx_rope_tables(g, "decoder_input_ids", s)
        y = g.node("Gather", [table, "decoder_input_ids"])
        for i in range(s["layers"]):
            y = block(y, f"decoder.layers.{i}.", (cosd, sind), maskd, enc)
        y = onnx_layernorm(g, y, w, "decoder.norm", eps)
        logits = g.node("MatMul", [y, g.node("Transpose", [table], perm=[1, 0])])
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"], name="/logits"))
    out = helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, "tgt_seq" if s["arch"] != "decoder" else "seq", s["vocab"]])
    graph = helper.make_graph(g.nodes, "mu_gen_" + s["arch"], inputs, [out], g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)],
                              producer_name="mu-gen-checkpoint")
    model.ir_version = 8
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(model.SerializeToString())
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--shape", choices=sorted(SHAPES), required=True)
    ap.add_argument("--format", choices=["safetensors", "onnx", "both"], default="both")
    ap.add_argument("--out", required=True, help="output directory")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rope", choices=["rotate_half", "interleaved"], default="rotate_half",
                    help="RoPE layout of the ONNX export (safetensors always uses HF rotate_half)")
    a = ap.parse_args()
    s = dict(SHAPES[a.shape])
    s["rope"] = a.rope
    os.makedirs(a.out, exist_ok=True)
    w = make_weights(s, np.random.default_rng(a.seed))
    n = sum(v.size for v in w.values())
    if a.format in ("safetensors", "both"):
        write_safetensors(os.path.join(a.out, "model.safetensors"), w)
        with open(os.path.join(a.out, "config.json"), "w") as f:
            json.dump(config_json(s), f, indent=2)
            f.write("\n")
    if a.format in ("onnx", "both"):
        write_onnx(os.path.join(a.out, "model.onnx"), s, w)
    print(f"{a.shape}: {n:,} parameters -> {a.out}")


if __name__ == "__main__":
    sys.exit(main())
