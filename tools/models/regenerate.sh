#!/usr/bin/env bash
# Regenerates the bundled model from a seed: train, evaluate, export, goldens, gallery.
# Needs Debian's python3-torch, python3-onnx, python3-pil and (for speed) libopenblas0-pthread.
# Resumable: training checkpoints to tools/models/.work/; run again to continue.
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
SEED=${SEED:-0}
STEPS=${STEPS:-2400}
$PY train.py --steps "$STEPS" --batch 128 --lr 1e-3 --warmup 150 --seed "$SEED"
$PY evaluate.py --ckpt .work/final.pt --n 400 | tee .work/metrics.json
$PY export.py --ckpt .work/final.pt --out ../../public/models/clip-lens-shapes
$PY goldens.py --ckpt .work/final.pt --out golden
$PY gallery.py --out ../../public/samples > /dev/null
