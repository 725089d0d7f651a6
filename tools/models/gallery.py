"""Sample images for the app's gallery: synthetic scenes (which the bundled model knows) and the
photographs from the shared samples, with an index.json the app reads.

Usage: python3 gallery.py [--out ../../public/samples]
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
from PIL import Image

from scenes import make_scene
from train import HERE

SAMPLES = HERE.parent.parent.parent / "shared" / "samples"
PHOTOS = {
    "astronaut.png": "a portrait of an astronaut with the American flag",
    "camera.png": "a person looking at a camera on a tripod",
    "chelsea.png": "a facial photo of a tabby cat",
    "coffee.png": "a cup of coffee on a saucer",
    "horse.png": "a black-and-white silhouette of a horse",
    "rocket.jpg": "a rocket standing on a launchpad",
}
SIZES = [(320, 240), (256, 256), (240, 320), (384, 256), (256, 256), (300, 200)]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=HERE.parent.parent / "public" / "samples")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([2024, 11])
    index = []
    for i, (w, h) in enumerate(SIZES):
        s = make_scene(rng, w, h, n_objects=1 + i % 3, distinct=True)
        name = f"scene-{i + 1}.png"
        Image.fromarray(s.image).save(args.out / name, optimize=True)
        index.append({"file": name, "caption": " and ".join(f"a {o.colour} {o.shape}" for o in s.objects)})
    for name, caption in PHOTOS.items():
        shutil.copyfile(SAMPLES / name, args.out / name)
        index.append({"file": name, "caption": caption})
    (args.out / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    (args.out / "NOTICE.md").write_text(
        "# Sample images\n\n`scene-*.png` are synthetic scenes drawn by tools/models/gallery.py.\n\n"
        "The photographs come from the scikit-image sample data (BSD-3-Clause collection); each image's own\n"
        "licence: astronaut.png public domain (NASA); camera.png CC0 (Lav Varshney); chelsea.png CC0\n"
        "(Stefan van der Walt); coffee.png CC0 (Rachel Michetti); horse.png CC0 (Andreas Preuss);\n"
        "rocket.jpg public domain (SpaceX).\n")
    print(json.dumps(index, indent=1))


if __name__ == "__main__":
    main()
