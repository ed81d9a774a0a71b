"""Validation of predicted AOI metrics against the people of the test splits (results/aoi/*.json, tabled in
docs/results.md by training/make_results.py).

    OMP_NUM_THREADS=1 python -m training.aoi_validation --data osie mit1003 --split test [--limit 40]

Per test image, two AOI sets: a 3×3 grid, and the top-3 regions of the human fixation map
(training/aoi_suggest.saliency_regions). For each scanpath model, `--viewers` viewers are sampled at the
datasets' 3 s viewing time and their AOI metrics are compared with the recorded people's, pooled over every
(image, AOI):
- dwell_share_r: Pearson r of the share of fixation time per AOI;
- ttff_rho: Spearman ρ of time to first fixation (AOIs that both sides entered);
- coverage_*: the share of AOIs whose predicted 95 % interval holds the human value, for two intervals: "mean"
  (bootstrap of the predicted mean over all sampled viewers) and "study" (bootstrap with as many viewers as
  the image has people: where a study of that size would land if the model were right).
The floor is the same protocol with viewers sampled from the centre-bias map (saliency-sampler on centerbias).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.stats import pearsonr, spearmanr

from training.aoi_suggest import grid_aois, saliency_regions
from training.datasets import load_dataset
from training.metrics.aoi import aoi_metrics

MODELS = {"spgen": {}, "centre-bias floor": {"name": "saliency-sampler", "saliency": "centerbias"}}
COVERED = ("dwell_share", "ttff_ms", "fixated")


def _values(result: dict, key: str, field: str = "value") -> np.ndarray:
    return np.array([np.nan if v is None else v for v in result["metrics"][key][field]], float)


def _contains(predicted: dict, human: dict, key: str) -> np.ndarray:
    """Per AOI: 1/0 whether the predicted interval holds the human value, NaN where either is missing."""
    low, high, value = _values(predicted, key, "low"), _values(predicted, key, "high"), _values(human, key)
    inside = ((low <= value) & (value <= high)).astype(float)
    inside[np.isnan(low) | np.isnan(value)] = np.nan
    return inside


def summarise(pairs: dict[str, list[np.ndarray]]) -> dict:
    """Pooled comparisons over every (image, AOI) of one model and AOI set."""
    p_dwell, h_dwell = np.concatenate(pairs["p_dwell"]), np.concatenate(pairs["h_dwell"])
    p_ttff, h_ttff = np.concatenate(pairs["p_ttff"]), np.concatenate(pairs["h_ttff"])
    both = np.isfinite(p_ttff) & np.isfinite(h_ttff)
    out = {"n_aois": int(len(p_dwell)), "n_ttff_pairs": int(both.sum()),
           "dwell_share_r": float(pearsonr(p_dwell, h_dwell)[0]),
           "ttff_rho": float(spearmanr(p_ttff[both], h_ttff[both])[0]) if both.sum() > 2 else None}
    for interval in ("mean", "study"):
        for key in COVERED:
            hits = np.concatenate(pairs[f"cover_{interval}_{key}"])
            out[f"coverage_{interval}_{key}"] = float(np.nanmean(hits)) if np.isfinite(hits).any() else None
    return out


def validate(data: str, split: str, limit: int | None, viewers: int, viewing_time_s: float) -> dict:
    from models import create_model

    ds = load_dataset(data, split)
    images = ds.images[:limit] if limit else ds.images
    models = {label: create_model(spec.get("name", label), **{k: v for k, v in spec.items() if k != "name"})
              for label, spec in MODELS.items()}
    pairs = {(m, s): {} for m in models for s in ("grid 3x3", "human top-3")}
    start = time.time()
    for i, image in enumerate(images):
        rgb = ds.load_image(image)
        humans = [p for p in ds.scanpaths(image).values() if len(p)]
        size = ds.sizes[image]
        aoi_sets = {"grid 3x3": grid_aois(size, 3, 3),
                    "human top-3": saliency_regions(ds.saliency_map(image), 3, name="human")}
        human = {s: aoi_metrics(humans, aois, size, seed=i) for s, aois in aoi_sets.items()}
        for label, model in models.items():
            paths = model.sample_batch(rgb, viewers, seed=i, viewing_time_s=viewing_time_s)
            for s, aois in aoi_sets.items():
                mean = aoi_metrics(paths, aois, size, seed=i)
                study = aoi_metrics(paths, aois, size, seed=i, resample_size=len(humans))
                acc = pairs[(label, s)]
                for name, values in (("p_dwell", _values(mean, "dwell_share")),
                                     ("h_dwell", _values(human[s], "dwell_share")),
                                     ("p_ttff", _values(mean, "ttff_ms")), ("h_ttff", _values(human[s], "ttff_ms"))):
                    acc.setdefault(name, []).append(values)
                for key in COVERED:
                    acc.setdefault(f"cover_mean_{key}", []).append(_contains(mean, human[s], key))
                    acc.setdefault(f"cover_study_{key}", []).append(_contains(study, human[s], key))
        print(f"{data}-{split} {i + 1}/{len(images)} {image} ({time.time() - start:.0f} s)", flush=True)
    results = {}
    for (label, s), acc in pairs.items():
        results.setdefault(label, {})[s] = summarise(acc)
    return {"data": data, "split": split, "images": len(images), "of_images": len(ds.images),
            "viewers": viewers, "viewing_time_s": viewing_time_s, "results": results,
            "seconds": round(time.time() - start, 1)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["osie", "mit1003"])
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each split")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--viewing_time", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("results/aoi"))
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for data in args.data:
        result = validate(data, args.split, args.limit, args.viewers, args.viewing_time)
        path = args.out / f"{data}-{args.split}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}: {json.dumps(result['results'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
