#!/usr/bin/env bash
# Regenerates the bundled model from a seed: train (eleven stages), evaluate, export, goldens, gallery.
# Needs Debian's python3-torch, python3-onnx, python3-pil and (for speed) libopenblas0-pthread.
# Resumable: each stage checkpoints to its work folder (.work/, .work-stage2/ … .work-stage11/); run again to continue.
set -euo pipefail
cd "$(dirname "$0")"
PY=/usr/bin/python3
SEED=${SEED:-0}
# Stage 1: from random weights; the caption-caption term breaks the colour-only saddle.
LOW="--image-size 64 --patch-size 8 --vision-width 64"  # stages 1-3: the same 8x8 grid on smaller, cheaper scenes
MID="--image-size 96 --patch-size 12"                   # stages 4-9: the same grid at 96 px
$PY train.py $LOW --steps "${STEPS:-2400}" --batch 128 --lr 1e-3 --warmup 150 --seed "$SEED"
# Stage 2: from stage 1's weights, a fresh warm-up and cosine schedule; this is where shapes
# (square vs circle, star vs triangle) are learnt.
$PY train.py $LOW --init .work/final.pt --work .work-stage2 --steps "${STEPS2:-2750}" --batch 128 --lr 1e-3 --warmup 100 \
  --seed "$((SEED + 1))"
# Stage 3: from stage 2's weights, half the learning rate.
$PY train.py $LOW --init .work-stage2/final.pt --work .work-stage3 --steps "${STEPS3:-2000}" --batch 128 --lr 5e-4 --warmup 100 \
  --seed "$((SEED + 2))"
# Stage 4: 96 px with 12-px patches (same grid): stage 3's patch kernels
# resampled (train.py resize_patches); small objects now span more pixels, which is what shapes needed.
$PY train.py $MID --init .work-stage3/final.pt --work .work-stage4 --vision-width 64 --steps "${STEPS4:-2000}" --batch 128 --lr 5e-4 --warmup 100 \
  --seed "$((SEED + 3))"
# Stage 5: from stage 4, a lower learning rate.
$PY train.py $MID --init .work-stage4/final.pt --work .work-stage5 --vision-width 64 --steps "${STEPS5:-1500}" --batch 128 --lr 3e-4 --warmup 100 \
  --seed "$((SEED + 4))"
# Stage 6: from stage 5, longer at the same learning rate; two-object ranking was still rising.
$PY train.py $MID --init .work-stage5/final.pt --work .work-stage6 --vision-width 64 --steps "${STEPS6:-4000}" --batch 128 --lr 3e-4 --warmup 100 \
  --seed "$((SEED + 5))"
# Stage 7: from stage 6, every second scene a two-object pair (was every fourth): what the
# "both objects above every absent caption" metric asks for.
$PY train.py $MID --init .work-stage6/final.pt --work .work-stage7 --vision-width 64 --steps "${STEPS7:-3000}" --batch 128 --lr 2e-4 --warmup 100 \
  --seed "$((SEED + 6))" --pair-every 2
# Stage 8: the vision tower doubled to width 128 without changing its outputs (widen.py), then
# trained on like stage 7: the extra width is what lifted the two-object ranking.
$PY widen.py --ckpt .work-stage7/final.pt --out .work-stage8/init.pt --seed "$SEED"
$PY train.py $MID --init .work-stage8/init.pt --work .work-stage8 --steps "${STEPS8:-3000}" --batch 128 --lr 3e-4 --warmup 100 \
  --seed "$((SEED + 7))" --pair-every 2 --threads 1
# Stage 9: from stage 8, 4,000 more steps at a lower peak, and the weights' moving average
# (--ema) as the result: the two-object ranking was still rising, and the average ranks better
# than the last weights (step noise).
$PY train.py $MID --init .work-stage8/final.pt --work .work-stage9 --steps "${STEPS9:-4000}" --batch 128 --lr 2e-4 --warmup 100 \
  --seed "$((SEED + 8))" --pair-every 2 --threads 1 --ema 0.998
# Stage 10: from stage 9, 128 px with 16-px patches (same 8x8 grid, the patch kernels resampled
# as in stage 4). Small objects span more pixels, which is where the two-object misses were.
$PY train.py --image-size 128 --patch-size 16 --init .work-stage9/final.pt --work .work-stage10 --steps "${STEPS10:-4000}" --batch 128 --lr 2e-4 --warmup 100 \
  --seed "$((SEED + 9))" --pair-every 2 --threads 1 --ema 0.998
# Stage 11: the bundled model, 144 px with 12-px patches: a 12x12 grid, so an object of a tenth of
# the side spans more than one patch. Stage 10's patch kernels resampled to 12 px and its position
# embeddings bicubically to 12x12 (train.py resize_grid); a short schedule, since the transfer
# already ranks small objects better than stage 10 did.
$PY train.py --init .work-stage10/final.pt --work .work-stage11 --steps "${STEPS11:-800}" --batch 128 --lr 1.5e-4 --warmup 50 \
  --seed "$((SEED + 10))" --pair-every 2 --threads 1 --ema 0.995
FINAL=.work-stage11/final.pt
$PY evaluate.py --ckpt $FINAL --n 300 | tee .work-stage11/metrics.json
$PY export.py --ckpt $FINAL --out ../../public/models/clip-lens-shapes
$PY goldens.py --ckpt $FINAL --out golden
$PY gallery.py --out ../../public/samples > /dev/null
