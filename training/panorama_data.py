"""Synthetic 360° training data for ATSal, built from 2D gaze datasets: paste 1–3 gaze images on a background
panorama (training/panorama_synthesis.make_synthetic_panorama) and carry their fixations onto the sphere.

    backgrounds = load_backgrounds("train", size=(256, 512))          # $GAZE_DATA/panoramas, resized once
    train = SyntheticPanoramaSet(["osie", "mit1003"], "train", backgrounds, input_size=(256, 512))
    x, target, fixations = train[0]                                   # attention-stream sample
    sample = train.render(0)                                          # full PanoramaSample (numpy)
    faces = face_targets(sample.image, sample.density, face_w=192)    # expert samples, per cube face
    held_out = evaluation_panoramas(["osie", "mit1003"], n=50, seed=0)   # test-split images only

Every item is a pure function of (seed, index): the same pair always gives the same panorama, whatever was
drawn before, so workers and epochs never change the data. Backgrounds are split too (`load_backgrounds`): the
evaluation panoramas use scenes the model never trained on, pasted with test-split images only.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from models.runtime.panorama import face_jacobian
from models.runtime.projections import FACES, equirect_to_faces
from training.panorama_synthesis import make_horizon_panorama, make_synthetic_panorama
from training.config import gaze_data_root
from training.datasets import GazeDataset, load_dataset

BACKGROUND_EXTENSIONS = (".jpg", ".jpeg", ".png")
# How gaze images are laid out on a panorama: "horizon" = 5–7 images around the horizon, feathered, latitudes
# of real 360° viewing (make_horizon_panorama); "scattered" = 1–3 hard-edged images at random pitch (the first
# ATSal weights were trained on these; their gaze marks where an image was pasted).
LAYOUTS = {"horizon": (5, 7), "scattered": (1, 3)}
HELD_OUT_EVERY = 4        # every 4th background (sorted by name) is kept for evaluation


@dataclass
class PanoramaSample:
    image: np.ndarray                     # (H, W, 3) uint8 ERP
    density: np.ndarray                   # (H, W) per solid angle, sums to 1
    fixations: np.ndarray                 # (M, 2) x, y continuous ERP pixels of the visible fixations
    sources: list[tuple[str, str]] = field(default_factory=list)   # (dataset, image) pasted, in order
    name: str = ""


def load_backgrounds(split: str | None = None, size: tuple[int, int] = (256, 512),
                     root: str | Path | None = None) -> list[np.ndarray]:
    """Background ERP panoramas (H, W, 3) uint8 resized to `size` (H, W), sorted by file name.

    split: None = all; "train" = all but every `HELD_OUT_EVERY`-th file; "val"/"test" = those held-out files.
    root: default $GAZE_DATA/panoramas.
    """
    root = Path(root) if root is not None else gaze_data_root() / "panoramas"
    paths = sorted(p for p in root.iterdir() if p.suffix.lower() in BACKGROUND_EXTENSIONS) if root.is_dir() else []
    if split is not None:
        if split not in ("train", "val", "test"):
            raise ValueError(f"unknown split '{split}'; choose train, val or test")
        held_out = {i for i in range(len(paths)) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1}
        paths = [p for i, p in enumerate(paths) if (i in held_out) == (split != "train")]
    if not paths:
        raise ValueError(f"no {split or ''} background panoramas in {root} (set GAZE_DATA to the shared data folder)")
    out = []
    for path in paths:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        out.append(cv2.resize(rgb, size[::-1], interpolation=cv2.INTER_AREA))
    return out


class SyntheticPanoramaSet(Dataset):
    """Item i → (ERP image (3, H, W) float in [0, 1], target density (H/4, W/4) summing to 1 (per solid angle),
    fixation counts (H/4, W/4)), at the attention stream's `input_size` (H, W).

    names, split : gaze datasets (names under $GAZE_DATA/gaze or folders) and the split whose images are pasted.
    backgrounds : ERP arrays (any size; resized to `render_size`). A random longitude roll varies them.
    length : items per epoch (the pool of combinations is practically unbounded).
    layout : "horizon" or "scattered" (`LAYOUTS`); items_per_panorama defaults to the layout's range.
    render_size : resolution the panorama is built at (default `input_size`); larger gives sharper faces for
        `face_targets` — `render(i)` returns it, `__getitem__` resizes to `input_size`.
    """

    def __init__(self, names: list[str], split: str, backgrounds: list[np.ndarray],
                 input_size: tuple[int, int] = (256, 512), output_stride: int = 4, length: int = 1000,
                 seed: int = 0, items_per_panorama: tuple[int, int] | None = None,
                 fov_deg: tuple[float, float] = (50.0, 80.0), render_size: tuple[int, int] | None = None,
                 limit: int | None = None, layout: str = "horizon"):
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout '{layout}'; choose one of {', '.join(LAYOUTS)}")
        self.layout = layout
        items_per_panorama = tuple(items_per_panorama or LAYOUTS[layout])
        if not backgrounds:
            raise ValueError("give at least one background panorama")
        if input_size[0] % output_stride or input_size[1] % output_stride:
            raise ValueError(f"input_size {input_size} must be a multiple of output_stride {output_stride}")
        self.input_size, self.output_stride = tuple(input_size), output_stride
        self.render_size = tuple(render_size or input_size)
        self.length, self.seed = length, seed
        self.items_per_panorama, self.fov_deg = items_per_panorama, fov_deg
        self.backgrounds = [cv2.resize(np.asarray(b, dtype=np.uint8), self.render_size[::-1],
                                       interpolation=cv2.INTER_AREA) for b in backgrounds]
        self.datasets: list[GazeDataset] = [load_dataset(name, split) for name in names]
        self.pool = [(d, image) for d, ds in enumerate(self.datasets) for image in ds.images[:limit]
                     if len(ds.fixations(image))]
        if not self.pool:
            raise ValueError(f"no images with fixations in {names} / {split}")
        # A pasted image spans at most ~90° of the 360° width: half the render width is plenty of pixels.
        self.max_image_width = max(32, self.render_size[1] // 2)

    def __len__(self) -> int:
        return self.length

    def _load(self, d: int, image: str) -> tuple[np.ndarray, np.ndarray, float]:
        """Image shrunk to at most `max_image_width`, its fixations and blur σ in the same pixels."""
        ds = self.datasets[d]
        rgb = ds.load_image(image)
        scale = min(1.0, self.max_image_width / rgb.shape[1])
        if scale < 1.0:
            size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
            scale = (size[0] / ds.sizes[image][0])
        return rgb, ds.fixations(image) * scale, ds.sigma_px * scale

    def render(self, index: int) -> PanoramaSample:
        """The full-resolution sample of item `index` (numpy), deterministic per (seed, index)."""
        rng = np.random.default_rng([self.seed, index])
        background = self.backgrounds[rng.integers(len(self.backgrounds))]
        background = np.roll(background, int(rng.integers(background.shape[1])), axis=1)   # new longitude origin
        low, high = self.items_per_panorama
        n = min(int(rng.integers(low, high + 1)), len(self.pool))
        picks = rng.choice(len(self.pool), size=n, replace=False)
        items, sigmas, sources = [], [], []
        for k in picks:
            d, image = self.pool[k]
            rgb, fixations, sigma = self._load(d, image)
            items.append((rgb, fixations))
            sigmas.append(sigma)
            sources.append((self.datasets[d].name, image))
        # One blur for all pasted images (make_synthetic_panorama takes one σ): 1 dva of each, averaged.
        make = make_horizon_panorama if self.layout == "horizon" else make_synthetic_panorama
        pano, density, fixations = make(background, items, rng, fov_deg=self.fov_deg, sigma_px=float(np.mean(sigmas)))
        return PanoramaSample(pano, density, fixations, sources, name=f"synthetic-{self.seed}-{index}")

    def __getitem__(self, index: int):
        if not 0 <= index < self.length:
            raise IndexError(index)
        s = self.render(index)
        H, W = self.input_size
        image, density, fixations = s.image, s.density, s.fixations
        if (H, W) != self.render_size:
            fixations = fixations * np.array([W / self.render_size[1], H / self.render_size[0]])
            image = cv2.resize(image, (W, H), interpolation=cv2.INTER_AREA)
            density = cv2.resize(density, (W, H), interpolation=cv2.INTER_AREA)
        h, w = H // self.output_stride, W // self.output_stride
        # Block means keep a per-solid-angle density per-solid-angle; renormalise to sum 1 over pixels.
        target = density.reshape(h, self.output_stride, w, self.output_stride).mean(axis=(1, 3))
        target = (target / target.sum()).astype(np.float32)
        counts = np.zeros((h, w), dtype=np.float32)
        cols = np.clip(np.floor(fixations[:, 0] / self.output_stride).astype(int), 0, w - 1)
        rows = np.clip(np.floor(fixations[:, 1] / self.output_stride).astype(int), 0, h - 1)
        np.add.at(counts, (rows, cols), 1.0)
        x = torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1).float() / 255.0
        return x, torch.from_numpy(target), torch.from_numpy(counts)


def face_targets(equi_image: np.ndarray, density: np.ndarray, face_w: int = 192,
                 output_stride: int = 4) -> dict[str, torch.Tensor]:
    """Expert training targets on the six cube faces (order models.projections.FACES: F R B L U D).

    equi_image : (H, W, 3) uint8 ERP; density : (H, W) per solid angle (e.g. `PanoramaSample.density`).
    Returns {"images": (6, 3, s, s) float in [0, 1], "density": (6, s/4, s/4) probability over each face's
    pixels (sums to 1, or all zero for a face without gaze), "weight": (6,) each face's share of the sphere
    mass (sums to 1)}. The experts are trained per face against these (models.atsal.expert_loss); the
    ERP-level map is only assembled at inference (models.atsal.faces_to_equirect_density).
    """
    if face_w % output_stride:
        raise ValueError(f"face_w {face_w} must be a multiple of output_stride {output_stride}")
    images = equirect_to_faces(np.asarray(equi_image, dtype=np.uint8), face_w)
    sampled = equirect_to_faces(np.asarray(density, dtype=np.float64), face_w)
    jac = face_jacobian(face_w)                     # solid angle per face pixel: density × it = mass
    n = face_w // output_stride
    masses = np.stack([np.clip(sampled[k], 0, None) * jac for k in FACES])               # (6, s, s)
    masses = masses.reshape(6, n, output_stride, n, output_stride).sum(axis=(2, 4))    # (6, s/4, s/4)
    totals = masses.sum(axis=(1, 2))                                                   # (6,)
    if totals.sum() <= 0:
        raise ValueError("the density has no mass on any cube face")
    per_face = masses / np.where(totals > 0, totals, 1.0)[:, None, None]
    x = torch.from_numpy(np.stack([images[k] for k in FACES])).permute(0, 3, 1, 2).float() / 255.0
    return {"images": x, "density": torch.from_numpy(per_face.astype(np.float32)),
            "weight": torch.from_numpy((totals / totals.sum()).astype(np.float32))}


def evaluation_panoramas(dataset_names: list[str], split: str = "test", n: int = 50, seed: int = 0,
                         backgrounds: list[np.ndarray] | None = None, size: tuple[int, int] = (512, 1024),
                         items_per_panorama: tuple[int, int] | None = None,
                         layout: str = "horizon") -> list[PanoramaSample]:
    """`n` held-out synthetic panoramas (H, W = `size`) pasted with images of `split` only ("test", or "val"
    for model selection; never "train"). Backgrounds default to the held-out ones of `load_backgrounds`."""
    if split not in ("val", "test"):
        raise ValueError(f"evaluation panoramas are built from held-out images only (val or test); got '{split}'")
    if backgrounds is None:
        backgrounds = load_backgrounds(split, size)
    builder = SyntheticPanoramaSet(dataset_names, split, backgrounds, input_size=size, length=n, seed=seed,
                                   items_per_panorama=items_per_panorama, layout=layout)
    return [builder.render(i) for i in range(n)]
