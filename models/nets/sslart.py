"""SSLArtScanpath: an encoder pretrained without labels on paintings (Barlow Twins over painting styles,
training/pretrain_barlow.py), frozen, then a light decoder that gives each fixation a probability map to be
sampled from.

After docs/seed-models.md §1 (Tliba et al., CVPRW 2022): the paper's idea (a self-supervised encoder and a
light decoder) is kept, its read-out is not. The figure regresses the coordinates of a fixed number of
fixations; trained against recorded viewers, such a regression lands between the places people look and every
sample is the same path. Here the decoder describes where the next fixation may go, and paths are drawn from it:
- encoder features (stride 32) concatenated with learned Gaussian priors, a 1×1 and a 3×3 conv (the context);
- one logit map per step (`max_fixations` of them), upsampled bilinearly to a `map_height` × `map_width` grid
  of cells: where viewers look at step t, whoever they are;
- conditioning on the path so far, two learned radial profiles over the distance to a cell (a share of the
  diagonal): one for the previous fixation (the saccade amplitude people make), one added once for every
  earlier fixation (inhibition of return). Step t's density is softmax(map_t + profiles);
- a duration head: a log-normal (mean and SD of log-ms) from the context under the fixation and the step.
Trained by maximum likelihood of the recorded paths (training/train_sslart.py), so the densities are
calibrated: sampling them gives paths about as varied as the viewers'. Temperature T divides the image's logit
maps, not the profiles (T = 1 the learned densities, lower T keeps to likelier content, T = 0 the most likely
cell at every step, deterministic); durations are drawn from the log-normal when T > 0, its median at T = 0. How many fixations a path has is the runtime's (viewing time,
models/runtime/viewers.py); here a fixed count.

    net = SSLArt().eval()
    out = net(images, temperature=1.0, generator=g, n_fixations=8)   # {"xy" (B, 8, 2) in [0, 1], "log_duration" (B, 8)}
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from models.nets.decoder import GaussianPriors
from models.nets.efficientnet_lite import create_encoder


@dataclass
class SSLArtConfig:
    encoder: str = "lite0"
    input_height: int = 256              # stride 32 → an 8 × 10 feature grid
    input_width: int = 320
    n_priors: int = 16
    channels: int = 64                   # context width
    max_fixations: int = 16              # steps with their own map; later steps use the last one
    map_height: int = 32                 # cells the fixations are drawn from
    map_width: int = 40
    profile_scales: tuple = (0.015, 0.03, 0.06, 0.1, 0.15, 0.25, 0.4, 0.6)   # Gaussian widths of each radial
                                         # profile, as shares of the diagonal (one learned weight per width)
    duration_log_mean: float = 5.33      # log-ms, initial mean of the duration head (train-split mean)
    duration_log_sd: float = 0.5         # initial SD of log-ms


def mlp(n_in: int, hidden: int, n_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, n_out))


class SSLArt(nn.Module, PyTorchModelHubMixin, library_name="visual-attention-studio", license="apache-2.0",
             tags=["scanpath", "eye-tracking", "visual-attention", "self-supervised", "paintings"]):
    """Image (B, 3, H, W) RGB in [0, 1] → sampled scanpaths (x/W, y/H) and log-durations."""

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        self.config = c = SSLArtConfig(**(arch or {}))
        self.encoder = create_encoder(c.encoder, pretrained=pretrained_encoder)
        self.priors = GaussianPriors(c.n_priors)
        self.context = nn.Sequential(nn.Conv2d(self.encoder.feature_channels[-1] + c.n_priors, c.channels, 1),
                                     nn.ReLU(inplace=True), nn.Conv2d(c.channels, c.channels, 3, padding=1),
                                     nn.ReLU(inplace=True))
        self.step_maps = nn.Conv2d(c.channels, c.max_fixations, 3, padding=1)
        self.from_previous = nn.Parameter(torch.zeros(len(c.profile_scales)))   # logit by distance to fixation t − 1
        self.from_earlier = nn.Parameter(torch.zeros(len(c.profile_scales)))    # … to each fixation before t − 1
        self.step_embedding = nn.Parameter(torch.zeros(c.max_fixations, c.channels))
        self.duration = mlp(2 * c.channels, c.channels, 2)                 # (mean, log SD) of log-ms
        nn.init.zeros_(self.duration[-1].weight)
        with torch.no_grad():
            self.duration[-1].bias.copy_(torch.tensor([c.duration_log_mean, math.log(c.duration_log_sd)]))

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """RGB (B, 3, H, W) → the encoder's stride-32 features (B, C, h, w). Training caches these (the encoder
        is frozen); the runtime runs them once per image and draws all its samples from them."""
        return self.encoder.forward_features(x)[-1]

    def cells(self, device=None) -> torch.Tensor:
        """(P, 2) x, y of the cell centres in [0, 1], row by row."""
        c = self.config
        gx = (torch.arange(c.map_width, device=device) + 0.5) / c.map_width
        gy = (torch.arange(c.map_height, device=device) + 0.5) / c.map_height
        return torch.stack([gx.repeat(c.map_height), gy.repeat_interleave(c.map_width)], dim=-1)

    def read(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Encoder features → (step logits (B, N, P) over the cells, context (B, channels, h, w))."""
        c = self.config
        b, _, h, w = features.shape
        priors = self.priors(h, w).unsqueeze(0).expand(b, -1, -1, -1)
        context = self.context(torch.cat([features, priors.to(features)], dim=1))
        maps = F.interpolate(self.step_maps(context), size=(c.map_height, c.map_width), mode="bilinear",
                             align_corners=False)
        return maps.flatten(2), context

    def profile(self, weights: torch.Tensor, xy: torch.Tensor) -> torch.Tensor:
        """Radial profile around fixations xy (..., 2) in [0, 1] at every cell → (..., P): Σ_k weights_k ·
        exp(−d² / 2σ_k²), d the distance in shares of the diagonal of the model's input (a sum of Gaussian
        bumps of fixed widths: smooth, and a ring where two of them differ). Each bump is separable in x and y,
        so the sum is one small matrix product per fixation."""
        c = self.config
        h, w = self.input_size
        diagonal = math.hypot(w, h)
        sigma = torch.tensor(c.profile_scales, device=xy.device, dtype=xy.dtype)              # (K,)
        gx = (torch.arange(c.map_width, device=xy.device, dtype=xy.dtype) + 0.5) / c.map_width
        gy = (torch.arange(c.map_height, device=xy.device, dtype=xy.dtype) + 0.5) / c.map_height
        dx = (gx - xy[..., :1]) * (w / diagonal)                                               # (..., W)
        dy = (gy - xy[..., 1:]) * (h / diagonal)                                               # (..., H)
        ex = torch.exp(-0.5 * (dx[..., None] / sigma) ** 2)                                    # (..., W, K)
        ey = torch.exp(-0.5 * (dy[..., None] / sigma) ** 2) * weights                          # (..., H, K)
        return (ey @ ex.transpose(-1, -2)).flatten(-2)

    def duration_parameters(self, context: torch.Tensor, xy: torch.Tensor, steps: torch.Tensor):
        """Context (B, C, h, w), fixations (B, K, 2), their step indices (K,) → log-normal (mean, SD) (B, K)."""
        grid = (xy * 2 - 1).unsqueeze(1)                                         # (B, 1, K, 2) for grid_sample
        under = F.grid_sample(context, grid, align_corners=False)[:, :, 0].transpose(1, 2)   # (B, K, C)
        step = context.mean(dim=(2, 3))[:, None] + self.step_embedding[steps][None]
        out = self.duration(torch.cat([under, step], dim=-1))
        return out[..., 0], out[..., 1].exp()

    def step_index(self, t: int | torch.Tensor):
        return t.clamp(max=self.config.max_fixations - 1) if torch.is_tensor(t) else min(t, self.config.max_fixations - 1)

    def teacher_forced(self, features: torch.Tensor, paths: torch.Tensor) -> dict[str, torch.Tensor]:
        """What the decoder predicts along recorded paths (B, S, N, 3) (x/W, y/H, log-ms), each step given the
        subject's own earlier fixations: {"log_p" (B, S, N, P) step densities over the cells, "log_duration",
        "log_duration_sd" (B, S, N)}. Training maximises their likelihood."""
        b, s, n, _ = paths.shape
        maps, context = self.read(features)
        steps = self.step_index(torch.arange(n, device=paths.device))
        xy = paths[:, :, :-1, :2]                                               # every fixation but the last
        previous = F.pad(self.profile(self.from_previous, xy), (0, 0, 1, 0))    # (B, S, N, P)
        earlier = F.pad(self.profile(self.from_earlier, xy[:, :, :-1]).cumsum(2), (0, 0, 2, 0))
        log_p = (maps[:, None, steps] + previous + earlier).log_softmax(-1)
        mean, sd = self.duration_parameters(context, paths[..., :2].flatten(1, 2), steps.repeat(s))
        return {"log_p": log_p, "log_duration": mean.view(b, s, n), "log_duration_sd": sd.view(b, s, n)}

    def next_logits(self, maps: torch.Tensor, step: int, history: tuple | None,
                    temperature: float = 1.0) -> torch.Tensor:
        """Logits (B, P) of fixation `step` (after the last map, the last map's) given the path so far. The
        temperature divides the image's part only: a lower T keeps to the likelier content, while the saccade
        and inhibition profiles keep the path's own statistics (dividing those too would pile the fixations on
        the previous one, the likeliest cell of the saccade profile). T = 0: the learned logits, for argmax."""
        logits = maps[:, self.step_index(step)]
        logits = logits / temperature if temperature > 0 else logits
        return logits if history is None else logits + history[0]

    def remember(self, history: tuple | None, xy: torch.Tensor) -> tuple:
        """The path so far, after fixation xy (B, 2): (the profiles to add to the next step's logits, the
        inhibition of all fixations before xy, xy)."""
        earlier = 0.0 if history is None else history[1] + self.profile(self.from_earlier, history[2])
        return self.profile(self.from_previous, xy) + earlier, earlier, xy

    def draw(self, logits: torch.Tensor, temperature: float, generator: torch.Generator | None = None):
        """A fixation (B, 2) in [0, 1] from logits (B, P): a cell drawn from softmax(logits) and a uniform place
        in it; at T = 0 the centre of the most likely cell."""
        cells = self.cells(logits.device)
        if temperature == 0:
            return cells[logits.argmax(-1)]
        k = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
        c = self.config
        jitter = torch.rand(len(k), 2, generator=generator, device=logits.device) - 0.5
        return cells[k] + jitter * torch.tensor([1 / c.map_width, 1 / c.map_height], device=logits.device)

    @torch.no_grad()
    def decode(self, features: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None,
               n_fixations: int | None = None) -> dict[str, torch.Tensor]:
        """Draw one path of `n_fixations` (default `max_fixations`) per feature map (expand the features for
        several samples of one image): positions from the step densities, log-durations from the log-normal
        (its mean at T = 0)."""
        if not temperature >= 0.0:
            raise ValueError(f"temperature must be ≥ 0; got {temperature}")
        maps, context = self.read(features.float())
        history, xys, log_durations = None, [], []
        for t in range(int(n_fixations or self.config.max_fixations)):
            xy = self.draw(self.next_logits(maps, t, history, temperature), temperature, generator)
            mean, sd = self.duration_parameters(context, xy[:, None], torch.tensor([self.step_index(t)]))
            if temperature > 0:
                mean = mean + sd * torch.randn(mean.shape, generator=generator, device=mean.device)
            history = self.remember(history, xy)
            xys.append(xy)
            log_durations.append(mean[:, 0])
        return {"xy": torch.stack(xys, 1), "log_duration": torch.stack(log_durations, 1)}

    def forward(self, x: torch.Tensor, temperature: float = 1.0, generator: torch.Generator | None = None,
                n_fixations: int | None = None) -> dict[str, torch.Tensor]:
        return self.decode(self.encode(x), temperature, generator, n_fixations)

    def config_dict(self) -> dict:
        return asdict(self.config)
