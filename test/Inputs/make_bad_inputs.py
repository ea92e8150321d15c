#!/usr/bin/env python3
"""Writes malformed checkpoints for the error tests into DIR.

safetensors cases need only the standard library; ONNX cases need python3-onnx
and are skipped (not written) without it.
"""
import json
import os
import struct
import sys

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def safetensors(path, tensors, data, header_len=None):
    h = json.dumps(tensors).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", header_len if header_len is not None else len(h)))
        f.write(h)
        f.write(data)


def llama_config(path, arch="LlamaForCausalLM", **over):
    cfg = {"architectures": [arch], "hidden_size": 8, "intermediate_size": 16,
           "num_hidden_layers": 1, "num_attention_heads": 2,
           "num_key_value_heads": 1, "vocab_size": 16, "tie_word_embeddings": True}
    cfg.update(over)
    with open(path, "w") as f:
        json.dump(cfg, f)


# A tensor whose data_offsets point past the end of the file.
d = os.path.join(out, "past-end")
os.makedirs(d, exist_ok=True)
safetensors(os.path.join(d, "model.safetensors"),
            {"model.embed_tokens.weight": {"dtype": "F16", "shape": [16, 8], "data_offsets": [0, 256]}},
            b"\0" * 100)
llama_config(os.path.join(d, "config.json"))

# Header length (first 8 bytes) larger than the file.
d = os.path.join(out, "bad-header-len")
os.makedirs(d, exist_ok=True)
safetensors(os.path.join(d, "model.safetensors"), {}, b"", header_len=1 << 20)
llama_config(os.path.join(d, "config.json"))

# A valid little file whose config names an unknown architecture.
d = os.path.join(out, "unknown-arch")
os.makedirs(d, exist_ok=True)
safetensors(os.path.join(d, "model.safetensors"),
            {"model.embed_tokens.weight": {"dtype": "F16", "shape": [16, 8], "data_offsets": [0, 256]}},
            b"\0" * 256)
llama_config(os.path.join(d, "config.json"), arch="GPTBigCodeForCausalLM")

# A tensor whose shape disagrees with config.json.
d = os.path.join(out, "wrong-shape")
os.makedirs(d, exist_ok=True)
safetensors(os.path.join(d, "model.safetensors"),
            {"model.embed_tokens.weight": {"dtype": "F16", "shape": [16, 4], "data_offsets": [0, 128]}},
            b"\0" * 128)
llama_config(os.path.join(d, "config.json"))

# No config.json beside the checkpoint.
d = os.path.join(out, "no-config")
os.makedirs(d, exist_ok=True)
safetensors(os.path.join(d, "model.safetensors"), {}, b"")

try:
    import onnx
    from onnx import helper, TensorProto
except ImportError:
    sys.exit(0)

# Unsupported operators: several types, one repeated, one in a custom domain.
x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
nodes = [
    helper.make_node("Relu", ["x"], ["a"], name="ok_relu"),
    helper.make_node("Hardmax", ["a"], ["b"], name="hm_1"),
    helper.make_node("Hardmax", ["b"], ["c"], name="hm_2"),
    helper.make_node("Einsum", ["c", "c"], ["d"], name="einsum_0", equation="ij,ij->ij"),
    helper.make_node("FusedMatMul", ["d", "d"], ["y"], name="fused_0", domain="com.microsoft"),
]
g = helper.make_graph(nodes, "unsupported", [x], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)])
onnx.save(m, os.path.join(out, "unsupported.onnx"))

# Too old an opset.
g = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="r")], "old", [x], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 6)])
onnx.save(m, os.path.join(out, "opset6.onnx"))

# Operands that cannot broadcast (a malformed model must not abort the importer).
a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [1, 4])
b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [3])
g = helper.make_graph([helper.make_node("Mul", ["a", "b"], ["y"], name="bad_mul")], "bcast", [a, b], [y])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
onnx.save(m, os.path.join(out, "bad-broadcast.onnx"))
