"""Scanpath models: an image → sampled scanpaths, each an (n, 3) array of x, y (image pixels) and duration (ms).

- `saliency-sampler`: fixations drawn one by one from a saliency density, with inhibition of return and a
  saccade-amplitude prior; durations from a log-normal fitted on the train splits. A temperature T reshapes
  the density as p^(1/T): T → 0 always takes the most likely next location, large T wanders.
- `spgen`, `sslart`: the trained networks of models/nets, their trunk through ONNX Runtime (it runs once per
  image; the samples are read from its output).
"""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import torch

from models.nets.spgen import SPGEn
from models.nets.sslart import SSLArt
from models.registry import DEFAULT, create_model, register_model
from models.runtime.densities import to_density
from models.runtime.fold_bn import fold_batchnorm
from models.runtime.images import image_batch
from models.runtime.onnx import MethodModule, accelerate
from models.weights import ASSETS, load_pretrained


class SaliencySampler:
    """Saliency model + inhibition of return + saccade-amplitude prior; log-normal durations."""
    needs_gaze = False
    notice = ""
    runtime = "numpy"
    default_temperature = 1.0

    def __init__(self, saliency_model, stats: dict, grid_width: int = 64, ior_sigma: float = 0.06,
                 ior_strength: float = 0.9, saccade_sigma_factor: float = 2.0):
        self.saliency_model = saliency_model
        self.stats = stats
        self.grid_width = grid_width
        self.ior_sigma = ior_sigma                          # fraction of the image diagonal
        self.ior_strength = ior_strength                    # how much a visited place is suppressed
        self.saccade_sigma = saccade_sigma_factor * stats["amplitude_median_of_diagonal"]

    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None) -> list[np.ndarray]:
        """`count` scanpaths from one saliency map; path i is drawn with seed + i."""
        saliency = self.saliency_model.predict(image)
        seed = int(seed) if seed is not None else int(np.random.SeedSequence().entropy % 2**31)
        return [self.sample(image, n_fixations, temperature, seed + i, saliency) for i in range(count)]

    def sample(self, image: np.ndarray, n_fixations: int | None = None, temperature: float | None = None,
               seed: int | None = None, saliency: np.ndarray | None = None) -> np.ndarray:
        """(n, 3) x, y (pixels of `image`), duration_ms."""
        temperature = self.default_temperature if temperature is None else float(temperature)
        if temperature < 0:
            raise ValueError("temperature must be ≥ 0")
        rng = np.random.default_rng(seed)
        h, w = image.shape[:2]
        n = int(n_fixations or self.stats["length_median"])
        density = saliency if saliency is not None else self.saliency_model.predict(image)
        gh = max(4, round(self.grid_width * h / w))
        grid = to_density(cv2.resize(density, (self.grid_width, gh), interpolation=cv2.INTER_AREA))
        ys, xs = np.mgrid[0:gh, 0:self.grid_width]
        cx, cy = (xs + 0.5) / self.grid_width, (ys + 0.5) / gh      # cell centres in [0, 1]
        aspect = np.array([w, h]) / np.hypot(w, h)                   # unit square → fraction of diagonal
        log_p = np.log(grid)
        path = []
        for i in range(n):
            logits = log_p.copy()
            for (px, py) in path:                                    # inhibition of return
                d2 = ((cx - px) * aspect[0]) ** 2 + ((cy - py) * aspect[1]) ** 2
                logits += np.log1p(-self.ior_strength * np.exp(-d2 / (2 * self.ior_sigma**2)))
            if path:                                                 # short saccades are more common
                px, py = path[-1]
                d2 = ((cx - px) * aspect[0]) ** 2 + ((cy - py) * aspect[1]) ** 2
                logits += -d2 / (2 * self.saccade_sigma**2)
            if temperature == 0:
                k = int(np.argmax(logits))
                jitter = np.array([0.5, 0.5])
            else:
                z = logits.ravel() / temperature
                p = np.exp(z - z.max())
                k = int(rng.choice(p.size, p=p / p.sum()))
                jitter = rng.random(2)
            row, col = divmod(k, self.grid_width)
            path.append(((col + jitter[0]) / self.grid_width, (row + jitter[1]) / gh))
        if temperature == 0:
            durations = np.full(n, np.exp(self.stats["duration_log_mean"]))
        else:
            durations = np.exp(rng.normal(self.stats["duration_log_mean"],
                                          self.stats["duration_log_std"] * min(temperature, 1.0), n))
        xy = np.array(path) * np.array([w, h])
        return np.column_stack([np.clip(xy[:, 0], 0, w - 1e-3), np.clip(xy[:, 1], 0, h - 1e-3), durations])


