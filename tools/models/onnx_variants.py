"""Weight variants of an fp32 ONNX file, with the suffixes transformers.js publishes.

- fp16 (`_fp16`): every float tensor becomes float16 inside the graph; inputs and outputs stay
  float32 (a Cast after each float input, before each float output).
- q8 (`_quantized`) and `_uint8`: each MatMul with a constant 2-D weight becomes
  DynamicQuantizeLinear -> MatMulInteger -> Cast -> Mul (uint8 weights, per-tensor asymmetric
  scale and zero point, as ONNX Runtime's QUInt8 dynamic quantization); attention MatMuls (both
  inputs computed) and Softmax stay float. A Gather from a constant table of at least 1,024 rows
  (the text model's token embedding, most of its weights) gathers from a uint8 table and
  dequantizes the rows it took: Gather -> DequantizeLinear, as ONNX Runtime's quantizer writes
  it. Smaller tables (position embeddings) stay float. `_uint8` also turns the vision model's
  patch-embedding Conv into DynamicQuantizeLinear -> ConvInteger -> Cast -> Mul.
- `_int8`: the same with int8 weights and tables (per-tensor symmetric: zero point 0, range
  ±127, as ONNX Runtime's QInt8), the Conv included. ONNX Runtime's CPU/WASM ConvInteger has
  only a uint8-weight kernel, so an int8 vision file does not load there; that is the point of
  writing it (transformers.js publishes such files).
- `_q4`: each weight MatMul becomes com.microsoft::MatMulNBits (4 bits, blocks of 32 along K,
  symmetric: no zero points, as ONNX Runtime's MatMulNBits quantizer writes by default).
- `_q4f16`: q4 with asymmetric blocks (packed 4-bit zero points, so both layouts are covered),
  then the rest of the graph in float16 as fp16.
- `_bnb4`: each weight MatMul becomes com.microsoft::MatMulBnb4 (NF4 codes, blocks of 64).
The 4-bit variants keep Gather tables (the token embedding) and the Conv float, as ONNX
Runtime's 4-bit quantizers do by default.
"""
from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

#: Domain of ONNX Runtime's contrib operators (MatMulNBits, MatMulBnb4).
MS_DOMAIN = "com.microsoft"


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


# ---------------------------------------------------------------------------------------------
# 8-bit dynamic quantization

def _quantize_weight(w: np.ndarray, signed: bool = False) -> tuple[np.ndarray, np.float32, np.ndarray]:
    """Per-tensor 8-bit values, scale and zero point.

    uint8: asymmetric over [min(w, 0), max(w, 0)] -> [0, 255]; int8: symmetric, |w| max -> 127.
    """
    if signed:
        scale = np.float32(float(np.abs(w).max()) / 127.0 or 1.0)
        q = np.clip(np.round(w / scale), -127, 127).astype(np.int8)
        return q, scale, np.array(0, np.int8)
    lo, hi = min(float(w.min()), 0.0), max(float(w.max()), 0.0)
    scale = np.float32((hi - lo) / 255.0 or 1.0)
    zp = np.uint8(np.clip(round(-lo / scale), 0, 255))
    q = np.clip(np.round(w / scale) + zp, 0, 255).astype(np.uint8)
    return q, scale, np.array(zp, np.uint8)


#: A Gather table with fewer rows than this stays float: only the token embedding is worth it.
MIN_GATHER_ROWS = 1024


def _add_quantized(g: onnx.GraphProto, w: onnx.TensorProto, done: set[str], signed: bool) -> tuple[str, str, str]:
    """Names of w's 8-bit values, scale and zero point; added to the graph the first time."""
    names = (w.name + "_quantized", w.name + "_scale", w.name + "_zero_point")
    if w.name not in done:
        q, scale, zp = _quantize_weight(numpy_helper.to_array(w), signed)
        g.initializer.extend([numpy_helper.from_array(q, names[0]), numpy_helper.from_array(np.array(scale), names[1]),
                              numpy_helper.from_array(zp, names[2])])
        done.add(w.name)
    return names


def _float_weight(inits: dict, name: str, rank: int) -> onnx.TensorProto | None:
    w = inits.get(name)
    return w if w is not None and len(w.dims) == rank and w.data_type == TensorProto.FLOAT else None


def _integer_chain(op: str, base: str, a: str, w: tuple[str, str, str], out: str, **attrs) -> list[onnx.NodeProto]:
    """DynamicQuantizeLinear(a) -> {op}(aq, wq, az, wz) -> Cast -> Mul(·, a_scale·w_scale) = out."""
    wq, ws, wz = w
    return [
        helper.make_node("DynamicQuantizeLinear", [a], [f"{base}_aq", f"{base}_as", f"{base}_az"],
                         name=f"{base}_QuantizeLinear"),
        helper.make_node(op, [f"{base}_aq", wq, f"{base}_az", wz], [f"{base}_int32"], name=f"{base}_{op}", **attrs),
        helper.make_node("Cast", [f"{base}_int32"], [f"{base}_float"], to=TensorProto.FLOAT, name=f"{base}_Cast"),
        helper.make_node("Mul", [f"{base}_as", ws], [f"{base}_scale"], name=f"{base}_ScaleMul"),
        helper.make_node("Mul", [f"{base}_float", f"{base}_scale"], [out], name=f"{base}_Mul"),
    ]


