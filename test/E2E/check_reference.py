#!/usr/bin/env python3
"""Compile a ../shared stories checkpoint and compare mu-run's greedy output
with reference.json (token ids and text) for every prompt.

usage: check_reference.py MU_COMPILE MU_RUN MODEL_DIR FORMAT OUT_DIR
                          [--run-args ARGS...] [--compile-args ARGS...]
"""
import json
import os
import subprocess
import sys

compile_, run, model_dir, fmt, out = sys.argv[1:6]
run_args, compile_args, cur = [], [], None
for a in sys.argv[6:]:
    if a in ("--run-args", "--compile-args"):
        cur = run_args if a == "--run-args" else compile_args
    elif cur is not None:
        cur.append(a)
ref = json.load(open(os.path.join(model_dir, "reference.json")))
os.makedirs(out, exist_ok=True)
tag = "-".join(x.strip("-").replace("=", "") for x in compile_args)
mub = os.path.join(out, f"{os.path.basename(model_dir)}-{fmt}{'-' + tag if tag else ''}.mub")
src = os.path.join(model_dir, "model." + fmt)
subprocess.run([compile_, src, "-o", mub] + compile_args, check=True)
failures = 0
for p in ref["prompts"]:
    n = len(p["continuation_ids"])
    r = subprocess.run([run, mub, "--prompt", p["prompt"], "-n", str(n), "--greedy", "--json"] + run_args,
                       check=True, capture_output=True, text=True)
    got = json.loads(r.stdout)
    ok = (got["prompt_tokens"] == p["prompt_ids"] and got["tokens"] == p["continuation_ids"]
          and got["text"] == p["continuation_text"])
    print(f"{'PASS' if ok else 'FAIL'}: {os.path.basename(model_dir)} {fmt} {p['prompt']!r}")
    if not ok:
        failures += 1
        print("  expected ids ", p["prompt_ids"], p["continuation_ids"])
        print("  got ids      ", got["prompt_tokens"], got["tokens"])
        print("  expected text", repr(p["continuation_text"]))
        print("  got text     ", repr(got["text"]))
print(f"{len(ref['prompts']) - failures} passed, {failures} failed")
sys.exit(1 if failures else 0)
