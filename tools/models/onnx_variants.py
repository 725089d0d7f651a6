"""fp16 and dynamic-int8 variants of an fp32 ONNX file, like the published CLIP exports.

- fp16: every float tensor becomes float16 inside the graph; inputs and outputs stay float32
  (a Cast after each float input, before each float output).
- quantized: each MatMul with a constant 2-D weight becomes
  DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul (uint8 weights, per-tensor scale and zero
  point); attention MatMuls (both inputs computed) and Softmax stay float. A Gather from a
  constant table of at least 1,024 rows (the text model's token embedding, most of its weights)
  gathers from a uint8 table and dequantizes the rows it took: Gather -> DequantizeLinear, as
  ONNX Runtime's quantizer writes it. Smaller tables (position embeddings) stay float.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def to_fp16(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    for init in g.initializer:
        if init.data_type == TensorProto.FLOAT:
            arr = numpy_helper.to_array(init).astype(np.float16)
            init.CopyFrom(numpy_helper.from_array(arr, init.name))
    for node in g.node:
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.TENSOR and attr.t.data_type == TensorProto.FLOAT:
                arr = numpy_helper.to_array(attr.t).astype(np.float16)
                attr.t.CopyFrom(numpy_helper.from_array(arr, attr.t.name))
            if node.op_type == "Cast" and attr.name == "to" and attr.i == TensorProto.FLOAT:
                attr.i = TensorProto.FLOAT16
    new_nodes = []
    for inp in g.input:
        if inp.type.tensor_type.elem_type == TensorProto.FLOAT:
            cast_out = inp.name + "_fp16"
            for node in g.node:
                for i, name in enumerate(node.input):
                    if name == inp.name:
                        node.input[i] = cast_out
            new_nodes.append(helper.make_node("Cast", [inp.name], [cast_out], to=TensorProto.FLOAT16,
                                              name=f"/Cast_in_{inp.name}"))
    tail_nodes = []
    for out in g.output:
        if out.type.tensor_type.elem_type == TensorProto.FLOAT:
            inner = out.name + "_fp16"
            for node in g.node:
                for i, name in enumerate(node.output):
                    if name == out.name:
                        node.output[i] = inner
            tail_nodes.append(helper.make_node("Cast", [inner], [out.name], to=TensorProto.FLOAT,
                                               name=f"/Cast_out_{out.name}"))
    nodes = new_nodes + list(g.node) + tail_nodes
    del g.node[:]
    g.node.extend(nodes)
    del g.value_info[:]
    return m


def _quantize_weight(w: np.ndarray) -> tuple[np.ndarray, np.float32, np.uint8]:
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0 or 1.0)
    zp = np.uint8(np.clip(round(-lo / scale), 0, 255))
    q = np.clip(np.round(w / scale) + zp, 0, 255).astype(np.uint8)
    return q, scale, zp


#: A Gather table with fewer rows than this stays float: only the token embedding is worth it.
MIN_GATHER_ROWS = 1024


def _add_quantized(g: onnx.GraphProto, w: onnx.TensorProto, done: set[str]) -> tuple[str, str, str]:
    """Names of w's uint8 values, scale and zero point; added to the graph the first time."""
    names = (w.name + "_quantized", w.name + "_scale", w.name + "_zero_point")
    if w.name not in done:
        q, scale, zp = _quantize_weight(numpy_helper.to_array(w))
        g.initializer.extend([numpy_helper.from_array(q, names[0]), numpy_helper.from_array(np.array(scale), names[1]),
                              numpy_helper.from_array(np.array(zp), names[2])])
        done.add(w.name)
    return names


def to_quantized(model: onnx.ModelProto) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    used_as_weight: set[str] = set()
    nodes = []
    for node in g.node:
        table = inits.get(node.input[0]) if node.op_type == "Gather" else None
        if (table is not None and len(table.dims) == 2 and table.dims[0] >= MIN_GATHER_ROWS
                and table.data_type == TensorProto.FLOAT):
            tq, ts, tz = _add_quantized(g, table, used_as_weight)
            base = node.name or node.output[0]
            gathered = f"{base}_quantized"
            nodes += [
                helper.make_node("Gather", [tq, *node.input[1:]], [gathered], name=base,
                                 axis=next((a.i for a in node.attribute if a.name == "axis"), 0)),
                helper.make_node("DequantizeLinear", [gathered, ts, tz], [node.output[0]],
                                 name=f"{base}_DequantizeLinear"),
            ]
            continue
        w = inits.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None or len(w.dims) != 2 or w.data_type != TensorProto.FLOAT:
            nodes.append(node)
            continue
        base = node.name or node.output[0]
        wq, ws, wz = _add_quantized(g, w, used_as_weight)
        a = node.input[0]
        nodes += [
            helper.make_node("DynamicQuantizeLinear", [a], [f"{base}_aq", f"{base}_as", f"{base}_az"],
                             name=f"{base}_QuantizeLinear"),
            helper.make_node("MatMulInteger", [f"{base}_aq", wq, f"{base}_az", wz], [f"{base}_int32"],
                             name=f"{base}_MatMulInteger"),
            helper.make_node("Cast", [f"{base}_int32"], [f"{base}_float"], to=TensorProto.FLOAT,
                             name=f"{base}_Cast"),
            helper.make_node("Mul", [f"{base}_as", ws], [f"{base}_scale"], name=f"{base}_ScaleMul"),
            helper.make_node("Mul", [f"{base}_float", f"{base}_scale"], [node.output[0]], name=f"{base}_Mul"),
        ]
    del g.node[:]
    g.node.extend(nodes)
    still_used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in still_used]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.value_info[:]
    return m
