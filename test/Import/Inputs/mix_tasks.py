"""Interleaves N page-task lines (adapter "page") with N settings lines
(adapter "none") into one JSONL, and writes the outputs fresh sessions gave
them (from two earlier --eval --json runs over the same first lines)."""
import json, sys

page, settings, n, out, expected, page_json, base_json = sys.argv[1:8]
n = int(n)
p = [json.loads(l) for l in open(page) if l.strip()][:n]
s = [json.loads(l) for l in open(settings) if l.strip()][:n]
po = json.load(open(page_json))["outputs"][:n]
so = json.load(open(base_json))["outputs"][:n]
with open(out, "w") as f, open(expected, "w") as e:
    for i in range(n):
        f.write(json.dumps({"input": p[i]["input"], "target": p[i]["target"], "adapter": "page"}) + "\n")
        e.write(po[i] + "\n")
        f.write(json.dumps({"input": s[i]["input"], "target": s[i]["target"], "adapter": "none"}) + "\n")
        e.write(so[i] + "\n")
