"""Scanpath baseline: sample fixations one by one from a saliency density, with inhibition of return and a
saccade-amplitude prior; durations from a log-normal fitted on the train splits. A temperature T reshapes the
density as p^(1/T): T → 0 always takes the most likely next location, large T wanders."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from models.baselines import ASSETS, to_density
from models.registry import create_model, register_model


class SaliencySampler:
    needs_gaze = False

    def __init__(self, saliency_model, stats: dict, grid_width: int = 64, ior_sigma: float = 0.06,
                 ior_strength: float = 0.9, saccade_sigma_factor: float = 2.0):
        self.saliency_model = saliency_model
        self.stats = stats
        self.grid_width = grid_width
        self.ior_sigma = ior_sigma                          # fraction of the image diagonal
        self.ior_strength = ior_strength                    # how much a visited place is suppressed
        self.saccade_sigma = saccade_sigma_factor * stats["amplitude_median_of_diagonal"]

    def sample(self, image: np.ndarray, n_fixations: int | None = None, temperature: float = 1.0,
               seed: int | None = None, saliency: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) x, y (pixels of `image`), duration_ms."""
        if temperature < 0:
            raise ValueError("temperature must be ≥ 0")
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        n = int(n_fixations or self.stats["length_median"])
        density = saliency if saliency is not None else self.saliency_model.predict(image)
        gh = max(4, round(self.grid_width * h / w))
        grid = to_density(cv2.resize(density, (self.grid_width, gh), interpolation=cv2.INTER_AREA))
        ys, xs = np.mgrid[0:gh, 0:self.grid_width]
        cx, cy = (xs + 0.5) / self.grid_width, (ys + 0.5) / gh      # cell centres in [0, 1]
        aspect = np.array([w, h]) / np.hypot(w, h)                   # unit square → fraction of diagonal
        log_p = np.log(grid)
        path = []
        for i in range(n):
            logits = log_p.copy()
            for (px, py) in path:                                    # inhibition of return
                d2 = ((cx - px) * aspect[0]) ** 2 + ((cy - py) * aspect[1]) ** 2
                logits += np.log1p(-self.ior_strength * np.exp(-d2 / (2 * self.ior_sigma**2)))
            if path:                                                 # short saccades are more common
                px, py = path[-1]
                d2 = ((cx - px) * aspect[0]) ** 2 + ((cy - py) * aspect[1]) ** 2
                logits += -d2 / (2 * self.saccade_sigma**2)
            if temperature == 0:
                k = int(np.argmax(logits))
                jitter = np.array([0.5, 0.5])
            else:
                z = logits.ravel() / temperature
                p = np.exp(z - z.max())
                k = int(rng.choice(p.size, p=p / p.sum()))
                jitter = rng.random(2)
            row, col = divmod(k, self.grid_width)
            path.append(((col + jitter[0]) / self.grid_width, (row + jitter[1]) / gh))
        if temperature == 0:
            durations = np.full(n, np.exp(self.stats["duration_log_mean"]))
        else:
            durations = np.exp(rng.normal(self.stats["duration_log_mean"],
                                          self.stats["duration_log_std"] * min(temperature, 1.0), n))
        xy = np.array(path) * np.array([w, h])
        return np.column_stack([np.clip(xy[:, 0], 0, w - 1e-3), np.clip(xy[:, 1], 0, h - 1e-3), durations])


@register_model("scanpath")
def saliency_sampler(saliency: str | None = None, weights: str | None = None):
    """Samples fixations from a saliency map with inhibition of return."""
    from models.registry import DEFAULT
    folder = Path(weights) if weights else ASSETS / "saliency-sampler"
    stats = json.loads((folder / "config.json").read_text())
    return SaliencySampler(create_model(saliency or DEFAULT["saliency"]), stats)
