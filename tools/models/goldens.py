"""Golden references for the TypeScript side, computed by PyTorch from the bundled weights.

Writes <out>/golden.json (metadata, token ids, offsets) and <out>/golden.bin (little-endian
float32 arrays, each at the offset and with the shape the JSON gives), plus the fixture images.
Pixels follow CLIPImageProcessor: PIL bicubic resize of the shortest edge, centre crop, rescale,
normalise. Usage: python3 goldens.py [--ckpt .work/final.pt] [--out golden]
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from clip_bpe import ClipTokenizer
from clip_torch import ClipModel
from explain_torch import attentions, image_map, patch_contributions, relevance, rollout, text_map
from export import load
from scenes import make_scene
from train import HERE, MEAN, MERGES, STD

SAMPLES = HERE.parent.parent.parent / "shared" / "samples"


def preprocess(img: Image.Image, size: int) -> np.ndarray:
    """CLIPImageProcessor with resample=3 (bicubic): returns (3, size, size) float32."""
    img = img.convert("RGB")
    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    new_w, new_h = (size, new_long) if w <= h else (new_long, size)
    img = img.resize((new_w, new_h), Image.BICUBIC)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    img = img.crop((left, top, left + size, top + size))
    x = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
    return x.transpose(2, 0, 1).copy()


class Blob:
    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.offset = 0

    def add(self, arr: np.ndarray | torch.Tensor) -> dict:
        a = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
        ref = {"offset": self.offset, "shape": list(a.shape)}
        self.parts.append(a.tobytes())
        self.offset += a.nbytes
        return ref


# Images whose full vision attention stacks (and rollout) are stored: a scene and a photo. The
# stacks grow with the square of the token count (4 layers x 8 heads x 145^2 floats = 2.7 MB an
# image at a 12x12 grid), and two images at two batch positions are enough to check them.
ATTENTION_IMAGES = ("scene0.png", "chelsea.png")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", type=Path, default=HERE / ".work" / "final.pt")
    ap.add_argument("--out", type=Path, default=HERE / "golden")
    args = ap.parse_args()
    torch.set_num_threads(2)
    model: ClipModel = load(args.ckpt)
    model.eval()
    tok = ClipTokenizer(MERGES)
    size = model.config.vision.image_size
    args.out.mkdir(parents=True, exist_ok=True)

    rng = np.random.default_rng([777, 0])
    fixtures: list[tuple[str, str]] = []
    for i, (w, h) in enumerate(((200, 150), (120, 180))):
        s = make_scene(rng, w, h, n_objects=2, distinct=True)
        name = f"scene{i}.png"
        Image.fromarray(s.image).save(args.out / name)
        fixtures.append((name, f"a {s.objects[0].colour} {s.objects[0].shape}"))
    shutil.copyfile(SAMPLES / "chelsea.png", args.out / "chelsea.png")
    fixtures.append(("chelsea.png", "a photo of a cat"))
    shutil.copyfile(SAMPLES / "camera.png", args.out / "camera.png")  # grayscale input
    fixtures.append(("camera.png", "a red square"))

    blob = Blob()
    meta: dict = {"model": "clip-lens-shapes", "image_size": size,
                  "patch_grid": size // model.config.vision.patch_size, "images": [], "prompts": [], "pairs": []}
    prompts = sorted({p for _, p in fixtures} | {"a blue star that is very very small"})
    prompt_index = {p: i for i, p in enumerate(prompts)}
    with torch.no_grad():
        for p in prompts:
            ids = tok.encode(p, context=None)
            e = model.text_embeds(torch.tensor([ids]))
            att = [a[0] for a in attentions(model, "text")]
            meta["prompts"].append({"text": p, "input_ids": ids, "text_embeds": blob.add(e[0]),
                                    "attentions": [blob.add(a) for a in att]})
    for name, prompt in fixtures:
        x = preprocess(Image.open(args.out / name), size)
        px = torch.from_numpy(x[None])
        with torch.no_grad():
            e = model.image_embeds(px)
        image: dict = {"file": name, "pixel_values": blob.add(x), "image_embeds": blob.add(e[0]), "attentions": []}
        if name in ATTENTION_IMAGES:
            att = [a[0] for a in attentions(model, "vision")]
            image["attentions"] = [blob.add(a) for a in att]
            image["rollout"] = {f: blob.add(rollout(att, f)) for f in ("mean", "max", "min")}
        meta["images"].append(image)
        ids = tok.encode(prompt, context=None)
        eot = len(ids) - 1
        r_last = relevance(model, px, torch.tensor([ids]))
        r_all = relevance(model, px, torch.tensor([ids]), start_layer_image=0, start_layer_text=0)
        meta["pairs"].append({
            "image": len(meta["images"]) - 1, "prompt": prompt_index[prompt], "score": float(r_last["score"]),
            "image_relevance_last_layer": blob.add(image_map(r_last["vision"])),
            "image_relevance_all_layers": blob.add(image_map(r_all["vision"])),
            "text_relevance_last_layer": blob.add(text_map(r_last["text"], eot)),
            "text_relevance_all_layers": blob.add(text_map(r_all["text"], eot)),
            "patch_contributions": blob.add(patch_contributions(model, px, torch.tensor([ids]))),
        })
    (args.out / "golden.bin").write_bytes(b"".join(blob.parts))
    (args.out / "golden.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"wrote {blob.offset} bytes of golden tensors for {len(fixtures)} images, {len(prompts)} prompts")


if __name__ == "__main__":
    main()
