"""Fit the data-driven baselines on the train splits and write them to assets/weights/:

    python -m training.fit_baselines --data osie,mit1003

- centerbias/: a blurred 2-D histogram of normalised fixation positions; the blur is chosen by log-likelihood
  on the val splits (never test).
- saliency-sampler/: scanpath statistics for the sampler baseline (log-normal fixation durations, scanpath
  lengths, saccade amplitudes), all from the train splits.
- viewers.json: what every scanpath model's virtual viewers share (models/runtime/viewers.py): the share of
  the viewing time that recorded fixations fill, and how much people differ in their typical fixation duration.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from safetensors.numpy import save_file
from scipy.ndimage import gaussian_filter

from training.datasets import load_dataset, normalised_fixations

GRID = 128
BLUR_CANDIDATES = (1.0, 2.0, 3.0, 4.0, 6.0, 8.0)     # in grid cells (1/128 of the image side)
OUT = Path(__file__).resolve().parent.parent / "assets" / "weights"
TRIAL_MS = {"osie": 3000.0, "mit1003": 3000.0}     # free viewing, 3 s per image (each dataset's SOURCE.md)


def histogram_density(points: np.ndarray, blur_cells: float) -> np.ndarray:
    hist, _, _ = np.histogram2d(points[:, 1], points[:, 0], bins=GRID, range=[[0, 1], [0, 1]])   # rows = y
    density = gaussian_filter(hist, blur_cells, mode="nearest") + 1e-6 * hist.sum() / GRID**2
    return density / density.sum()


def mean_log_likelihood(density: np.ndarray, points: np.ndarray) -> float:
    """Bits per fixation relative to uniform over the unit square."""
    cells = np.clip((points * GRID).astype(int), 0, GRID - 1)
    return float(np.mean(np.log2(density[cells[:, 1], cells[:, 0]] * GRID**2)))


def fit_center_bias(names: list[str]) -> tuple[np.ndarray, dict]:
    train = np.concatenate([normalised_fixations(load_dataset(n, "train")) for n in names])
    val = np.concatenate([normalised_fixations(load_dataset(n, "val")) for n in names])
    scores = {b: mean_log_likelihood(histogram_density(train, b), val) for b in BLUR_CANDIDATES}
    best = max(scores, key=scores.get)
    config = {"grid": GRID, "blur_cells": best, "val_bits_per_fixation_vs_uniform": round(scores[best], 4),
              "candidates": {str(k): round(v, 4) for k, v in scores.items()}, "data": names,
              "n_train_fixations": int(len(train))}
    return histogram_density(train, best).astype(np.float32), config


def fit_scanpath_stats(names: list[str]) -> dict:
    durations, lengths, amplitudes = [], [], []
    for n in names:
        ds = load_dataset(n, "train")
        for image in ds.images:
            diagonal = float(np.hypot(*ds.sizes[image]))
            for path in ds.scanpaths(image).values():
                durations.append(path[:, 2])
                lengths.append(len(path))
                if len(path) > 1:
                    amplitudes.append(np.hypot(*np.diff(path[:, :2], axis=0).T) / diagonal)
    log_d = np.log(np.clip(np.concatenate(durations), 1.0, None))
    amps = np.concatenate(amplitudes)
    return {"duration_log_mean": float(log_d.mean()), "duration_log_std": float(log_d.std()),
            "length_median": int(np.median(lengths)), "length_mean": float(np.mean(lengths)),
            "amplitude_median_of_diagonal": float(np.median(amps)), "data": names}


def fit_viewer_stats(names: list[str]) -> dict:
    """Per recorded scanpath, summed fixation duration ÷ the trial's length (the rest is saccades, blinks and
    lost samples); and the spread of subjects' own mean log-duration (each path's mean log-duration minus the
    image's mean, averaged per subject): people's tempo."""
    shares, effects = [], {}
    for n in names:
        if n not in TRIAL_MS:
            raise SystemExit(f"{n}: the trial length is not known; add it to TRIAL_MS (from the dataset's SOURCE.md)")
        ds = load_dataset(n, "train")
        for image in ds.images:
            paths = ds.scanpaths(image)
            log_means = {s: np.log(np.clip(p[:, 2], 1.0, None)).mean() for s, p in paths.items()}
            image_mean = np.mean(list(log_means.values()))
            for subject, path in paths.items():
                shares.append(path[:, 2].sum() / TRIAL_MS[n])
                effects.setdefault((n, subject), []).append(log_means[subject] - image_mean)
    tempo = np.array([np.mean(v) for v in effects.values()])
    return {"fixation_share_mean": float(np.mean(shares)), "fixation_share_sd": float(np.std(shares)),
            "viewer_log_sd": float(tempo.std()), "n_subjects": len(tempo), "n_scanpaths": len(shares),
            "trial_ms": {n: TRIAL_MS[n] for n in names}, "data": names}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="osie,mit1003", help="comma-separated dataset names or folders")
    args = parser.parse_args(argv)
    names = args.data.split(",")

    density, config = fit_center_bias(names)
    folder = OUT / "centerbias"
    folder.mkdir(parents=True, exist_ok=True)
    save_file({"density": density}, str(folder / "model.safetensors"))
    config["command"] = f"python -m training.fit_baselines --data {args.data}"
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    print("centerbias:", json.dumps(config))

    stats = fit_scanpath_stats(names)
    stats["command"] = config["command"]
    folder = OUT / "saliency-sampler"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(stats, indent=2, sort_keys=True) + "\n")
    print("saliency-sampler:", json.dumps(stats))

    viewers = fit_viewer_stats(names)
    viewers["command"] = config["command"]
    (OUT / "viewers.json").write_text(json.dumps(viewers, indent=2, sort_keys=True) + "\n")
    print("viewers:", json.dumps(viewers))


if __name__ == "__main__":
    main()
