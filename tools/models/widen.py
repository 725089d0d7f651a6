"""Double the vision tower's width of a trained checkpoint without changing what it computes.

Every residual-stream coordinate, attention head and MLP unit gets a twin: the residual stream
becomes [x, x] (a LayerNorm of [x, x] is [LN(x), LN(x)], so LayerNorms just repeat their
parameters), heads 5-8 start as copies of heads 1-4 (the head size stays), and every weight that
reads the doubled stream splits its columns at random between the two copies, W = W_a + W_b.
Since both copies hold the same values, the sums are unchanged; since the splits differ, the twins
get different gradients and drift apart when training goes on (a plain W/2 split would keep them
equal for ever). The net2net idea (Chen, Goodfellow & Shlens 2016), exact here because every
unit is duplicated exactly once.

Usage: python3 widen.py --ckpt .work-stage7/final.pt --out .work-wide/init.pt
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch


def _split(w: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """Columns for the doubled input: [W_a, W_b] with W_a + W_b = W, split at random per entry."""
    a = torch.rand(w.shape, generator=gen, dtype=w.dtype)
    return torch.cat([w * a, w * (1 - a)], dim=1)


def _read_and_write(w: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A square weight of the doubled stream: both output copies, each with its own split."""
    return torch.cat([_split(w, gen), _split(w, gen)], dim=0)


def widen_vision(state: dict, seed: int = 0) -> dict:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in state.items():
        if not k.startswith("vision_model.") and k != "visual_projection.weight":
            out[k] = v
        elif k == "visual_projection.weight":
            out[k] = _split(v, gen)
        elif k.endswith(("_proj.weight", "fc1.weight", "fc2.weight")):
            out[k] = _read_and_write(v, gen)
        elif k.endswith("position_embedding.weight"):
            out[k] = torch.cat([v, v], dim=1)
        else:  # biases, LayerNorm parameters, class embedding, patch kernels: one copy per twin
            out[k] = torch.cat([v, v], dim=0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    state = torch.load(args.ckpt)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    torch.save(widen_vision(state.get("model", state), args.seed), args.out)


if __name__ == "__main__":
    main()
