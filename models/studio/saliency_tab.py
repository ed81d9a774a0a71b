"""What the app's Saliency tab does, as plain functions (the app only wires them to widgets).

    overlay, heatmap, density = saliency_view(image, "centerbias", colormap="inferno", opacity=0.6)

The tab keeps each visitor's last result as a small state (`save_state`: file paths only, like the 360° tab), so
a colormap, opacity or colour-scale change redraws it (`render`) without running the model again.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from models import list_models, load_model, model_entry, predict_saliency
from models.studio.files import output_dir
from models.studio.painting import Painting, fit_size, load_painting, resize_map
from models.studio.rendering import colorize, overlay

STATE_SIDE = 1024          # maps kept for redrawing: the models' outputs are smooth far below this
EXPIRED = "These results have expired; press the button again."


def upload_models() -> list[str]:
    """Saliency models that work on an uploaded image (the gold standard needs recorded gaze)."""
    return list_models("saliency", include_gaze_models=False)


def as_rgb(image) -> np.ndarray:
    """The working copy of an upload (downscaled when larger than the models take)."""
    return load_painting(image).rgb


def check_model(model_name: str) -> str:
    if model_name not in upload_models():
        raise ValueError(f"'{model_name}' cannot score an uploaded image; choose one of {', '.join(upload_models())}")
    return model_name


def predict(painting: Painting, model_name: str) -> np.ndarray:
    """The model's density on the painting's working copy, (h, w) float64 summing to 1."""
    return predict_saliency(load_model(check_model(model_name)), painting.rgb)


def saliency_view(image, model_name: str, colormap: str = "inferno", opacity: float = 0.6, scale: str = "peak"):
    """(overlay RGB, heatmap RGB, density) for one model, at the working size; raises ValueError with a readable
    message. `image`: a file path, an array or a Painting."""
    painting = load_painting(image)
    density = predict(painting, model_name)
    return overlay(painting.rgb, density, colormap, opacity, scale), colorize(density, colormap, scale), density


def model_notice(model_name: str) -> str:
    return load_model(model_name).notice


def describe(model_name: str) -> str:
    return model_entry(model_name).description


def save_map_files(density: np.ndarray, stem: str = "saliency", size: tuple[int, int] | None = None) -> tuple[str, str]:
    """Write the map as a 16-bit grey PNG (scaled to its max; at `size` = (w, h) when given, e.g. the original
    painting's) and as .npy (the exact density, at the size the model saw); return their paths."""
    folder = output_dir("saliency-")
    png, npy = folder / f"{stem}.png", folder / f"{stem}.npy"
    grey = density if size is None else resize_map(density, size)
    peak = grey.max()
    grey = (grey / peak * 65535).astype(np.uint16) if peak > 0 else grey.astype(np.uint16)
    Image.fromarray(grey).save(png, compress_level=1)        # fast: a somewhat larger file for far less time
    np.save(npy, density.astype(np.float32))
    return str(png), str(npy)


# ------------------------------------------------------------------------------------------------ per-visitor state

def compact_map(density: np.ndarray, max_side: int = STATE_SIDE) -> np.ndarray:
    """A density as float16 relative to its mean (1 = an even spread), at most `max_side` px: what every colour
    scale needs (rendering.SCALES), whatever the size it is drawn at."""
    density = np.asarray(density, dtype=np.float32)
    h, w = density.shape
    size = fit_size(w, h, max_side)
    if size != (w, h):
        density = resize_map(density, size)
    mean = float(density.mean(dtype=np.float64))
    return (density / mean if mean > 0 else np.zeros_like(density)).astype(np.float16)


def save_state(painting: Painting, maps: dict[str, np.ndarray], preview: bool = False) -> dict:
    """What the tab keeps per visitor so that restyling needs no new inference: file paths and names only (the
    working copy and each model's compact map, in this request's output folder, purged after an hour), not
    arrays in the session. `preview`: also write the working copy as a JPEG ("painting_file")."""
    folder = output_dir("saliency-state-")
    np.save(folder / "painting.npy", np.ascontiguousarray(painting.rgb), allow_pickle=False)
    extra = {}
    if preview:
        extra["painting_file"] = str(folder / f"{painting.stem}-painting.jpg")
        Image.fromarray(painting.rgb).save(extra["painting_file"], quality=92)
    paths = {}
    for i, (name, density) in enumerate(maps.items()):
        paths[name] = str(folder / f"map-{i}.npy")
        np.save(paths[name], compact_map(density), allow_pickle=False)
    return {"image": str(folder / "painting.npy"), "maps": paths, "stem": painting.stem, "source": painting.path,
            "original_size": list(painting.original_size), "work_size": list(painting.work_size),
            "full_size": painting.full_size_output, **extra}


def state_image(state: dict) -> np.ndarray:
    try:
        return np.load(state["image"], allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(EXPIRED) from None


def state_map(state: dict, name: str, size: tuple[int, int]) -> np.ndarray:
    """One model's compact map at (w, h)."""
    try:
        compact = np.load(state["maps"][name], allow_pickle=False)
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(EXPIRED) from None
    return resize_map(compact, size)


def render(state: dict, colormap: str = "inferno", opacity: float = 0.6, scale: str = "peak",
           names: list[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{model: (overlay RGB, heatmap RGB)} at the working size, drawn from the state (the first view and every
    restyle draw the same pixels)."""
    rgb = state_image(state)
    size = (rgb.shape[1], rgb.shape[0])
    out = {}
    for name in names or list(state["maps"]):
        density = state_map(state, name, size)
        out[name] = (overlay(rgb, density, colormap, opacity, scale), colorize(density, colormap, scale))
    return out


def full_size_overlay(state: dict, name: str, colormap: str = "inferno", opacity: float = 0.6,
                      scale: str = "peak", painting: Painting | None = None) -> np.ndarray | None:
    """The overlay at the original painting's size when it was downscaled for the model and fits
    painting.FULL_SIZE_PIXELS (None otherwise: the working-size overlay is the full drawing). `painting`: the
    loaded painting when at hand (its pixels are not decoded again)."""
    w, h = state["original_size"]
    if tuple(state["work_size"]) == (w, h) or not state.get("full_size"):
        return None
    if painting is None:
        if not state.get("source"):
            return None
        try:
            painting = load_painting(state["source"])
        except ValueError:
            raise ValueError(EXPIRED) from None
    full = painting.original()
    if full is None:
        return None
    return overlay(full, state_map(state, name, (w, h)), colormap, opacity, scale)
