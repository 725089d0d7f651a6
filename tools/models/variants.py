"""A model folder with all eight weight variants transformers.js publishes, for tests.

    python3 tools/models/variants.py public/models/clip-lens-shapes --out models-bench/clip-lens-shapes-variants

Copies the JSON files and the `.onnx` files already in `<src>/onnx/`, and writes
`{vision,text}_model{_int8,_uint8,_q4,_q4f16,_bnb4}.onnx` from the fp32 files (onnx_variants.py;
`_fp16` and `_quantized` too when the source lacks them). `variants.json` records the sha256 of
the fp32 files and of the converters, so a caller can tell a stale folder (src/testing/variants.ts).
The folder is written under a scratch name beside `--out` and renamed into place, so an
interrupted run never leaves a half folder.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import onnx

from onnx_variants import CONVERTERS

HERE = Path(__file__).resolve().parent
ENCODERS = ("vision_model", "text_model")


def stamp(src: Path) -> dict:
    """What the folder was made from: sha256 of each fp32 file and of the converter sources."""
    digest = lambda p: hashlib.sha256(p.read_bytes()).hexdigest()  # noqa: E731
    return {
        "sources": {f"onnx/{e}.onnx": digest(src / "onnx" / f"{e}.onnx") for e in ENCODERS},
        "converters": {p.name: digest(p) for p in (HERE / "onnx_variants.py", Path(__file__).resolve())},
    }


def write(src: Path, dst: Path, made_from: dict) -> list[Path]:
    """Writes the folder at `dst`; returns its files, relative to it."""
    (dst / "onnx").mkdir(parents=True)
    for f in sorted(src.glob("*.json")):
        shutil.copy2(f, dst / f.name)
    for f in sorted((src / "onnx").glob("*.onnx")):
        shutil.copy2(f, dst / "onnx" / f.name)
    for e in ENCODERS:
        fp32 = onnx.load(str(src / "onnx" / f"{e}.onnx"))
        for suffix, convert in CONVERTERS.items():
            out = dst / "onnx" / f"{e}{suffix}.onnx"
            if not out.exists():
                onnx.save(convert(fp32), str(out))
    (dst / "variants.json").write_text(json.dumps(made_from, indent=2) + "\n")
    return sorted(p.relative_to(dst) for p in dst.rglob("*") if p.is_file())


def complete(folder: Path, files: list[Path], made_from: dict) -> bool:
    """True when `folder` has every file and was made from the same sources and converters."""
    try:
        same = json.loads((folder / "variants.json").read_text()) == made_from
    except (OSError, ValueError):
        return False
    return same and all((folder / f).is_file() for f in files)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", type=Path, help="a model folder with onnx/{vision,text}_model.onnx")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    out: Path = args.out.resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    made_from = stamp(args.src)
    scratch = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        files = write(args.src, scratch / "folder", made_from)
        # Another run (a second test file) may have finished the same folder meanwhile: keep it
        # rather than swap it away under its readers.
        if not complete(out, files, made_from):
            if out.exists():  # stale or partial: set it aside
                try:
                    os.rename(out, scratch / "old")
                except FileNotFoundError:
                    pass
            try:
                os.rename(scratch / "folder", out)
            except OSError:
                if not complete(out, files, made_from):
                    raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    for f in files:
        print(f"{(out / f).stat().st_size:>10}  {f}")


if __name__ == "__main__":
    main()
