#!/usr/bin/env bash
# Regenerate every result file behind docs/results.md, then the tables. Usage: bash training/evaluate_all.sh [MODEL ...]
# Without arguments: all saliency models (baselines, gold and trained ones), all scanpath and 360° models.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
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
    $PY -m training.evaluate_scanpaths --model "$model" --data $data --split test --samples 3 \
      --out results/scanpaths/$data-test-$model.json > /dev/null
    $PY -m training.evaluate_scanpaths --model "$model" --data $data --split test --samples 10 --population_only \
      --out results/population/$data-test-$model.json > /dev/null
  done
done
for model in $panorama_models; do
  $PY -m training.evaluate_panorama --model "$model" --data osie,mit1003 --n 50 --out results/panorama/$model.json > /dev/null
done
$PY -m training.make_results
