"""The parts every saliency network here shares: learned Gaussian prior maps, a multi-scale (FPN-style) decoder
from encoder features to a stride-4 feature map, and the Gaussian blur kernel of the output."""
from __future__ import annotations

import math
import re

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


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


def upsample_like(y: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    return F.interpolate(y, size=like.shape[-2:], mode="bilinear", align_corners=False)


class FPNDecoder(nn.Module):
    """Encoder features at strides 4, 8, 16 and the (prepared) deepest map → (B, d/2, h4, w4): each step
    upsamples the coarser map and adds a 1×1 projection of the skip at that stride, then a 3×3 conv."""

    def __init__(self, skip_channels: tuple[int, int, int], deepest_channels: int, d: int):
        super().__init__()
        ch4, ch8, ch16 = skip_channels
        self.bottleneck = conv_bn_relu(deepest_channels, 2 * d, k=1)
        self.lateral16, self.fuse16 = conv_bn_relu(ch16, 2 * d, k=1), conv_bn_relu(2 * d, d)
        self.lateral8, self.fuse8 = conv_bn_relu(ch8, d, k=1), conv_bn_relu(d, d)
        self.lateral4, self.fuse4 = conv_bn_relu(ch4, d, k=1), conv_bn_relu(d, d // 2)

    def forward(self, f4: torch.Tensor, f8: torch.Tensor, f16: torch.Tensor, deepest: torch.Tensor) -> torch.Tensor:
        y = self.bottleneck(deepest)                                        # (B, 2d, h32, w32)
        y = self.fuse16(self.lateral16(f16) + upsample_like(y, f16))        # (B, d, h16, w16)
        y = self.fuse8(self.lateral8(f8) + upsample_like(y, f8))            # (B, d, h8, w8)
        return self.fuse4(self.lateral4(f4) + upsample_like(y, f4))         # (B, d/2, h4, w4)


_DECODER_LAYERS = re.compile(r"(^|\.)(bottleneck|lateral16|fuse16|lateral8|fuse8|lateral4|fuse4)\.")


def rename_legacy_decoder_keys(state: dict) -> dict:
    """Checkpoints from before the decoder was shared kept its layers on the network itself
    (`bottleneck.0.weight`); they now live under `decoder.` (`decoder.bottleneck.0.weight`)."""
    if any(".decoder." in k or k.startswith("decoder.") for k in state):
        return state
    return {_DECODER_LAYERS.sub(r"\1decoder.\2.", k): v for k, v in state.items()}


def gaussian_kernel(sigma: float) -> torch.Tensor:
    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=torch.float32)
    g = torch.exp(-0.5 * (t / sigma) ** 2)
    k2 = torch.outer(g, g)
    return (k2 / k2.sum())[None, None]                                     # (1, 1, k, k)
