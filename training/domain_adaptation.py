"""Photos → paintings domain adaptation by gradient reversal (Ganin & Lempitsky, ICML 2015), as SPGEn proposed.

A small classifier tells photo features (the gaze datasets) from painting features (unlabelled paintings); a
gradient-reversal layer between the encoder and that classifier flips the classifier's gradient, so the encoder
learns features the classifier cannot separate while the scanpath loss keeps them useful. The classifier reads
the encoder's deepest (stride-32) features, mean- and max-pooled.

    grl = GradientReversal.apply(features, lam)            # identity forward, −lam · gradient backward
    lam = grl_lambda(progress)                              # 0 → 1 over training (Ganin's schedule)
"""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import Dataset

HELD_OUT_EVERY = 10        # every 10th painting (sorted by file name) is kept out of training, for measuring


class GradientReversal(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: torch.Tensor, lam: float) -> torch.Tensor:
        ctx.lam = lam
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return -ctx.lam * grad, None


def grl_lambda(progress: float, gamma: float = 10.0) -> float:
    """Ganin's schedule 2 / (1 + exp(−γ·p)) − 1 for training progress p ∈ [0, 1]: starts at 0 (the classifier
    learns first), approaches 1."""
    return 2.0 / (1.0 + math.exp(-gamma * min(max(progress, 0.0), 1.0))) - 1.0


class DomainClassifier(nn.Module):
    """Encoder feature map (B, C, h, w) → logit of "painting" (B,), through the gradient-reversal layer."""

    def __init__(self, channels: int, hidden: int = 128):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * channels, hidden), nn.ReLU(), nn.Dropout(0.2), nn.Linear(hidden, 1))

    def forward(self, features: torch.Tensor, lam: float = 1.0) -> torch.Tensor:
        features = GradientReversal.apply(features, lam)
        pooled = torch.cat([features.mean(dim=(2, 3)), features.amax(dim=(2, 3))], dim=1)
        return self.net(pooled)[:, 0]


class PaintingImages(Dataset):
    """Unlabelled paintings (any folder of images; the shared set's `images/`) at the network input size.
    split "train" = all but every `HELD_OUT_EVERY`-th file, "val" = those."""

    def __init__(self, folder: str | Path, input_size: tuple[int, int], split: str = "train"):
        folder = Path(folder)
        folder = folder / "images" if (folder / "images").is_dir() else folder
        files = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        if split not in ("train", "val"):
            raise ValueError(f"split must be train or val; got {split}")
        self.files = [p for i, p in enumerate(files) if (i % HELD_OUT_EVERY == 0) == (split == "val")]
        if not self.files:
            raise ValueError(f"no painting images in {folder}")
        self.input_size = input_size

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> torch.Tensor:
        h, w = self.input_size
        with Image.open(self.files[i]) as im:
            rgb = np.asarray(im.convert("RGB"))
        rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA if rgb.shape[1] > w else cv2.INTER_LINEAR)
        if np.random.random() < 0.5:
            rgb = rgb[:, ::-1]
        return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).float() / 255.0
