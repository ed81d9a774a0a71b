"""SSLArtScanpath: an encoder pretrained without labels on paintings (Barlow Twins over painting styles,
training/pretrain_barlow.py), then a light decoder that regresses a fixed number of fixations.

After docs/seed-models.md §1 (Tliba et al., CVPRW 2022), written from the figure since the scanpath model was
never released:
- encoder features (stride 32) concatenated with learned Gaussian priors, a 1×1 conv, flattened into a
  sequence of h·w positions (80 at the 256×320 input, as in the figure), plus a positional encoding;
- two parallel 1-D branches, one for x and one for y: Conv1D + MaxPool1D, then Conv1D + a max over the
  remaining positions, giving one value per fixation; a fixed number N of fixations (8 here: the median
  scanpath length of the train splits; the figure has 16);
- additions, so it serves the studio like the other scanpath models: a third branch of the same shape for
  log-duration (the figure has no timing), and temperature noise `(1 − T)·h + T·ε` on the standardised
  sequence before the positional encoding is added (the content is perturbed, the position reference is not),
  so T = 0 is deterministic.

    net = SSLArt().eval()
    out = net(images, temperature=0.2)          # {"xy" (B, N, 2) in [0, 1], "log_duration" (B, N)}
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
from huggingface_hub import PyTorchModelHubMixin

from models.nets.decoder import GaussianPriors
from models.nets.efficientnet_lite import create_encoder


@dataclass
class SSLArtConfig:
    encoder: str = "lite0"
    input_height: int = 256              # stride 32 → an 8 × 10 grid = 80 sequence positions
    input_width: int = 320
    n_priors: int = 16
    channels: int = 64                   # sequence width after the 1×1 conv
    n_fixations: int = 8                 # fixed length of every generated scanpath
    duration_log_mean: float = 5.33      # log-ms, initial bias of the duration branch (train-split mean)


def positional_encoding(channels: int, height: int, width: int) -> torch.Tensor:
    """(channels, height·width) 2-D sinusoidal encoding: half the channels code the row, half the column."""
    half = channels // 2
    freqs = torch.exp(-math.log(100.0) * torch.arange(0, half, 2).float() / half)            # (half / 2,)
    def code(n):                                                                              # (half, n)
        pos = torch.arange(n).float()[None] * freqs[:, None]
        return torch.cat([pos.sin(), pos.cos()], dim=0)
    rows = code(height)[:, :, None].expand(half, height, width)
    cols = code(width)[:, None, :].expand(half, height, width)
    return torch.cat([rows, cols], dim=0).flatten(1)


class CoordinateBranch(nn.Sequential):
    """(B, C, L) → (B, N): Conv1D + MaxPool1D halves the positions, Conv1D + a max over what is left."""

    def __init__(self, channels: int, n_out: int, hidden: int = 64):
        super().__init__(nn.Conv1d(channels, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool1d(2),
                         nn.Conv1d(hidden, n_out, 3, padding=1), nn.AdaptiveMaxPool1d(1), nn.Flatten(1))


class SSLArt(nn.Module, PyTorchModelHubMixin, library_name="visual-attention-studio", license="apache-2.0",
             tags=["scanpath", "eye-tracking", "visual-attention", "self-supervised", "paintings"]):
    """Image (B, 3, H, W) RGB in [0, 1] → a fixed-length scanpath (x/W, y/H) and log-durations."""

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        self.config = c = SSLArtConfig(**(arch or {}))
        self.encoder = create_encoder(c.encoder, pretrained=pretrained_encoder)
        self.priors = GaussianPriors(c.n_priors)
        self.squeeze = nn.Sequential(nn.Conv2d(self.encoder.feature_channels[-1] + c.n_priors, c.channels, 1),
                                     nn.ReLU(inplace=True))
        self.branch_x = CoordinateBranch(c.channels, c.n_fixations)
        self.branch_y = CoordinateBranch(c.channels, c.n_fixations)
        self.branch_duration = CoordinateBranch(c.channels, c.n_fixations)
        nn.init.constant_(self.branch_duration[3].bias, c.duration_log_mean)

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) → the encoder's stride-32 features (B, C, h, w). Training caches these when the
        encoder is frozen."""
        return self.encoder.forward_features(x)[-1]

    def decode(self, features: torch.Tensor, temperature: float = 0.0,
               generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        if not 0.0 <= temperature <= 1.0:
            raise ValueError(f"temperature must be in [0, 1]; got {temperature}")
        b, _, h, w = features.shape
        priors = self.priors(h, w).unsqueeze(0).expand(b, -1, -1, -1)
        seq = self.squeeze(torch.cat([features, priors], dim=1)).flatten(2)           # (B, C, L)
        seq = seq - seq.mean(dim=(1, 2), keepdim=True)
        seq = seq / seq.std(dim=(1, 2), keepdim=True).clamp_min(1e-4)                 # mean 0, std 1 per image
        if temperature > 0:
            noise = torch.randn(seq.shape, generator=generator, device=seq.device, dtype=seq.dtype)
            seq = (1 - temperature) * seq + temperature * noise
        seq = seq + positional_encoding(seq.shape[1], h, w).to(seq)
        xy = torch.stack([self.branch_x(seq), self.branch_y(seq)], dim=-1).sigmoid()   # (B, N, 2)
        return {"xy": xy, "log_duration": self.branch_duration(seq)}

    def forward(self, x: torch.Tensor, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        return self.decode(self.encode(x), temperature, generator)

    def config_dict(self) -> dict:
        return asdict(self.config)


