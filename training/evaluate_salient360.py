"""Score 360° saliency predictions against real 360° eye-tracking data in the Salient360! layout.

    python -m training.evaluate_salient360 PRED_DIR SALIENT360_ROOT [--out FILE.json] [--per_image FILE.csv]
    python -m training.evaluate_salient360 --model atsal SALIENT360_ROOT --out results/salient360-atsal.json

- Ground truth: `SALIENT360_ROOT` read by training/salient360.py (`images/` or `Stimuli/`; saliency maps in
  `saliency/` or `HE/SalMaps/`, fixation lists in `fixations/` or `HE/Scanpaths/`; `--saliency_dir` and
  `--fixations_dir` override them). An image may have a map, fixations or both; images with neither are skipped
  (listed under "skipped").
- Predictions: equirectangular maps in PRED_DIR, one per image with ground truth, named by the image's key
  (`P1.npy`, `P1.png`, or a Salient360!-style `SHsalmap_1_2048x1024_32b.bin`: training.salient360.file_key).
  `.npy`, grey images and Salient360! `.bin`. Two files with one key, a prediction for no image, or an image with
  ground truth but no prediction are errors that name the files. Or `--model NAME`: predict each image with a
  registered panorama model (`models.create_model(NAME).predict(rgb)`) instead of reading PRED_DIR.
- Scoring frame: the ground-truth map's resolution (Salient360!: 2048×1024); for fixations-only images the
  image size, scaled down to at most 2048 px wide. The prediction is resized to it (bilinear) and the
  fixations (lon·W, lat·H) scaled with it.
- Metrics, per image then averaged over the images that have them: CC, KLD, SIM latitude-weighted against the
  map (training/metrics/panorama.py, the Salient360! convention); NSS and AUC-Judd unweighted on the
  fixations (training/metrics/saliency.py, MIT protocol), as training.evaluate_panorama and the Salient360!
  toolbox do. "n_per_metric" counts the images behind each mean.

Writes {"task": "salient360", "root", "predictions", "model", "n_images", "n_with_map", "n_with_fixations",
"gt", "metrics": {metric: mean}, "n_per_metric", "skipped"}; `--per_image FILE.csv` adds one row per image.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from models import create_model, model_entry
from training.cli import run_and_report
from training.metrics import saliency as sal_metrics
from training.metrics.files import load_map, write_per_image_csv
from training.metrics.panorama import ASPECT_TOLERANCE, compute_all_panorama
from training.salient360 import Panorama360Sample, file_key, load_salient360, read_saliency_map

PRED_EXTENSIONS = (".npy", ".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".bin")
MAX_FRAME_WIDTH = 2048          # fixations-only images are scored at most this wide (Salient360!'s map width)


def load_prediction(path: Path) -> np.ndarray:
    """An ERP prediction file → float64 (H, W), non-negative, W ≈ 2H; ValueError naming the file otherwise."""
    path = Path(path)
    pred = read_saliency_map(path).astype(np.float64) if path.suffix.lower() == ".bin" else load_map(path)
    height, width = pred.shape
    if abs(width / height - 2.0) > ASPECT_TOLERANCE:
        raise ValueError(f"{path}: prediction {width}×{height} (W×H) is not equirectangular; expected W = 2H")
    if pred.max() <= 0:
        raise ValueError(f"{path}: the prediction is all zeros")
    return pred


def predictions_by_key(pred_dir: Path) -> dict[str, Path]:
    """{image key: prediction file}; two files with one key are an error naming both."""
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise ValueError(f"{pred_dir}: not a folder of predictions")
    found: dict[str, list[Path]] = {}
    for path in sorted(pred_dir.iterdir()):
        if path.is_file() and path.suffix.lower() in PRED_EXTENSIONS and not path.name.startswith("."):
            found.setdefault(file_key(path.stem), []).append(path)
    clashes = [ps for ps in found.values() if len(ps) > 1]
    if clashes:
        listed = "; ".join(" and ".join(p.name for p in ps) for ps in clashes[:10])
        raise ValueError(f"{pred_dir}: several predictions for one image (files are matched to images by key, "
                         f"e.g. P1.npy ↔ P1.jpg): {listed}; keep one of each")
    if not found:
        raise ValueError(f"{pred_dir}: no predictions ({', '.join(PRED_EXTENSIONS)})")
    return {key: ps[0] for key, ps in found.items()}


def scoring_frame(sample: Panorama360Sample) -> tuple[int, int]:
    """(width, height) the sample is scored at: its map's resolution, else the image's, at most 2048 wide."""
    if sample.saliency is not None:
        return sample.saliency.shape[1], sample.saliency.shape[0]
    width, height = sample.size
    if width > MAX_FRAME_WIDTH:
        width, height = MAX_FRAME_WIDTH, max(1, round(height * MAX_FRAME_WIDTH / width))
    return width, height


def score_sample(pred: np.ndarray, sample: Panorama360Sample, rng: np.random.Generator) -> dict[str, float]:
    """cc, kld, sim (latitude-weighted, vs the map) and nss, auc_judd (MIT, vs the fixations), what is given."""
    width, height = scoring_frame(sample)
    if pred.shape != (height, width):
        pred = cv2.resize(pred, (width, height), interpolation=cv2.INTER_LINEAR)
        pred = np.clip(pred, 0, None)
    metrics: dict[str, float] = {}
    if sample.saliency is not None:
        metrics.update(compute_all_panorama(pred, sample.saliency.astype(np.float64)))
    if sample.fixations is not None and len(sample.fixations):
        image_w, image_h = sample.size
        fixations = sample.fixations * np.array([width / image_w, height / image_h])
        metrics["nss"] = sal_metrics.nss(pred, fixations, "mit")
        metrics["auc_judd"] = sal_metrics.auc_judd(pred, fixations, "mit", rng=rng)
    return metrics


def evaluate(pred_dir: str | None, root: str, model: str | None = None, saliency_dir: str | None = None,
             fixations_dir: str | None = None, seed: int = 0, per_image: str | None = None,
             progress: bool = True) -> dict:
    if (pred_dir is None) == (model is None):
        raise ValueError("give either a folder of predictions or --model NAME, not both and not neither")
    samples = load_salient360(root, saliency_dir, fixations_dir)
    scored = [s for s in samples if s.saliency is not None or s.fixations is not None]
    skipped = [s.name for s in samples if s.saliency is None and s.fixations is None]
    if not scored:
        raise ValueError(f"{root}: no ground truth: none of its {len(samples)} images has a saliency map or a "
                         f"fixation list")
    predictor, files = None, {}
    if model is not None:
        entry = model_entry(model)
        if entry.task != "panorama":
            raise ValueError(f"'{model}' is a {entry.task} model; --model needs a panorama model")
        predictor = create_model(model)
    else:
        files = predictions_by_key(Path(pred_dir))
        names = {s.name for s in samples}
        if orphans := sorted(files[k].name for k in files if k not in names):
            raise ValueError(f"predictions that match no image of {root} (keys: {sorted(names)[:5]}…): "
                             f"{', '.join(orphans[:10])}")
        if missing := [s for s in scored if s.name not in files]:
            raise ValueError(f"images with ground truth but no prediction in {pred_dir}: "
                             f"{', '.join(s.image_path.name for s in missing[:10])}"
                             f"{' …' if len(missing) > 10 else ''}")
    rows: dict[str, dict[str, float]] = {}
    for i, sample in enumerate(tqdm(scored, desc=f"{model or pred_dir} on {Path(root).name}", disable=not progress)):
        if predictor is not None:
            pred = np.asarray(predictor.predict(sample.load_image()), dtype=np.float64)
        else:
            pred = load_prediction(files[sample.name])
        rows[sample.name] = score_sample(pred, sample, np.random.default_rng([seed, i]))
    keys = [k for k in ("cc", "kld", "sim", "nss", "auc_judd") if any(k in r for r in rows.values())]
    result = {"task": "salient360", "root": str(root), "predictions": None if pred_dir is None else str(pred_dir),
              "model": model, "n_images": len(rows),
              "n_with_map": sum(s.saliency is not None for s in scored),
              "n_with_fixations": sum(s.fixations is not None for s in scored),
              "gt": "Salient360! saliency maps (CC, KLD, SIM latitude-weighted) and fixation lists (NSS, AUC-Judd, "
                    "MIT protocol, unweighted)",
              "metrics": {k: float(np.mean([r[k] for r in rows.values() if k in r])) for k in keys},
              "n_per_metric": {k: sum(k in r for r in rows.values()) for k in keys},
              "skipped": skipped}
    if per_image:
        result["per_image"] = str(write_per_image_csv(per_image, rows))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PRED_DIR SALIENT360_ROOT",
                        help="folder of predicted ERP maps, then the Salient360! folder (only the latter "
                             "with --model)")
    parser.add_argument("--model", help="predict with this registered panorama model instead of PRED_DIR")
    parser.add_argument("--saliency_dir", help="saliency maps folder under the root (default saliency/ or HE/SalMaps)")
    parser.add_argument("--fixations_dir", help="fixation lists folder under the root (default fixations/ or "
                                                "HE/Scanpaths)")
    parser.add_argument("--seed", type=int, default=0, help="AUC-Judd's tie-breaking jitter")
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--per_image", metavar="FILE.csv", help="also write one CSV row per image, every metric")
    args = parser.parse_args(argv)
    expected = 1 if args.model else 2
    if len(args.paths) != expected:
        parser.error("with --model give only SALIENT360_ROOT" if args.model else
                     "give PRED_DIR and SALIENT360_ROOT (or --model NAME and SALIENT360_ROOT)")
    pred_dir, root = (None, args.paths[0]) if args.model else args.paths
    return run_and_report(lambda: evaluate(pred_dir, root, args.model, args.saliency_dir, args.fixations_dir,
                                           args.seed, args.per_image), args.out)


if __name__ == "__main__":
    sys.exit(main())
