#!/usr/bin/env python3
"""Writes a copy of a QDQ ONNX model that breaks one provider rule, for the
negative cases of mu-check's rule checker.

  break_qdq.py IN.onnx OUT.onnx RULE

RULE: weights-int-dq | dq-single-consumer | q-feeds-dq | bias-int32 |
qdq-16bit-domain | no-qdq-data-movement | target-activations |
target-weights"""
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

src, dst, rule = sys.argv[1:4]
if src == "--bias-model":
    # A minimal valid quantized linear with an int32 bias at s_in * s_w.
    sx, sw = np.float32(0.05), np.array([0.01, 0.02], dtype=np.float32)
    inits = [numpy_helper.from_array(np.array(sx), "sx"), numpy_helper.from_array(np.uint8(128), "zx"),
             numpy_helper.from_array(np.array([[1, -2], [3, 4], [-5, 6]], dtype=np.int8), "w"),
             numpy_helper.from_array(sw, "sw"), numpy_helper.from_array(np.zeros(2, np.int8), "zw"),
             numpy_helper.from_array(np.array([7, -9], dtype=np.int32), "b"),
             numpy_helper.from_array((sx * sw).astype(np.float32), "sb"),
             numpy_helper.from_array(np.zeros(2, np.int32), "zb")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"], name="q"),
             helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"], name="dqx"),
             helper.make_node("DequantizeLinear", ["w", "sw", "zw"], ["wd"], name="dqw", axis=1),
             helper.make_node("MatMul", ["xd", "wd"], ["y0"], name="mm"),
             helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["bd"], name="dqb", axis=0),
             helper.make_node("Add", ["y0", "bd"], ["y"], name="add")]
    gr = helper.make_graph(nodes, "bias", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3])],
                           [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])], inits)
    onnx.save(helper.make_model(gr, opset_imports=[helper.make_opsetid("", 17)]), dst)
    sys.exit(0)
m = onnx.load(src)
g = m.graph
inits = {t.name: t for t in g.initializer}
nodes = list(g.node)


def consumers(name):
    return [n for n in g.node if name in n.input]


def first(pred):
    for n in g.node:
        if pred(n):
            return n
    sys.exit("break_qdq: no node to break for " + rule)


def weight_dq(n):
    return n.op_type == "DequantizeLinear" and n.input[0] in inits and \
        inits[n.input[0]].data_type in (TensorProto.INT8, TensorProto.INT16)


def act_q(n):
    return n.op_type == "QuantizeLinear" and n.input[0] not in inits


if rule == "weights-int-dq":
    # An integer weight read directly by a float op (no DequantizeLinear).
    dq = first(weight_dq)
    c = consumers(dq.output[0])[0]
    c.input[list(c.input).index(dq.output[0])] = dq.input[0]
elif rule == "dq-single-consumer":
    # One activation DQ feeding two nodes.
    q = first(act_q)
    dqs = [n for n in consumers(q.output[0]) if n.op_type == "DequantizeLinear"]
    c = consumers(dqs[0].output[0])[0]
    g.node.append(helper.make_node("Identity", [dqs[0].output[0]], ["extra_use"], name="extra_use"))
    g.output.append(helper.make_empty_tensor_value_info("extra_use"))
elif rule == "q-feeds-dq":
    # A quantized tensor read by a float op.
    q = first(act_q)
    g.node.append(helper.make_node("Cast", [q.output[0]], ["q_as_float"], to=TensorProto.FLOAT,
                                   name="float_read"))
    g.output.append(helper.make_empty_tensor_value_info("q_as_float"))
elif rule == "bias-int32":
    # An int32 bias whose scale is not s_in * s_w.
    dq = first(lambda n: n.op_type == "DequantizeLinear" and n.input[0] in inits and
               inits[n.input[0]].data_type == TensorProto.INT32)
    s = inits[dq.input[1]]
    a = numpy_helper.to_array(s) * 2.0
    s.CopyFrom(numpy_helper.from_array(a.astype(np.float32), s.name))
elif rule == "qdq-16bit-domain":
    q = first(lambda n: n.op_type in ("QuantizeLinear", "DequantizeLinear") and n.domain == "com.microsoft")
    q.domain = ""
elif rule == "no-qdq-data-movement":
    # DQ -> Reshape -> Q -> DQ with one encoding, instead of moving the integers.
    q = first(act_q)
    dq = [n for n in consumers(q.output[0]) if n.op_type == "DequantizeLinear"][0]
    c = consumers(dq.output[0])[0]
    g.initializer.append(numpy_helper.from_array(np.array([0, 0, 0], dtype=np.int64), "keep_shape"))
    g.node.extend([
        helper.make_node("Reshape", [dq.output[0], "keep_shape"], ["moved"], name="moved"),
        helper.make_node("QuantizeLinear", ["moved"] + list(q.input[1:]), ["requant"], name="requant",
                         domain=q.domain),
        helper.make_node("DequantizeLinear", ["requant"] + list(q.input[1:]), ["requant_dq"],
                         name="requant_dq", domain=q.domain),
    ])
    c.input[list(c.input).index(dq.output[0])] = "requant_dq"
elif rule == "target-activations":
    # A signed 8-bit activation quantizer (the target wants unsigned).
    q = first(act_q)
    z = inits[q.input[2]]
    z.CopyFrom(numpy_helper.from_array(np.zeros(numpy_helper.to_array(z).shape, dtype=np.int8), z.name))
elif rule == "target-weights":
    # An asymmetric weight (non-zero zero point).
    dq = first(weight_dq)
    z = inits[dq.input[2]]
    a = numpy_helper.to_array(z).copy()
    a.flat[0] = 3
    z.CopyFrom(numpy_helper.from_array(a, z.name))
else:
    sys.exit("break_qdq: unknown rule " + rule)
onnx.save(m, dst)
