"""Score a saliency model on an eye-tracking dataset split.

    python -m training.evaluate --model centerbias --data mit1003 --split test --protocol tuebingen --out results/x.json
    python -m training.evaluate --model effsal-lite0 --data /path/to/my_set --split all --ppd 30 \
        --out my_set.json --per_image my_set-per-image.csv

Writes {"model","dataset","split","protocol","n_images","sigma_px","sigma","gt","metrics":{...}} — per-image means;
`--per_image FILE.csv` also writes one row per image with every metric.
Ground truth: fixations of all subjects (AUC-Judd, AUC-Borji, sAUC, NSS, IG) and the empirical map = fixation map
blurred with σ = 1 dva (CC, KLD, SIM). σ: `--sigma PX`, `--sigma 1deg --ppd P` or `--ppd P` (1 degree = P px);
without them the dataset's own (training/config.py SIGMA_PX: osie 24, mit1003 23.99 px) and, for any other
folder, 24 px with a warning. The JSON's "sigma" says which σ was used and why.
`--data` is a name under $GAZE_DATA/gaze or a folder in the shared layout (images/, fixations.csv); `--split all`
scores every image and needs no splits.csv. sAUC negatives: the fixations of the other images of the same split,
rescaled to this image (MIT mode: 10 random other images, as Borji). IG baseline: the `centerbias` model.
The `gold` model is scored leave-one-subject-out: each subject's fixations against the map of the others.
`--style NAME` scores the model on a painterly copy of the split (training/painterly.py: same images, sizes and
fixations, the image rendered in that painting style, cached outside git); the JSON then also holds "style" and
"style_seed". `gold` does not look at the image, so a style does not change it.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

from models import create_model, model_entry, predict_saliency
from training.cli import run_and_report
from training.config import SIGMA_PX, resolve_sigma
from training.datasets import ALL, GazeDataset
from training.painterly import PHOTO, TEST_STYLES, load_painterly
from training.metrics import saliency as sal_metrics
from training.metrics.files import write_per_image_csv

MIT_SAUC_OTHER_IMAGES = 10


def other_fixations(ds: GazeDataset, image: str, protocol: str, rng: np.random.Generator) -> np.ndarray:
    """Fixations of other images of the split, in this image's pixel coordinates."""
    others = [i for i in ds.images if i != image]
    if protocol == "mit":
        others = list(rng.choice(others, size=min(MIT_SAUC_OTHER_IMAGES, len(others)), replace=False))
    width, height = ds.sizes[image]
    parts = [ds.fixations(o) / np.array(ds.sizes[o]) for o in others]
    return np.concatenate(parts) * np.array([width, height]) if parts else np.zeros((0, 2))


def score_image(model, ds: GazeDataset, image: str, protocol: str, baseline, rng,
                sigma_px: float | None = None) -> dict:
    sigma_px = sigma_px or ds.sigma_px
    fixations = ds.fixations(image)
    gt_map = ds.saliency_map(image, sigma_px)
    size = ds.sizes[image]
    base = baseline.density(size)
    others = other_fixations(ds, image, protocol, rng)
    if getattr(model, "needs_gaze", False):
        return score_gold(model, ds, image, protocol, base, others, gt_map, rng, sigma_px)
    pred = predict_saliency(model, ds.load_image(image))
    return sal_metrics.compute_all(pred, fixations, gt_map, other_fixations=others, baseline=base,
                                   protocol=protocol, rng=rng)


def score_gold(model, ds, image, protocol, base, others, gt_map, rng, sigma_px: float | None = None) -> dict:
    """Leave one subject out: fixation metrics of subject s against the map of the others, then the mean;
    map metrics (CC, KLD, SIM) of each leave-one-out map against the full empirical map, then the mean."""
    paths = ds.scanpaths(image)
    per_subject = []
    for subject, path in paths.items():
        rest = np.concatenate([p[:, :2] for s, p in paths.items() if s != subject])
        pred = model.predict_from_fixations(rest, ds.sizes[image], sigma_px or ds.sigma_px)
        per_subject.append(sal_metrics.compute_all(pred, path[:, :2], gt_map, other_fixations=others,
                                                   baseline=base, protocol=protocol, rng=rng))
    # Tübingen averages over fixations within an image: weight subjects by their fixation counts there.
    weights = np.array([len(p) for p in paths.values()], float) if protocol == "tuebingen" else None
    return {k: float(np.average([d[k] for d in per_subject], weights=weights)) for k in per_subject[0]}


