"""SPGEn: a scanpath generator that predicts one latent map per fixation step and reads each fixation off its
map with a soft-argmax; a gate decides how many fixations there are and a head how long each lasts.

After docs/seed-models.md §2 (SPGEn), written from the description, with the released code's mistakes fixed:
- the encoder is the pretrained saliency network's (EffSal: EfficientNet-Lite + FPN decoder, initialised from
  the bundled `effsal-lite0`) and it learns; the seed froze it;
- the Gaussian priors are trainable (EffSal's), the seed froze them;
- the soft-argmax returns (x / W, y / H) at pixel centres; the seed swapped the axes;
- the fixation-selection gate is used: step t exists with probability Π_{s≤t} sigmoid(c_s), and the number of
  fixations is the count of steps whose probability is above one half (the seed always emitted N);
- temperature noise `(1 − T)·h + T·ε` mixes each standardised latent map h with smooth Gaussian noise ε of
  unit variance, so T = 0 is deterministic, T = 1 pure noise, and T means the same at every step;
- a fixation-duration head (the seed had none): log-milliseconds from the features under each fixation.

    net = SPGEn().eval()
    out = net(images, temperature=0.2)   # {"log_maps", "xy", "log_duration", "exist"}
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from models.nets.decoder import conv_bn_relu, rename_legacy_decoder_keys
from models.nets.effsal import EffSal


@dataclass
class SPGEnConfig:
    encoder: str = "lite0"
    input_height: int = 288
    input_width: int = 384
    decoder_channels: int = 64
    n_priors: int = 16
    max_fixations: int = 12            # latent maps (steps); OSIE / MIT1003 scanpaths have a median of 8
    noise_cell: int = 6                # ε is drawn on a grid this many output pixels per cell, then upsampled
    duration_log_mean: float = 5.33    # log-ms, initial bias of the duration head (train-split mean)
    duration_distribution: bool = False   # also predict the log-duration's SD: durations are then sampled
    duration_log_sd: float = 0.5       # initial SD of log-ms (people: ≈ 0.5 on the train splits)


class SPGEn(nn.Module, PyTorchModelHubMixin, library_name="visual-attention-studio", license="apache-2.0",
            tags=["scanpath", "eye-tracking", "visual-attention"]):
    """Image (B, 3, H, W) RGB in [0, 1] → per-step fixation distributions, coordinates, durations, existence."""

    output_stride = 4

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        self.config = c = SPGEnConfig(**(arch or {}))
        self.trunk = EffSal({"encoder": c.encoder, "input_height": c.input_height, "input_width": c.input_width,
                             "decoder_channels": c.decoder_channels, "n_priors": c.n_priors},
                            pretrained_encoder=pretrained_encoder)
        f = c.decoder_channels // 2                                          # trunk feature channels
        n = c.max_fixations
        self.steps = nn.Sequential(conv_bn_relu(f + 2, f), nn.Conv2d(f, n, 3, padding=1))   # one map per step
        self.log_beta = nn.Parameter(torch.tensor(math.log(4.0)))           # soft-argmax sharpness
        self.step_embedding = nn.Parameter(torch.zeros(n, f))
        self.gate = nn.Sequential(nn.Linear(2 * f, f), nn.ReLU(), nn.Linear(f, 1))
        self.duration = nn.Sequential(nn.Linear(2 * f, f), nn.ReLU(), nn.Linear(f, 1))
        nn.init.constant_(self.duration[-1].bias, c.duration_log_mean)
        if c.duration_distribution:                                         # log-normal durations: SD of log-ms
            self.duration_sd = nn.Sequential(nn.Linear(2 * f, f), nn.ReLU(), nn.Linear(f, 1))
            nn.init.zeros_(self.duration_sd[-1].weight)
            nn.init.constant_(self.duration_sd[-1].bias, math.log(c.duration_log_sd))
        nn.init.constant_(self.gate[-1].bias, 3.0)                          # start by keeping every step

    convert_legacy_keys = staticmethod(rename_legacy_decoder_keys)

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def latent_maps(self, x: torch.Tensor, with_deepest: bool = False):
        """(standardised step maps (B, N, h, w), trunk features (B, f, h, w)), h, w = input / 4; with
        `with_deepest`, also the encoder's stride-32 features (training: the domain classifier reads them)."""
        y, deepest = self.trunk.features(x, with_deepest=True)
        b, _, h, w = y.shape
        ys = torch.linspace(-1, 1, h, device=y.device).view(1, 1, h, 1).expand(b, 1, h, w)
        xs = torch.linspace(-1, 1, w, device=y.device).view(1, 1, 1, w).expand(b, 1, h, w)
        maps = self.steps(torch.cat([y, xs, ys], dim=1))                     # coordinates help order steps
        maps = maps - maps.mean(dim=(2, 3), keepdim=True)
        maps = maps / maps.std(dim=(2, 3), keepdim=True).clamp_min(1e-4)    # each map: mean 0, std 1
        return (maps, y, deepest) if with_deepest else (maps, y)

    def smooth_noise(self, shape, generator: torch.Generator | None = None, device=None) -> torch.Tensor:
        """Gaussian noise (B, N, h, w) correlated over ~`noise_cell` pixels, standardised per map."""
        b, n, h, w = shape
        cell = self.config.noise_cell
        hc, wc = max(2, h // cell), max(2, w // cell)
        coarse = torch.randn(b, n, hc, wc, generator=generator, device=device)
        rows, cols = _bicubic_matrix(hc, h), _bicubic_matrix(wc, w)      # separable bicubic upsampling as two
        eps = rows.to(coarse) @ coarse @ cols.to(coarse).T               # matmuls: = F.interpolate, much faster
        eps = eps - eps.mean(dim=(2, 3), keepdim=True)
        return eps / eps.std(dim=(2, 3), keepdim=True).clamp_min(1e-4)

    def forward(self, x: torch.Tensor, temperature: float = 0.0,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        maps, y = self.latent_maps(x)
        return self.read(maps, y, temperature, generator)

    def read(self, maps: torch.Tensor, y: torch.Tensor, temperature: float = 0.0,
             generator: torch.Generator | None = None, sharpness: float = 1.0) -> dict[str, torch.Tensor]:
        """Latent maps (+ noise at `temperature`) → {"log_maps" (B, N, h, w), "xy" (B, N, 2) in [0, 1],
        "log_duration" (B, N) log-ms (the log-normal's mean), "exist" (B, N) P(step t exists)}, and with
        `duration_distribution` "log_duration_sd" (B, N), the log-normal's SD. Separate from `latent_maps` so many
        samples of one image reuse one trunk pass. `sharpness` > 1 reads each fixation from the map raised to
        that power (towards its mode instead of its mean, which for a two-peaked map lies between the peaks);
        "log_maps" stay the calibrated distributions."""
        if not 0.0 <= temperature <= 1.0:
            raise ValueError(f"temperature must be in [0, 1]; got {temperature}")
        b, n, h, w = maps.shape
        if temperature > 0:
            maps = (1 - temperature) * maps + temperature * self.smooth_noise(maps.shape, generator, maps.device)
        log_maps = (self.log_beta.exp() * maps).flatten(2).log_softmax(-1)    # (B, N, h·w), per-step density
        p = log_maps.exp() if sharpness == 1 else (sharpness * log_maps).softmax(-1)
        gx = (torch.arange(w, device=p.device, dtype=p.dtype) + 0.5) / w
        gy = (torch.arange(h, device=p.device, dtype=p.dtype) + 0.5) / h
        grid = torch.stack([gx.repeat(h), gy.repeat_interleave(w)], dim=-1)   # (h·w, 2) pixel centres, (x, y)
        xy = p @ grid                                                          # (B, N, 2) soft-argmax in [0, 1]
        heads = self.heads(p, y, torch.arange(n, device=p.device))
        exist = torch.cumprod(torch.sigmoid(heads.pop("keep_logit")), dim=1)  # P(step t exists)
        return {"log_maps": log_maps.view(b, n, h, w), "xy": xy, "exist": exist, **heads}

    def heads(self, p: torch.Tensor, y: torch.Tensor, steps: torch.Tensor, with_gate: bool = True) -> dict[str, torch.Tensor]:
        """Read-out weights p (B, K, h·w) of fixations at step indices `steps` (K,) and trunk features y →
        {"keep_logit" (B, K): continue after the step before, "log_duration" (B, K) log-ms (the log-normal's
        mean)} and with `duration_distribution` "log_duration_sd" (B, K). y may have batch 1 for B samples of
        one image; `with_gate=False` skips the gate (sampling by viewing time does not use it)."""
        features = y.flatten(2).transpose(1, 2)                               # (B or 1, h·w, f)
        pooled = p @ (features[0] if len(features) == 1 else features)          # (B, K, f) features under each fixation
        context = y.mean(dim=(2, 3))[:, None, :] + self.step_embedding[steps][None]   # image + step
        context = context.expand(len(p), -1, -1)
        z = torch.cat([pooled, context], dim=-1)
        out = {"log_duration": self.duration(z)[..., 0]}
        if with_gate:
            out["keep_logit"] = self.gate(z)[..., 0]
        if self.config.duration_distribution:
            out["log_duration_sd"] = self.duration_sd(z)[..., 0].exp()
        return out

    def config_dict(self) -> dict:
        return asdict(self.config)


@functools.lru_cache(maxsize=16)
def _bicubic_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) matrix M with M @ v = 1-D bicubic upsampling of v as F.interpolate does it (align_corners
    False, PyTorch's border handling): column k is the interpolation of the k-th unit vector."""
    eye = torch.eye(n_in).view(n_in, 1, n_in, 1)
    return F.interpolate(eye, size=(n_out, 1), mode="bicubic", align_corners=False).view(n_in, n_out).T.contiguous()


