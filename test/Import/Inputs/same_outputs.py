"""Compares the per-example outputs of two `mu-run --eval --json` results
(or one and a text file of expected outputs, one per line); prints OK when
the share of equal outputs is at least --min."""
import argparse, json

ap = argparse.ArgumentParser()
ap.add_argument("a")
ap.add_argument("b")
ap.add_argument("--min", type=float, required=True)
args = ap.parse_args()


def outputs(path):
    if path.endswith(".json"):
        return json.load(open(path))["outputs"]
    return open(path).read().split("\n")[:-1]


a, b = outputs(args.a), outputs(args.b)
if len(a) != len(b) or not a:
    raise SystemExit(f"{len(a)} vs {len(b)} outputs")
same = sum(x == y for x, y in zip(a, b)) / len(a)
print("OK" if same >= args.min else f"only {same:.4f} of outputs agree (floor {args.min})")
