"""Fit the data-driven baselines on the train splits and write them to assets/weights/:

    python -m training.fit_baselines --data osie,mit1003

- centerbias/: a blurred 2-D histogram of normalised fixation positions; the blur is chosen by log-likelihood
  on the val splits (never test).
- saliency-sampler/: scanpath statistics for the sampler baseline (log-normal fixation durations, scanpath
  lengths, saccade amplitudes), all from the train splits.
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


if __name__ == "__main__":
    main()
