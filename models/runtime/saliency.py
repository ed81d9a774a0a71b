"""Trained saliency networks as registry models: image (H, W, 3) uint8 → density (H, W).

A saliency network maps (B, 3, h, w) RGB in [0, 1] at its `input_size` to a log-density (B, h/s, w/s) with
`output_stride` s (models/nets)."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from models.nets.effsal import EffSal
from models.nets.salnet import SalNet
from models.registry import register_model
from models.runtime.images import image_batch
from models.runtime.onnx import accelerate
from models.runtime.fold_bn import fold_batchnorm
from models.weights import load_pretrained


class NetworkSaliencyModel:
    """Resize to the network input, run it (through ONNX Runtime when it can), resize the density back."""
    needs_gaze = False

    def __init__(self, network: torch.nn.Module, notice: str = ""):
        self.network = fold_batchnorm(network.float().eval())          # same outputs, fewer layers to run
        self.forward = accelerate(self.network, torch.rand(1, 3, *self.network.input_size))
        self.notice = notice

    @property
    def runtime(self) -> str:
        return self.forward.runtime

    @torch.inference_mode()
    def log_density(self, image: np.ndarray) -> torch.Tensor:
        """The network's log-density at its output resolution, (h/s, w/s) float32."""
        return self.forward(image_batch(image, self.network.input_size))[0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        H, W = image.shape[:2]
        density = self.log_density(image).exp().numpy()                          # float32 is plenty here
        density = cv2.resize(density, (W, H), interpolation=cv2.INTER_LINEAR)
        density = np.maximum(density, 0, out=density).astype(np.float64) + 1e-12
        return density / density.sum()


@register_model("saliency", bundled="effsal-lite0", default=True)
def effsal_lite0(weights: str | None = None) -> NetworkSaliencyModel:
    """effsal-lite0: trained on osie + mit1003 train splits (see its model card)."""
    network, notice, _ = load_pretrained(EffSal, "effsal-lite0", weights)
    return NetworkSaliencyModel(network, notice)


@register_model("saliency", bundled="salnet")
def salnet(weights: str | None = None) -> NetworkSaliencyModel:
    """salnet: trained on osie + mit1003 train splits (see its model card)."""
    network, notice, _ = load_pretrained(SalNet, "salnet", weights)
    return NetworkSaliencyModel(network, notice)
