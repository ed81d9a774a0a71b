"""A small model registry in the spirit of timm: `@register_model(task)` records a builder under its own name,
`list_models(task)` feeds the app's menus and the tests, `create_model(name)` builds one by name."""
from __future__ import annotations

import fnmatch
import warnings
from dataclasses import dataclass
from typing import Callable

TASKS = ("saliency", "scanpath", "panorama")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    builder: Callable
    description: str
    needs_gaze: bool          # True for models that need recorded fixations (gold): not offered for uploads


_REGISTRY: dict[str, ModelEntry] = {}
_UNBUNDLED: dict[str, ModelEntry] = {}     # trained models without bundled weights: built only from `weights=`

# The model each task uses when none is named. Trained models replace the baselines here when they land.
DEFAULT = {"saliency": "centerbias", "scanpath": "saliency-sampler", "panorama": "equator-bias"}


def register_model(task: str, description: str = "", needs_gaze: bool = False):
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; tasks are {TASKS}")

    def wrap(builder: Callable) -> Callable:
        name = builder.__name__.replace("_", "-")
        if name in _REGISTRY:
            warnings.warn(f"model '{name}' registered twice; the later one wins")
        doc = description or (builder.__doc__ or "").strip().splitlines()[0]
        _REGISTRY[name] = ModelEntry(name, task, builder, doc, needs_gaze)
        return builder

    return wrap


def register_if_bundled(task: str, name: str, load: Callable, description: str) -> bool:
    """Register `name` (built by `load(weights=None)`) only when assets/weights/<name>/model.safetensors exists:
    trained models are offered once their weights ship with the app. Returns whether it was registered."""
    from models.baselines import ASSETS
    if not (ASSETS / name / "model.safetensors").is_file():
        _UNBUNDLED[name] = ModelEntry(name, task, load, description, False)   # still loadable from a folder
        return False
    if name in _REGISTRY:
        warnings.warn(f"model '{name}' registered twice; the later one wins")
    _REGISTRY[name] = ModelEntry(name, task, load, description, False)
    return True


def list_models(task: str | None = None, pattern: str = "*", include_gaze_models: bool = True) -> list[str]:
    """Sorted model names, optionally for one task, filtered by a wildcard pattern."""
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task '{task}'; tasks are {TASKS}")
    return sorted(
        e.name for e in _REGISTRY.values()
        if (task is None or e.task == task) and fnmatch.fnmatch(e.name, pattern)
        and (include_gaze_models or not e.needs_gaze)
    )


def model_entry(name: str, with_weights: bool = False) -> ModelEntry:
    """The registered model `name`; `with_weights` also finds trained models that ship no weights (they can
    only be built from a weights folder or the Hub, and are not listed in the menus)."""
    if with_weights and name not in _REGISTRY and name in _UNBUNDLED:
        return _UNBUNDLED[name]
    if name not in _REGISTRY:
        raise ValueError(f"unknown model '{name}'. Available: {', '.join(list_models())}")
    return _REGISTRY[name]


def create_model(name: str, weights: str | None = None, **kwargs):
    """Build a registered model. `weights`: None = bundled default, a folder path, or 'hub:REPO@REV'."""
    entry = model_entry(name, with_weights=weights is not None)
    if weights is not None:
        kwargs["weights"] = weights
    return entry.builder(**kwargs)
