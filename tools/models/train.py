"""Train the bundled CLIP on synthetic scenes (multi-positive contrastive loss).

Resumable: a checkpoint is written every --ckpt-every steps to --work; run the same command
again to continue. Usage: python3 train.py --steps 4000 --seed 0
"""
from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import time
from pathlib import Path

import numpy as np
import torch

from clip_bpe import ClipTokenizer
from clip_torch import ClipModel, bundled_config
from scenes import CLASSES, TEMPLATES, caption, make_scene

HERE = Path(__file__).resolve().parent
MERGES = HERE.parent.parent / "tools" / "models" / "bpe_simple_vocab_16e6.txt.gz"
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def normalise(images: np.ndarray) -> torch.Tensor:
    """(B,H,W,3) uint8 -> (B,3,H,W) float32 with CLIP's mean and std."""
    x = (images.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy())


class CaptionBank:
    """Token ids of every (class, template) caption, padded to a common length."""
    def __init__(self, tok: ClipTokenizer):
        self.ids = {}
        for ci, (c, s) in enumerate(CLASSES):
            for t in range(len(TEMPLATES)):
                self.ids[(ci, t)] = tok.encode(caption(c, s, t), context=None)
        self.length = max(len(v) for v in self.ids.values())

    def batch(self, keys: list[tuple[int, int]]) -> torch.Tensor:
        rows = [self.ids[k] + [0] * (self.length - len(self.ids[k])) for k in keys]
        return torch.tensor(rows, dtype=torch.int64)


def make_batch(rng: np.random.Generator, bank: CaptionBank, size: int, image_size: int, pair_every: int = 4):
    """Images and the 24 class captions (each in a random template) with the presence matrix.

    Every `pair_every`-th scene has exactly two objects of different colour and shape (the
    evaluation's two-object case); the others have 1-4 objects."""
    scenes = []
    for i in range(size):
        pair = i % pair_every == 0
        n = 2 if pair else int(rng.integers(1, 5))
        scenes.append(make_scene(rng, image_size, image_size, n_objects=n, distinct=pair))
    pos = np.zeros((size, len(CLASSES)), dtype=bool)  # pos[i, j]: class j is in image i
    for i, s in enumerate(scenes):
        for o in s.objects:
            pos[i, o.label] = True
    t1 = rng.integers(len(TEMPLATES), size=len(CLASSES))
    t2 = (t1 + rng.integers(1, len(TEMPLATES), size=len(CLASSES))) % len(TEMPLATES)  # another template
    ids = bank.batch([(j, int(t)) for j, t in enumerate(t1)])
    ids2 = bank.batch([(j, int(t)) for j, t in enumerate(t2)])
    return normalise(np.stack([s.image for s in scenes])), ids, ids2, torch.from_numpy(pos)


def _draw_batches(queue, seed: int, steps: range, batch: int, image_size: int, pair_every: int) -> None:
    bank = CaptionBank(ClipTokenizer(MERGES))
    for step in steps:
        # numpy, not torch tensors: torch passes those as shared-memory handles that die with this process
        queue.put([t.numpy() for t in make_batch(np.random.default_rng([seed, step]), bank, batch, image_size, pair_every)])


def batches(seed: int, steps: range, batch: int, image_size: int, pair_every: int, background: bool):
    """The batch of every step, drawn from the seed and the step alone (so a resumed run sees the
    same data). `background`: drawn in a second process, a few batches ahead, so that on two cores
    the training thread never waits for drawing (a third of a step at 96 px)."""
    if not background:
        bank = CaptionBank(ClipTokenizer(MERGES))
        for step in steps:
            yield make_batch(np.random.default_rng([seed, step]), bank, batch, image_size, pair_every)
        return
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue(maxsize=4)
    proc = ctx.Process(target=_draw_batches, args=(queue, seed, steps, batch, image_size, pair_every), daemon=True)
    proc.start()
    try:
        for _ in steps:
            yield tuple(torch.from_numpy(a) for a in queue.get())
    finally:
        proc.terminate()


