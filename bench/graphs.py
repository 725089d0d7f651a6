"""Small ONNX graphs that measure what ONNX Runtime's WASM build can do on this CPU (docs/benchmarks.md).

peak.onnx:   a chain of `depth` float32 MatMuls of n x n matrices. The only input is a scalar that
             scales the first weight, and the only output is a sum, so copying data in and out of
             the graph costs nothing next to the depth * n^3 multiply-adds.
linear-S-D-I-L.onnx: the linear layers of a ViT encoder alone (per layer q, k, v, out: D x D;
             fc1: D x I; fc2: I x D) on S tokens, chained L times (weights shared between layers,
             which does not change the work). Input x (S, D), output a sum.

Usage: python3 graphs.py OUT_DIR [--linear S:D:I:L ...]
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 14


def weight(name: str, rows: int, cols: int, rng: np.random.Generator) -> onnx.TensorProto:
    # Scaled so that activations keep their size through the chain (no overflow, no denormals).
    w = rng.standard_normal((rows, cols), dtype=np.float32) / np.float32(np.sqrt(rows))
    return numpy_helper.from_array(w, name)


def save(nodes, inits, inputs, path: Path) -> None:
    out = helper.make_tensor_value_info("y", TensorProto.FLOAT, [])
    graph = helper.make_graph(nodes, path.stem, inputs, [out], initializer=inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save(model, path)


def peak(path: Path, n: int = 1024, depth: int = 8) -> None:
    rng = np.random.default_rng(0)
    inits = [weight(f"w{i}", n, n, rng) for i in range(depth + 1)]
    nodes = [helper.make_node("Mul", ["w0", "s"], ["x0"])]
    for i in range(1, depth + 1):
        nodes.append(helper.make_node("MatMul", [f"x{i - 1}", f"w{i}"], [f"x{i}"]))
    nodes.append(helper.make_node("ReduceSum", [f"x{depth}"], ["y"], keepdims=0))
    save(nodes, inits, [helper.make_tensor_value_info("s", TensorProto.FLOAT, [1])], path)


def linear(path: Path, s: int, d: int, i: int, layers: int) -> None:
    rng = np.random.default_rng(0)
    shapes = {"wq": (d, d), "wk": (d, d), "wv": (d, d), "wo": (d, d), "fc1": (d, i), "fc2": (i, d)}
    inits = [weight(name, *shape, rng) for name, shape in shapes.items()]
    nodes = []
    x = "x"
    for l in range(layers):
        for name in shapes:
            y = f"{name}_{l}"
            nodes.append(helper.make_node("MatMul", [x, name], [y]))
            x = y
    nodes.append(helper.make_node("ReduceSum", [x], ["y"], keepdims=0))
    save(nodes, inits, [helper.make_tensor_value_info("x", TensorProto.FLOAT, [s, d])], path)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--linear", nargs="*", default=[], help="S:D:I:L shapes of ViT linear-layer graphs")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.out / "peak.onnx").exists():
        peak(args.out / "peak.onnx")
    for spec in args.linear:
        s, d, i, layers = (int(v) for v in spec.split(":"))
        path = args.out / f"linear-{s}-{d}-{i}-{layers}.onnx"
        if not path.exists():
            linear(path, s, d, i, layers)


if __name__ == "__main__":
    main()
