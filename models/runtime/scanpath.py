"""Scanpath models: an image → sampled viewers' scanpaths, each an (n, 3) array of x, y (image pixels) and
duration (ms).

- `saliency-sampler`: fixations drawn one by one from a saliency density, with inhibition of return and a
  saccade-amplitude prior; durations from a log-normal fitted on the train splits.
- `spgen`, `sslart`: the trained networks of models/nets, their trunk through ONNX Runtime (it runs once per
  image; the samples are read from its output).

Viewing time, viewer tempo, inhibition of return and the calibrated temperature (viewer variability) are the
virtual viewers' (models/runtime/viewers.py).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from models.nets.spgen import SPGEn
from models.nets.sslart import SSLArt
from models.registry import DEFAULT, create_model, register_model
from models.runtime.densities import to_density
from models.runtime.fold_bn import fold_batchnorm
from models.runtime.images import image_batch
from models.runtime.onnx import MethodModule, accelerate
from models.runtime.viewers import (DEFAULT_VARIABILITY, InhibitionOfReturn, ViewerTimes, check_variability,
                                    noise_for)
from models.weights import ASSETS, load_pretrained


class SaliencySampler:
    """Saliency model + inhibition of return + saccade-amplitude prior; log-normal durations; virtual viewers
    (models/runtime/viewers.py) decide how many fixations fit the viewing time."""
    needs_gaze = False
    notice = ""
    runtime = "torch"

    def __init__(self, saliency_model, stats: dict, grid_width: int = 64, saccade_sigma_factor: float = 2.0,
                 settings: dict | None = None):
        self.saliency_model = saliency_model
        self.stats = stats
        self.grid_width = grid_width
        self.saccade_sigma = saccade_sigma_factor * stats["amplitude_median_of_diagonal"]   # share of the diagonal
        settings = settings or {}
        self.temperature_curve = settings.get("temperature_curve")
        self.default_temperature = DEFAULT_VARIABILITY if self.temperature_curve else settings.get("temperature", 1.0)
        self.ior = settings.get("inhibition_of_return", {})

    def sample(self, image: np.ndarray, n_fixations: int | None = None, temperature: float | None = None,
               seed: int | None = None, viewing_time_s: float | None = None) -> np.ndarray:
        """(n, 3) x, y (pixels of `image`), duration_ms."""
        return self.sample_batch(image, 1, temperature, n_fixations, seed, viewing_time_s)[0]

    @torch.inference_mode()
    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None,
                     viewing_time_s: float | None = None) -> list[np.ndarray]:
        """`count` viewers of one saliency map, seeded as a batch. The temperature reshapes the density as
        p^(1/T) after the model's calibration curve; T = 0 always takes the most likely next location."""
        t = check_variability(self.default_temperature if temperature is None else temperature)
        power = noise_for(t, self.temperature_curve)
        generator = torch.Generator().manual_seed(_seed(seed))
        h, w = image.shape[:2]
        gh = max(4, round(self.grid_width * h / w))
        density = to_density(cv2.resize(self.saliency_model.predict(image), (self.grid_width, gh),
                                        interpolation=cv2.INTER_AREA))
        log_p = torch.from_numpy(np.log(density)).float().flatten()[None].expand(count, -1)
        viewers = ViewerTimes(count, viewing_time_s, n_fixations, power == 0, generator)
        ior = InhibitionOfReturn(count, (gh, self.grid_width), (h, w), **self.ior)
        cells, centres = _cell_centres(gh, self.grid_width)
        xy = torch.zeros(count, 2)
        steps = []
        while not viewers.done:
            logits = log_p + ior.log_mask
            if steps:                                              # short saccades are more common
                d = (centres[None] - xy[:, None]) * ior.scale
                logits = logits - (d**2).sum(-1) / (2 * self.saccade_sigma**2)
            if power == 0:
                k, jitter = logits.argmax(-1), torch.full((count, 2), 0.5)
            else:
                k = torch.multinomial((logits / power).softmax(-1), 1, generator=generator)[:, 0]
                jitter = torch.rand(count, 2, generator=generator)
            xy = (cells[k] + jitter) / torch.tensor([self.grid_width, gh])
            log_mean = torch.full((count,), self.stats["duration_log_mean"])
            kept, duration = viewers.advance(viewers.durations(log_mean, self.stats["duration_log_std"]))
            ior.add(xy, kept)
            steps.append((xy, duration, kept))
        return viewer_paths(steps, image.shape[:2])


def _seed(seed: int | None) -> int:
    return int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)


def _cell_centres(h: int, w: int) -> tuple[torch.Tensor, torch.Tensor]:
    """((h·w, 2) column/row of each cell in reading order, (h·w, 2) its centre in [0, 1] as (x, y))."""
    rows, cols = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
    cells = torch.stack([cols.flatten(), rows.flatten()], dim=-1).float()
    return cells, (cells + 0.5) / torch.tensor([w, h])


