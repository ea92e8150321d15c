#!/usr/bin/env python3
"""Encodes the golden strings with mu-run and compares with the ids Hugging
Face tokenizers produced: check_tokenizer.py MU_RUN ARTIFACT GOLDEN KEY"""
import json
import subprocess
import sys

run, mub, golden, key = sys.argv[1:5]
g = json.load(open(golden))
bad = 0
for s, want in zip(g["strings"], g[key]):
    r = subprocess.run([run, mub, "--prompt", s, "-n", "0", "--json"], capture_output=True, text=True, check=True)
    got = json.loads(r.stdout)["prompt_tokens"]
    if got != want:
        bad += 1
        print(f"MISMATCH {s!r}\n  hf {want}\n  mu {got}")
print(f"{len(g['strings']) - bad} passed, {bad} failed")
sys.exit(1 if bad else 0)
