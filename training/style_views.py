"""Two views of one painting that differ in painting style but not in content, for Barlow Twins.

SSLArtScanpath made its views with neural style transfer into five fixed styles. Here the style comes from the
collection itself, cheaply enough for a CPU: each view takes the colour statistics of another, randomly chosen
painting (Reinhard et al. 2001: per-channel mean and standard deviation matched in CIE Lab), then strong
photometric and texture changes (contrast, saturation, grey, blur or sharpening, film grain, posterisation).
The crop is random per view (scale 0.5–1), so content stays largely shared while the geometry varies a little.

    maker = StyleViews(paintings_uint8, size=192, seed=0)
    a, b = maker.pair(i)          # two (3, size, size) float tensors in [0, 1]
"""
from __future__ import annotations

import cv2
import numpy as np
import torch

# What a Barlow Twins view goes through (`StyleViews.view`: random_crop, transfer_colour, photometric_and_texture).
# Declared for training.painterly: no painterly test style may be one of these.
VIEW_TRANSFORMS = ("random-resized-crop", "horizontal-flip", "reinhard-colour-transfer", "saturation-jitter",
                   "contrast-brightness-jitter", "greyscale", "gaussian-blur", "unsharp-sharpening", "film-grain",
                   "posterise")


def lab_statistics(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of each CIE Lab channel of a uint8 RGB image (float32 Lab)."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return lab.mean(0), lab.std(0) + 1e-3


def transfer_colour(rgb: np.ndarray, mean: np.ndarray, std: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """Give `rgb` (uint8) the Lab mean/std of another image; `strength` 0 = unchanged, 1 = full transfer."""
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    own_mean, own_std = lab.reshape(-1, 3).mean(0), lab.reshape(-1, 3).std(0) + 1e-3
    moved = (lab - own_mean) / own_std * std + mean
    lab = (1 - strength) * lab + strength * moved
    lab[..., 0] = np.clip(lab[..., 0], 0, 100)
    out = cv2.cvtColor(lab.astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def random_crop(rgb: np.ndarray, size: int, rng: np.random.Generator, scale=(0.5, 1.0)) -> np.ndarray:
    """A random square-ish crop covering `scale` of the area, resized to size × size, flipped half the time."""
    h, w = rgb.shape[:2]
    area = rng.uniform(*scale) * h * w
    aspect = np.exp(rng.uniform(np.log(3 / 4), np.log(4 / 3)))
    ch = int(min(h, max(8, round(np.sqrt(area / aspect)))))
    cw = int(min(w, max(8, round(np.sqrt(area * aspect)))))
    y0, x0 = rng.integers(0, h - ch + 1), rng.integers(0, w - cw + 1)
    crop = cv2.resize(rgb[y0:y0 + ch, x0:x0 + cw], (size, size), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def photometric_and_texture(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Strong appearance changes that keep the layout: contrast / brightness / saturation jitter, grey,
    blur or sharpening, film grain, posterisation."""
    x = rgb.astype(np.float32)
    if rng.random() < 0.8:
        grey = x.mean(axis=2, keepdims=True)
        x = grey + rng.uniform(0.4, 1.6) * (x - grey)                                  # saturation
        x = (x - x.mean()) * rng.uniform(0.6, 1.4) + x.mean() + rng.uniform(-30, 30)    # contrast, brightness
    if rng.random() < 0.2:
        x = np.repeat(x.mean(axis=2, keepdims=True), 3, axis=2)
    r = rng.random()
    if r < 0.4:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.5, 2.5))
    elif r < 0.6:
        blurred = cv2.GaussianBlur(x, (0, 0), 1.5)
        x = x + rng.uniform(0.5, 1.5) * (x - blurred)                                   # sharpen: brush texture
    if rng.random() < 0.3:
        x = x + rng.normal(0, rng.uniform(4, 14), x.shape[:2])[..., None]               # film grain / canvas
    x = np.clip(x, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        levels = int(rng.integers(3, 7))
        x = (np.floor(x / 256.0 * levels) * (255.0 / (levels - 1))).astype(np.uint8)   # posterise
    return x


class StyleViews:
    """Make view pairs from a list of uint8 RGB paintings; the style of each view comes from another painting."""

    def __init__(self, paintings: list[np.ndarray], size: int = 192, seed: int = 0):
        self.paintings = paintings
        self.size = size
        self.rng = np.random.default_rng(seed)
        self.stats = [lab_statistics(cv2.resize(p, (64, 64), interpolation=cv2.INTER_AREA)) for p in paintings]

    def view(self, i: int, rng: np.random.Generator | None = None) -> torch.Tensor:
        rng = rng or self.rng
        crop = random_crop(self.paintings[i], self.size, rng)
        if rng.random() < 0.8:
            j = int(rng.integers(len(self.paintings)))
            crop = transfer_colour(crop, *self.stats[j], strength=rng.uniform(0.5, 1.0))
        crop = photometric_and_texture(crop, rng)
        return torch.from_numpy(np.ascontiguousarray(crop)).permute(2, 0, 1).float() / 255.0

    def pair(self, i: int, rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        return self.view(i, rng), self.view(i, rng)
