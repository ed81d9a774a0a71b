"""Score a folder of predicted saliency maps against a folder of ground truths (the AI4VA challenge workflow,
without its bugs).

    python -m training.evaluate_maps PRED_DIR GT_DIR [--protocol mit|tuebingen] [--sigma 24 | --ppd 35]
                                     [--out FILE.json] [--per_image FILE.csv]
    python -m training.evaluate_maps PRED_DIR AI4VA_DATA --split val      # the AI4VA challenge's layout

Two layouts of GT_DIR are read:
- ours: a flat folder of ground truths (maps or fixation CSVs), one per prediction;
- the AI4VA saliency challenge's (IVRL/AI4VA, saliency/: `data/images/<split>/` and `data/maps/<split>/`,
  splits train and val; grey maps, brighter = more attention): GT_DIR is that `data/` folder (or the folder
  holding it) and `--split` (default val) picks `maps/<split>/`. Every map must have its image in
  `images/<split>/` under the same name (any extension) when that folder is there. PRED_DIR is a flat folder of
  predictions, or one with a `<split>/` subfolder. The challenge's own notebook pairs images and maps by sorted
  listing order; here every pair is matched by name, as below.

- Files are paired by name without extension (`0001.png` ↔ `0001.png` or `0001.csv`); any unpaired file is an
  error that names it, and so are two files with one name in a folder (`0001.npy` and `0001.png`) — never a
  silent mis-pairing by listing order or a silent choice between two files.
- Ground truth is either a map (grey image or .npy; brighter = more attention) or a fixations CSV with columns
  x,y (more columns allowed, e.g. the shared layout) in pixels of the ground truth / image.
- Predictions are resized to the ground-truth size (bilinear). With a fixations CSV the image size is the
  prediction's size, and the empirical map is the fixations blurred with σ (`--sigma` px, `--sigma 1deg --ppd P`,
  or `--ppd P` for 1 degree; default 24 px).
- Map ground truth: CC, KLD, SIM, and NSS / AUC defined for continuous maps (GT-weighted; see
  training.metrics.saliency.map_metrics_continuous). Fixation ground truth: every saliency metric; IG over the
  bundled centre bias; sAUC negatives = the fixations of the other CSV ground truths of the folder, rescaled
  (MIT protocol: 10 random other images, as Borji; Tübingen: all), or centre-bias samples when the folder has
  only one CSV (training.metrics.files.describe_baselines). The JSON says which under "baselines".
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from training.config import DEFAULT_SIGMA_PX, resolve_sigma
from training.evaluate import MIT_SAUC_OTHER_IMAGES
from training.metrics.files import (GT_EXTENSIONS, MAP_EXTENSIONS, describe_baselines, load_fixations_csv, map_size,
                                    score_pair, write_per_image_csv)


def _by_stem(folder: Path, extensions: set[str], what: str) -> dict[str, Path]:
    """{stem: file}; two files with one stem (X.npy and X.png) are an error naming both."""
    found: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in extensions:
            found.setdefault(p.stem, []).append(p)
    clashes = {stem: ps for stem, ps in found.items() if len(ps) > 1}
    if clashes:
        listed = "; ".join(" and ".join(p.name for p in ps) for ps in list(clashes.values())[:10])
        raise ValueError(f"{folder}: several {what} with the same name (pairs are matched by name without "
                         f"extension, so it is unclear which one to score): {listed}; keep one of each")
    return {stem: ps[0] for stem, ps in found.items()}


def pair_files(pred_dir: Path, gt_dir: Path) -> list[tuple[Path, Path]]:
    for d in (pred_dir, gt_dir):
        if not d.is_dir():
            raise ValueError(f"{d}: not a folder")
    preds = _by_stem(pred_dir, MAP_EXTENSIONS, "predictions")
    gts = _by_stem(gt_dir, GT_EXTENSIONS, "ground truths")
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


AI4VA_SPLITS = ("train", "val", "test")
AI4VA_DEFAULT_SPLIT = "val"                   # the challenge publishes ground truth for train and val only
IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def ai4va_root(folder: Path) -> Path | None:
    """The folder holding `maps/<split>/` when `folder` (or its `data/` subfolder) is laid out as the AI4VA
    challenge's saliency data; None for a flat folder of ground truths."""
    for root in (folder, folder / "data"):
        if any((root / "maps" / split).is_dir() for split in AI4VA_SPLITS):
            return root
    return None


