"""Held-out metrics of a trained checkpoint: retrieval and the pointing game per method.

Usage: python3 evaluate.py [--ckpt .work/final.pt] [--n 400] [--seed 12345]
Scenes are drawn fresh from a seed the training never uses (training seeds are [seed, step]).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from clip_bpe import ClipTokenizer
from clip_torch import ClipModel, bundled_config_of
from explain_torch import attentions, image_map, patch_contributions, relevance, rollout
from scenes import CLASSES, caption, make_scene
from train import HERE, MERGES, normalise


def pointing_hit(patch_map: np.ndarray, mask: np.ndarray, grid: int) -> bool:
    """The map's peak patch holds at least 1/16 of its pixels inside the object's visible mask."""
    peak = int(np.argmax(patch_map))
    py, px = divmod(peak, grid)
    ph, pw = mask.shape[0] // grid, mask.shape[1] // grid
    return mask[py * ph:(py + 1) * ph, px * pw:(px + 1) * pw].mean() >= 1 / 16


@torch.no_grad()
def class_text_embeds(model: ClipModel, tok: ClipTokenizer) -> torch.Tensor:
    ids = [tok.encode(caption(c, s), context=None) for c, s in CLASSES]
    n = max(map(len, ids))
    t = model.text_embeds(torch.tensor([r + [0] * (n - len(r)) for r in ids]))
    return t / t.norm(dim=-1, keepdim=True)


def evaluate(model: ClipModel, n: int = 400, seed: int = 12345) -> dict:
    model.eval()
    tok = ClipTokenizer(MERGES)
    size = model.config.vision.image_size
    grid = size // model.config.vision.patch_size
    txt = class_text_embeds(model, tok)
    rng = np.random.default_rng([seed, 1])
    top1 = 0
    for _ in range(n):
        s = make_scene(rng, size, size)
        with torch.no_grad():
            e = model.image_embeds(normalise(s.image[None]))
        best = int((e @ txt.t()).argmax())
        top1 += best in {o.label for o in s.objects}
    both = 0
    small = small_both = 0  # pairs whose smaller object is under a fifth of the side
    hits = {"relevance_all_layers": 0, "relevance_last_layer": 0, "rollout": 0, "raw_cls_last_layer": 0,
            "patch_contributions": 0}
    rng = np.random.default_rng([seed, 2])
    n_point = n
    for i in range(n):
        s = make_scene(rng, size, size, n_objects=2, distinct=True)
        px = normalise(s.image[None])
        with torch.no_grad():
            e = model.image_embeds(px)
        sims = (e @ txt.t())[0]
        labels = [o.label for o in s.objects]
        absent = [j for j in range(len(CLASSES)) if j not in labels]
        ranked = float(min(sims[labels])) > float(max(sims[absent]))
        both += ranked
        if min(o.size for o in s.objects) < 0.2 * size:
            small += 1
            small_both += ranked
        k = i % 2
        ids = torch.tensor([tok.encode(caption(s.objects[k].colour, s.objects[k].shape), context=None)])
        r_all = relevance(model, px, ids, start_layer_image=0, start_layer_text=0)
        r_last = relevance(model, px, ids)
        attn = [a[0] for a in attentions(model, "vision")]
        maps = {
            "relevance_all_layers": image_map(r_all["vision"]).numpy(),
            "relevance_last_layer": image_map(r_last["vision"]).numpy(),
            "rollout": image_map(rollout(attn)).numpy(),
            "raw_cls_last_layer": attn[-1].mean(0)[0, 1:].numpy(),
            "patch_contributions": patch_contributions(model, px, ids).numpy(),
        }
        for name, m in maps.items():
            hits[name] += pointing_hit(m, s.masks[k], grid)
    out = {"top1_present": top1 / n, "two_object_both_ranked_above_absent": both / n,
           "two_object_both_ranked_smaller_under_20pct": small_both / max(small, 1), "two_object_pairs_smaller_under_20pct": small,
           "two_object_both_ranked_smaller_20pct_or_more": (both - small_both) / max(n - small, 1)}
    out.update({f"pointing_{k}": v / n_point for k, v in hits.items()})
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", type=Path, default=HERE / ".work" / "final.pt")
    ap.add_argument("--n", type=int, default=400)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    state = torch.load(args.ckpt)
    # A training checkpoint (ckpt.pt) holds the weights' moving average when the run keeps one:
    # that is what the run will write as final.pt, so it is what is measured.
    state = state.get("ema") or state.get("model", state)
    model = ClipModel(bundled_config_of(state))
    model.load_state_dict(state)
    print(json.dumps(evaluate(model, args.n, args.seed), indent=1))


if __name__ == "__main__":
    main()
