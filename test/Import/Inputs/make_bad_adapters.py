#!/usr/bin/env python3
"""Writes unsupported variants of a PEFT LoRA adapter for test/Import/lora.test.

  make_bad_adapters.py ADAPTER_DIR OUT_DIR

OUT_DIR/dora, save (modules_to_save), magnitude (an extra DoRA tensor),
rank (rank_pattern that does not match the tensors), unknown (a module the
model does not have)."""
import json
import os
import struct
import sys

import numpy as np

src, out = sys.argv[1:3]
cfg = json.load(open(os.path.join(src, "adapter_config.json")))


def read_st(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        h = json.loads(f.read(n))
        data = f.read()
    h.pop("__metadata__", None)
    return {k: (v["dtype"], v["shape"], data[v["data_offsets"][0]:v["data_offsets"][1]]) for k, v in h.items()}


def write_st(path, tensors):
    header, blobs, off = {}, [], 0
    for k, (dt, shape, raw) in tensors.items():
        header[k] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


tensors = read_st(os.path.join(src, "adapter_model.safetensors"))


def variant(name, config=None, extra=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    json.dump(config or cfg, open(os.path.join(d, "adapter_config.json"), "w"))
    t = dict(tensors)
    t.update(extra or {})
    write_st(os.path.join(d, "adapter_model.safetensors"), t)


variant("dora", dict(cfg, use_dora=True))
variant("save", dict(cfg, modules_to_save=["lm_head"]))
variant("magnitude", extra={"base_model.model.decoder.layers.0.mlp.fc1.lora_magnitude_vector":
                            ("F16", [1024], np.ones(1024, np.float16).tobytes())})
variant("rank", dict(cfg, rank_pattern={"q_proj": 4}))
a = tensors["base_model.model.decoder.layers.0.mlp.fc1.lora_A.weight"]
b = tensors["base_model.model.decoder.layers.0.mlp.fc1.lora_B.weight"]
variant("unknown", extra={"base_model.model.decoder.layers.9.mlp.fc1.lora_A.weight": a,
                          "base_model.model.decoder.layers.9.mlp.fc1.lora_B.weight": b})
