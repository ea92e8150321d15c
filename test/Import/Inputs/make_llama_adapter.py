#!/usr/bin/env python3
"""A PEFT LoRA adapter for a LLaMA-family checkpoint (test/Import/lora.test).

  make_llama_adapter.py CHECKPOINT.safetensors OUT_DIR zero|random

zero: lora_B = 0 (the merged model equals the base); random: small random
A and B on q_proj and down_proj of every layer (rsLoRA, r 4, alpha 8)."""
import json
import os
import struct
import sys

import numpy as np

ckpt, out, kind = sys.argv[1:4]
with open(ckpt, "rb") as f:
    n = struct.unpack("<Q", f.read(8))[0]
    header = json.loads(f.read(n))
header.pop("__metadata__", None)
rng = np.random.default_rng(7)
r = 4
tensors = {}
for name, info in sorted(header.items()):
    if not (name.endswith("self_attn.q_proj.weight") or name.endswith("mlp.down_proj.weight")):
        continue
    o, i = info["shape"]
    module = name[: -len(".weight")]
    a = (rng.standard_normal((r, i)) * 0.2).astype(np.float16)
    b = np.zeros((o, r), np.float16) if kind == "zero" else (rng.standard_normal((o, r)) * 0.2).astype(np.float16)
    tensors["base_model.model." + module + ".lora_A.weight"] = a
    tensors["base_model.model." + module + ".lora_B.weight"] = b
os.makedirs(out, exist_ok=True)
hdr, blobs, off = {}, [], 0
for k, v in tensors.items():
    raw = v.tobytes()
    hdr[k] = {"dtype": "F16", "shape": list(v.shape), "data_offsets": [off, off + len(raw)]}
    blobs.append(raw)
    off += len(raw)
h = json.dumps(hdr).encode()
with open(os.path.join(out, "adapter_model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
json.dump({"peft_type": "LORA", "r": r, "lora_alpha": 8, "use_rslora": True, "use_dora": False,
           "fan_in_fan_out": False, "bias": "none", "modules_to_save": None,
           "target_modules": ["q_proj", "down_proj"], "rank_pattern": {}, "alpha_pattern": {}},
          open(os.path.join(out, "adapter_config.json"), "w"))
