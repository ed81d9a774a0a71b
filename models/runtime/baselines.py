"""Baseline saliency models: the floor (uniform, centre bias), a classic bottom-up model, and the ceiling (gold).

Every model here maps an RGB uint8 image (H, W, 3) to a density (H, W) that sums to 1.
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from safetensors.numpy import load_file
from scipy.ndimage import gaussian_filter

from models.registry import register_model
from models.runtime.densities import empirical_saliency_map, to_density
from models.weights import ASSETS


class UniformModel:
    """Every pixel equally likely: the chance floor."""
    needs_gaze = False
    notice = ""
    runtime = "numpy"

    def predict(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        return np.full((h, w), 1.0 / (h * w))


class CenterBiasModel:
    """Density of all training fixations in normalised image coordinates (x/W, y/H), a blurred 2-D histogram
    fitted on the osie + mit1003 train splits by `python -m training.fit_baselines` (blur chosen on val)."""
    needs_gaze = False
    notice = ""
    runtime = "numpy"

    def __init__(self, grid: np.ndarray):
        self.grid = grid.astype(np.float64)                 # (G, G) density over the unit square

    @classmethod
    def from_folder(cls, folder: Path) -> "CenterBiasModel":
        path = Path(folder) / "model.safetensors"
        if not path.is_file():
            raise FileNotFoundError(f"{path} missing: run `python -m training.fit_baselines` to fit the centre bias")
        return cls(load_file(str(path))["density"])

    def density(self, size: tuple[int, int]) -> np.ndarray:
        """Density at (width, height)."""
        width, height = size
        resized = cv2.resize(self.grid, (width, height), interpolation=cv2.INTER_LINEAR)
        return to_density(resized)

    def predict(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        return self.density((w, h))


class SpectralResidualModel:
    """Hou & Zhang, "Saliency detection: a spectral residual approach", CVPR 2007: the log-amplitude spectrum
    minus its local average marks the 'unexpected' part of the image; back in space it highlights proto-objects."""
    needs_gaze = False
    notice = ""
    runtime = "numpy"

    def __init__(self, width: int = 64, blur_sigma: float = 2.5):
        self.width, self.blur_sigma = width, blur_sigma     # the paper works at 64 px wide; σ in those pixels

    def predict(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        gray = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float64)
        small_h = max(8, round(self.width * h / w))
        small = cv2.resize(gray, (self.width, small_h), interpolation=cv2.INTER_AREA)
        spectrum = np.fft.fft2(small)
        log_amplitude = np.log(np.abs(spectrum) + 1e-9)
        residual = log_amplitude - cv2.blur(log_amplitude, (3, 3), borderType=cv2.BORDER_REPLICATE)
        saliency = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
        saliency = gaussian_filter(saliency, self.blur_sigma)
        return to_density(cv2.resize(saliency, (w, h), interpolation=cv2.INTER_LINEAR))


class GoldModel:
    """Leave-one-subject-out empirical map: the other subjects' fixations blurred with σ = 1 dva, mixed with
    a little centre bias so that no pixel has zero density. Needs recorded gaze, so it only exists in evaluation."""
    needs_gaze = True
    notice = ""
    runtime = "numpy"

    def __init__(self, center_bias: CenterBiasModel, center_weight: float = 0.05):
        self.center_bias, self.center_weight = center_bias, center_weight

    def predict_from_fixations(self, fixations: np.ndarray, size: tuple[int, int], sigma_px: float) -> np.ndarray:
        empirical = empirical_saliency_map(fixations, size, sigma_px)
        return (1 - self.center_weight) * empirical + self.center_weight * self.center_bias.density(size)

    def predict(self, image: np.ndarray) -> np.ndarray:
        raise ValueError("the gold model needs recorded fixations of other observers; it cannot score an upload")


@register_model("saliency")
def uniform(**_):
    """Uniform map (chance level)."""
    return UniformModel()


@register_model("saliency", bundled="centerbias")
def centerbias(weights: str | None = None):
    """Centre bias fitted on the osie + mit1003 train splits."""
    return CenterBiasModel.from_folder(Path(weights) if weights else ASSETS / "centerbias")


@register_model("saliency")
def spectral_residual(**_):
    """Spectral residual (Hou & Zhang 2007), classic bottom-up."""
    return SpectralResidualModel()


@register_model("saliency", bundled="centerbias", needs_gaze=True)
def gold(weights: str | None = None):
    """Leave-one-subject-out human map: the other observers' fixations, blurred (with few subjects a good model can beat it)."""
    return GoldModel(centerbias(weights))

