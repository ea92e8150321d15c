#!/usr/bin/env python3
"""Malformed checkpoints, configs, tokenizers, target files and task data
derived from a valid generated micro-LM (test/Malformed/inputs.test):
  make_malformed.py MODEL_DIR OUT_DIR TARGET.json
Each case is a directory (or file) under OUT_DIR named for what is wrong."""
import json
import os
import shutil
import struct
import sys

src, out, target = sys.argv[1:4]
os.makedirs(out, exist_ok=True)
cfg = json.load(open(os.path.join(src, "config.json")))
st = open(os.path.join(src, "model.safetensors"), "rb").read()
hlen = struct.unpack_from("<Q", st, 0)[0]
header = json.loads(st[8:8 + hlen])
body = st[8 + hlen:]


def checkpoint(name, config=None, hdr=None, data=None, raw=None):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    json.dump(cfg if config is None else config, open(os.path.join(d, "config.json"), "w"))
    if raw is None:
        h = json.dumps(header if hdr is None else hdr).encode()
        raw = struct.pack("<Q", len(h)) + h + (body if data is None else data)
    open(os.path.join(d, "model.safetensors"), "wb").write(raw)


def edited(fn):
    h = json.loads(json.dumps(header))
    fn(h)
    return h


names = sorted(k for k in header if k != "__metadata__")
emb = next(k for k in names if "embed_tokens" in k)
# safetensors
checkpoint("st-header-not-json", raw=struct.pack("<Q", 5) + b"{oops" + body)
checkpoint("st-unknown-dtype", hdr=edited(lambda h: h[emb].update(dtype="F8_E9M9")))
checkpoint("st-size-mismatch", hdr=edited(lambda h: h[emb].update(shape=[h[emb]["shape"][0] * 2, h[emb]["shape"][1]])))
checkpoint("st-offsets-overlap", hdr=edited(lambda h: h[names[1]].update(
    data_offsets=[h[names[0]]["data_offsets"][0], h[names[0]]["data_offsets"][0] +
                  (h[names[1]]["data_offsets"][1] - h[names[1]]["data_offsets"][0])])))
checkpoint("st-offsets-reversed", hdr=edited(lambda h: h[emb].update(data_offsets=h[emb]["data_offsets"][::-1])))
checkpoint("st-count-overflow", hdr=edited(lambda h: h[emb].update(shape=[1 << 62, 1 << 62])))
checkpoint("st-missing-tensor", hdr=edited(lambda h: h.pop(names[-1])))
# A NaN in the (F16) embedding: 0x7e00.
nan = bytearray(body)
off = header[emb]["data_offsets"][0]
nan[off:off + 2] = b"\x00\x7e"
checkpoint("st-nan-weight", data=bytes(nan))
checkpoint("st-truncated", raw=st[:len(st) - 100])
# config.json
c = dict(cfg); c["num_key_value_heads"] = 3
checkpoint("cfg-kv-heads", config=c)
c = dict(cfg); c["hidden_size"] = cfg["hidden_size"] + 1
checkpoint("cfg-hidden-heads", config=c)
c = dict(cfg); del c["num_hidden_layers"]
checkpoint("cfg-missing-key", config=c)
c = dict(cfg); c["vocab_size"] = "many"
checkpoint("cfg-wrong-type", config=c)
c = dict(cfg); c["num_hidden_layers"] = -2
checkpoint("cfg-negative", config=c)
d = os.path.join(out, "cfg-not-json"); os.makedirs(d, exist_ok=True)
open(os.path.join(d, "config.json"), "w").write("{\"hidden_size\": 64,,}")
open(os.path.join(d, "model.safetensors"), "wb").write(st)
# tokenizer.json beside a valid checkpoint
vocab = {"<unk>": 0, "<s>": 1, "</s>": 2, "a": 3, "b": 4, "ab": 5}


def tokenizer(name, tok, tcfg=None):
    checkpoint(name)
    d = os.path.join(out, name)
    json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w"))
    if tcfg is not None:
        json.dump(tcfg, open(os.path.join(d, "tokenizer_config.json"), "w"))


bpe = lambda **kw: {"model": dict({"type": "BPE", "vocab": vocab, "merges": ["a b"]}, **kw),
                    "added_tokens": [{"id": 1, "content": "<s>", "special": True}]}
json.dump(bpe(), open(os.path.join(out, "good-tokenizer.json"), "w"))
tokenizer("tok-merge-unknown", bpe(merges=["a q"]))
tokenizer("tok-merge-syntax", bpe(merges=["ab"]))
tokenizer("tok-added-id", dict(bpe(), added_tokens=[{"id": 99999, "content": "<x>", "special": True}]))
tokenizer("tok-model-type", bpe(type="Unigram"))
tokenizer("tok-duplicate-id", bpe(vocab=dict(vocab, c=3)))
# target files
t = json.load(open(target))
def tfile(name, fn):
    j = json.loads(json.dumps(t)); fn(j)
    json.dump(j, open(os.path.join(out, name + ".json"), "w"))
tfile("target-unknown-key", lambda j: j.update(vector_width=512))
tfile("target-bad-value", lambda j: j.update(name=17))
open(os.path.join(out, "target-not-json.json"), "w").write("{\"name\": \"x\"")
# task data
open(os.path.join(out, "bad-line.jsonl"), "w").write('{"input": "a", "target": "b"}\n{"input": 3}\n')
open(os.path.join(out, "not-json.jsonl"), "w").write('{"input": "a", "target": "b"}\nhello\n')
open(os.path.join(out, "ids-outside-vocab.ids"), "w").write("1 2 3 999999 4 5 " * 20)
open(os.path.join(out, "ids-not-numbers.ids"), "w").write("1 2 three 4")
# ONNX: a NaN initializer, external data whose file is missing, external
# data with a non-numeric offset, dims whose element count overflows.
import onnx
from onnx import TensorProto, helper, numpy_helper
import numpy as np


def onnx_model(name, init):
    g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])], [init])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    open(os.path.join(out, name + ".onnx"), "wb").write(m.SerializeToString())


w = np.ones((4, 4), np.float32)
w[1, 2] = np.nan
onnx_model("onnx-nan", numpy_helper.from_array(w, "w"))
ext = numpy_helper.from_array(np.ones((4, 4), np.float32), "w")
ext.ClearField("raw_data")
ext.data_location = TensorProto.EXTERNAL
ext.external_data.add(key="location", value="weights.bin")
onnx_model("onnx-missing-external", ext)
ext2 = TensorProto()
ext2.CopyFrom(ext)
del ext2.external_data[:]
ext2.external_data.add(key="location", value="onnx-nan.onnx")
ext2.external_data.add(key="offset", value="twelve")
onnx_model("onnx-external-offset", ext2)
big = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[1 << 40, 1 << 40], raw_data=b"\0" * 64)
onnx_model("onnx-dims-overflow", big)
# A node without outputs.
g = helper.make_graph([helper.make_node("Constant", [], [], value=numpy_helper.from_array(
    np.ones((2,), np.float32))), helper.make_node("Relu", ["x"], ["y"])], "g",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
open(os.path.join(out, "onnx-no-output.onnx"), "wb").write(
    helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