def multi_positive_loss(logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """-log of the probability mass on all positives, image->text and text->image.

    With 24 captions and scenes of several objects, every caption of an object present in the
    image is a positive; one-positive CLIP loss would push true pairs apart."""
    neg_inf = torch.finfo(logits.dtype).min
    def one_way(l: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
        keep = p.any(1)  # a caption whose object is in no image of the batch has no positive
        l, p = l[keep], p[keep]
        return -(torch.logsumexp(l.masked_fill(~p, neg_inf), 1) - torch.logsumexp(l, 1)).mean()
    return 0.5 * (one_way(logits, pos) + one_way(logits.t(), pos.t()))


def caption_loss(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Text-text InfoNCE between the 24 classes in two different templates (normalised embeds).

    Contrastive training of two random towers has a saddle: colour is learnt first, the text
    tower then maps "a red circle" and "a red square" to the same point, and the image tower gets
    no signal to tell shapes apart (seen: text cosine 1.00 between shapes after 750 steps).
    Asking every class caption to be recognisable among the 24 breaks that symmetry."""
    logits = 10.0 * a @ b.t()
    target = torch.arange(a.shape[0])
    return 0.5 * (torch.nn.functional.cross_entropy(logits, target) + torch.nn.functional.cross_entropy(logits.t(), target))


def pairwise_sigmoid_loss(logits: torch.Tensor, bias: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """SigLIP-style term: every (image, caption) pair is a yes/no question, so every present
    caption must score above every absent one (the softmax alone lets one object dominate)."""
    return torch.nn.functional.binary_cross_entropy_with_logits(logits + bias, pos.float())


def ranking_loss(logits: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
    """Per image, the weakest present caption against the strongest absent one (softplus of the
    gap): the two-object metric itself. The softmax and sigmoid terms are satisfied by most pairs
    while one object of a scene still loses to a caption sharing only its colour."""
    lowest, highest = torch.finfo(logits.dtype).min, torch.finfo(logits.dtype).max
    weakest = logits.masked_fill(~pos, highest).min(1).values
    strongest = logits.masked_fill(pos, lowest).max(1).values
    return torch.nn.functional.softplus(strongest - weakest + 1.0).mean()


def resize_patches(state: dict, patch: int) -> dict:
    """Weights trained at one patch size, for another with the same grid (e.g. 8-px patches of a
    64-px input -> 12-px patches of a 96-px input): the patch kernel is resampled bilinearly and
    scaled by the ratio of pixel counts, so a flat patch embeds as before. Position embeddings
    need no change while the grid is the same (resize_grid when it is not)."""
    key = "vision_model.embeddings.patch_embedding.weight"
    w = state[key]
    if w.shape[-1] == patch:
        return state
    resized = torch.nn.functional.interpolate(w, size=(patch, patch), mode="bilinear", align_corners=False)
    return {**state, key: resized * (w.shape[-1] / patch) ** 2}


def resize_grid(state: dict, grid: int) -> dict:
    """Weights trained on one patch grid, for a finer or coarser one: the patch positions'
    embeddings are resampled bicubically over the grid (the class token's row is kept), as ViTs
    are fine-tuned at a new resolution. Run after resize_patches."""
    key = "vision_model.embeddings.position_embedding.weight"
    pos = state[key]
    old = math.isqrt(pos.shape[0] - 1)
    if old == grid:
        return state
    patches = pos[1:].reshape(old, old, -1).permute(2, 0, 1).unsqueeze(0)
    resized = torch.nn.functional.interpolate(patches, size=(grid, grid), mode="bicubic", align_corners=False)
    return {**state, key: torch.cat([pos[:1], resized[0].permute(1, 2, 0).reshape(grid * grid, -1)])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--ckpt-every", type=int, default=250)
    ap.add_argument("--work", type=Path, default=HERE / ".work")
    ap.add_argument("--init", type=Path, default=None, help="start from these weights (a second stage)")
    ap.add_argument("--image-size", type=int, default=None, help="input side (default: the bundled model's)")
    ap.add_argument("--patch-size", type=int, default=None, help="patch side (default: the bundled model's)")
    ap.add_argument("--vision-width", type=int, default=None, help="vision tower width (default: the bundled model's)")
    ap.add_argument("--pair-every", type=int, default=4, help="every N-th scene of a batch is a two-object pair")
    ap.add_argument("--draw-process", action=argparse.BooleanOptionalAction, default=True,
                    help="draw scenes in a second process (default; --no-draw-process: in the training thread)")
    ap.add_argument("--rank-weight", type=float, default=0.0, help="weight of the ranking term (0: off)")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="keep an exponential moving average of the weights with this decay (e.g. 0.998) and "
                         "write it as final.pt (the last weights: final_last.pt); 0: off")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    args.work.mkdir(parents=True, exist_ok=True)
    cfg = bundled_config(args.image_size, args.patch_size, args.vision_width)
    model = ClipModel(cfg)
    # Bias of the pairwise sigmoid term: a training-only parameter, not part of the export.
    bias = torch.nn.Parameter(torch.tensor(-5.0))
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)] + [bias]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=args.lr, betas=(0.9, 0.98))
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min(1.0, (s + 1) / args.warmup) *
                                              0.5 * (1 + math.cos(math.pi * min(s, args.steps) / args.steps)))
    step = 0
    ckpt = args.work / "ckpt.pt"
    ema: dict[str, torch.Tensor] | None = None
    if args.init is not None and not ckpt.exists():
        grid = cfg.vision.image_size // cfg.vision.patch_size
        model.load_state_dict(resize_grid(resize_patches(torch.load(args.init), cfg.vision.patch_size), grid))
    if ckpt.exists():
        state = torch.load(ckpt)
        model.load_state_dict(state["model"])
        bias.data.copy_(state["bias"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        step = state["step"]
        ema = state.get("ema")
        print(f"resumed at step {step}", flush=True)
    if args.ema and ema is None:  # starts at the weights of the step it is switched on (also on a resume)
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    log = open(args.work / "train.log", "a")
    t0 = time.time()
    for pixels, ids, ids2, pos in batches(args.seed, range(step, args.steps), args.batch, cfg.vision.image_size,
                                          args.pair_every, background=args.draw_process):
        img = model.image_embeds(pixels)
        txt = model.text_embeds(torch.cat([ids, ids2]))
        txt, txt2 = txt[: ids.shape[0]], txt[ids.shape[0]:]
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        txt2 = txt2 / txt2.norm(dim=-1, keepdim=True)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.t()
        loss = (multi_positive_loss(logits, pos) + pairwise_sigmoid_loss(logits, bias, pos)
                + caption_loss(txt, txt2))
        if args.rank_weight:
            loss = loss + args.rank_weight * ranking_loss(logits, pos)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        step += 1
        if ema is not None:
            with torch.no_grad():
                for k, v in model.state_dict().items():
                    ema[k].lerp_(v, 1.0 - args.ema)
        if step % 25 == 0:
            msg = {"step": step, "loss": round(loss.item(), 4), "scale": round(model.logit_scale.exp().item(), 2),
                   "lr": sched.get_last_lr()[0], "s_per_step": round((time.time() - t0) / 25, 3)}
            t0 = time.time()
            print(json.dumps(msg), flush=True)
            log.write(json.dumps(msg) + "\n")
            log.flush()
        if step % args.ckpt_every == 0 or step == args.steps:
            torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict(),
                        "step": step, "bias": bias.data, "config": cfg.to_hf("clip-lens-shapes"), "ema": ema},
                       args.work / "ckpt.tmp")
            (args.work / "ckpt.tmp").replace(ckpt)
    if ema is not None:
        torch.save(model.state_dict(), args.work / "final_last.pt")
        torch.save(ema, args.work / "final.pt")
    else:
        torch.save(model.state_dict(), args.work / "final.pt")
    print("done", flush=True)


if __name__ == "__main__":
    main()