def viewer_paths(steps: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]], image_hw: tuple[int, int]) -> list[np.ndarray]:
    """Per step (xy (B, 2) in [0, 1], duration (B,) ms, kept (B,) bool) → B arrays (n_k, 3) x, y in image
    pixels, ms; a viewer's path ends at its first step not kept."""
    h, w = image_hw
    xy = torch.stack([s[0] for s in steps], 1).numpy() * np.array([w, h])           # (B, S, 2)
    duration = torch.stack([s[1] for s in steps], 1).numpy()
    lengths = torch.stack([s[2] for s in steps], 1).sum(1).tolist()
    return [np.column_stack([np.clip(xy[k, :n, 0], 0, w - 1e-3), np.clip(xy[k, :n, 1], 0, h - 1e-3),
                             duration[k, :n]]).astype(np.float64) for k, n in enumerate(lengths)]


class NetworkScanpathModel:
    """A scanpath network whose trunk (`trunk_method`, run once per image) goes through ONNX Runtime; the
    samples are read from the trunk's output in PyTorch, seeded so that the same seed gives the same paths."""
    needs_gaze = False

    def __init__(self, network, trunk_method: str, notice: str = "", default_temperature: float = 0.2):
        self.network = fold_batchnorm(network.float().eval())       # same outputs, fewer layers to run
        self.trunk = accelerate(MethodModule(self.network, trunk_method), torch.rand(1, 3, *self.network.input_size))
        self.notice = notice
        self.default_temperature = default_temperature

    @property
    def runtime(self) -> str:
        return self.trunk.runtime

    def _settings(self, image: np.ndarray, temperature: float | None, seed: int | None):
        """(trunk output for `image`, temperature, a seeded generator)."""
        t = self.default_temperature if temperature is None else float(temperature)
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**63)
        return self.trunk(image_batch(image, self.network.input_size)), t, torch.Generator().manual_seed(seed)

    def sample(self, image: np.ndarray, n_fixations: int | None = None, temperature: float | None = None,
               seed: int | None = None, viewing_time_s: float | None = None) -> np.ndarray:
        extra = {} if viewing_time_s is None else {"viewing_time_s": viewing_time_s}
        return self.sample_batch(image, 1, temperature, n_fixations, seed, **extra)[0]


READ_OUT_WIDTH = 48                    # cells across on which SPGEn's fixations are read


def mode_read_out(p: torch.Tensor, h: int, w: int, radius: int = 2) -> torch.Tensor:
    """(B, h·w) densities → (B, 2) x, y in [0, 1]: the soft-argmax within `radius` cells of each map's peak. A
    soft-argmax over the whole map reads a broad or two-peaked map between its peaks, and inhibition of return
    then barely moves it (fixations stack); the local one reads the mode, to sub-cell precision."""
    b = p.shape[0]
    peak = p.argmax(-1)
    rows = (peak // w)[:, None] + torch.arange(-radius, radius + 1)[None]            # (B, k)
    cols = (peak % w)[:, None] + torch.arange(-radius, radius + 1)[None]
    inside = ((rows >= 0) & (rows < h))[:, :, None] & ((cols >= 0) & (cols < w))[:, None, :]   # (B, k, k)
    index = rows.clamp(0, h - 1)[:, :, None] * w + cols.clamp(0, w - 1)[:, None, :]
    weight = p.gather(1, index.view(b, -1)).view(index.shape) * inside
    weight = weight / weight.sum(dim=(1, 2), keepdim=True)
    x = (weight.sum(1) * (cols + 0.5)).sum(-1) / w
    y = (weight.sum(2) * (rows + 0.5)).sum(-1) / h
    return torch.stack([x, y], dim=-1)


class SPGEnScanpathModel(NetworkScanpathModel):
    """SPGEn as virtual viewers: step t's fixation is read off latent map t (after the last map, off their mean)
    under inhibition of return; its duration is drawn from the log-normal the network predicts there; viewing
    time decides how many fixations there are (the network's length gate is for training). `sharpness` reads
    each fixation nearer its map's mode. The temperature is calibrated (models/runtime/viewers.py)."""

    def __init__(self, network: SPGEn, notice: str = "", settings: dict | None = None):
        settings = settings or {}
        self.temperature_curve = settings.get("temperature_curve")
        default = DEFAULT_VARIABILITY if self.temperature_curve else settings.get("temperature", 0.2)
        super().__init__(network, "latent_maps", notice, default)
        self.sharpness = settings.get("sharpness", 1.0)
        self.ior = settings.get("inhibition_of_return", {})
        self.saccade_sigma = settings.get("saccade_sigma")        # share of the diagonal; None: no prior

    @torch.inference_mode()
    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None,
                     viewing_time_s: float | None = None) -> list[np.ndarray]:
        (maps, y), t, generator = self._settings(image, temperature, seed)
        noise = noise_for(check_variability(t), self.temperature_curve)
        net = self.network
        maps = maps.expand(count, -1, -1, -1)                                     # y stays one image's
        if noise > 0:
            maps = (1 - noise) * maps + noise * net.smooth_noise(maps.shape, generator)
        log_maps = (net.log_beta.exp() * maps).flatten(2).log_softmax(-1).view(maps.shape)   # per step
        if maps.shape[-1] > READ_OUT_WIDTH:          # read on a coarser grid: a step costs less, long viewing stays fast
            log_maps = 4 * F.avg_pool2d(log_maps.exp(), 2).log()
            y = F.avg_pool2d(y, 2)
        n, h, w = log_maps.shape[1:]
        log_maps = log_maps.flatten(2)                                              # (B, N, h·w)
        after_last = log_maps.logsumexp(1) - math.log(n)                          # their mean: the image's density
        viewers = ViewerTimes(count, viewing_time_s, n_fixations, noise == 0, generator)
        ior = InhibitionOfReturn(count, (h, w), image.shape[:2], **self.ior)
        steps, xy = [], None
        while not viewers.done:
            k = len(steps)
            base = log_maps[:, k] if k < n else after_last
            if k and self.saccade_sigma:
                base = base + ior.saccade_prior(xy, self.saccade_sigma)
            p = (self.sharpness * (base + ior.log_mask)).softmax(-1)                # (B, h·w)
            xy = mode_read_out(p, h, w)
            heads = net.heads(p[:, None], y, torch.tensor([min(k, n - 1)]), with_gate=False)
            sd = heads["log_duration_sd"][:, 0] if "log_duration_sd" in heads else 0.0
            kept, duration = viewers.advance(viewers.durations(heads["log_duration"][:, 0], sd))
            ior.add(xy, kept)
            steps.append((xy, duration, kept))
        return viewer_paths(steps, image.shape[:2])


