"""Images into networks: RGB uint8 (H, W, 3) → float tensors in [0, 1], channels first."""
from __future__ import annotations

import cv2
import numpy as np
import torch


def to_chw(rgb: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 → (3, H, W) float32 in [0, 1], contiguous: a permuted (channels-last strided) tensor
    would make every convolution reorder its layout."""
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous().float() / 255.0


def image_batch(image: np.ndarray, size: tuple[int, int]) -> torch.Tensor:
    """RGB uint8 (H, W, 3) → (1, 3, h, w) at the network's input `size` (h, w), area-resampled."""
    h, w = size
    if image.shape[:2] != (h, w):
        image = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
    return to_chw(image)[None]
