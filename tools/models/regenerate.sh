#!/usr/bin/env bash
# Regenerates the bundled model from a seed: train (three stages), evaluate, export, goldens, gallery.
# Needs Debian's python3-torch, python3-onnx, python3-pil and (for speed) libopenblas0-pthread.
# Resumable: each stage checkpoints to its work folder (.work/, .work-stage2/, .work-stage3/); run again to continue.
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
SEED=${SEED:-0}
# Stage 1: from random weights; the caption-caption term breaks the colour-only saddle.
$PY train.py --steps "${STEPS:-2400}" --batch 128 --lr 1e-3 --warmup 150 --seed "$SEED"
# Stage 2: from stage 1's weights, a fresh warm-up and cosine schedule; this is where shapes
# (square vs circle, star vs triangle) are learnt.
$PY train.py --init .work/final.pt --work .work-stage2 --steps "${STEPS2:-2750}" --batch 128 --lr 1e-3 --warmup 100 \
  --seed "$((SEED + 1))"
# Stage 3: from stage 2's weights, half the learning rate.
$PY train.py --init .work-stage2/final.pt --work .work-stage3 --steps "${STEPS3:-2000}" --batch 128 --lr 5e-4 --warmup 100 \
  --seed "$((SEED + 2))"
$PY evaluate.py --ckpt .work-stage3/final.pt --n 300 | tee .work-stage3/metrics.json
$PY export.py --ckpt .work-stage3/final.pt --out ../../public/models/clip-lens-shapes
$PY goldens.py --ckpt .work-stage3/final.pt --out golden
$PY gallery.py --out ../../public/samples > /dev/null
