"""The Python API: one call per task, by model name or with a model object.

    from models import predict_saliency
    density = predict_saliency("effsal-lite0", "painting.jpg")      # (H, W) float64, sums to 1

A model named here is built once per process and kept (`load_model`, the same cache the app uses), so a loop
over a folder by name costs what a loop with a model object costs.
"""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

import numpy as np

from models.image_io import MAX_SIDE, load_image
from models.registry import create_model, model_entry
from models.runtime.projections import check_equirect

log = logging.getLogger(__name__)
_load_lock = threading.Lock()


def load_model(name: str):
    """The registered model `name`, built on first use and kept for the process's life; thread-safe, so a
    server's start-up warm-up and a first request never build the same model twice."""
    with _load_lock:
        return _cached(name)


@functools.lru_cache(maxsize=16)
def _cached(name: str):
    return create_model(name)


load_model.cache_clear, load_model.cache_info = _cached.cache_clear, _cached.cache_info


def as_rgb(image) -> np.ndarray:
    """An image file path, or any PIL image or array (gray, RGB, RGBA; uint8 or float in [0, 1]) → RGB uint8
    (H, W, 3)."""
    if image is None:
        raise ValueError("no image given")
    if isinstance(image, (str, Path)):
        return load_image(image)
    if hasattr(image, "convert"):                                   # PIL
        image = np.asarray(image.convert("RGB"))
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an image of shape (H, W, 3), got {image.shape}")
    image = image[:, :, :3]
    if image.dtype != np.uint8:
        if not np.isfinite(image).all():
            raise ValueError("image contains NaN or infinite values")
        scale = 255.0 if image.max() <= 1.0 else 1.0
        image = np.clip(image * scale, 0, 255).astype(np.uint8)
    h, w = image.shape[:2]
    if min(h, w) < 8:
        raise ValueError(f"image too small ({w}×{h}); it needs at least 8 pixels per side")
    if max(h, w) > MAX_SIDE:
        raise ValueError(f"image too large ({w}×{h}); the longest side may be at most {MAX_SIDE} pixels")
    return np.ascontiguousarray(image)


def resolve(model_or_name, task: str):
    """A model object as it is, or the cached model of that name after checking its task."""
    if not isinstance(model_or_name, str):
        return model_or_name
    entry = model_entry(model_or_name)
    if entry.task != task:
        raise ValueError(f"'{model_or_name}' is a {entry.task} model, not a {task} model")
    return load_model(model_or_name)


def predict_saliency(model_or_name, image) -> np.ndarray:
    """Saliency density at image resolution, (H, W) float64 summing to 1."""
    image = as_rgb(image)
    density = np.asarray(resolve(model_or_name, "saliency").predict(image), dtype=np.float64)
    assert density.shape == image.shape[:2], (density.shape, image.shape)
    return density / density.sum()


def predict_scanpath(model_or_name, image, n_fixations: int | None = None, temperature: float | None = None,
                     seed: int | None = None, viewing_time_s: float | None = None) -> list[tuple[float, float, float]]:
    """One sampled viewer's scanpath: a list of (x, y, duration_ms) in image pixels, in temporal order, filling
    `viewing_time_s` (default 3 s) unless `n_fixations` is given. temperature None = the model's own default
    (the viewer variability calibrated on val: as varied as the people of the val splits)."""
    extra = {} if viewing_time_s is None else {"viewing_time_s": viewing_time_s}
    path = resolve(model_or_name, "scanpath").sample(as_rgb(image), n_fixations=n_fixations, seed=seed,
                                                     temperature=temperature, **extra)
    return [tuple(map(float, row)) for row in path]


def predict_panorama(model_or_name, image) -> np.ndarray:
    """Saliency density of an equirectangular panorama, (H, W) summing to 1."""
    image = as_rgb(image)
    check_equirect(image.shape[1], image.shape[0])
    density = np.asarray(resolve(model_or_name, "panorama").predict(image), dtype=np.float64)
    return density / density.sum()


def warm_up(names: list[str]) -> None:
    """Load each model and run it once at typical sizes, so a server's one-off costs (imports, weights, the ONNX
    export, the heap growing to its working size) come before its first visitors, not during their requests."""
    image = np.random.default_rng(0).integers(0, 256, (768, 1024, 3), dtype=np.uint8)
    panorama = np.random.default_rng(1).integers(0, 256, (1024, 2048, 3), dtype=np.uint8)
    run = {"saliency": lambda m: predict_saliency(m, image), "scanpath": lambda m: predict_scanpath(m, image, seed=0),
           "panorama": lambda m: predict_panorama(m, panorama)}
    for name in names:
        try:
            run[model_entry(name).task](load_model(name))
        except Exception as error:                      # a model that fails here fails visibly when chosen
            log.warning("warm-up of %s failed: %s", name, error)
