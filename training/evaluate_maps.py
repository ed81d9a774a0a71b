"""Score a folder of predicted saliency maps against a folder of ground truths (the AI4VA challenge workflow,
without its bugs).

    python -m training.evaluate_maps PRED_DIR GT_DIR [--protocol mit|tuebingen] [--sigma 24] [--out FILE.json]

- Files are paired by name without extension (`0001.png` ↔ `0001.png` or `0001.csv`); any unpaired file is an
  error that names it — never a silent mis-pairing by listing order.
- Ground truth is either a map (grey image or .npy; brighter = more attention) or a fixations CSV with columns
  x,y (more columns allowed, e.g. the shared layout) in pixels of the ground truth / image.
- Predictions are resized to the ground-truth size (bilinear). With a fixations CSV the image size is the
  prediction's size, and the empirical map is the fixations blurred with σ px.
- Map ground truth: CC, KLD, SIM, and NSS / AUC defined for continuous maps (GT-weighted; see
  training.metrics.saliency.map_metrics_continuous). Fixation ground truth: every saliency metric.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from training.metrics.files import GT_EXTENSIONS, MAP_EXTENSIONS, score_pair


def pair_files(pred_dir: Path, gt_dir: Path) -> list[tuple[Path, Path]]:
    for d in (pred_dir, gt_dir):
        if not d.is_dir():
            raise ValueError(f"{d}: not a folder")
    preds = {p.stem: p for p in sorted(pred_dir.iterdir()) if p.suffix.lower() in MAP_EXTENSIONS}
    gts = {p.stem: p for p in sorted(gt_dir.iterdir()) if p.suffix.lower() in GT_EXTENSIONS}
    problems = []
    if missing := sorted(set(preds) - set(gts)):
        problems.append(f"predictions without ground truth: {', '.join(preds[s].name for s in missing[:10])}")
    if missing := sorted(set(gts) - set(preds)):
        problems.append(f"ground truths without prediction: {', '.join(gts[s].name for s in missing[:10])}")
    if problems:
        raise ValueError("unpaired files (pairs are matched by name without extension) — " + "; ".join(problems))
    if not preds:
        raise ValueError(f"{pred_dir}: no saliency maps ({', '.join(sorted(MAP_EXTENSIONS))})")
    return [(preds[s], gts[s]) for s in sorted(preds)]


def evaluate_folders(pred_dir, gt_dir, protocol: str = "mit", sigma_px: float = 24.0) -> dict:
    pairs = pair_files(Path(pred_dir), Path(gt_dir))
    rows = {p.stem: score_pair(p, g, protocol, sigma_px) for p, g in pairs}
    keys = sorted(set.intersection(*(set(r) for r in rows.values())))
    return {"pred_dir": str(pred_dir), "gt_dir": str(gt_dir), "protocol": protocol, "n_images": len(rows),
            "metrics": {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}, "per_image": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pred_dir")
    parser.add_argument("gt_dir")
    parser.add_argument("--protocol", default="mit", choices=["mit", "tuebingen"])
    parser.add_argument("--sigma", type=float, default=24.0, help="blur (px) of fixation CSV ground truth")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    try:
        result = evaluate_folders(args.pred_dir, args.gt_dir, args.protocol, args.sigma)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_image"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
