"""Recover a PyTorch checkpoint from a bundled model folder (the fp32 ONNX files and config.json).

Training checkpoints live in git-ignored work folders and are lost with the machine; the
committed ONNX files hold the same weights. The exporter keeps parameter names for most
initializers but writes each Linear weight transposed under an anonymous name
(`onnx::MatMul_683`); which parameter that is comes from exporting a model of the same
configuration whose every parameter holds distinct values, and matching values.

Usage: python3 from_onnx.py --folder ../../public/models/clip-lens-shapes --out .work-stage8/final.pt
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import numpy_helper

from clip_torch import ClipModel, TextWithProjection, VisionWithProjection, bundled_config
from export import export_onnx
from train import HERE


def _initializers(m: onnx.ModelProto) -> dict[str, np.ndarray]:
    return {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}


def _name_map(model: ClipModel) -> dict[str, tuple[str, bool]]:
    """ONNX initializer name -> (parameter name, stored transposed), for this configuration."""
    gen = torch.Generator().manual_seed(0)
    probe = ClipModel(model.config)
    with torch.no_grad():
        for p in probe.parameters():  # distinct values everywhere, so every match is unique
            p.copy_(torch.rand(p.shape, generator=gen) + 1.0)
    params = {n: p.detach().numpy() for n, p in probe.named_parameters()}
    s = model.config.vision.image_size
    exports = [export_onnx(VisionWithProjection(probe), torch.zeros(1, 3, s, s), "pixel_values", "image_embeds",
                           {0: "batch_size"}),
               export_onnx(TextWithProjection(probe), torch.tensor([[49406, 320, 49407]]), "input_ids", "text_embeds",
                           {0: "batch_size", 1: "sequence_length"})]
    out: dict[str, tuple[str, bool]] = {}
    for m in exports:
        for name, value in _initializers(m).items():
            for pname, p in params.items():
                if p.shape == value.shape and np.array_equal(p, value):
                    out[name] = (pname, False)
                elif p.ndim == 2 and p.T.shape == value.shape and np.array_equal(p.T, value):
                    out[name] = (pname, True)
    return out


def recover(folder: Path) -> dict[str, torch.Tensor]:
    config = json.loads((folder / "config.json").read_text())
    vision = config["vision_config"]
    model = ClipModel(bundled_config(vision["image_size"], vision["patch_size"], vision["hidden_size"]))
    names = _name_map(model)
    state: dict[str, torch.Tensor] = {}
    for stem in ("vision_model", "text_model"):
        for name, value in _initializers(onnx.load(folder / "onnx" / f"{stem}.onnx")).items():
            if name not in names:
                continue  # constants of the graph (shapes, the causal mask's fill), not parameters
            pname, transposed = names[name]
            state[pname] = torch.from_numpy((value.T if transposed else value).copy())
    state["logit_scale"] = torch.tensor(float(config["logit_scale_init_value"]))
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise ValueError(f"not found in the ONNX files: {sorted(missing)}")
    model.load_state_dict(state)  # checks shapes
    return model.state_dict()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--folder", type=Path, default=HERE.parent.parent / "public" / "models" / "clip-lens-shapes")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(recover(args.folder), args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
