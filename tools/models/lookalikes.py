"""Full-size CLIP lookalikes for benchmarks: the real OpenAI architectures with random weights,
exported exactly like the bundled model (same layout, all three variants), into a git-ignored
folder. Usage: python3 lookalikes.py [vit-base-patch32 vit-base-patch16 vit-large-patch14]
                                     [--out ../../models-bench]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from clip_torch import ClipModel, lookalike_config
from export import write_folder
from train import HERE

NAMES = ("vit-base-patch32", "vit-base-patch16", "vit-large-patch14")


def parameter_counts(model: ClipModel) -> dict[str, int]:
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    return {
        "vision": count(model.vision_model) + count(model.visual_projection),
        "text": count(model.text_model) + count(model.text_projection),
        "total": count(model),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("names", nargs="*", default=["vit-base-patch32", "vit-base-patch16"])
    ap.add_argument("--out", type=Path, default=HERE.parent.parent / "models-bench")
    args = ap.parse_args()
    torch.manual_seed(0)
    for name in args.names:
        if name not in NAMES:
            raise SystemExit(f"unknown lookalike {name!r}; choose from {', '.join(NAMES)}")
        model = ClipModel(lookalike_config(name))
        # OpenAI's trained scale, so probabilities look like the real model's.
        model.logit_scale.data.fill_(4.6052)
        out = args.out / f"clip-{name}-lookalike"
        write_folder(model, out, f"clip-{name}-lookalike")
        counts = parameter_counts(model)
        (out / "parameters.json").write_text(json.dumps(counts, indent=1) + "\n")
        sizes = {f.name: f.stat().st_size for f in sorted((out / "onnx").iterdir())}
        print(json.dumps({"model": name, "parameters": counts, "bytes": sizes}), flush=True)


if __name__ == "__main__":
    main()
