"""Saliency densities: maps over pixels that are probabilities (non-negative, summing to 1), and the empirical
density of recorded fixations. One place for the normalising rules every model and metric shares."""
from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

EPS = 1e-12


def to_density(saliency: np.ndarray, floor: float = 1e-12) -> np.ndarray:
    """Non-negative map → density summing to 1 (a constant map if it is all zeros)."""
    s = np.asarray(saliency, dtype=np.float64)
    s = np.clip(s - min(s.min(), 0.0), 0.0, None) + floor
    return s / s.sum()


def fixation_map(fixations: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Counts of fixations per pixel; `size` is (width, height)."""
    width, height = size
    fmap = np.zeros((height, width), dtype=np.float64)
    if len(fixations):
        xs = np.clip(np.floor(fixations[:, 0]).astype(int), 0, width - 1)
        ys = np.clip(np.floor(fixations[:, 1]).astype(int), 0, height - 1)
        np.add.at(fmap, (ys, xs), 1.0)
    return fmap


def empirical_saliency_map(fixations: np.ndarray, size: tuple[int, int], sigma_px: float) -> np.ndarray:
    """Gaussian-blurred fixation map (reflect borders, as pysaliency's FixationMap), normalised to sum 1."""
    blurred = gaussian_filter(fixation_map(fixations, size), sigma_px, mode="reflect")
    total = blurred.sum()
    if total <= 0:
        raise ValueError("cannot build an empirical saliency map without fixations")
    return blurred / total


def normalise(density: np.ndarray) -> np.ndarray:
    """Clip below 0 and scale to sum 1; an all-zero map stays zero (a stream that is empty somewhere, e.g. the
    poles expert off its faces, keeps its zeros)."""
    density = np.clip(np.asarray(density, dtype=np.float64), 0, None)
    return density / max(density.sum(), EPS)
