#!/usr/bin/env bash
# Regenerate every result file behind docs/results.md, then the tables. Usage: bash training/evaluate_all.sh [MODEL ...]
# Without arguments: all saliency models (baselines, gold and trained ones), all scanpath and 360° models, and the
# painterly test splits. `bash training/evaluate_all.sh --painterly`: only the painterly runs (about 45 min of one
# CPU core; styled images are cached in $PAINTERLY_CACHE or ~/.cache/visual-attention-studio/painterly).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}

# Painterly test splits (training/painterly.py), protocol mit. centerbias reads only the image size and gold only
# the gaze, so a style cannot change them: not run. Scanpaths on the first PAINTERLY_SCANPATH_LIMIT images of each
# test split (MultiMatch is the slow part), with a photo run on the same images as the reference.
PAINTERLY_SALIENCY="effsal-lite0 spectral-residual salnet"
PAINTERLY_SCANPATH="spgen saliency-sampler"
PAINTERLY_SCANPATH_LIMIT=${PAINTERLY_SCANPATH_LIMIT:-50}
painterly() {
  local styles
  styles=$($PY -c "from training.painterly import TEST_STYLES; print(' '.join(TEST_STYLES))")
  mkdir -p results/painterly
  for model in $PAINTERLY_SALIENCY; do
    for data in osie mit1003; do
      for style in $styles; do
        echo "$(date +%T) saliency $model $data $style"
        $PY -m training.evaluate --model "$model" --data $data --split test --protocol mit --style "$style" \
          --out results/painterly/$data-test-mit-$model-$style.json > /dev/null
      done
    done
  done
  for model in $PAINTERLY_SCANPATH; do
    for data in osie mit1003; do
      for style in photo $styles; do
        echo "$(date +%T) scanpath $model $data $style"
        $PY -m training.evaluate_scanpaths --model "$model" --data $data --split test --samples 3 --style "$style" \
          --limit "$PAINTERLY_SCANPATH_LIMIT" --out results/painterly/$data-test-$model-$style.json > /dev/null
      done
    done
  done
  echo "$(date +%T) done"
}
if [ "${1:-}" = "--painterly" ]; then painterly; $PY -m training.make_results; exit 0; fi
panorama_models=""
if [ $# -gt 0 ]; then saliency_models="$*"; scanpath_models=""; else
  panorama_models=$($PY -c "from models import list_models; print(' '.join(list_models('panorama')))")
  saliency_models=$($PY -c "from models import list_models; print(' '.join(list_models('saliency')))")
  scanpath_models=$($PY -c "from models import list_models; print(' '.join(list_models('scanpath')))")
fi
for data in osie mit1003; do
  for protocol in mit tuebingen; do
    for model in $saliency_models; do
      $PY -m training.evaluate --model "$model" --data $data --split test --protocol $protocol \
        --out results/saliency/$data-test-$protocol-$model.json > /dev/null
    done
  done
  for model in $scanpath_models human; do
    [ -n "$scanpath_models" ] || break
    # 10 viewers per image: the per-path scores and the population from one run
    $PY -m training.evaluate_scanpaths --model "$model" --data $data --split test --samples 10 \
      --out results/scanpaths/$data-test-$model.json > /dev/null
    cp results/scanpaths/$data-test-$model.json results/population/$data-test-$model.json
  done
done
for model in $panorama_models; do
  $PY -m training.evaluate_panorama --model "$model" --data osie,mit1003 --n 50 --out results/panorama/$model.json > /dev/null
done
[ $# -gt 0 ] || painterly
$PY -m training.make_results
