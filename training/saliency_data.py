"""Training samples for saliency models: images resized to the network input, with augmentations that move the
fixations with the image (flip, scale-crop) and photometric ones; targets built at the output resolution.

Style augmentation (`style_p` > 0, with a `PaintingLook` from training paintings): that share of the training
images takes the Lab colour statistics of a random *training* painting (Reinhard transfer) and the Barlow Twins
views' texture changes (blur or sharpening, grain, posterisation), keeping the geometry so the fixations stay
valid. A val set can instead be rendered in the painterly test styles (`copies`, one style per image in turn),
to choose an epoch on paintings too; the test splits are never used."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter
from torch.utils.data import Dataset

from training.config import gaze_data_root
from training.datasets import GazeDataset, load_dataset
from training.style_views import lab_statistics, photometric_and_texture, transfer_colour

# What `_augment` applies (train only). Declared for training.painterly: no painterly test style may be one of these.
AUGMENTATIONS = ("horizontal-flip", "zoom-crop", "contrast-brightness-jitter", "saturation-jitter", "greyscale",
                 "reinhard-colour-transfer", "gaussian-blur", "unsharp-sharpening", "film-grain", "posterise")


class PaintingLook:
    """Gives a photo the colours of a random training painting and a painted texture (style_views' transforms)."""

    def __init__(self, folder: str | Path | None = None):
        from training.domain_adaptation import PaintingImages
        folder = Path(folder) if folder else gaze_data_root() / "paintings"
        if not folder.is_dir():
            raise FileNotFoundError(f"no paintings at {folder}: style augmentation takes its colours from them")
        files = PaintingImages(folder, (1, 1), split="train").files        # never the held-out paintings
        self.stats = [lab_statistics(_thumbnail(f)) for f in files]

    def __call__(self, rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean, std = self.stats[rng.integers(len(self.stats))]
        return photometric_and_texture(transfer_colour(rgb, mean, std, strength=rng.uniform(0.5, 1.0)), rng)


def _thumbnail(path: Path, side: int = 64) -> np.ndarray:
    with Image.open(path) as im:
        im.draft("RGB", (2 * side, 2 * side))                 # JPEG: decode at a reduced size, much faster
        return np.asarray(im.convert("RGB").resize((side, side), Image.BILINEAR))


class SaliencyTrainingSet(Dataset):
    """Preloads every image of the given splits at `input_size` (H, W); returns
    (image float (3, H, W) in [0, 1], empirical map (h, w) summing to 1, fixation counts (h, w)).
    `look` with `style_p`: style augmentation (train); `copies(dataset)`: the copies of a dataset to take image i
    from, copy i % len in turn (val in the painterly test styles); default the dataset itself."""

    def __init__(self, names: list[str], split: str, input_size: tuple[int, int], output_stride: int = 4,
                 augment: bool = False, seed: int = 0, limit: int | None = None, look: PaintingLook | None = None,
                 style_p: float = 0.0, copies: Callable[[GazeDataset], list[GazeDataset]] | None = None):
        if style_p > 0 and look is None:
            raise ValueError("style_p > 0 needs a PaintingLook to apply")
        self.input_size, self.augment, self.look, self.style_p = input_size, augment, look, style_p
        self.output_size = (input_size[0] // output_stride, input_size[1] // output_stride)
        self.rng = np.random.default_rng(seed)
        self.images, self.fixations, self.sigmas = [], [], []
        for name in names:
            ds = load_dataset(name, split)
            sources = copies(ds) if copies else [ds]
            for j, image in enumerate(ds.images[:limit]):
                width, height = ds.sizes[image]
                rgb = sources[j % len(sources)].load_image(image)
                self.images.append(cv2.resize(rgb, input_size[::-1], interpolation=cv2.INTER_AREA))
                self.fixations.append(ds.fixations(image) / np.array([width, height]))   # normalised x, y
                self.sigmas.append(ds.sigma_px / width)            # σ as a fraction of the image width
        if not self.images:
            raise ValueError(f"no images in {names} / {split}")

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        image, fix = self.images[i], self.fixations[i].copy()
        sigma = self.sigmas[i]
        if self.augment:
            image, fix, sigma = self._augment(image, fix, sigma)
        h, w = self.output_size
        counts = np.zeros((h, w), dtype=np.float32)
        cols = np.clip((fix[:, 0] * w).astype(int), 0, w - 1)
        rows = np.clip((fix[:, 1] * h).astype(int), 0, h - 1)
        np.add.at(counts, (rows, cols), 1.0)
        target = gaussian_filter(counts, sigma * w, mode="reflect")
        target /= max(target.sum(), 1e-12)
        x = torch.from_numpy(image).permute(2, 0, 1).float() / 255.0
        return x, torch.from_numpy(target), torch.from_numpy(counts)

    def _augment(self, image: np.ndarray, fix: np.ndarray, sigma: float):
        rng = self.rng
        H, W = image.shape[:2]
        if rng.random() < 0.5:                                       # horizontal flip
            image = image[:, ::-1]
            fix = fix * [-1, 1] + [1, 0]
        if rng.random() < 0.5:                                       # zoom in: crop a box, resize back
            s = rng.uniform(0.75, 1.0)
            x0, y0 = rng.uniform(0, 1 - s, 2)
            moved = (fix - [x0, y0]) / s
            inside = (moved >= 0).all(1) & (moved < 1).all(1)
            if inside.sum() >= 5:                                    # keep only crops that still hold gaze
                box = image[int(y0 * H):int((y0 + s) * H), int(x0 * W):int((x0 + s) * W)]
                image = cv2.resize(box, (W, H), interpolation=cv2.INTER_LINEAR)
                fix, sigma = moved[inside], sigma / s
        if self.style_p > 0 and rng.random() < self.style_p:      # painted look, with its own photometric jitter
            return self.look(np.ascontiguousarray(image), rng), fix, sigma
        img = image.astype(np.float32)
        img = img * rng.uniform(0.75, 1.25) + rng.uniform(-20, 20)   # contrast, brightness
        gray = img.mean(2, keepdims=True)
        img = gray + (img - gray) * rng.uniform(0.6, 1.4)            # saturation
        if rng.random() < 0.1:
            img = np.repeat(gray, 3, axis=2)
        return np.clip(img, 0, 255).astype(np.uint8), fix, sigma
