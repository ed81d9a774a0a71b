#!/usr/bin/env bash
# Regenerate every result file behind docs/results.md, then the tables. Usage: bash training/evaluate_all.sh [MODEL ...]
# Without arguments: all saliency models (baselines, gold and trained ones) and all scanpath models.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
if [ $# -gt 0 ]; then saliency_models="$*"; scanpath_models=""; else
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
  done
done
$PY -m training.make_results
