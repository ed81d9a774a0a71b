"""Trainable saliency networks by name, and the wrapper that turns any of them into an image → density model.

A trainable network maps (B, 3, H, W) RGB in [0, 1] at its `input_size` to a log-density (B, H/s, W/s) with
`output_stride` s. Weights are loaded only from safetensors (save_pretrained folders)."""
from __future__ import annotations

import cv2
import numpy as np
import torch

from models.baselines import ASSETS
from models.effsal import EffSal
from models.registry import register_model


def effsal_lite0(pretrained: bool = False) -> EffSal:
    return EffSal({"encoder": "lite0"}, pretrained_encoder=pretrained)


def salnet(pretrained: bool = False):
    from models.salnet import SalNet
    return SalNet(pretrained_init=pretrained)


TRAINABLE = {"effsal-lite0": effsal_lite0, "salnet": salnet}


class TorchSaliencyModel:
    """Image (H, W, 3) uint8 → density (H, W): resize to the network input, run, resize the density back."""
    needs_gaze = False

    def __init__(self, network: torch.nn.Module, notice: str = ""):
        from models.fold_bn import fold_batchnorm
        from models.onnx_runtime import accelerate
        self.network = fold_batchnorm(network.float().eval())          # same outputs, fewer layers to run
        self.forward = accelerate(self.network, torch.rand(1, 3, *self.network.input_size))
        self.notice = notice                  # e.g. "Hub unreachable: using the bundled weights"

    @torch.inference_mode()
    def log_density(self, image: np.ndarray) -> torch.Tensor:
        """The network's log-density at its output resolution, (h/s, w/s) float32."""
        h, w = self.network.input_size
        x = image if image.shape[:2] == (h, w) else cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA)
        # contiguous NCHW: a permuted (channels-last strided) input makes every conv reorder its layout (+40 %)
        x = torch.from_numpy(x).permute(2, 0, 1)[None].contiguous().float().div_(255.0)      # (1, 3, h, w)
        return self.forward(x)[0]

    def predict(self, image: np.ndarray) -> np.ndarray:
        H, W = image.shape[:2]
        density = self.log_density(image).exp().numpy()                          # float32 is plenty here
        density = cv2.resize(density, (W, H), interpolation=cv2.INTER_LINEAR)
        density = np.maximum(density, 0, out=density).astype(np.float64) + 1e-12
        return density / density.sum()


def load_trainable(name: str, weights: str | None = None) -> TorchSaliencyModel:
    """weights: None = bundled assets/weights/<name>, a save_pretrained folder, or 'hub:REPO@REV'."""
    from models.hub import resolve_weights
    folder, notice = resolve_weights(name, weights)
    cls = type(TRAINABLE[name](pretrained=False))
    network = cls.from_pretrained(str(folder), strict=True)
    return TorchSaliencyModel(network, notice)


def bundled_weights_exist(name: str) -> bool:
    return (ASSETS / name / "model.safetensors").is_file()


for _name in TRAINABLE:
    if bundled_weights_exist(_name):         # only models with trained weights are offered
        def _builder(weights: str | None = None, _n=_name):
            return load_trainable(_n, weights)
        _builder.__name__ = _name.replace("-", "_")
        _builder.__doc__ = f"{_name}: trained on osie + mit1003 train splits (see its model card)."
        register_model("saliency")(_builder)