def _dynamic(model: onnx.ModelProto, signed: bool, conv: bool) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    done: set[str] = set()
    nodes = []
    for node in g.node:
        base = node.name or node.output[0]
        table = _float_weight(inits, node.input[0], 2) if node.op_type == "Gather" else None
        if table is not None and table.dims[0] >= MIN_GATHER_ROWS:
            tq, ts, tz = _add_quantized(g, table, done, signed)
            gathered = f"{base}_quantized"
            nodes += [
                helper.make_node("Gather", [tq, *node.input[1:]], [gathered], name=base,
                                 axis=next((a.i for a in node.attribute if a.name == "axis"), 0)),
                helper.make_node("DequantizeLinear", [gathered, ts, tz], [node.output[0]],
                                 name=f"{base}_DequantizeLinear"),
            ]
            continue
        w = _float_weight(inits, node.input[1], 2) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is not None:
            nodes += _integer_chain("MatMulInteger", base, node.input[0], _add_quantized(g, w, done, signed), node.output[0])
            continue
        k = _float_weight(inits, node.input[1], 4) if conv and node.op_type == "Conv" else None
        if k is not None:
            # ConvInteger has no bias input: ONNX Runtime's quantizer adds it after the Mul.
            y = f"{base}_nobias" if len(node.input) > 2 and node.input[2] else node.output[0]
            nodes += _integer_chain("ConvInteger", base, node.input[0], _add_quantized(g, k, done, signed), y,
                                    **{a.name: helper.get_attribute_value(a) for a in node.attribute})
            if y != node.output[0]:
                shaped = f"{base}_bias_reshaped"
                shape = numpy_helper.from_array(np.array([1, -1, 1, 1], np.int64), f"{base}_bias_shape")
                g.initializer.append(shape)
                nodes += [helper.make_node("Reshape", [node.input[2], shape.name], [shaped], name=f"{base}_BiasReshape"),
                          helper.make_node("Add", [y, shaped], [node.output[0]], name=f"{base}_BiasAdd")]
            continue
        nodes.append(node)
    del g.node[:]
    g.node.extend(nodes)
    _drop_unused(g)
    return m


def to_quantized(model: onnx.ModelProto) -> onnx.ModelProto:
    """q8: uint8 weight MatMuls and token-embedding Gather; the Conv stays float."""
    return _dynamic(model, signed=False, conv=False)


def to_uint8(model: onnx.ModelProto) -> onnx.ModelProto:
    """q8 plus the patch-embedding Conv as ConvInteger with a uint8 weight."""
    return _dynamic(model, signed=False, conv=True)


def to_int8(model: onnx.ModelProto) -> onnx.ModelProto:
    """int8 (symmetric) weights and token-embedding table; the Conv as ConvInteger with an int8 weight."""
    return _dynamic(model, signed=True, conv=True)


# ---------------------------------------------------------------------------------------------
# 4-bit block quantization

#: bitsandbytes' NF4 code book (normal-float 4-bit), code 0..15.
NF4 = np.array([-1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
                -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
                0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
                0.7229568362236023, 1.0], np.float32)


