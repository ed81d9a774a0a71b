"""What the app's Saliency tab does, as plain functions (the app only wires them to widgets).

    overlay, heatmap, info = saliency_view(image, "centerbias", colormap="inferno", opacity=0.6)
"""
from __future__ import annotations

import functools
import logging
import threading

import cv2
import numpy as np
from PIL import Image

from models import as_rgb, create_model, list_models, model_entry, predict_saliency
from models.outputs import output_dir

log = logging.getLogger(__name__)

COLORMAPS = ("inferno", "jet", "viridis", "magma", "turbo", "gray")


_load_lock = threading.Lock()


def cached_model(name: str):
    """Models load once per process, also when the start-up warm-up and a first request ask at the same time."""
    with _load_lock:
        return _load_model(name)


@functools.lru_cache(maxsize=16)
def _load_model(name: str):
    return create_model(name)


cached_model.cache_clear, cached_model.cache_info = _load_model.cache_clear, _load_model.cache_info


def warm_up(names: list[str]) -> None:
    """Load each model and run it once on a small input, so a server's one-off costs (imports, weight loading,
    the ONNX export, the heap growing to its working size) come before its first visitors rather than during
    their requests. Typical sizes, not tiny ones: the work around the networks runs at the image's size."""
    from models import predict_panorama, predict_scanpath
    image = np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    panorama = np.random.default_rng(1).integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
    for name in names:
        try:
            model, task = cached_model(name), model_entry(name).task
            if task == "saliency":
                predict_saliency(model, image)
            elif task == "scanpath":
                predict_scanpath(model, image, seed=0)
            elif task == "panorama":
                predict_panorama(model, panorama)
        except Exception as error:                      # a model that fails here fails visibly when chosen
            log.warning("warm-up of %s failed: %s", name, error)


def upload_models() -> list[str]:
    """Saliency models that work on an uploaded image (the gold standard needs recorded gaze)."""
    return list_models("saliency", include_gaze_models=False)


@functools.lru_cache(maxsize=len(COLORMAPS))
def _colormap_lut(colormap: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap (its own 256-entry lookup table)."""
    import matplotlib
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap '{colormap}'; choose one of {', '.join(COLORMAPS)}")
    lut = (matplotlib.colormaps[colormap](np.arange(256))[:, :3] * 255).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def _scaled(density: np.ndarray) -> np.ndarray:
    """density / its maximum, float32 in [0, 1] (all zeros stay zeros)."""
    density = np.asarray(density, dtype=np.float32)
    peak = float(density.max()) if density.size else 0.0
    return density * np.float32(1.0 / peak) if peak > 0 else np.clip(density, 0, None)


def colorize(density: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """Density → RGB uint8 heatmap, scaled by its maximum. Indexes the colormap's 256 entries as matplotlib
    does (floor(x·256), top clipped), through cv2.applyColorMap: ~0.3 ms for 1024×512 instead of ~15 ms."""
    lut = _colormap_lut(colormap)
    index = np.minimum(_scaled(density) * 256, 255).astype(np.uint8)
    return cv2.applyColorMap(index, np.ascontiguousarray(lut[:, None, :]))


def overlay(image: np.ndarray, density: np.ndarray, colormap: str = "inferno", opacity: float = 0.6) -> np.ndarray:
    """Heatmap blended over the image; the blend follows the map so low-saliency areas keep the painting visible."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    alpha = np.float32(opacity) * np.sqrt(_scaled(density))
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return cv2.blendLinear(colorize(density, colormap), image, alpha, 1 - alpha)


def saliency_view(image, model_name: str, colormap: str = "inferno", opacity: float = 0.6):
    """(overlay RGB, heatmap RGB, density) for one model; raises ValueError with a readable message. `image`: a
    file path or an array (pass the array to decode a file only once)."""
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
    folder = output_dir("saliency-")
    png, npy = folder / f"{stem}.png", folder / f"{stem}.npy"
    peak = density.max()
    grey = (density / peak * 65535).astype(np.uint16) if peak > 0 else density.astype(np.uint16)
    Image.fromarray(grey).save(png, compress_level=1)        # 5× faster than the default level, ~40 % larger
    np.save(npy, density.astype(np.float32))
    return str(png), str(npy)


def legend_html(colormap: str = "inferno", stops: int = 9) -> str:
    """A colour bar for the heatmaps: the colormap from 'less attention' to 'more attention', as HTML."""
    lut = _colormap_lut(colormap)
    colours = ", ".join("#%02x%02x%02x" % tuple(int(c) for c in lut[round(i * 255 / (stops - 1))]) for i in range(stops))
    return (f'<div class="attention-legend" role="img" aria-label="Colour scale ({colormap}): the left end is '
            f'less predicted attention, the right end more">'
            f'<div style="height:14px;border-radius:3px;background:linear-gradient(to right, {colours})"></div>'
            '<div style="display:flex;justify-content:space-between;font-size:0.85em">'
            '<span>less attention</span><span>more attention</span></div></div>')
