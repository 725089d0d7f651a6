"""PyTorch on this machine: the notebook route a user would otherwise take (docs/benchmarks.md).

Same architecture as the ONNX files (tools/models/clip_torch.py), random weights (timing does not
depend on them), CPU, `--threads` threads. Prints one JSON object with samples in milliseconds:
image encoding (no_grad) and gradient relevance (tools/models/explain_torch.py `relevance`: one
image, one prompt, both towers) from the last layer only and from all layers.

Usage: python3 torch_bench.py MODEL [--threads 2] [--warmup 2] [--reps 10] [--rel-reps 5]
       MODEL: bundled | vit-base-patch32 | vit-base-patch16
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools" / "models"))
from clip_bpe import ClipTokenizer  # noqa: E402
from clip_torch import ClipModel, bundled_config, lookalike_config  # noqa: E402
from explain_torch import relevance  # noqa: E402
from train import MERGES  # noqa: E402


def timed(f, warmup: int, reps: int) -> list[float]:
    for _ in range(warmup):
        f()
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        f()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--rel-reps", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = bundled_config() if args.model == "bundled" else lookalike_config(args.model)
    model = ClipModel(config).eval()
    s = config.vision.image_size
    pixels = torch.randn(1, 3, s, s)
    ids = torch.tensor([ClipTokenizer(MERGES).encode("a photo of a cat", context=None)])

    def image() -> None:
        with torch.no_grad():
            model.image_embeds(pixels)

    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "image": timed(image, args.warmup, args.reps),
        "relevanceLast": timed(lambda: relevance(model, pixels, ids, -1, -1), 1, args.rel_reps),
        "relevanceAll": timed(lambda: relevance(model, pixels, ids, 0, 0), 1, args.rel_reps),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
