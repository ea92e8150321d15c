"""Checks an `mu-run --eval --compare --json` result against floors.

usage: check_eval.py RESULT.json --exact-min N --top1-min P
Prints the numbers and exits non-zero when a floor is missed.
"""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("result")
ap.add_argument("--exact-min", type=int, required=True)
ap.add_argument("--top1-min", type=float, required=True)
a = ap.parse_args()
r = json.load(open(a.result))
top1 = r["compare"]["top1_agreement"]
print(f"examples {r['examples']} exact {r['exact']} top1 {100 * top1:.2f}%")
ok = r["exact"] >= a.exact_min and top1 >= a.top1_min
print("OK" if ok else "BELOW FLOOR")
sys.exit(0 if ok else 1)
