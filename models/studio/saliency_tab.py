"""What the app's Saliency tab does, as plain functions (the app only wires them to widgets).

    overlay, heatmap, density = saliency_view(image, "centerbias", colormap="inferno", opacity=0.6)
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from models import as_rgb, list_models, load_model, model_entry, predict_saliency
from models.studio.files import output_dir
from models.studio.rendering import colorize, overlay


def upload_models() -> list[str]:
    """Saliency models that work on an uploaded image (the gold standard needs recorded gaze)."""
    return list_models("saliency", include_gaze_models=False)


def saliency_view(image, model_name: str, colormap: str = "inferno", opacity: float = 0.6):
    """(overlay RGB, heatmap RGB, density) for one model; raises ValueError with a readable message. `image`: a
    file path or an array (pass the array to decode a file only once)."""
    rgb = as_rgb(image)
    if model_name not in upload_models():
        raise ValueError(f"'{model_name}' cannot score an uploaded image; choose one of {', '.join(upload_models())}")
    density = predict_saliency(load_model(model_name), rgb)
    return overlay(rgb, density, colormap, opacity), colorize(density, colormap), density


def model_notice(model_name: str) -> str:
    return load_model(model_name).notice


def describe(model_name: str) -> str:
    return model_entry(model_name).description


def save_map_files(density: np.ndarray, stem: str = "saliency") -> tuple[str, str]:
    """Write the map as a 16-bit grey PNG (scaled to its max) and as .npy (the exact density); return paths."""
    folder = output_dir("saliency-")
    png, npy = folder / f"{stem}.png", folder / f"{stem}.npy"
    peak = density.max()
    grey = (density / peak * 65535).astype(np.uint16) if peak > 0 else density.astype(np.uint16)
    Image.fromarray(grey).save(png, compress_level=1)        # fast: a somewhat larger file for far less time
    np.save(npy, density.astype(np.float32))
    return str(png), str(npy)
