"""Calibrate a scanpath model's temperature as viewer variability, on the val splits.

    python -m training.calibrate_viewers --model spgen --data osie,mit1003 --write

For each of the model's own noise levels (`--noise`), `--samples` viewers per val image are drawn at the default
viewing time and compared with the people of the same images (training/metrics/population.py), and their
"salient share" is measured: the share of fixations inside the most salient 20 % of the image by the default
saliency model (people: `salient_share_human`). The calibration curve maps the public temperature to noise:
- 0 → 0: the most typical viewer;
- 0.5 → the noise whose diversity equals the people's (interpolated, mean over the datasets);
- 1 → the largest noise whose viewers still look mostly at salient content: salient share ≥ `--min_salient`
  × the people's, stacked fixations ≤ 1.5 × the people's, and at least 2 fixations per path on average.
`--write` stores the curve in the model's sampling.json; the sweep goes to --out. Val only, never test.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from models import DEFAULT, create_model
from models.weights import ASSETS
from training.cli import run_and_report
from training.datasets import load_dataset
from training.evaluate_scanpaths import diversity
from training.metrics import scanpath as sp_metrics
from training.metrics.population import population_metrics

NOISE = (0.0, 0.1, 0.2, 0.3, 0.45, 0.6, 0.8, 1.0)
SALIENT_AREA = 0.2


def salient_share(paths: list[np.ndarray], saliency: np.ndarray) -> float:
    """Share of the fixations of `paths` that land inside the top `SALIENT_AREA` of `saliency` (H, W)."""
    points = np.concatenate([p[:, :2] for p in paths if len(p)]) if paths else np.zeros((0, 2))
    if not len(points):
        return float("nan")
    threshold = np.quantile(saliency, 1 - SALIENT_AREA)
    h, w = saliency.shape
    cols = np.clip(points[:, 0].astype(int), 0, w - 1)
    rows = np.clip(points[:, 1].astype(int), 0, h - 1)
    return float(np.mean(saliency[rows, cols] >= threshold))


def sweep(model_name: str, data: str, noise_levels=NOISE, samples: int = 10, limit: int | None = None,
          seed: int = 0, progress: bool = True) -> dict:
    model = create_model(model_name)
    model.temperature_curve = None                    # the public temperature is then the model's own noise
    saliency_model = create_model(DEFAULT["saliency"])
    datasets = {}
    for name in data.split(","):
        ds = load_dataset(name, "val")
        images = ds.images[:limit] if limit else ds.images
        humans, sizes, clusters, maps, rgbs = [], [], [], [], []
        for image in images:
            paths = [p for p in ds.scanpaths(image).values() if len(p)]
            rgb = ds.load_image(image)
            humans.append(paths)
            sizes.append(ds.sizes[image])
            clusters.append(sp_metrics.fit_fixation_clusters(paths))
            maps.append(saliency_model.predict(rgb))
            rgbs.append(rgb)
        rows = []
        for noise in tqdm(noise_levels, desc=f"{model_name} on {name}/val", disable=not progress):
            sampled = [model.sample_batch(rgb, samples, temperature=noise, seed=seed * 100003 + k * 101)
                       for k, rgb in enumerate(rgbs)]
            pop = population_metrics(sampled, humans, sizes, one_degree_px=ds.sigma_px,
                                     diversity_model=float(np.nanmean([diversity(s, c) for s, c in zip(sampled, clusters)])),
                                     diversity_human=float(np.nanmean([diversity(h, c) for h, c in zip(humans, clusters)])))
            rows.append({"noise": noise, **pop,
                         "salient_share_model": float(np.nanmean([salient_share(s, m) for s, m in zip(sampled, maps)])),
                         "salient_share_human": float(np.nanmean([salient_share(h, m) for h, m in zip(humans, maps)]))})
        datasets[name] = {"n_images": len(images), "rows": rows}
    return {"task": "viewer-calibration", "model": model_name, "split": "val", "samples_per_image": samples,
            "seed": seed, "datasets": datasets}


def calibration_curve(result: dict, min_salient: float = 0.8) -> dict:
    """The public temperature → noise curve (see the module's docstring) from a sweep."""
    names = list(result["datasets"])
    rows = [result["datasets"][n]["rows"] for n in names]
    noise = np.array([r["noise"] for r in rows[0]])
    mean = lambda key: np.mean([[r[key] for r in rs] for rs in rows], axis=0)          # over datasets
    div_model, div_human = mean("diversity_model"), mean("diversity_human")[0]
    order = np.argsort(div_model)
    human_noise = float(np.interp(div_human, div_model[order], noise[order]))
    ok = ((mean("salient_share_model") >= min_salient * mean("salient_share_human"))
          & (mean("stacked_share_model") <= 1.5 * mean("stacked_share_human")) & (mean("n_fix_mean_model") >= 2))
    valid = noise[ok & (noise >= human_noise)]
    top = float(valid.max()) if len(valid) else human_noise
    return {"temperature": [0.0, 0.5, 1.0], "noise": [0.0, round(human_noise, 4), round(max(top, human_noise), 4)],
            "diversity_human_val": round(float(div_human), 4)}


def write_curve(model: str, curve: dict, source: str) -> Path:
    path = ASSETS / model / "sampling.json"
    settings = json.loads(path.read_text()) if path.exists() else {}
    settings.pop("temperature", None)
    settings.update({"temperature_curve": curve, "temperature_chosen_by": source})
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="osie,mit1003")
    parser.add_argument("--noise", default=",".join(map(str, NOISE)))
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--min_salient", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="store the curve in the model's sampling.json")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    def run():
        result = sweep(args.model, args.data, [float(x) for x in args.noise.split(",")], args.samples,
                       args.limit or None, args.seed)
        result["curve"] = calibration_curve(result, args.min_salient)
        if args.write:
            source = "python -m training.calibrate_viewers " + " ".join(argv if argv is not None else sys.argv[1:])
            write_curve(args.model, result["curve"], source)
        return result
    return run_and_report(run, args.out)


if __name__ == "__main__":
    sys.exit(main())
