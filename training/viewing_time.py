"""How sampled viewers behave as the viewing time grows (the training data are 3 s; longer times are not
validated against people, only described).

    python -m training.viewing_time --models spgen,saliency-sampler --times 3,10,30 --limit 40 \
        --out results/population/viewing-time.json

Per model, viewing time and test image, `--samples` viewers; per viewer: fixations, coverage (the share of the
cells of a 6 × 6 grid over the image that it fixated at least once), revisits (the share of its fixations
within one degree of an earlier fixation other than the one just before) and the salient share (its fixations
inside the most salient 20 % of the image by the default saliency model). The people of the same images at 3 s
(their recordings) are the reference row.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

from models import DEFAULT, create_model
from training.calibrate_viewers import salient_share
from training.cli import run_and_report
from training.datasets import load_dataset

GRID = 6
HUMAN = "human"


def coverage(path: np.ndarray, size: tuple[int, int]) -> float:
    w, h = size
    cells = {(min(int(x / w * GRID), GRID - 1), min(int(y / h * GRID), GRID - 1)) for x, y in path[:, :2]}
    return len(cells) / GRID**2


def revisits(path: np.ndarray, one_degree_px: float) -> float:
    """Share of fixations within one degree of a fixation before the previous one."""
    xy = path[:, :2]
    back = [np.min(np.hypot(*(xy[:i - 1] - xy[i]).T)) < one_degree_px for i in range(2, len(xy))]
    return float(np.mean(back)) if back else 0.0


def describe(paths: list[np.ndarray], size, one_degree_px: float, saliency: np.ndarray) -> dict:
    paths = [p for p in paths if len(p)]
    return {"fixations": float(np.mean([len(p) for p in paths])),
            "coverage": float(np.mean([coverage(p, size) for p in paths])),
            "revisits": float(np.mean([revisits(p, one_degree_px) for p in paths])),
            "salient_share": salient_share(paths, saliency)}


def growth(models: list[str], data: str, times: list[float], samples: int = 10, limit: int | None = None,
           seed: int = 0, progress: bool = True) -> dict:
    saliency_model = create_model(DEFAULT["saliency"])
    rows = []
    for name in data.split(","):
        ds = load_dataset(name, "test")
        images = ds.images[:limit] if limit else ds.images
        per_image = []
        for image in tqdm(images, desc=f"{name}/test", disable=not progress):
            rgb = ds.load_image(image)
            per_image.append((rgb, ds.sizes[image], saliency_model.predict(rgb),
                              [p for p in ds.scanpaths(image).values() if len(p)]))
        found = [describe(humans, size, ds.sigma_px, sal) for _, size, sal, humans in per_image]
        rows.append({"dataset": name, "model": HUMAN, "viewing_time_s": 3.0,
                     **{k: float(np.mean([f[k] for f in found])) for k in found[0]}})
        for model_name in models:
            model = create_model(model_name)
            for seconds in times:
                found = [describe(model.sample_batch(rgb, samples, seed=seed * 100003 + k * 101,
                                                     viewing_time_s=seconds), size, ds.sigma_px, sal)
                         for k, (rgb, size, sal, _) in enumerate(per_image)]
                rows.append({"dataset": name, "model": model_name, "viewing_time_s": seconds,
                             **{k: float(np.mean([f[k] for f in found])) for k in found[0]}})
    return {"task": "viewing-time", "split": "test", "n_images": limit, "samples_per_image": samples, "grid": GRID,
            "rows": rows}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="spgen,saliency-sampler")
    parser.add_argument("--data", default="osie,mit1003")
    parser.add_argument("--times", default="3,10,30")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    return run_and_report(lambda: growth(args.models.split(","), args.data, [float(t) for t in args.times.split(",")],
                                         args.samples, args.limit or None, args.seed), args.out)


if __name__ == "__main__":
    sys.exit(main())
