"""Is a model's population of sampled viewers like a population of people? Distribution-level comparisons that a
per-path similarity score (which rewards the typical path) cannot see: fixation durations, saccade amplitudes,
fixations per scanpath, how alike the paths are, and fixations stacked on one spot.

Each input is a list over images of that image's scanpaths, (n, 3) arrays of x, y (pixels) and duration (ms).
"""
from __future__ import annotations

import numpy as np
from scipy.stats import ks_2samp, wasserstein_distance


def durations(paths_per_image: list[list[np.ndarray]]) -> np.ndarray:
    return np.concatenate([p[:, 2] for paths in paths_per_image for p in paths if len(p)] or [np.zeros(0)])


def amplitudes(paths_per_image: list[list[np.ndarray]], sizes: list[tuple[int, int]]) -> np.ndarray:
    """Saccade amplitudes as a share of each image's diagonal."""
    parts = []
    for paths, (w, h) in zip(paths_per_image, sizes, strict=True):
        for p in paths:
            if len(p) > 1:
                parts.append(np.hypot(*np.diff(p[:, :2], axis=0).T) / np.hypot(w, h))
    return np.concatenate(parts) if parts else np.zeros(0)


def stacked_share(paths_per_image: list[list[np.ndarray]], one_degree_px: float) -> float:
    """Share of consecutive fixation pairs closer than one degree of visual angle."""
    gaps = [np.hypot(*np.diff(p[:, :2], axis=0).T) for paths in paths_per_image for p in paths if len(p) > 1]
    gaps = np.concatenate(gaps) if gaps else np.zeros(0)
    return float(np.mean(gaps < one_degree_px)) if len(gaps) else float("nan")


def _compare(model: np.ndarray, human: np.ndarray) -> tuple[float, float]:
    """(1-Wasserstein distance, two-sample KS statistic); NaN when either side is empty."""
    if len(model) == 0 or len(human) == 0:
        return float("nan"), float("nan")
    return float(wasserstein_distance(model, human)), float(ks_2samp(model, human).statistic)


def population_metrics(model: list[list[np.ndarray]], human: list[list[np.ndarray]], sizes: list[tuple[int, int]],
                       one_degree_px: float, diversity_model: float = float("nan"),
                       diversity_human: float = float("nan")) -> dict:
    """Pooled over the split, plus the per-image mean of the duration and amplitude distances."""
    d_model, d_human = durations(model), durations(human)
    a_model, a_human = amplitudes(model, sizes), amplitudes(human, sizes)
    n_model = np.array([len(p) for paths in model for p in paths], dtype=float)
    n_human = np.array([len(p) for paths in human for p in paths], dtype=float)
    duration_w1, duration_ks = _compare(d_model, d_human)
    amplitude_w1, amplitude_ks = _compare(a_model, a_human)
    per_image = [(_compare(durations([m]), durations([h]))[0], _compare(amplitudes([m], [s]), amplitudes([h], [s]))[1])
                 for m, h, s in zip(model, human, sizes, strict=True)]
    return {
        "duration_w1_ms": duration_w1, "duration_ks": duration_ks,
        "duration_mean_model": float(np.mean(d_model)) if len(d_model) else float("nan"),
        "duration_mean_human": float(np.mean(d_human)) if len(d_human) else float("nan"),
        "duration_sd_model": float(np.std(d_model)) if len(d_model) else float("nan"),
        "duration_sd_human": float(np.std(d_human)) if len(d_human) else float("nan"),
        "duration_w1_ms_per_image": float(np.nanmean([d for d, _ in per_image])),
        "amplitude_w1": amplitude_w1, "amplitude_ks": amplitude_ks,
        "amplitude_ks_per_image": float(np.nanmean([a for _, a in per_image])),
        "n_fix_mean_model": float(n_model.mean()) if len(n_model) else float("nan"),
        "n_fix_mean_human": float(n_human.mean()) if len(n_human) else float("nan"),
        "n_fix_sd_model": float(n_model.std()) if len(n_model) else float("nan"),
        "n_fix_sd_human": float(n_human.std()) if len(n_human) else float("nan"),
        "diversity_model": diversity_model, "diversity_human": diversity_human,
        "stacked_share_model": stacked_share(model, one_degree_px),
        "stacked_share_human": stacked_share(human, one_degree_px),
    }
