#!/usr/bin/env python3
"""Semantically damaged copies of a valid .mub (test/Malformed/mub.test):
the FlatBuffer is dumped to JSON with flatc, one item is edited, and the
file is rebuilt (header + FlatBuffer + the unchanged data section), so
every case gets past the FlatBuffers verifier and exercises our checks.
  edit_mub.py IN.mub OUT_DIR SCHEMA.fbs [FLATC]
IN should be quantized (w8a8) so the quantization cases find a tensor."""
import copy
import json
import os
import struct
import subprocess
import sys
import tempfile

src, out, schema = sys.argv[1:4]
flatc = sys.argv[4] if len(sys.argv) > 4 else "flatc"
data = open(src, "rb").read()
version, fb_off, fb_size, d_off, d_size, file_size = struct.unpack_from("<IQQQQQ", data, 4)
tmp = tempfile.mkdtemp()
open(os.path.join(tmp, "fb.bin"), "wb").write(data[fb_off:fb_off + fb_size])
subprocess.check_call([flatc, "--json", "--strict-json", "--raw-binary", "--defaults-json",
                       "-o", tmp, schema, "--", os.path.join(tmp, "fb.bin")])
base = json.load(open(os.path.join(tmp, "fb.json")))
os.makedirs(out, exist_ok=True)


def write(name, j):  # the header carries j["format_version"]
    jp = os.path.join(tmp, name + ".json")
    json.dump(j, open(jp, "w"))
    subprocess.check_call([flatc, "-b", "-o", tmp, schema, jp])
    fb = open(os.path.join(tmp, name + ".mub"), "rb").read()  # file_extension "mub"
    doff = (64 + len(fb) + 63) // 64 * 64
    body = fb + b"\0" * (doff - 64 - len(fb)) + data[d_off:d_off + d_size]
    hdr = b"MUB\0" + struct.pack("<IQQQQQ", j["format_version"], 64, len(fb), doff, d_size, 64 + len(body))
    open(os.path.join(out, name + ".mub"), "wb").write(hdr.ljust(64, b"\0") + body)


def case(name, edit):
    j = copy.deepcopy(base)
    edit(j)
    write(name, j)


prog = lambda j, name="decode": next(p for p in j["programs"] if p["name"] == name)
first = lambda p, pred: next(i for i, x in enumerate(p) if pred(x))
linear = lambda p: p["instrs"][first(p["instrs"], lambda i: i["op"] == "Linear")]
const = lambda p: p["tensors"][first(p["tensors"], lambda t: t["storage"] == "Constant" and t["layout"] == "RowMajor")]
qconst = lambda p: p["tensors"][first(p["tensors"], lambda t: t["storage"] == "Constant" and t.get("quant"))]
qact = lambda p: p["tensors"][first(p["tensors"], lambda t: t["storage"] == "Arena" and t.get("quant"))]
arena = lambda p: p["tensors"][first(p["tensors"], lambda t: t["storage"] == "Arena" and t["dtype"] == "F32")]
state = lambda p: p["tensors"][first(p["tensors"], lambda t: t["storage"] == "State")]

write("roundtrip", base)  # the unedited rebuild must still run
case("index-past-table", lambda j: linear(prog(j))["inputs"].__setitem__(0, len(prog(j)["tensors"])))
case("output-negative", lambda j: linear(prog(j))["outputs"].__setitem__(0, -1))
case("required-input-absent", lambda j: linear(prog(j))["inputs"].__setitem__(1, -1))
case("writes-constant", lambda j: linear(prog(j))["outputs"].__setitem__(
    0, first(prog(j)["tensors"], lambda t: t["storage"] == "Constant")))
case("tensor-no-name", lambda j: arena(prog(j)).pop("name"))
case("operand-count", lambda j: linear(prog(j)).__setitem__("inputs", linear(prog(j))["inputs"][:1]))
case("program-input-index", lambda j: prog(j)["inputs"].__setitem__(0, 100000))
case("rank-mismatch", lambda j: const(prog(j))["max_shape"].append(1))
case("dtype-size-mismatch", lambda j: const(prog(j)).__setitem__("dtype", "F32"))
case("arena-slot-outside", lambda j: arena(prog(j)).__setitem__("offset", prog(j)["arena_size"]))
case("arena-size-too-large", lambda j: prog(j).__setitem__("arena_size", prog(j)["arena_size"] + (1 << 20)))
case("slot-misaligned", lambda j: arena(prog(j)).__setitem__("offset", arena(prog(j))["offset"] + 2))
case("segment-index", lambda j: const(prog(j)).__setitem__("segment", len(j["segments"]) + 5))
case("segment-outside-data", lambda j: j["segments"][0].__setitem__("offset", d_size + 64))
case("constant-outside-segment", lambda j: const(prog(j)).__setitem__("offset", 1 << 30))
case("state-index", lambda j: state(prog(j)).__setitem__("state", 99))
case("state-size", lambda j: j["states"][0].__setitem__("size", j["states"][0]["size"] + 4))
case("dims-overflow", lambda j: const(prog(j)).update(shape=[1 << 40, 1 << 40], max_shape=[1 << 40, 1 << 40]))
case("negative-dim", lambda j: const(prog(j)).update(max_shape=[-5] * len(const(prog(j))["shape"]),
                                                     shape=[-5] * len(const(prog(j))["shape"])))
case("scale-count", lambda j: qconst(prog(j))["quant"].__setitem__("scale", [0.5, 0.25]))
case("zero-point-range", lambda j: qact(prog(j))["quant"].__setitem__("zero_point", [300]))
case("scale-not-positive", lambda j: qact(prog(j))["quant"].__setitem__("scale", [-1.0]))
case("packed-layout-dtype", lambda j: qconst(prog(j)).__setitem__("dtype", "I16"))
case("format-version", lambda j: j.__setitem__("format_version", 9))
case("no-programs", lambda j: j.__setitem__("programs", []))
case("unknown-numerics", lambda j: j.__setitem__("numerics", ["int4-float"]))
case("unknown-layout", lambda j: const(prog(j)).__setitem__("layout", 7))
case("state-too-large", lambda j: j["states"][0].update(max_shape=[1 << 20, 1 << 20, 1 << 20],
                                                        size=4 << 60))
case("lora-sites-in-v3", lambda j: j.update(format_version=3,
                                            lora_sites=[{"name": "x", "in_features": 4, "out_features": 4}]))


def overlap(j):
    """An instruction output moved to start 64 bytes into its first input."""
    p = prog(j)
    ts = p["tensors"]
    for ins in p["instrs"]:
        i, o = ins["inputs"][0], ins["outputs"][0]
        if i < 0 or ts[i]["storage"] != "Arena" or ts[o]["storage"] != "Arena":
            continue
        at = ts[i].get("offset", 0) + 64
        if ts[i]["size"] > 64 and at + ts[o]["size"] <= p["arena_size"]:
            ts[o]["offset"] = at
            return
    raise SystemExit("no arena-to-arena instruction to overlap")


case("output-overlaps-input", overlap)
