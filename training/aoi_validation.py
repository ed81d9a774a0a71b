"""Validation of predicted AOI metrics against the people of the test splits (results/aoi/*.json, tabled in
docs/results.md by training/make_results.py).

    OMP_NUM_THREADS=1 python -m training.aoi_validation --data osie mit1003 --split test [--limit 40]

Per test image, two AOI sets: a 3×3 grid, and the top-3 regions of the human fixation map
(training/aoi_suggest.saliency_regions). For each scanpath model, `--viewers` viewers are sampled at the
datasets' 3 s viewing time and their AOI metrics are compared with the recorded people's, pooled over every
(image, AOI):
- dwell_share_r: Pearson r of the share of fixation time per AOI;
- ttff_rho: Spearman ρ of time to first fixation (AOIs that both sides entered);
- coverage_*: the share of AOIs whose predicted 95 % interval holds the human value, for three intervals: "mean"
  (bootstrap of the predicted mean over all sampled viewers), "study" (bootstrap with as many viewers as
  the image has people: where a study of that size would land if the model were right) and "calibrated" (the
  study interval widened by per-metric factors fitted on the val split, training.metrics.aoi.calibrate).
The floor is the same protocol with viewers sampled from the centre-bias map (saliency-sampler on centerbias).

Calibration (val only, never test): run the val split, then fit and store the factors, then run test:

    python -m training.aoi_validation --split val
    python -m training.aoi_validation --fit runs/aoi/osie-val-pairs.npz runs/aoi/mit1003-val-pairs.npz
    python -m training.aoi_validation --split test

Every run also writes the per-AOI predicted values, study-sized intervals and human values of every metric to
runs/aoi/DATA-SPLIT-pairs.npz (outside git), which `--fit` reads.
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
from training.metrics.aoi import (METRICS, aoi_metrics, calibrated_bounds, conformity_scores, fit_calibration)

MODELS = {"spgen": {}, "saliency-sampler": {},
          "centre-bias floor": {"name": "saliency-sampler", "saliency": "centerbias"}}
COVERED = ("dwell_share", "ttff_ms", "fixated")
CALIBRATION = Path(__file__).resolve().parent.parent / "assets" / "weights" / "aoi-calibration.json"


def load_calibration(path: Path = CALIBRATION) -> dict[str, dict[str, float]]:
    """{model label: {metric: factor}} fitted on val (empty when none has been fitted)."""
    return json.loads(path.read_text())["factors"] if path.is_file() else {}


def _values(result: dict, key: str, field: str = "value") -> np.ndarray:
    return np.array([np.nan if v is None else v for v in result["metrics"][key][field]], float)


def _contains(predicted: dict, human: dict, key: str) -> np.ndarray:
    """Per AOI: 1/0 whether the predicted interval holds the human value, NaN where either is missing."""
    low, high, value = _values(predicted, key, "low"), _values(predicted, key, "high"), _values(human, key)
    inside = ((low <= value) & (value <= high)).astype(float)
    inside[np.isnan(low) | np.isnan(value)] = np.nan
    return inside


def summarise(pairs: dict[str, list[np.ndarray]], factors: dict[str, float] | None = None) -> dict:
    """Pooled comparisons over every (image, AOI) of one model and AOI set; `factors` adds the coverage of the
    calibrated intervals."""
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
    for key in COVERED if factors else ():
        value, low, high, human = np.concatenate(pairs[f"pairs_{key}"]).T
        low, high = calibrated_bounds(value, low, high, key, factors[key])
        ok = np.isfinite(value) & np.isfinite(human) & np.isfinite(low)
        out[f"coverage_calibrated_{key}"] = float(np.mean((low[ok] <= human[ok]) & (human[ok] <= high[ok])))
    return out


def validate(data: str, split: str, limit: int | None, viewers: int, viewing_time_s: float,
             pairs_out: Path | None = None) -> dict:
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
                for key in METRICS:                 # (K, 4): value, study-sized low and high, human
                    acc.setdefault(f"pairs_{key}", []).append(np.stack(
                        [_values(study, key), _values(study, key, "low"), _values(study, key, "high"),
                         _values(human[s], key)], axis=1))
        print(f"{data}-{split} {i + 1}/{len(images)} {image} ({time.time() - start:.0f} s)", flush=True)
    factors = load_calibration()
    results = {}
    for (label, s), acc in pairs.items():
        results.setdefault(label, {})[s] = summarise(acc, factors.get(label))
    if pairs_out is not None:
        pairs_out.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(pairs_out, **{f"{label}|{s}|{name}": np.concatenate(v)
                                          for (label, s), acc in pairs.items()
                                          for name, v in acc.items() if name.startswith("pairs_")})
    return {"calibration": {label: f for label, f in factors.items() if label in models},"data": data, "split": split, "images": len(images), "of_images": len(ds.images),
            "viewers": viewers, "viewing_time_s": viewing_time_s, "results": results,
            "seconds": round(time.time() - start, 1)}


def split_half(data: str, split: str, limit: int | None = None, seed: int = 0) -> dict:
    """The people against themselves: each image's subjects split at random into two halves, the AOI metrics of
    one half against the other's, pooled as for the models (same AOIs: the top-3 regions come from everyone's
    map). A ceiling for how well any prediction can follow a study of half the size."""
    ds = load_dataset(data, split)
    images = ds.images[:limit] if limit else ds.images
    rng = np.random.default_rng(seed)
    pairs = {s: {} for s in ("grid 3x3", "human top-3")}
    for i, image in enumerate(images):
        humans = [p for p in ds.scanpaths(image).values() if len(p)]
        if len(humans) < 4:
            continue
        order = rng.permutation(len(humans))
        halves = [[humans[k] for k in order[: len(order) // 2]], [humans[k] for k in order[len(order) // 2:]]]
        size = ds.sizes[image]
        aoi_sets = {"grid 3x3": grid_aois(size, 3, 3),
                    "human top-3": saliency_regions(ds.saliency_map(image), 3, name="human")}
        for s, aois in aoi_sets.items():
            a, b = (aoi_metrics(h, aois, size, n_boot=2, seed=i) for h in halves)
            for name, values in (("p_dwell", _values(a, "dwell_share")), ("h_dwell", _values(b, "dwell_share")),
                                 ("p_ttff", _values(a, "ttff_ms")), ("h_ttff", _values(b, "ttff_ms"))):
                pairs[s].setdefault(name, []).append(values)
    out = {}
    for s, acc in pairs.items():
        p_dwell, h_dwell = np.concatenate(acc["p_dwell"]), np.concatenate(acc["h_dwell"])
        p_ttff, h_ttff = np.concatenate(acc["p_ttff"]), np.concatenate(acc["h_ttff"])
        both = np.isfinite(p_ttff) & np.isfinite(h_ttff)
        out[s] = {"n_aois": int(len(p_dwell)), "n_ttff_pairs": int(both.sum()),
                  "dwell_share_r": float(pearsonr(p_dwell, h_dwell)[0]),
                  "ttff_rho": float(spearmanr(p_ttff[both], h_ttff[both])[0])}
    return out


def fit(files: list[Path], coverage: float = 0.95, out: Path = CALIBRATION) -> dict:
    """Per model and metric, the conformal factor over every val AOI of both AOI sets of `files`
    (DATA-val-pairs.npz written by a val run); writes `out`."""
    scores: dict[str, dict[str, list]] = {}
    for path in files:
        if "-val-" not in path.name:
            raise SystemExit(f"{path}: calibrate on val runs only (DATA-val-pairs.npz), never on test")
        with np.load(path, allow_pickle=False) as pairs:
            for name in pairs.files:
                label, _, key = name.split("|")
                value, low, high, human = pairs[name].T
                scores.setdefault(label, {}).setdefault(key.removeprefix("pairs_"), []).append(
                    conformity_scores(value, low, high, human, key.removeprefix("pairs_")))
    factors = {label: {key: round(fit_calibration(np.concatenate(v), coverage), 4) for key, v in by_key.items()}
               for label, by_key in scores.items()}
    record = {"what": "factors that widen study-sized bootstrap intervals of AOI metrics into 95 % prediction "
                      "intervals (training.metrics.aoi.calibrate), fitted on val by training.aoi_validation --fit",
              "coverage": coverage, "fitted_on": [p.name for p in files], "factors": factors}
    out.write_text(json.dumps(record, indent=1) + "\n")
    return record


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", nargs="+", default=["osie", "mit1003"])
    parser.add_argument("--split", default="test")
    parser.add_argument("--limit", type=int, default=None, help="first N images of each split")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--viewing_time", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=Path("results/aoi"))
    parser.add_argument("--pairs", type=Path, default=Path("runs/aoi"), help="folder for the per-AOI pairs (npz)")
    parser.add_argument("--fit", type=Path, nargs="+", help="val pairs files: fit the calibration factors and stop")
    parser.add_argument("--split_half", action="store_true",
                        help="add the people's split-half consistency to the existing result files and stop")
    args = parser.parse_args(argv)
    if args.split_half:
        for data in args.data:
            path = args.out / f"{data}-{args.split}.json"
            result = json.loads(path.read_text())
            result["results"]["people, split half"] = split_half(data, args.split, args.limit)
            path.write_text(json.dumps(result, indent=1) + "\n")
            print(f"wrote {path}: {json.dumps(result['results']['people, split half'])}")
        return 0
    if args.fit:
        record = fit(args.fit)
        print(f"wrote {CALIBRATION}: {json.dumps(record['factors'])}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    for data in args.data:
        result = validate(data, args.split, args.limit, args.viewers, args.viewing_time,
                          args.pairs / f"{data}-{args.split}-pairs.npz")
        path = args.out / f"{data}-{args.split}.json"
        path.write_text(json.dumps(result, indent=1) + "\n")
        print(f"wrote {path}: {json.dumps(result['results'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