def quantize_nbits(w: np.ndarray, block: int = 32, symmetric: bool = True) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """MatMulNBits' inputs for a (K, N) weight: 4-bit blocks of `block` along K, per output column.

    Returns B uint8 (N, n_blocks, block/2) with element 2i of a block in the low nibble, scales
    float32 (N * n_blocks,) and, when asymmetric, zero points uint8 (N * ceil(n_blocks/2),) packed
    the same way per row. Symmetric: scale = (the block's value of largest magnitude) / -8, so
    that value is code 0, and the zero point is MatMulNBits' default, 8.
    W[k, n] = (code - zero_point) * scale of (n, k // block).
    """
    k, n = w.shape
    nb = -(-k // block)
    wt = np.zeros((n, nb * block), np.float32)
    wt[:, :k] = w.T
    blocks = wt.reshape(n, nb, block)
    if symmetric:
        idx = np.abs(blocks).argmax(axis=2)[..., None]
        scale = (np.take_along_axis(blocks, idx, axis=2)[..., 0] / -8.0).astype(np.float32)
        zp = np.full((n, nb), 8.0, np.float32)
    else:
        lo = np.minimum(blocks.min(axis=2), 0.0)
        hi = np.maximum(blocks.max(axis=2), 0.0)
        scale = ((hi - lo) / 15.0).astype(np.float32)
        zp = np.clip(np.round(-lo / np.where(scale == 0, 1, scale)), 0, 15)
    inv = np.where(scale == 0, 0, 1 / np.where(scale == 0, 1, scale))
    q = np.clip(np.round(blocks * inv[..., None]) + zp[..., None], 0, 15).astype(np.uint8)
    packed = q[..., 0::2] | (q[..., 1::2] << 4)
    zero_points = None
    if not symmetric:
        z = np.full((n, nb + nb % 2), 8, np.uint8)
        z[:, :nb] = zp.astype(np.uint8)
        zero_points = (z[:, 0::2] | (z[:, 1::2] << 4)).reshape(-1)
    return packed, scale.reshape(-1), zero_points


def quantize_bnb4(w: np.ndarray, block: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """MatMulBnb4's inputs for a (K, N) weight: NF4 codes of Wᵀ (N, K) flattened row-major.

    Per block of `block` values: absmax, each value / absmax mapped to the nearest NF4 code; two
    codes per byte, the first in the high nibble (bitsandbytes' packing). Returns B uint8
    ((N*K + 1) // 2,) and absmax float32 (ceil(N*K / block),). W[k, n] = NF4[code] * absmax.
    """
    flat = np.ascontiguousarray(w.T, np.float32).reshape(-1)
    count = flat.size
    nblocks = -(-count // block)
    padded = np.zeros(nblocks * block, np.float32)
    padded[:count] = flat
    absmax = np.abs(padded.reshape(nblocks, block)).max(axis=1).astype(np.float32)
    scaled = padded.reshape(nblocks, block) / np.where(absmax == 0, 1, absmax)[:, None]
    codes = np.abs(scaled.reshape(-1, 1) - NF4[None, :]).argmin(axis=1).astype(np.uint8)[:count]
    if count % 2:
        codes = np.append(codes, np.uint8(0))
    return ((codes[0::2] << 4) | codes[1::2]).astype(np.uint8), absmax


def _four_bit(model: onnx.ModelProto, kind: str, symmetric: bool = True) -> onnx.ModelProto:
    m = onnx.ModelProto()
    m.CopyFrom(model)
    g = m.graph
    inits = {i.name: i for i in g.initializer}
    nodes = []
    for node in g.node:
        w = _float_weight(inits, node.input[1], 2) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if w is None:
            nodes.append(node)
            continue
        base = node.name or node.output[0]
        k, n = (int(d) for d in w.dims)
        arr = numpy_helper.to_array(w)
        if kind == "nbits":
            b, scales, zp = quantize_nbits(arr, 32, symmetric)
            names = [f"{w.name}_Q4", f"{w.name}_scales"] + ([f"{w.name}_zero_points"] if zp is not None else [])
            values = [b, scales] + ([zp] if zp is not None else [])
            op = helper.make_node("MatMulNBits", [node.input[0], *names], [node.output[0]], name=f"{base}_Q4",
                                  domain=MS_DOMAIN, K=k, N=n, bits=4, block_size=32)
        else:
            b, absmax = quantize_bnb4(arr, 64)
            names, values = [f"{w.name}_Bnb4", f"{w.name}_absmax"], [b, absmax]
            op = helper.make_node("MatMulBnb4", [node.input[0], *names], [node.output[0]], name=f"{base}_Bnb4",
                                  domain=MS_DOMAIN, K=k, N=n, block_size=64, quant_type=1)
        if names[0] not in inits:
            for name, v in zip(names, values):
                t = numpy_helper.from_array(v, name)
                g.initializer.append(t)
                inits[name] = t
        nodes.append(op)
    del g.node[:]
    g.node.extend(nodes)
    _drop_unused(g)
    if not any(o.domain == MS_DOMAIN for o in m.opset_import):
        m.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return m


def to_q4(model: onnx.ModelProto) -> onnx.ModelProto:
    return _four_bit(model, "nbits", symmetric=True)


def to_q4f16(model: onnx.ModelProto) -> onnx.ModelProto:
    return to_fp16(_four_bit(model, "nbits", symmetric=False))


def to_bnb4(model: onnx.ModelProto) -> onnx.ModelProto:
    return _four_bit(model, "bnb4")


def _drop_unused(g: onnx.GraphProto) -> None:
    still_used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in still_used]
    del g.initializer[:]
    g.initializer.extend(keep)
    del g.value_info[:]


#: Suffix -> converter, for the variants written from an fp32 file (see variants.py).
CONVERTERS = {"_fp16": to_fp16, "_quantized": to_quantized, "_int8": to_int8, "_uint8": to_uint8,
              "_q4": to_q4, "_q4f16": to_q4f16, "_bnb4": to_bnb4}
