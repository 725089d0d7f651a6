"""Write a CLIP model folder in the Hugging Face layout used by the transformers.js exports.

    <out>/config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json
    <out>/onnx/{vision,text}_model{,_fp16,_quantized}.onnx

Usage: python3 export.py --ckpt .work/final.pt --out ../../public/models/clip-lens-shapes
The exports have the published interface only (pixel_values -> image_embeds,
input_ids -> text_embeds): no attention outputs.
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import onnx
import torch

from clip_bpe import ClipTokenizer, tokenizer_config
from clip_torch import ClipConfig, ClipModel, TextWithProjection, VisionWithProjection, bundled_config_of
from onnx_variants import to_fp16, to_quantized
from train import HERE, MERGES

OPSET = 14


def preprocessor_config(c: ClipConfig) -> dict:
    s = c.vision.image_size
    return {
        "crop_size": {"height": s, "width": s},
        "do_center_crop": True,
        "do_convert_rgb": True,
        "do_normalize": True,
        "do_rescale": True,
        "do_resize": True,
        "feature_extractor_type": "CLIPFeatureExtractor",
        "image_mean": [0.48145466, 0.4578275, 0.40821073],
        "image_processor_type": "CLIPImageProcessor",
        "image_std": [0.26862954, 0.26130258, 0.27577711],
        "resample": 3,
        "rescale_factor": 1 / 255,
        "size": {"shortest_edge": s},
    }


def export_onnx(module: torch.nn.Module, dummy: torch.Tensor, inp: str, out: str, axes: dict) -> onnx.ModelProto:
    buf = io.BytesIO()
    torch.onnx.export(module, (dummy,), buf, input_names=[inp], output_names=[out],
                      dynamic_axes={inp: axes, out: {0: "batch_size"}}, opset_version=OPSET,
                      do_constant_folding=True)
    return onnx.load_from_string(buf.getvalue())


def write_folder(model: ClipModel, out: Path, name: str) -> None:
    model.eval()
    c = model.config
    (out / "onnx").mkdir(parents=True, exist_ok=True)
    tok = ClipTokenizer(MERGES)
    config = c.to_hf(name)
    # The trained logit scale (HF keeps it in the weights; the exported encoders don't carry it).
    config["logit_scale_init_value"] = round(float(model.logit_scale), 6)
    (out / "config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(c), indent=2) + "\n")
    (out / "tokenizer_config.json").write_text(json.dumps(tokenizer_config(), indent=2) + "\n")
    (out / "tokenizer.json").write_text(json.dumps(tok.tokenizer_json(), ensure_ascii=False))
    s = c.vision.image_size
    with torch.no_grad():
        vision = export_onnx(VisionWithProjection(model), torch.zeros(1, 3, s, s), "pixel_values", "image_embeds",
                             {0: "batch_size"})
        ids = torch.tensor([tok.encode("a photo of a cat", context=None)])
        text = export_onnx(TextWithProjection(model), ids, "input_ids", "text_embeds",
                           {0: "batch_size", 1: "sequence_length"})
    for stem, m in (("vision_model", vision), ("text_model", text)):
        onnx.checker.check_model(m)
        onnx.save(m, out / "onnx" / f"{stem}.onnx")
        onnx.save(to_fp16(m), out / "onnx" / f"{stem}_fp16.onnx")
        onnx.save(to_quantized(m), out / "onnx" / f"{stem}_quantized.onnx")


def load(ckpt: Path, config: ClipConfig | None = None) -> ClipModel:
    state = torch.load(ckpt)
    state = state.get("model", state)
    model = ClipModel(config or bundled_config_of(state))
    model.load_state_dict(state)
    return model


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ckpt", type=Path, default=HERE / ".work" / "final.pt")
    ap.add_argument("--out", type=Path, default=HERE.parent.parent / "public" / "models" / "clip-lens-shapes")
    args = ap.parse_args()
    write_folder(load(args.ckpt), args.out, "clip-lens-shapes")
    for f in sorted(args.out.rglob("*")):
        if f.is_file():
            print(f"{f.stat().st_size:>10}  {f.relative_to(args.out)}")


if __name__ == "__main__":
    main()
