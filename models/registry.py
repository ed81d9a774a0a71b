"""One registry for every model, in the spirit of timm: `@register_model(task, ...)` records a builder under its
own name; `list_models(task)` feeds the app's menus and the tests; `create_model(name)` builds one.

    @register_model("saliency", bundled="effsal-lite0", default=True)
    def effsal_lite0(weights=None): ...

`bundled` names the folder in assets/weights/ the builder loads by default: a model whose bundled weights are
missing is not listed and builds only from `weights=` (a folder or 'hub:REPO@REV'). `default` marks the model a
task uses when none is named; if it is not available the task falls back to its first listed model.

Fine-tuned weight folders named in the EXTRA_WEIGHTS environment setting (models/weights.py) are listed by
their folder name, as their base model's builder with `weights=` that folder; a folder whose name is already
taken, or whose base model is unknown, is skipped with a warning.
"""
from __future__ import annotations

import fnmatch
import functools
import os
import warnings
from dataclasses import dataclass
from typing import Callable

from models.weights import ASSETS, EXTRA_WEIGHTS_ENV, extra_weight_folders

TASKS = ("saliency", "scanpath", "panorama")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    task: str
    builder: Callable
    description: str
    needs_gaze: bool          # needs recorded fixations (gold): not offered for uploads
    bundled: str | None       # folder under assets/weights/ holding its default weights
    default: bool

    @property
    def available(self) -> bool:
        """Buildable without `weights=`: no bundled weights needed, or they are present."""
        return self.bundled is None or (ASSETS / self.bundled / "model.safetensors").is_file()


_REGISTRY: dict[str, ModelEntry] = {}
DEFAULT: dict[str, str] = {}          # task → model name, kept up to date by register_model
_EXTRA: set[str] = set()              # names registered from EXTRA_WEIGHTS
_extra_synced_for: tuple | None = None


def register_model(task: str, *, bundled: str | None = None, default: bool = False, needs_gaze: bool = False,
                   description: str = ""):
    if task not in TASKS:
        raise ValueError(f"unknown task '{task}'; tasks are {TASKS}")

    def wrap(builder: Callable) -> Callable:
        name = builder.__name__.replace("_", "-")
        if name in _REGISTRY and name not in _EXTRA:
            warnings.warn(f"model '{name}' registered twice; the later one wins")
        _EXTRA.discard(name)                       # a built-in model wins over an extra folder of its name
        doc = description or (builder.__doc__ or "").strip().splitlines()[0]
        _REGISTRY[name] = ModelEntry(name, task, builder, doc, needs_gaze, bundled, default)
        _update_default(task)
        return builder

    return wrap


def _update_default(task: str) -> None:
    marked = [e.name for e in _REGISTRY.values() if e.task == task and e.default and e.available]
    listed = _names(task, "*", include_gaze_models=False)
    if marked or listed:
        DEFAULT[task] = marked[-1] if marked else listed[0]


def _sync_extra_weights() -> None:
    """Register the EXTRA_WEIGHTS folders; again whenever the setting or the registered models change."""
    global _extra_synced_for
    setting = os.environ.get(EXTRA_WEIGHTS_ENV, "")
    key = (setting, len(_REGISTRY) - len(_EXTRA))
    if key == _extra_synced_for:
        return
    _extra_synced_for = key
    for name in _EXTRA:
        _REGISTRY.pop(name, None)
    _EXTRA.clear()
    found, problems = extra_weight_folders(setting)
    for folder, base in found:
        entry, name = _REGISTRY.get(base), folder.name
        if entry is None or base in _EXTRA:
            problems.append(f"{EXTRA_WEIGHTS_ENV}: {folder} names base model '{base}', which is not registered")
        elif name in _REGISTRY:
            problems.append(f"{EXTRA_WEIGHTS_ENV}: {folder} is skipped, '{name}' is already a model name; "
                            "rename the folder")
        else:
            _REGISTRY[name] = ModelEntry(name, entry.task, functools.partial(entry.builder, weights=str(folder)),
                                         f"{base} fine-tuned: {folder}", entry.needs_gaze, None, False)
            _EXTRA.add(name)
    for problem in problems:
        warnings.warn(problem)


def list_models(task: str | None = None, pattern: str = "*", include_gaze_models: bool = True) -> list[str]:
    """Sorted names of the models that can be built without `weights=`, optionally for one task, filtered by a
    wildcard pattern."""
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task '{task}'; tasks are {TASKS}")
    _sync_extra_weights()
    return _names(task, pattern, include_gaze_models)


def _names(task: str | None, pattern: str, include_gaze_models: bool) -> list[str]:
    return sorted(
        e.name for e in _REGISTRY.values()
        if e.available and (task is None or e.task == task) and fnmatch.fnmatch(e.name, pattern)
        and (include_gaze_models or not e.needs_gaze))


def model_entry(name: str, with_weights: bool = False) -> ModelEntry:
    """The registered model `name`; `with_weights` also finds models whose bundled weights are missing (they
    build only from a weights folder or the Hub, and are not listed)."""
    _sync_extra_weights()
    entry = _REGISTRY.get(name)
    if entry is None or not (entry.available or with_weights):
        raise ValueError(f"unknown model '{name}'. Available: {', '.join(list_models())}")
    return entry


def create_model(name: str, weights: str | None = None, **kwargs):
    """Build a registered model. `weights`: None = bundled default, a folder path, or 'hub:REPO@REV'."""
    entry = model_entry(name, with_weights=weights is not None)
    if weights is not None:
        kwargs["weights"] = weights
    return entry.builder(**kwargs)
