"""Reference explanations in PyTorch: attention probabilities, rollout, gradient relevance,
patch contributions.

These are the golden references the TypeScript side is tested against; they follow
Abnar & Zuidema 2020 (rollout), Chefer et al. 2021 (gradient relevance, CLIP notebook) and
Gandelsman, Efros & Steinhardt 2024 (the CLS token decomposed over patches).
"""
from __future__ import annotations

import torch

from clip_torch import ClipModel


def _heads(model: ClipModel, tower: str) -> int:
    c = model.config.vision if tower == "vision" else model.config.text
    return c.num_attention_heads


def attentions(model: ClipModel, tower: str) -> list[torch.Tensor]:
    """The probabilities kept by the last forward pass, each (batch, heads, seq, seq)."""
    h = _heads(model, tower)
    out = []
    for m in model.attention_modules(tower):
        p = m.last_probs
        assert p is not None
        out.append(p.detach().view(-1, h, p.shape[-2], p.shape[-1]))
    return out


def rollout(attn: list[torch.Tensor], fusion: str = "mean", start: int = 0) -> torch.Tensor:
    """Attention rollout; attn: per layer (heads, seq, seq) -> (seq, seq), rows sum to 1."""
    n = attn[0].shape[-1]
    R = torch.eye(n, dtype=torch.float64)
    for a in attn[start:]:
        a = a.double()
        fused = {"mean": a.mean(0), "max": a.max(0).values, "min": a.min(0).values}[fusion]
        a2 = 0.5 * fused + 0.5 * torch.eye(n, dtype=torch.float64)
        a2 = a2 / a2.sum(-1, keepdim=True)
        R = a2 @ R
    return R


def relevance(model: ClipModel, pixel_values: torch.Tensor, input_ids: torch.Tensor,
              start_layer_image: int = -1, start_layer_text: int = -1) -> dict[str, torch.Tensor]:
    """Gradient-weighted relevance for one image (1,3,H,W) and one prompt (1,seq).

    score = exp(logit_scale) * cos(image_embeds, text_embeds); per layer l >= start:
    cam = mean_heads(clamp(dscore/dA_l * A_l, min=0)); R <- R + cam @ R, R starting at I.
    Returns the full R matrices: image (seq_v, seq_v) and text (seq_t, seq_t).
    """
    towers = {"vision": model.attention_modules("vision"), "text": model.attention_modules("text")}
    deltas: dict[str, list[torch.Tensor]] = {"vision": [], "text": []}
    # First pass to learn the shapes.
    with torch.no_grad():
        model.image_embeds(pixel_values)
        model.text_embeds(input_ids)
    for tower, mods in towers.items():
        for m in mods:
            d = torch.zeros_like(m.last_probs, requires_grad=True)
            m.delta = d
            deltas[tower].append(d)
    try:
        img = model.image_embeds(pixel_values)
        txt = model.text_embeds(input_ids)
        img = img / img.norm(dim=-1, keepdim=True)
        txt = txt / txt.norm(dim=-1, keepdim=True)
        score = model.logit_scale.exp() * (img * txt).sum()
        grads = torch.autograd.grad(score, deltas["vision"] + deltas["text"])
    finally:
        for mods in towers.values():
            for m in mods:
                m.delta = None
    nv = len(deltas["vision"])
    out = {"score": score.detach()}
    for tower, g_list, start in (("vision", grads[:nv], start_layer_image), ("text", grads[nv:], start_layer_text)):
        probs = attentions(model, tower)
        h = _heads(model, tower)
        n = probs[0].shape[-1]
        L = len(probs)
        start = start % L
        R = torch.eye(n, dtype=torch.float64)
        for l in range(start, L):
            g = g_list[l].detach().view(-1, h, n, n)[0].double()
            a = probs[l][0].double()
            cam = (g * a).clamp(min=0).mean(0)
            R = R + cam @ R
        out[tower] = R
    return out


def image_map(R: torch.Tensor) -> torch.Tensor:
    """CLS row without CLS: (seq,) -> (patches,)."""
    return R[0, 1:]


def text_map(R: torch.Tensor, eot: int) -> torch.Tensor:
    """End-of-text row over the prompt's tokens, without start and end tokens."""
    return R[eot, 1:eot]


def patch_contributions(model: ClipModel, pixel_values: torch.Tensor, input_ids: torch.Tensor) -> torch.Tensor:
    """What each patch adds to cos(image_embeds, text_embeds) through every attention layer's CLS
    row, to first order (Gandelsman, Efros & Steinhardt 2024, decomposition of the CLS token).

    For layer l: X[h, p] = A_l,h[CLS, p] * v_l,h,p, merged over heads and out-projected (bias
    included, as the graph does) -> C_l (seq, D); C = sum over layers. The map is C[1:] . g with
    g = d cos / d z at the final CLS hidden state z (before the post-LayerNorm). -> (patches,)
    """
    v_in: list[torch.Tensor] = []
    hooks = [m.register_forward_pre_hook(lambda _m, args: v_in.append(args[0].detach()))
             for m in model.attention_modules("vision")]
    vm = model.vision_model
    try:
        with torch.no_grad():
            h = vm.encoder(vm.pre_layrnorm(vm.embeddings(pixel_values)))
            t = model.text_embeds(input_ids)[0]
    finally:
        for k in hooks:
            k.remove()
    total = torch.zeros(h.shape[1], h.shape[2])
    with torch.no_grad():
        for m, x, p in zip(model.attention_modules("vision"), v_in, attentions(model, "vision")):
            v = m.v_proj(x)[0].view(-1, m.num_heads, m.head_dim).transpose(0, 1)  # heads, seq, hd
            contrib = p[0, :, 0, :, None] * v                                         # heads, seq, hd
            total += m.out_proj(contrib.transpose(0, 1).reshape(-1, m.embed_dim))
    z = h[0, 0].detach().clone().requires_grad_(True)
    e = model.visual_projection(vm.post_layernorm(z))
    cos = (e / e.norm()) @ (t / t.norm())
    g, = torch.autograd.grad(cos, z)
    return (total[1:] @ g).detach()
