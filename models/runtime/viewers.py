"""Virtual viewers: what every scanpath model's sampled viewers share, so that a set of samples behaves like a
population of people rather than many copies of one typical path.

- **Viewing time**: a viewer's fixations fill a share of the viewing time (on the train splits, recorded
  fixations fill 68 % of a 3 s trial on average; the rest is saccades, blinks and lost samples); fixations
  follow one another until it is used up, and the last one is cut where time ends (as a recording ends). So
  the number of fixations follows from the durations, for any viewing time. The share varies between
  recorded trials (± 10 %) and people differ in tempo (a subject's mean log-duration spreads by ≈ 0.19), but
  drawing either per viewer made the number of fixations per path far more variable than people's on the
  val splits (SD 2.6–3.2 against 1.8–2.4, docs/results.md), so each duration is drawn on its own.
- **Inhibition of return**: each fixation suppresses the density around it; the suppression fades over later
  fixations with a half-life of 12 fixations (about 3 s: inhibition of return lasts seconds, not minutes), so
  long viewing keeps exploring and may come back.
- **Variability**: the public temperature t ∈ [0, 1] is calibrated per model (sampling.json, chosen on val):
  0 = the most typical viewer, `DEFAULT_VARIABILITY` = as varied as the people of the val splits, 1 = a very
  idiosyncratic viewer that still looks mostly at salient content. Each model maps t to its own noise.

The statistics come from `python -m training.fit_baselines` (assets/weights/viewers.json).
"""
from __future__ import annotations

import functools
import json

import numpy as np
import torch

from models.weights import ASSETS

VIEWERS = ASSETS / "viewers.json"
DEFAULT_VIEWING_TIME_S = 3.0           # OSIE and MIT1003 recorded 3 s per image
MAX_VIEWING_TIME_S = 30.0              # about as long as a museum visitor looks at one painting
DEFAULT_VARIABILITY = 0.5
MIN_LAST_FIXATION_MS = 50.0            # a fixation cut shorter than this by the end of viewing is dropped
MAX_STEPS = 400                        # safety cap on fixations per path (30 s has ≈ 90)


@functools.lru_cache(maxsize=1)
def viewer_statistics() -> dict:
    return json.loads(VIEWERS.read_text())


def check_viewing_time(viewing_time_s: float) -> float:
    t = float(viewing_time_s)
    if not 0.2 <= t <= MAX_VIEWING_TIME_S:
        raise ValueError(f"viewing time must be between 0.2 and {MAX_VIEWING_TIME_S:g} s; got {viewing_time_s}")
    return t


def check_variability(temperature: float) -> float:
    t = float(temperature)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"temperature (viewer variability) must be between 0 and 1; got {temperature}")
    return t


def noise_for(temperature: float, curve: dict | None) -> float:
    """The model's own noise level for the public temperature, through its calibration curve
    {"temperature": [...], "noise": [...]} (piecewise linear); without a curve, the temperature itself."""
    if not curve:
        return float(temperature)
    return float(np.interp(temperature, curve["temperature"], curve["noise"]))


class ViewerTimes:
    """Per viewer of a batch: the fixation-time budget (ms), the clock, and which viewers are still looking. At
    temperature 0 every viewer is the typical one: each fixation lasts its distribution's median."""

    def __init__(self, count: int, viewing_time_s: float | None, n_fixations: int | None, typical: bool,
                 generator: torch.Generator):
        stats = viewer_statistics()
        self.generator, self.typical = generator, typical
        self.n_fixations = int(n_fixations) if n_fixations else None
        if self.n_fixations:                                   # a fixed count: time does not end a path
            self.budget = torch.full((count,), float("inf"))
        else:
            seconds = check_viewing_time(DEFAULT_VIEWING_TIME_S if viewing_time_s is None else viewing_time_s)
            self.budget = torch.full((count,), 1000.0 * seconds * stats["fixation_share_mean"])
        self.clock = torch.zeros(count)
        self.looking = torch.ones(count, dtype=torch.bool)
        self.steps = 0

    @property
    def done(self) -> bool:
        limit = self.n_fixations or MAX_STEPS
        return self.steps >= limit or not bool(self.looking.any())

    def durations(self, log_mean: torch.Tensor, log_sd: torch.Tensor | float) -> torch.Tensor:
        """(B,) ms for the next fixation from a log-normal per viewer."""
        if self.typical:
            return log_mean.exp()
        return (log_mean + log_sd * torch.randn(log_mean.shape, generator=self.generator)).exp()

    def advance(self, duration_ms: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Book the next fixation of every viewer still looking → (kept (B,) bool, duration cut at the end of
        viewing (B,))."""
        left = self.budget - self.clock
        kept = self.looking & (left >= MIN_LAST_FIXATION_MS) if self.n_fixations is None else self.looking
        cut = torch.minimum(duration_ms, left)
        self.clock = self.clock + torch.where(kept, cut, torch.zeros_like(cut))
        self.looking = kept & (self.clock < self.budget)
        self.steps += 1
        return kept, cut


class InhibitionOfReturn:
    """A log-suppression over a (h, w) grid of cell centres for a batch of viewers. Each fixation at (x, y) in
    [0, 1] lowers the log-density by a Gaussian dip (sigma: a share of the image diagonal) whose depth at the
    centre is log(1 / (1 − strength)); earlier dips fade by `memory` per fixation. A Gaussian is the product
    of a row and a column profile, so a dip costs one outer product."""

    def __init__(self, count: int, grid_hw: tuple[int, int], image_hw: tuple[int, int], sigma: float = 0.05,
                 strength: float = 0.9, memory: float = 0.944):
        h, w = grid_hw
        ih, iw = image_hw
        diagonal = float(np.hypot(iw, ih))
        self.gx = (torch.arange(w) + 0.5) / w * iw / diagonal          # cell centres in image diagonals
        self.gy = (torch.arange(h) + 0.5) / h * ih / diagonal
        self.scale = torch.tensor([iw / diagonal, ih / diagonal])
        self.sigma, self.memory = sigma, memory
        self.depth = -float(np.log1p(-strength))
        self.log_mask = torch.zeros(count, h * w)

    def add(self, xy: torch.Tensor, active: torch.Tensor) -> None:
        """xy (B, 2) in [0, 1] of the fixations just made; `active` (B,) bool: viewers that made one."""
        p = xy * self.scale
        column = torch.exp(-(self.gx[None] - p[:, :1]) ** 2 / (2 * self.sigma**2))          # (B, w)
        row = torch.exp(-(self.gy[None] - p[:, 1:]) ** 2 / (2 * self.sigma**2))             # (B, h)
        row = row * (self.depth * active)[:, None]
        self.log_mask.mul_(self.memory).sub_((row[:, :, None] * column[:, None, :]).flatten(1))

    def saccade_prior(self, xy: torch.Tensor, sigma: float) -> torch.Tensor:
        """(B, h·w) log of a Gaussian around the last fixations xy (B, 2) in [0, 1], sigma a share of the
        diagonal: short saccades are more common than long ones."""
        p = xy * self.scale
        column = -((self.gx[None] - p[:, :1]) ** 2) / (2 * sigma**2)                        # (B, w)
        row = -((self.gy[None] - p[:, 1:]) ** 2) / (2 * sigma**2)                           # (B, h)
        return (row[:, :, None] + column[:, None, :]).flatten(1)
