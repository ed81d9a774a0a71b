"""ATSal: 360° saliency from a global attention stream on the equirectangular frame and two expert streams on
the cube map (a Poles expert for U/D, an Equator expert for F/R/B/L), fused by a pixelwise product.

Dahou, Tliba, McGuinness, O'Connor, "ATSal: An Attention Based Architecture for Saliency Prediction in 360°
Videos", ICPR 2020 workshops, LNCS 12663 (arXiv 2011.10600). Written from the description in
docs/seed-models.md §3; no released code copied. Done correctly where the release was not:
- the Poles and Equator experts are two separately trained networks (the release loaded one checkpoint twice);
- every stream is a proper log-density (logsumexp = 0) instead of a max-scaled sigmoid map, so "fused =
  attention × experts, renormalised" is a product of probabilities, and each stream can be scored alone;
- the ERP is periodic in longitude: the attention stream pads it circularly, so ±180° is not an image border;
- the learned equator prior is a trainable latitude profile (the release had no explicit prior);
- the attention loss weighs pixels by their solid angle (cos latitude), like the Salient360! metrics.

Conventions (models/runtime/projections.py): ERP maps are densities per unit solid angle normalised to sum 1
over pixels; cube faces are in FACES order F R B L U D, face pixels run edge to edge. The streams' projection
and fusion at inference are in models/runtime/panorama.py, the losses in training/losses.py.

    net = ATSal({"attention": {"encoder": "lite0"}, "expert": {"face_size": 192}}).eval()
    log_density, attention_map = net.attention(erp)       # (B, h/4, w/4), (B, 1, h/32, w/32)
    log_faces = net.poles(faces_ud)                        # (2, s/4, s/4), one density per face
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from models.nets.decoder import FPNDecoder, conv_bn_relu, gaussian_kernel, rename_legacy_decoder_keys, upsample_like
from models.nets.effsal import EffSal
from models.nets.efficientnet_lite import create_encoder

# -----------------------------------------------------------------------------------------------------------
# Attention stream: global saliency on the whole ERP frame


@dataclass
class AttentionConfig:
    encoder: str = "lite0"
    input_height: int = 256            # ERP input, 2:1; ATSal used 320×640 with a VGG encoder
    input_width: int = 512
    decoder_channels: int = 64
    attention_channels: int = 64       # width of the attention branch
    wrap_px: int = 32                  # circular padding on each side in longitude (a multiple of 32; 0 = off)
    latitude_bins: int = 37            # equator prior: one value per 5° of latitude, linearly interpolated
    equator_sigma_deg: float = 20.0    # initial prior = log of a latitude Gaussian (models/equator_bias.py)
    output_blur_sigma: float = 1.5     # in output pixels (stride 4)

    def __post_init__(self):
        if self.wrap_px % 32 or self.input_width % 32 or self.input_height % 32:
            raise ValueError("input_height, input_width and wrap_px must be multiples of 32 (the encoder stride)")


class EquatorPrior(nn.Module):
    """Trainable log-prior over latitude, uniform in longitude: a 1-D profile added to the logits of each row."""

    def __init__(self, n_bins: int, sigma_deg: float):
        super().__init__()
        latitude = torch.linspace(90.0, -90.0, n_bins)                     # bin centres, top row first
        self.profile = nn.Parameter(-0.5 * (latitude / sigma_deg) ** 2)   # (n_bins,) starts as the equator bias

    def forward(self, height: int) -> torch.Tensor:
        rows = F.interpolate(self.profile[None, None], size=height, mode="linear", align_corners=True)
        return rows.view(1, 1, height, 1)                                   # (1, 1, h, 1), broadcast over columns


class AttentionStream(nn.Module):
    """ERP frame (B, 3, H, W) RGB in [0, 1] → (log-density (B, H/4, W/4), attention map A (B, 1, H/32, W/32)).

    ATSal's residual attention: a small branch on the deepest features X predicts a sigmoid map A, and the
    decoder sees X + X⊙A, so A can only amplify regions (A = 0 leaves X unchanged; it never erases content).
    """

    output_stride = 4

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        self.config = c = AttentionConfig(**(arch or {}))
        self.encoder = create_encoder(c.encoder, pretrained=pretrained_encoder)
        ch4, ch8, ch16, ch32 = self.encoder.feature_channels
        d, a = c.decoder_channels, c.attention_channels
        # Attention branch: pool once more (stride 64, as ATSal's 5×10 map for a 320×640 frame), then 1 channel.
        self.attention = nn.Sequential(nn.MaxPool2d(2, ceil_mode=True), conv_bn_relu(ch32, a), conv_bn_relu(a, a),
                                       nn.Conv2d(a, 1, 1))
        self.decoder = FPNDecoder((ch4, ch8, ch16), ch32, d)
        self.head = nn.Conv2d(d // 2, 1, 3, padding=1)
        self.equator_prior = EquatorPrior(c.latitude_bins, c.equator_sigma_deg)
        self.register_buffer("blur", gaussian_kernel(c.output_blur_sigma), persistent=False)

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.config.wrap_px
        if p:
            x = F.pad(x, (p, p, 0, 0), mode="circular")                     # (B, 3, H, W + 2p): longitude wraps
        f4, f8, f16, f32 = self.encoder.forward_features(x)                # strides 4, 8, 16, 32
        attn = torch.sigmoid(upsample_like(self.attention(f32), f32))      # (B, 1, h32, w32) in [0, 1]
        y = self.decoder(f4, f8, f16, f32 + f32 * attn)                    # (B, d/2, h4, w4)  X + X⊙A
        logits = self.head(y)                                              # (B, 1, h4, w4 + 2p/4)
        if p:                                                              # drop the wrapped margins
            logits = logits[..., p // 4: -(p // 4)]                        # (B, 1, h4, w4)
            attn = attn[..., p // 32: -(p // 32)]                          # (B, 1, h32, w32)
        logits = _blur_erp(logits, self.blur) + self.equator_prior(logits.shape[-2])
        b, _, h, w = logits.shape
        log_density = logits.flatten(1).log_softmax(dim=1)                 # (B, h4·w4), logsumexp = 0
        return log_density.view(b, h, w), attn


def _blur_erp(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Gaussian blur of an ERP map (B, 1, h, w): circular in longitude, replicated at the poles."""
    r = kernel.shape[-1] // 2
    x = F.pad(F.pad(x, (r, r, 0, 0), mode="circular"), (0, 0, r, r), mode="replicate")
    return F.conv2d(x, kernel)