def evaluate(model_name: str, data: str, split: str, protocol: str = "mit", limit: int | None = None,
             seed: int = 0, progress: bool = True, sigma: str | float | None = None, ppd: float | None = None,
             per_image: str | None = None, style: str | None = None, style_seed: int = 0,
             cache: str | None = None) -> dict:
    """`sigma`, `ppd`: the empirical map's blur (training.config.resolve_sigma); `per_image`: a CSV path for one
    row per image with every metric; `style`: a painterly test style (training.painterly.TEST_STYLES), seeded by
    `style_seed`, styled images cached under `cache`."""
    entry = model_entry(model_name)
    if entry.task != "saliency":
        raise ValueError(f"'{model_name}' is a {entry.task} model; use training.evaluate_scanpaths for scanpaths")
    ds = load_painterly(data, split, style, style_seed, cache)
    sig = resolve_sigma(ds.name, sigma, ppd)
    if sigma is None and ppd is None and ds.name not in SIGMA_PX:
        print(f"warning: empirical-map σ = {sig['source']}", file=sys.stderr)
    model = create_model(model_name)
    baseline = create_model("centerbias")
    rng = np.random.default_rng(seed)
    images = ds.images[:limit] if limit else ds.images
    if not images:
        raise ValueError(f"{ds.root}: no images with fixations in split '{split}'")
    desc = f"{model_name} on {ds.name}/{split}{f' [{style}]' if style else ''} ({protocol})"
    rows = {image: score_image(model, ds, image, protocol, baseline, rng, sig["px"])
            for image in tqdm(images, desc=desc, disable=not progress)}
    first = next(iter(rows.values()))
    metrics = {k: float(np.mean([r[k] for r in rows.values()])) for k in first}
    result = {"model": model_name, "dataset": ds.name, "split": split, "protocol": protocol,
              "n_images": len(images), "sigma_px": sig["px"], "sigma": sig,
              "gt": f"fixations (all subjects) + empirical map σ={sig['px']} px", "metrics": metrics}
    if style:
        result.update(style=style, style_seed=style_seed)
    if per_image:
        result["per_image"] = str(write_per_image_csv(per_image, rows))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True, help="dataset name under $GAZE_DATA/gaze or a folder")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", ALL],
                        help=f"'{ALL}': every image with fixations (no splits.csv needed)")
    parser.add_argument("--protocol", default="mit", choices=["mit", "tuebingen"])
    parser.add_argument("--sigma", help="empirical-map blur: pixels (24, 24px) or degrees with --ppd (1deg); "
                                        "default: the dataset's 1 degree (osie, mit1003), else 24 px")
    parser.add_argument("--ppd", type=float, help="pixels per degree of visual angle of the setup; alone it sets "
                                                  "σ = 1 degree")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images (smoke runs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", choices=[*TEST_STYLES, PHOTO],
                        help="score on a painterly copy of the split in this style (training/painterly.py); "
                             f"'{PHOTO}': the photos, recorded with a style (a reference for --limit runs)")
    parser.add_argument("--style_seed", type=int, default=0, help="seed of the painterly style")
    parser.add_argument("--cache", help="cache folder for styled images (default $PAINTERLY_CACHE or ~/.cache/...)")
    parser.add_argument("--out", help="JSON file to write")
    parser.add_argument("--per_image", metavar="FILE.csv", help="also write one CSV row per image, every metric")
    args = parser.parse_args(argv)
    return run_and_report(lambda: evaluate(args.model, args.data, args.split, args.protocol, args.limit or None,
                                           args.seed, sigma=args.sigma, ppd=args.ppd, per_image=args.per_image,
                                           style=args.style, style_seed=args.style_seed, cache=args.cache),
                          args.out)


if __name__ == "__main__":
    sys.exit(main())
