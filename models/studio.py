"""What the app's Saliency tab does, as plain functions (the app only wires them to widgets).

    overlay, heatmap, info = saliency_view(image, "centerbias", colormap="inferno", opacity=0.6)
"""
from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from models import as_rgb, create_model, list_models, model_entry, predict_saliency

COLORMAPS = ("inferno", "jet", "viridis", "magma", "turbo", "gray")


@functools.lru_cache(maxsize=16)
def cached_model(name: str):
    """Models load once per process."""
    return create_model(name)


def upload_models() -> list[str]:
    """Saliency models that work on an uploaded image (the gold standard needs recorded gaze)."""
    return list_models("saliency", include_gaze_models=False)


def colorize(density: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """Density → RGB uint8 heatmap, scaled by its maximum."""
    import matplotlib
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap '{colormap}'; choose one of {', '.join(COLORMAPS)}")
    peak = density.max()
    scaled = density / peak if peak > 0 else density
    rgba = matplotlib.colormaps[colormap](scaled)
    return (rgba[:, :, :3] * 255).astype(np.uint8)


def overlay(image: np.ndarray, density: np.ndarray, colormap: str = "inferno", opacity: float = 0.6) -> np.ndarray:
    """Heatmap blended over the image; the blend follows the map so low-saliency areas keep the painting visible."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    heat = colorize(density, colormap).astype(np.float32)
    peak = density.max()
    alpha = opacity * np.sqrt(density / peak if peak > 0 else density)[:, :, None]
    return (image.astype(np.float32) * (1 - alpha) + heat * alpha).astype(np.uint8)


def saliency_view(image, model_name: str, colormap: str = "inferno", opacity: float = 0.6):
    """(overlay RGB, heatmap RGB, density) for one model; raises ValueError with a readable message."""
    rgb = as_rgb(image)
    if model_name not in upload_models():
        raise ValueError(f"'{model_name}' cannot score an uploaded image; choose one of {', '.join(upload_models())}")
    density = predict_saliency(cached_model(model_name), rgb)
    return overlay(rgb, density, colormap, opacity), colorize(density, colormap), density


def model_notice(model_name: str) -> str:
    return getattr(cached_model(model_name), "notice", "") or ""


def describe(model_name: str) -> str:
    return model_entry(model_name).description


def save_map_files(density: np.ndarray, stem: str = "saliency") -> tuple[str, str]:
    """Write the map as a 16-bit grey PNG (scaled to its max) and as .npy (the exact density); return paths."""
    folder = Path(tempfile.mkdtemp(prefix="saliency-"))
    png, npy = folder / f"{stem}.png", folder / f"{stem}.npy"
    peak = density.max()
    Image.fromarray((density / peak * 65535).astype(np.uint16) if peak > 0 else density.astype(np.uint16)).save(png)
    np.save(npy, density.astype(np.float32))
    return str(png), str(npy)