# -----------------------------------------------------------------------------------------------------------
# Expert streams: a saliency network on cube faces (one instance for the poles, one for the equator)


class ExpertStream(nn.Module):
    """An EffSal on square cube faces: faces (N, 3, s, s) RGB in [0, 1] → log-density per face (N, s/4, s/4).

    `arch`: "face_size" (s, default 192) plus any EffSal field except the input size. Each face's output is a
    distribution over that face's pixels: the experts say *where inside a face* people look; how much mass
    each face gets is left to the attention stream (see `faces_to_equirect_density`).
    """

    output_stride = 4

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        arch = dict(arch or {})
        self.face_size = int(arch.pop("face_size", 192))
        if self.face_size % 32:
            raise ValueError(f"face_size must be a multiple of 32; got {self.face_size}")
        self.net = EffSal({**arch, "input_height": self.face_size, "input_width": self.face_size},
                          pretrained_encoder=pretrained_encoder)

    def forward_faces(self, faces: torch.Tensor) -> torch.Tensor:
        return self.net(faces)                                             # (N, s/4, s/4), logsumexp = 0 per face

    forward = forward_faces


# -----------------------------------------------------------------------------------------------------------
# Temporal smoothing for video


class TemporalEMA(nn.Module):
    """SalEMA-style exponential moving average over frames: h_t = α·x_t + (1 − α)·h_{t−1}, α = sigmoid(θ) learnable.

    The state holds one map per face (whatever leading shape x has), is kept across calls and starts at the
    first frame (nothing to average yet). Call `reset()` between videos; `detach_state()` to cut
    backpropagation between training clips. ATSal applies it to the experts' output log-densities (a
    log-linear pool of past predictions), not inside the decoder as SalEMA did, so EffSal stays unchanged.
    """

    def __init__(self, alpha: float = 0.25):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(math.log(alpha / (1 - alpha))))   # sigmoid(θ) = α
        self.state: torch.Tensor | None = None

    @property
    def alpha(self) -> torch.Tensor:
        return torch.sigmoid(self.theta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.state is not None and self.state.shape != x.shape:
            raise ValueError(f"EMA state has shape {tuple(self.state.shape)}, frame has {tuple(x.shape)}; "
                             "call reset() between videos")
        h = x if self.state is None else self.alpha * x + (1 - self.alpha) * self.state
        self.state = h
        return h

    def reset(self) -> None:
        self.state = None

    def detach_state(self) -> None:
        if self.state is not None:
            self.state = self.state.detach()


# -----------------------------------------------------------------------------------------------------------
# ATSal: both streams and the fusion


@dataclass
class ATSalConfig:
    attention: dict = field(default_factory=dict)   # AttentionConfig fields
    expert: dict = field(default_factory=dict)      # ExpertStream arch (face_size + EffSal fields), both experts
    ema_alpha: float = 0.25                         # initial α of the per-face temporal EMA (video only)
    fusion_gamma: float = 1.0                       # fused ∝ attention^α × experts^γ; α = γ = 1 is ATSal's
    fusion_alpha: float = 1.0                       # product (both set on val panoramas by training.tune_fusion)


class ATSal(nn.Module, PyTorchModelHubMixin, library_name="visual-attention-studio", license="apache-2.0",
            tags=["saliency", "360", "panorama", "visual-attention"]):
    """Attention stream on the ERP + Poles expert (U, D) + Equator expert (F, R, B, L); fused = attention × experts."""

    def __init__(self, arch: dict | None = None, pretrained_encoder: bool = False):
        super().__init__()
        self.config = c = ATSalConfig(**(arch or {}))   # `arch`, not `config`: the Hub mixin reserves that name
        self.attention = AttentionStream(c.attention, pretrained_encoder)
        self.poles = ExpertStream(c.expert, pretrained_encoder)
        self.equator = ExpertStream(c.expert, pretrained_encoder)
        self.ema_poles = TemporalEMA(c.ema_alpha)       # state (2, s/4, s/4): one map per pole face
        self.ema_equator = TemporalEMA(c.ema_alpha)     # state (4, s/4, s/4)

    convert_legacy_keys = staticmethod(rename_legacy_decoder_keys)

    def reset_temporal(self) -> None:
        self.ema_poles.reset()
        self.ema_equator.reset()

    def config_dict(self) -> dict:
        """The resolved architecture, every default filled in."""
        expert = {k: v for k, v in self.poles.net.config_dict().items() if k not in ("input_height", "input_width")}
        return {"attention": asdict(self.attention.config), "expert": {"face_size": self.poles.face_size, **expert},
                "ema_alpha": self.config.ema_alpha, "fusion_gamma": self.config.fusion_gamma,
                "fusion_alpha": self.config.fusion_alpha}


# -----------------------------------------------------------------------------------------------------------
# Losses


# -----------------------------------------------------------------------------------------------------------
# Registry entry: offered only once trained weights are bundled in assets/weights/atsal/


