#!/usr/bin/env python3
"""Compiles a stories model with a quantization scheme and checks mu-run's
greedy output against the pinned ids:
  check_pinned.py MU_COMPILE MU_RUN MODEL_DIR SCHEME PINNED OUT [--compile-args ARGS...]
With --record, writes the current outputs into PINNED instead."""
import json
import os
import subprocess
import sys

compile_, run, model_dir, scheme, pinned, out = sys.argv[1:7]
extra = sys.argv[sys.argv.index("--compile-args") + 1:] if "--compile-args" in sys.argv else []
record = "--record" in sys.argv[7:sys.argv.index("--compile-args") if extra else len(sys.argv)]
name = os.path.basename(model_dir)
os.makedirs(out, exist_ok=True)
mub = os.path.join(out, f"{name}-{scheme}.mub")
subprocess.run([compile_, os.path.join(model_dir, "model.onnx"), f"--quant={scheme}", "-o", mub] + extra,
               check=True)
if record:
    pins = json.load(open(pinned)) if os.path.exists(pinned) else {}
    prompts = ["Once upon a time", "Lily wanted to play with her", "The little dog"]
    pins[name] = []
    for p in prompts:
        r = subprocess.run([run, mub, "--prompt", p, "-n", "32", "--greedy", "--json"],
                           check=True, capture_output=True, text=True)
        got = json.loads(r.stdout)
        pins[name].append({"prompt": p, "tokens": got["tokens"], "text": got["text"]})
    json.dump(pins, open(pinned, "w"), indent=1)
    print(f"recorded {name}")
    sys.exit(0)
bad = 0
for p in json.load(open(pinned))[name]:
    r = subprocess.run([run, mub, "--prompt", p["prompt"], "-n", str(len(p["tokens"])), "--greedy", "--json"],
                       check=True, capture_output=True, text=True)
    got = json.loads(r.stdout)
    if got["tokens"] != p["tokens"] or got["text"] != p["text"]:
        bad += 1
        print(f"MISMATCH {name} {p['prompt']!r}\n  want {p['tokens']}\n  got  {got['tokens']}")
n = len(json.load(open(pinned))[name])
print(f"{n - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