def pixel_scanpaths(xy: torch.Tensor, log_duration: torch.Tensor, lengths: list[int],
                    image_hw: tuple[int, int]) -> list[np.ndarray]:
    """Network outputs (B, N, 2) in [0, 1] and (B, N) log-ms → B arrays (n_k, 3) x, y in image pixels, ms."""
    h, w = image_hw
    paths = []
    for k, n in enumerate(lengths):
        p = xy[k, :n].numpy() * np.array([w, h])
        paths.append(np.column_stack([np.clip(p[:, 0], 0, w - 1e-3), np.clip(p[:, 1], 0, h - 1e-3),
                                      log_duration[k, :n].exp().numpy()]))
    return paths


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
               seed: int | None = None) -> np.ndarray:
        return self.sample_batch(image, 1, temperature, n_fixations, seed)[0]


class SPGEnScanpathModel(NetworkScanpathModel):
    """SPGEn: the gate decides each path's length unless `n_fixations` is given; `sharpness` reads each fixation
    nearer its map's mode. A network with a duration distribution draws each fixation's duration from it (at
    T = 0 every duration is the distribution's median: the most typical viewer)."""

    def __init__(self, network: SPGEn, notice: str = "", default_temperature: float = 0.2, sharpness: float = 1.0):
        super().__init__(network, "latent_maps", notice, default_temperature)
        self.sharpness = sharpness

    @torch.inference_mode()
    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None) -> list[np.ndarray]:
        (maps, y), t, generator = self._settings(image, temperature, seed)
        out = self.network.read(maps.expand(count, -1, -1, -1), y.expand(count, -1, -1, -1), t, generator,
                                self.sharpness)
        cap = self.network.config.max_fixations
        lengths = [min(int(n_fixations) if n_fixations else max(1, int((out["exist"][k] > 0.5).sum())), cap)
                   for k in range(count)]
        log_duration = out["log_duration"]
        if "log_duration_sd" in out and t > 0:          # each viewer's durations drawn from the log-normal
            noise = torch.randn(log_duration.shape, generator=generator)
            log_duration = log_duration + out["log_duration_sd"] * noise
        return pixel_scanpaths(out["xy"], log_duration, lengths, image.shape[:2])


class SSLArtScanpathModel(NetworkScanpathModel):
    """SSLArt: a fixed number of fixations; `n_fixations` can only shorten the paths."""

    def __init__(self, network: SSLArt, notice: str = "", default_temperature: float = 0.2):
        super().__init__(network, "encode", notice, default_temperature)

    @torch.inference_mode()
    def sample_batch(self, image: np.ndarray, count: int, temperature: float | None = None,
                     n_fixations: int | None = None, seed: int | None = None) -> list[np.ndarray]:
        features, t, generator = self._settings(image, temperature, seed)
        out = self.network.decode(features.expand(count, -1, -1, -1), t, generator)
        n = min(int(n_fixations or self.network.config.n_fixations), self.network.config.n_fixations)
        return pixel_scanpaths(out["xy"], out["log_duration"], [n] * count, image.shape[:2])


@register_model("scanpath")
def saliency_sampler(saliency: str | None = None, weights: str | None = None) -> SaliencySampler:
    """Samples fixations from a saliency map with inhibition of return."""
    folder = Path(weights) if weights else ASSETS / "saliency-sampler"
    stats = json.loads((folder / "config.json").read_text())
    return SaliencySampler(create_model(saliency or DEFAULT["saliency"]), stats)


@register_model("scanpath", bundled="spgen", default=True,
                description="SPGEn: per-step fixation maps, soft-argmax, a length gate and durations; temperature noise.")
def spgen(weights: str | None = None) -> SPGEnScanpathModel:
    """The default temperature and read-out sharpness come from sampling.json next to the weights (chosen on
    val scanpaths)."""
    network, notice, settings = load_pretrained(SPGEn, "spgen", weights)
    return SPGEnScanpathModel(network, notice, settings.get("temperature", 0.2), settings.get("sharpness", 1.0))


@register_model("scanpath", bundled="sslart",
                description="SSLArtScanpath: painting-style Barlow Twins encoder, light 1-D conv decoder, fixed length.")
def sslart(weights: str | None = None) -> SSLArtScanpathModel:
    network, notice, settings = load_pretrained(SSLArt, "sslart", weights)
    return SSLArtScanpathModel(network, notice, settings.get("temperature", 0.2))
