#!/usr/bin/env python3
"""onnx.checker full check (strict shape inference) of every .onnx in DIR.

  check_onnx.py DIR      prints `checked NAME: N nodes, opset O[, com.microsoft]`"""
import os
import sys

import onnx

d = sys.argv[1]
files = sorted(f for f in os.listdir(d) if f.endswith(".onnx"))
if not files:
    sys.exit("check_onnx: no .onnx files in " + d)
for f in files:
    path = os.path.join(d, f)
    # In memory: check_model(path, full_check=True) rewrites the file with
    # the inferred shapes (onnx 1.12's infer_shapes_path).
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    ops = {o.domain or "ai.onnx": o.version for o in m.opset_import}
    print("checked %s: %d nodes, opset %d%s" % (f, len(m.graph.node), ops["ai.onnx"],
                                                ", com.microsoft" if "com.microsoft" in ops else ""))
