"""Scanpath training data: every image with all its subjects' scanpaths, padded, with masks.

    ds = ScanpathTrainingSet(["osie", "mit1003"], "train", input_size=(288, 384))
    image, paths, mask = ds[0]     # (3, H, W) in [0, 1]; (S, N, 3) x/W, y/H, log duration_ms; (S, N) bool

S = `max_subjects` (subjects beyond it are dropped, missing ones are all-False rows), N = `max_fixations`
(longer scanpaths are cut: the model generates at most N). Augmentation (train only): a horizontal flip moves
the fixations with the image (x → 1 − x); scanpath order and durations are unchanged by it.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from training.datasets import load_dataset

# What `__getitem__` applies with augment=True. Declared for training.painterly: no painterly test style may be
# one of these.
AUGMENTATIONS = ("horizontal-flip",)
MIN_DURATION_MS = 20.0          # clamp before the log: a few recorded durations are 0


class ScanpathTrainingSet(Dataset):
    def __init__(self, names: list[str], split: str, input_size: tuple[int, int], max_fixations: int = 12,
                 max_subjects: int = 16, augment: bool = False):
        self.datasets = [load_dataset(name, split) for name in names]
        self.items = [(d, image) for d, ds in enumerate(self.datasets) for image in ds.images
                      if any(len(p) for p in ds.scanpaths(image).values())]
        if not self.items:
            raise ValueError(f"no scanpaths in {names} / {split}")
        self.input_size, self.max_fixations, self.max_subjects = input_size, max_fixations, max_subjects
        self.augment = augment

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int):
        d, name = self.items[i]
        ds = self.datasets[d]
        h, w = self.input_size
        rgb = cv2.resize(ds.load_image(name), (w, h), interpolation=cv2.INTER_AREA)
        paths, mask = scanpath_tensor(ds.scanpaths(name), ds.sizes[name], self.max_subjects, self.max_fixations)
        if self.augment and np.random.random() < 0.5:
            rgb = rgb[:, ::-1]
            paths[..., 0] = np.where(mask, 1.0 - paths[..., 0], 0.0)
        image = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
        return image, torch.from_numpy(paths), torch.from_numpy(mask)


def scanpath_tensor(scanpaths: dict[str, np.ndarray], size: tuple[int, int], max_subjects: int,
                    max_fixations: int) -> tuple[np.ndarray, np.ndarray]:
    """{subject: (n, 3) x, y, ms} and image (width, height) → ((S, N, 3) float32 x/W, y/H, log ms; (S, N) bool)."""
    w, h = size
    paths = np.zeros((max_subjects, max_fixations, 3), np.float32)
    mask = np.zeros((max_subjects, max_fixations), bool)
    for s, subject in enumerate(sorted(scanpaths)[:max_subjects]):
        p = np.asarray(scanpaths[subject], dtype=np.float64)[:max_fixations]
        n = len(p)
        paths[s, :n, 0] = np.clip(p[:, 0] / w, 0.0, 1.0 - 1e-6)
        paths[s, :n, 1] = np.clip(p[:, 1] / h, 0.0, 1.0 - 1e-6)
        paths[s, :n, 2] = np.log(np.maximum(p[:, 2], MIN_DURATION_MS))
        mask[s, :n] = True
    return paths, mask
