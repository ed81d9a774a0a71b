"""EffSal: an EfficientNet-Lite encoder, learned Gaussian prior maps in the bottleneck, and a multi-scale
(FPN-style) decoder that outputs a log-density over pixels.

Ideas taken from the seed systems, done correctly:
- learned Gaussian priors concatenated with the deepest features (SPGEn / UNISAL); here they are trainable
  (SPGEn's released code froze them by mistake);
- the output is a log-density normalised with logsumexp (DeepGaze), so it can be scored by log-likelihood and
  every metric sees a proper probability map.
Encoder: Tan & Le, "EfficientNet", ICML 2019 (Lite variants: no squeeze-excitation, ReLU6).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from models.efficientnet_lite import create_encoder


@dataclass
class EffSalConfig:
    encoder: str = "lite0"
    input_height: int = 288            # the network's own input size; any image is resized to it
    input_width: int = 384
    decoder_channels: int = 64
    n_priors: int = 16                 # learned Gaussian prior maps in the bottleneck
    output_blur_sigma: float = 1.5     # in output pixels (stride 4): smooths the final density like a 1-dva blur


class GaussianPriors(nn.Module):
    """K Gaussian maps with trainable means and log-stds on a [0, 1]² grid (parameters [K, y/x, mu/log_std])."""

    def __init__(self, n_priors: int):
        super().__init__()
        rng = np.random.default_rng(0)
        init = np.zeros((n_priors, 2, 2), dtype=np.float32)
        grid = [(y, x) for y in (0.25, 0.5, 0.75) for x in (0.25, 0.5, 0.75)]
        for k in range(n_priors):
            mu = grid[k] if k < len(grid) else tuple(rng.uniform(0.2, 0.8, 2))
            init[k, :, 0] = mu
            init[k, :, 1] = -1.5 if k < len(grid) else rng.uniform(-2.0, 0.0, 2)
        if n_priors:
            init[-1] = [[0.5, 0.0], [0.5, 0.0]]      # one broad central blob
        self.params = nn.Parameter(torch.from_numpy(init))

    def forward(self, height: int, width: int) -> torch.Tensor:
        p = self.params
        ys = torch.linspace(0, 1, height, device=p.device)[None, :, None]          # (1, h, 1)
        xs = torch.linspace(0, 1, width, device=p.device)[None, None, :]           # (1, 1, w)
        gy = torch.exp(-0.5 * ((ys - p[:, 0, 0, None, None]) / p[:, 0, 1, None, None].exp()) ** 2)
        gx = torch.exp(-0.5 * ((xs - p[:, 1, 0, None, None]) / p[:, 1, 1, None, None].exp()) ** 2)
        return gy * gx                                                               # (K, h, w)


def conv_bn_relu(cin: int, cout: int, k: int = 3) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, padding=k // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class EffSal(nn.Module, PyTorchModelHubMixin, library_name="visual-attention-studio", license="apache-2.0",
             tags=["saliency", "eye-tracking", "visual-attention"]):
    """Image (B, 3, H, W) RGB in [0, 1] → log-density (B, H/4, W/4) over output pixels (logsumexp = 0)."""

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        self.config = EffSalConfig(**(arch or {}))     # `arch`, not `config`: the Hub mixin reserves that name
        c = self.config
        self.encoder = create_encoder(c.encoder, pretrained=pretrained_encoder)
        ch4, ch8, ch16, ch32 = self.encoder.feature_channels
        d = c.decoder_channels
        self.priors = GaussianPriors(c.n_priors)
        self.bottleneck = conv_bn_relu(ch32 + c.n_priors, 2 * d, k=1)
        self.lateral16 = conv_bn_relu(ch16, 2 * d, k=1)
        self.fuse16 = conv_bn_relu(2 * d, d)
        self.lateral8 = conv_bn_relu(ch8, d, k=1)
        self.fuse8 = conv_bn_relu(d, d)
        self.lateral4 = conv_bn_relu(ch4, d, k=1)
        self.fuse4 = conv_bn_relu(d, d // 2)
        self.head = nn.Conv2d(d // 2, 1, 3, padding=1)
        blur = _gaussian_kernel(c.output_blur_sigma)
        self.register_buffer("blur", blur, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.features(x)                                               # (B, d/2, h4, w4)
        b = y.shape[0]
        logits = self.head(y)                                              # (B, 1, h4, w4)
        logits = F.conv2d(F.pad(logits, [self.blur.shape[-1] // 2] * 4, mode="replicate"), self.blur)
        logits = logits.flatten(1)
        log_density = logits - torch.logsumexp(logits, dim=1, keepdim=True)
        return log_density.view(b, *y.shape[-2:])                          # (B, h4, w4)

    def features(self, x: torch.Tensor, with_deepest: bool = False):
        """The decoder's last feature map (B, d/2, H/4, W/4), before the saliency head (SPGEn reads it); with
        `with_deepest`, also the encoder's stride-32 map (for a domain classifier)."""
        f4, f8, f16, f32 = self.encoder.forward_features(x)              # strides 4, 8, 16, 32
        b = f32.shape[0]
        priors = self.priors(*f32.shape[-2:]).unsqueeze(0).expand(b, -1, -1, -1)   # (B, K, h32, w32)
        y = self.bottleneck(torch.cat([f32, priors], dim=1))               # (B, 2d, h32, w32)
        y = self.fuse16(self.lateral16(f16) + _up(y, f16))                # (B, d, h16, w16)
        y = self.fuse8(self.lateral8(f8) + _up(y, f8))                    # (B, d, h8, w8)
        y = self.fuse4(self.lateral4(f4) + _up(y, f4))                    # (B, d/2, h4, w4)
        return (y, f32) if with_deepest else y

    output_stride = 4

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def freeze_batchnorm_where_pretrained(self) -> None:
        """Keep the encoder's ImageNet BatchNorm statistics: small batches would only add noise to them."""
        for m in self.encoder.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()

    def config_dict(self) -> dict:
        return asdict(self.config)


def _up(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(y, size=like.shape[-2:], mode="bilinear", align_corners=False)


def _gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    k2 = torch.outer(g, g)
    return (k2 / k2.sum())[None, None]                                     # (1, 1, k, k)