class SSLArtScanpathModel(NetworkScanpathModel):
    """SSLArt as virtual viewers: the encoder runs once per image; each fixation is drawn from the decoder's
    density for its step given the path so far (its learned saccade and inhibition-of-return profiles), its
    duration from the log-normal the decoder predicts there; viewing time decides how many fixations there are.
    The temperature divides the image's logits, through the calibration curve of sampling.json when there is one."""

    def __init__(self, network: SSLArt, notice: str = "", settings: dict | None = None):
        settings = settings or {}
        self.temperature_curve = settings.get("temperature_curve")
        default = DEFAULT_VARIABILITY if self.temperature_curve else settings.get("temperature", 1.0)
        super().__init__(network, "encode", notice, default)

    @torch.inference_mode()
    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None,
                     viewing_time_s: float | None = None) -> list[np.ndarray]:
        features, t, generator = self._settings(image, temperature, seed)
        divisor = noise_for(check_variability(t), self.temperature_curve)
        net = self.network
        maps, context = net.read(features.expand(count, -1, -1, -1))
        viewers = ViewerTimes(count, viewing_time_s, n_fixations, divisor == 0, generator)
        history, steps = None, []
        while not viewers.done:
            k = len(steps)
            xy = net.draw(net.next_logits(maps, k, history, divisor), divisor, generator)
            mean, sd = net.duration_parameters(context, xy[:, None], torch.tensor([net.step_index(k)]))
            kept, duration = viewers.advance(viewers.durations(mean[:, 0], sd[:, 0]))
            history = net.remember(history, xy)
            steps.append((xy, duration, kept))
        return viewer_paths(steps, image.shape[:2])


@register_model("scanpath")
def saliency_sampler(saliency: str | None = None, weights: str | None = None) -> SaliencySampler:
    """Samples fixations from a saliency map with inhibition of return."""
    folder = Path(weights) if weights else ASSETS / "saliency-sampler"
    stats = json.loads((folder / "config.json").read_text())
    sampling = folder / "sampling.json"
    settings = json.loads(sampling.read_text()) if sampling.exists() else {}
    return SaliencySampler(create_model(saliency or DEFAULT["saliency"]), stats, settings=settings)


@register_model("scanpath", bundled="spgen", default=True,
                description="SPGEn: per-step fixation maps, soft-argmax, a length gate and durations; temperature noise.")
def spgen(weights: str | None = None) -> SPGEnScanpathModel:
    """The default temperature and read-out sharpness come from sampling.json next to the weights (chosen on
    val scanpaths)."""
    network, notice, settings = load_pretrained(SPGEn, "spgen", weights)
    return SPGEnScanpathModel(network, notice, settings)


@register_model("scanpath", bundled="sslart",
                description="SSLArtScanpath: painting-style Barlow Twins encoder, light decoder of per-step fixation densities.")
def sslart(weights: str | None = None) -> SSLArtScanpathModel:
    """The default temperature comes from sampling.json next to the weights (chosen on val scanpaths)."""
    network, notice, settings = load_pretrained(SSLArt, "sslart", weights)
    return SSLArtScanpathModel(network, notice, settings)
