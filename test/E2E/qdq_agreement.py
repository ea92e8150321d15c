#!/usr/bin/env python3
"""Top-1 agreement of two teacher-forced runs ({"top1": [...]} JSON files,
from `mu-run --teacher-forced` and tools/mu-qdq-run.js --teacher).

  qdq_agreement.py MUB.json ORT.json [--min 0.99] [--label TEXT]

Prints `agreement L: A/N = P%` and exits 1 below --min."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("reference")
ap.add_argument("other")
ap.add_argument("--min", type=float, default=0.99)
ap.add_argument("--label", default="")
a = ap.parse_args()
R = json.load(open(a.reference))
O = json.load(open(a.other))
if "examples" in R:
    # Seq2seq (mu-run --teacher-forced on JSONL): every generated token, and
    # at the end of a stopped example any stop id counts as agreement.
    ref, oth = [], []
    for r, o in zip(R["examples"], O["examples"]):
        got = o["top1"]
        for j, t in enumerate(r["top1"]):
            ref.append(t)
            oth.append(got[j] if j < len(got) else -1)
        if r["stopped"] and len(got) > len(r["top1"]):
            ref.append(-2)
            oth.append(-2 if got[len(r["top1"])] in R["stop"] else got[len(r["top1"])])
    if len(R["examples"]) != len(O["examples"]):
        sys.exit("qdq_agreement: example counts differ")
else:
    ref, oth = R["top1"], O["top1"]
if len(ref) != len(oth) or not ref:
    sys.exit("qdq_agreement: lengths differ (%d vs %d)" % (len(ref), len(oth)))
same = sum(x == y for x, y in zip(ref, oth))
frac = same / len(ref)
print("agreement %s: %d/%d = %.2f%%" % (a.label, same, len(ref), 100 * frac))
if frac < a.min:
    sys.exit("qdq_agreement: below the floor of %.2f%%" % (100 * a.min))
