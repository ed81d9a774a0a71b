"""Models of visual attention behind one registry and one inference API per task.

    from models import create_model, list_models, predict_saliency
    model = create_model("centerbias")
    density = predict_saliency(model, image)        # (H, W) float64, sums to 1
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from models.registry import DEFAULT, TASKS, create_model, list_models, model_entry, register_model

# Importing the model files registers them.
from models import baselines, equator_bias, scanpath_sampler  # noqa: E402,F401
from models import atsal, spgen, sslart, trainable  # noqa: E402,F401  (register trained models whose weights are bundled)

# Trained models become the defaults once their weights are bundled (they beat the baselines: docs/results.md).
for _task, _best in (("saliency", "effsal-lite0"), ("panorama", "atsal"), ("scanpath", "spgen")):
    if _best in list_models(_task):
        DEFAULT[_task] = _best

__all__ = ["DEFAULT", "TASKS", "create_model", "list_models", "model_entry", "register_model",
           "as_rgb", "load_image", "predict_saliency", "predict_scanpath", "predict_panorama"]

from models.image_io import MAX_SIDE, load_image  # noqa: E402


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


def _model(model_or_name, task: str):
    if isinstance(model_or_name, str):
        if model_entry(model_or_name).task != task:
            raise ValueError(f"'{model_or_name}' is a {model_entry(model_or_name).task} model, not a {task} model")
        return create_model(model_or_name)
    return model_or_name


def predict_saliency(model_or_name, image) -> np.ndarray:
    """Saliency density at image resolution, (H, W) float64 summing to 1."""
    image = as_rgb(image)
    density = np.asarray(_model(model_or_name, "saliency").predict(image), dtype=np.float64)
    assert density.shape == image.shape[:2], (density.shape, image.shape)
    return density / density.sum()


def predict_scanpath(model_or_name, image, n_fixations: int | None = None, temperature: float | None = None,
                     seed: int | None = None) -> list[tuple[float, float, float]]:
    """One sampled scanpath: a list of (x, y, duration_ms) in image pixels, in temporal order.
    temperature None = the model's own default (SPGEn: chosen on val; the saliency sampler: 1)."""
    kwargs = {} if temperature is None else {"temperature": temperature}
    path = _model(model_or_name, "scanpath").sample(as_rgb(image), n_fixations=n_fixations, seed=seed, **kwargs)
    return [tuple(map(float, row)) for row in path]


def predict_panorama(model_or_name, image) -> np.ndarray:
    """Saliency density of an equirectangular panorama, (H, W) summing to 1."""
    image = as_rgb(image)
    from models.projections import check_equirect
    h, w = image.shape[:2]
    check_equirect(w, h)
    density = np.asarray(_model(model_or_name, "panorama").predict(image), dtype=np.float64)
    return density / density.sum()
