"""A fast stand-in for ATSal in tests: a PanoramaModel (models/tasks.py) with ATSal's seven streams, maps computed in
closed form. `register()` adds it to the registry as the panorama model "fake-streams"."""
from __future__ import annotations

import numpy as np


class FakeStreamsModel:
    needs_gaze = False
    notice = ""
    runtime = "numpy"
    streams = ("fused", "attention", "attention_map", "prior", "experts", "poles", "equator")   # ATSal's display order

    def __init__(self):
        self.resets = 0
        self.calls: list[bool] = []          # the `temporal` flag of every call

    def reset_temporal(self) -> None:
        self.resets += 1

    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
        assert equi.dtype == np.uint8 and equi.ndim == 3 and equi.shape[2] == 3
        self.calls.append(temporal)
        h, w = equi.shape[:2]
        lat = 90.0 - (np.arange(h) + 0.5) * 180.0 / h
        lon = (np.arange(w) + 0.5) * 360.0 / w - 180.0
        band = np.exp(-0.5 * (lat / 20.0) ** 2)[:, None] * np.ones((1, w))
        spot = np.exp(-0.5 * ((lon[None, :] - 60.0) / 30.0) ** 2 - 0.5 * ((lat[:, None] - 10.0) / 25.0) ** 2)
        poles = np.exp(-0.5 * ((np.abs(lat) - 90.0) / 15.0) ** 2)[:, None] * np.ones((1, w))
        experts = band + 0.2 * poles
        norm = lambda m: m / m.sum()
        return {"attention": norm(spot + 0.05), "attention_map": spot / spot.max(), "prior": norm(band), "poles": norm(poles),
                "equator": norm(band), "experts": norm(experts), "fused": norm((spot + 0.05) * experts)}

    def predict(self, equi: np.ndarray) -> np.ndarray:
        return self.predict_streams(equi)["fused"]


def register() -> None:
    from models.registry import register_model

    @register_model("panorama", description="Test stand-in with ATSal's streams")
    def fake_streams(**_):
        return FakeStreamsModel()
