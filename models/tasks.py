"""What a model of each task offers its callers (the app, the API, the evaluation CLIs). Every registered model
satisfies its task's protocol (tests/test_registry.py), so callers never probe for methods.

Images are RGB uint8 (H, W, 3); densities are float64 (H, W) summing to 1; scanpaths are (n, 3) arrays of x, y
in image pixels and duration in ms, in temporal order."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class SaliencyModel(Protocol):
    needs_gaze: bool          # True: needs recorded fixations (gold), cannot score an upload
    notice: str               # shown to the user, e.g. "Hub unreachable: using the bundled weights"
    runtime: str              # "onnxruntime", "torch" or "numpy"

    def predict(self, image: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class ScanpathModel(Protocol):
    needs_gaze: bool
    notice: str
    runtime: str
    default_temperature: float     # viewer variability in [0, 1]; calibrated on val (models/runtime/viewers.py)

    # Without n_fixations, each viewer looks for viewing_time_s (default 3 s) and the durations decide how many
    # fixations fit; with it, every path has that many.
    def sample(self, image: np.ndarray, n_fixations: int | None = None, temperature: float | None = None,
               seed: int | None = None, viewing_time_s: float | None = None) -> np.ndarray: ...

    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None,
                     viewing_time_s: float | None = None) -> list[np.ndarray]: ...


@runtime_checkable
class PanoramaModel(Protocol):
    needs_gaze: bool
    notice: str
    runtime: str
    streams: tuple[str, ...]       # what predict_streams returns, in display order

    def predict(self, equi: np.ndarray) -> np.ndarray: ...

    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]: ...

    def reset_temporal(self) -> None: ...


PROTOCOLS = {"saliency": SaliencyModel, "scanpath": ScanpathModel, "panorama": PanoramaModel}