def resolve_layout(pred_dir: Path, gt_dir: Path, split: str | None) -> tuple[Path, Path, dict]:
    """(prediction folder, ground-truth folder, {"layout", "split"}) for either layout (see the module doc)."""
    root = ai4va_root(gt_dir) if gt_dir.is_dir() else None
    if root is None:
        if split:
            raise ValueError(f"--split {split}: {gt_dir} is a flat folder of ground truths, not the AI4VA layout "
                             "(maps/<split>/ and images/<split>/); leave --split out")
        return pred_dir, gt_dir, {"layout": "flat"}
    split = split or AI4VA_DEFAULT_SPLIT
    maps = root / "maps" / split
    if not maps.is_dir():
        present = [s for s in AI4VA_SPLITS if (root / "maps" / s).is_dir()]
        raise ValueError(f"{root}: AI4VA layout without maps/{split}/; the splits with maps are {', '.join(present)}")
    images = root / "images" / split
    if images.is_dir():
        image_stems = {p.stem for p in images.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS}
        orphans = sorted(p.name for p in maps.iterdir() if p.suffix.lower() in MAP_EXTENSIONS
                         and p.stem not in image_stems)
        if orphans:
            raise ValueError(f"{maps}: {len(orphans)} map(s) without an image of the same name in {images}, "
                             f"e.g. {', '.join(orphans[:5])}; images and maps are paired by name")
    if (pred_dir / split).is_dir():
        pred_dir = pred_dir / split
    return pred_dir, maps, {"layout": "ai4va", "split": split, "root": str(root)}


def _normalised_fixations(pairs: list[tuple[Path, Path]]) -> dict[str, np.ndarray]:
    """{stem: (N, 2) fixations of each CSV ground truth as fractions of its frame (the prediction's size)}."""
    out = {}
    for pred, gt in pairs:
        if gt.suffix.lower() == ".csv":
            size = map_size(pred)
            out[pred.stem] = load_fixations_csv(gt, size) / np.array(size, dtype=float)
    return out


def _other_fixations(normalised: dict[str, np.ndarray], stem: str, size: tuple[int, int], protocol: str,
                     rng: np.random.Generator) -> np.ndarray | None:
    """Fixations of the other CSV ground truths in this prediction's pixels (as training.evaluate does for a
    dataset split: MIT protocol 10 random other images, Tübingen all); None when there is no other."""
    others = sorted(k for k in normalised if k != stem)
    if not others:
        return None
    if protocol == "mit":
        others = list(rng.choice(others, size=min(MIT_SAUC_OTHER_IMAGES, len(others)), replace=False))
    return np.concatenate([normalised[k] for k in others]) * np.array(size, dtype=float)


def evaluate_folders(pred_dir, gt_dir, protocol: str = "mit", sigma_px: float = 24.0, seed: int = 0,
                     per_image: str | None = None, split: str | None = None) -> dict:
    """`split`: the AI4VA split to score when gt_dir is in the AI4VA layout (default val)."""
    pred_dir, gt_dir, layout = resolve_layout(Path(pred_dir), Path(gt_dir), split)
    pairs = pair_files(pred_dir, gt_dir)
    normalised = _normalised_fixations(pairs)
    rng = np.random.default_rng(seed)            # which other images give sAUC negatives (MIT protocol)
    rows = {}
    for p, g in pairs:
        others = _other_fixations(normalised, p.stem, map_size(p), protocol, rng) if p.stem in normalised else None
        # Each pair's random parts are seeded alike (score_pair's default), so a pair scores the same in any
        # folder, except for sAUC, whose negatives come from the folder's other images.
        rows[p.stem] = score_pair(p, g, protocol, sigma_px, other_fixations=others)
    keys = [k for k in next(iter(rows.values())) if all(k in r for r in rows.values())]
    result = {"pred_dir": str(pred_dir), "gt_dir": str(gt_dir), **layout, "protocol": protocol, "n_images": len(rows),
              "sigma_px": sigma_px, "metrics": {k: float(np.mean([r[k] for r in rows.values()])) for k in keys}}
    if normalised:
        result["baselines"] = describe_baselines(other_fixations=len(normalised) > 1)
    if per_image:
        result["per_image_csv"] = str(write_per_image_csv(per_image, rows))
    result["per_image"] = rows
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pred_dir")
    parser.add_argument("gt_dir", help="a flat folder of ground truths, or AI4VA's data/ folder (see --split)")
    parser.add_argument("--split", choices=AI4VA_SPLITS,
                        help=f"AI4VA layout only: score maps/SPLIT/ (default {AI4VA_DEFAULT_SPLIT})")
    parser.add_argument("--protocol", default="mit", choices=["mit", "tuebingen"])
    parser.add_argument("--sigma", help="blur of fixation CSV ground truth: pixels (24, 24px) or degrees with "
                                        "--ppd (1deg); default 24 px")
    parser.add_argument("--ppd", type=float, help="pixels per degree of visual angle (alone: σ = 1 degree)")
    parser.add_argument("--seed", type=int, default=0, help="which other images give sAUC negatives (MIT protocol)")
    parser.add_argument("--out", help="JSON file to write (with every image's scores)")
    parser.add_argument("--per_image", metavar="FILE.csv", help="also write one CSV row per image, every metric")
    args = parser.parse_args(argv)
    try:
        sigma = resolve_sigma("", args.sigma, args.ppd) if (args.sigma or args.ppd) else \
            {"px": DEFAULT_SIGMA_PX, "deg": None, "ppd": None,
             "source": f"default {DEFAULT_SIGMA_PX:g} px (--sigma PX or --ppd PIXELS_PER_DEGREE to set it)"}
        result = evaluate_folders(args.pred_dir, args.gt_dir, args.protocol, sigma["px"], args.seed, args.per_image,
                                  args.split)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    result["sigma"] = sigma                         # used only by fixation CSV ground truths
    text = json.dumps(result, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "per_image"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
