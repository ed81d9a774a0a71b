"""360° baseline: in equirectangular panoramas people look mostly near the horizon (the 'equator bias' reported
for Salient360! head+eye data). A Gaussian in latitude, uniform in longitude."""
from __future__ import annotations

import numpy as np

from models.registry import register_model


class EquatorBiasModel:
    needs_gaze = False

    def __init__(self, sigma_deg: float = 20.0):
        self.sigma_deg = sigma_deg

    def predict(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        latitude = 90.0 - (np.arange(h) + 0.5) * 180.0 / h                 # +90 top … −90 bottom
        row = np.exp(-0.5 * (latitude / self.sigma_deg) ** 2)
        density = np.repeat(row[:, None], w, axis=1)
        return density / density.sum()


@register_model("panorama")
def equator_bias(**_):
    """Equator bias for equirectangular panoramas (latitude Gaussian, σ 20°)."""
    return EquatorBiasModel()
