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

Conventions (models/projections.py): ERP maps are densities per unit solid angle normalised to sum 1 over
pixels; cube faces are in FACES order F R B L U D, face pixels run edge to edge.

    model = ATSal({"attention": {"encoder": "lite0"}, "expert": {"face_size": 192}}).eval()
    maps = model.predict_streams(equi_uint8)    # {"attention", "attention_map", "poles", "equator", "experts", "fused"}
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from models.effsal import EffSal, _gaussian_kernel, _up, conv_bn_relu
from models.efficientnet_lite import create_encoder
from models.projections import EQUATOR, FACES, POLES, equirect_face_index, equirect_to_faces, faces_to_equirect
from training.losses import EPS, kld_loss, nss_loss

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
        self.bottleneck = conv_bn_relu(ch32, 2 * d, k=1)
        self.lateral16, self.fuse16 = conv_bn_relu(ch16, 2 * d, k=1), conv_bn_relu(2 * d, d)
        self.lateral8, self.fuse8 = conv_bn_relu(ch8, d, k=1), conv_bn_relu(d, d)
        self.lateral4, self.fuse4 = conv_bn_relu(ch4, d, k=1), conv_bn_relu(d, d // 2)
        self.head = nn.Conv2d(d // 2, 1, 3, padding=1)
        self.equator_prior = EquatorPrior(c.latitude_bins, c.equator_sigma_deg)
        self.register_buffer("blur", _gaussian_kernel(c.output_blur_sigma), persistent=False)

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p = self.config.wrap_px
        if p:
            x = F.pad(x, (p, p, 0, 0), mode="circular")                     # (B, 3, H, W + 2p): longitude wraps
        f4, f8, f16, f32 = self.encoder.forward_features(x)                # strides 4, 8, 16, 32
        attn = torch.sigmoid(_up(self.attention(f32), f32))                # (B, 1, h32, w32) in [0, 1]
        y = self.bottleneck(f32 + f32 * attn)                              # (B, 2d, h32, w32)  X + X⊙A
        y = self.fuse16(self.lateral16(f16) + _up(y, f16))                # (B, d, h16, w16)
        y = self.fuse8(self.lateral8(f8) + _up(y, f8))                    # (B, d, h8, w8)
        y = self.fuse4(self.lateral4(f4) + _up(y, f4))                    # (B, d/2, h4, w4)
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


def face_jacobian(face_w: int) -> np.ndarray:
    """(face_w, face_w) solid angle of each face pixel relative to the face centre: (1 + a² + b²)^(-3/2), with
    a, b ∈ [−1, 1] the tangent-plane coordinates on the edge-to-edge grid of models/projections."""
    t = np.linspace(-1.0, 1.0, face_w)
    a, b = np.meshgrid(t, t)
    return (1.0 + a ** 2 + b ** 2) ** -1.5


def faces_to_equirect_density(face_masses: dict[str, np.ndarray], height: int, width: int) -> np.ndarray:
    """Per-face probability maps → one ERP density (height, width) per solid angle, summing to 1.

    face_masses : {face: (n, n) non-negative map over that face's pixels}, any subset of FACES (the rest get
        zero), any square size n (resized to a common size first). Each face is normalised to mass 1, so every
        given face carries the same share of the sphere: the experts only know where to look inside a face.
    Mass per face pixel ÷ its solid angle = density per solid angle; then models/projections.faces_to_equirect.
    This is for inference (numpy, no gradients); the experts are trained per face (`expert_loss`).
    """
    return _normalised(_raw_expert_density(face_masses, height, width))


def expert_densities(face_masses: dict[str, np.ndarray], height: int, width: int) -> dict[str, np.ndarray]:
    """All six face maps → {"poles", "equator", "experts"} ERP densities (as `faces_to_equirect_density` of
    U+D, of F+R+B+L and of all six) from a single remap: each ERP pixel reads exactly one face."""
    raw = _raw_expert_density(face_masses, height, width)
    on_poles = np.isin(equirect_face_index(height, width), [FACES.index(k) for k in POLES])
    return {"poles": _normalised(np.where(on_poles, raw, 0.0)), "equator": _normalised(np.where(on_poles, 0.0, raw)),
            "experts": _normalised(raw)}


def _raw_expert_density(face_masses: dict[str, np.ndarray], height: int, width: int) -> np.ndarray:
    n = max(np.shape(m)[0] for m in face_masses.values())
    jac = face_jacobian(n)
    faces = {}
    for k in FACES:
        if k in face_masses:
            m = cv2.resize(np.asarray(face_masses[k], dtype=np.float64), (n, n), interpolation=cv2.INTER_LINEAR)
            m = np.clip(m, 0, None)
            faces[k] = (m / max(m.sum(), EPS) / jac).astype(np.float32)     # float32: cv2.remap's fast path
        else:
            faces[k] = np.zeros((n, n), np.float32)
    return faces_to_equirect(faces, height, width).astype(np.float64)


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
    fusion_gamma: float = 1.0                       # fused ∝ attention × experts^γ; 1 = ATSal's product
                                                    # (set on val panoramas by training.tune_fusion)


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
        # What predict_streams calls for each stream: the modules themselves, or a faster runtime's version of
        # them (ATSalPanoramaModel puts ONNX Runtime here; training never sees it).
        self.runners = {"attention": self.attention, "poles": self.poles, "equator": self.equator}

    def reset_temporal(self) -> None:
        self.ema_poles.reset()
        self.ema_equator.reset()

    @torch.inference_mode()
    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
        """ERP frame (H, W, 3) uint8 RGB → {stream: (H, W) float64}.

        "attention", "poles", "equator", "experts" and "fused" are densities per solid angle summing to 1;
        "attention_map" is ATSal's attention map A in [0, 1] (upsampled, not normalised). "poles" and
        "equator" are zero outside their faces; "experts" holds each face from its own expert; "fused" is
        attention × experts renormalised. `temporal=True` smooths the experts over successive calls (video;
        `reset_temporal()` between videos).
        """
        equi = np.asarray(equi)
        if equi.ndim != 3 or equi.shape[2] != 3 or equi.dtype != np.uint8:
            raise ValueError(f"expected an (H, W, 3) uint8 RGB equirectangular frame; got {equi.shape} {equi.dtype}")
        H, W = equi.shape[:2]
        was_training = self.training
        self.eval()
        try:
            h, w = self.attention.input_size
            x = _to_tensor(cv2.resize(equi, (w, h), interpolation=cv2.INTER_AREA))[None]    # (1, 3, h, w)
            log_density, attn = self.runners["attention"](x)                                         # (1, h/4, w/4), (1, 1, ·, ·)
            attention = _resize_density(log_density[0].exp().numpy(), H, W)
            attention_map = np.clip(cv2.resize(attn[0, 0].numpy().astype(np.float64), (W, H),
                                               interpolation=cv2.INTER_LINEAR), 0.0, 1.0)

            faces = equirect_to_faces(equi, self.poles.face_size)                           # {k: (s, s, 3) uint8}
            log_poles = self.runners["poles"](torch.stack([_to_tensor(faces[k]) for k in POLES]))      # (2, s/4, s/4)
            log_equator = self.runners["equator"](torch.stack([_to_tensor(faces[k]) for k in EQUATOR]))  # (4, ·, ·)
            if temporal:
                log_poles, log_equator = self.ema_poles(log_poles), self.ema_equator(log_equator)
            masses = {k: m.exp().numpy() for k, m in zip(POLES, log_poles)}                # renormalised per face below
            masses.update({k: m.exp().numpy() for k, m in zip(EQUATOR, log_equator)})
        finally:
            self.train(was_training)

        streams = expert_densities(masses, H, W)                                           # poles, equator, experts
        return {"attention": attention, "attention_map": attention_map, **streams,
                "fused": fuse(attention, streams["experts"], self.config.fusion_gamma)}

    def config_dict(self) -> dict:
        """The resolved architecture, every default filled in."""
        expert = {k: v for k, v in self.poles.net.config_dict().items() if k not in ("input_height", "input_width")}
        return {"attention": asdict(self.attention.config), "expert": {"face_size": self.poles.face_size, **expert},
                "ema_alpha": self.config.ema_alpha, "fusion_gamma": self.config.fusion_gamma}


def fuse(attention: np.ndarray, experts: np.ndarray, gamma: float = 1.0) -> np.ndarray:
    """ATSal's fusion as a log-linear pool: attention × experts^γ, renormalised. γ = 1 is the paper's plain
    product; γ < 1 trusts the experts less (the experts only say where inside each face, so a sharp expert
    peak on a face the attention stream half-ignores should not win outright); γ = 0 is attention alone."""
    if gamma < 0:
        raise ValueError(f"fusion_gamma must be ≥ 0; got {gamma}")
    experts = np.clip(experts, 0, None)
    return _normalised(attention * (experts ** gamma if gamma != 1 else experts))


def _to_tensor(rgb: np.ndarray) -> torch.Tensor:
    # contiguous NCHW: a permuted (channels-last strided) tensor would make every conv reorder its layout
    return torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1).contiguous().float() / 255.0   # (3, h, w)


def _normalised(density: np.ndarray) -> np.ndarray:
    density = np.clip(np.asarray(density, dtype=np.float64), 0, None)
    return density / max(density.sum(), EPS)


def _resize_density(density: np.ndarray, height: int, width: int) -> np.ndarray:
    """A per-solid-angle density resized bilinearly to (height, width), renormalised to sum 1."""
    return _normalised(cv2.resize(density.astype(np.float64), (width, height), interpolation=cv2.INTER_LINEAR))


# -----------------------------------------------------------------------------------------------------------
# Losses


def sphere_weights(height: int, device=None) -> torch.Tensor:
    """(1, height, 1) cos latitude at ERP row centres: each row's solid angle, never zero (unlike the metrics'
    sin(linspace(0, π, H)), which would put log 0 into a log-density)."""
    lat = (0.5 - (torch.arange(height, device=device) + 0.5) / height) * math.pi
    return torch.cos(lat).view(1, height, 1)


def sphere_kld(log_density: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target ‖ prediction) between probability masses on the sphere. Both are ERP maps (B, h, w) of
    densities per solid angle (each pixel-normalised); mass = density × cos latitude, renormalised."""
    log_w = sphere_weights(target.shape[-2], target.device).log()
    log_q = (log_density + log_w).flatten(1).log_softmax(1)                  # (B, h·w) predicted sphere mass
    t = target * log_w.exp()
    t = (t / t.flatten(1).sum(1).clamp_min(EPS).view(-1, 1, 1)).flatten(1)  # (B, h·w) target sphere mass
    return (t * (torch.log(t + EPS) - log_q)).sum(1).mean()


def attention_loss(log_density: torch.Tensor, attention_map: torch.Tensor, target: torch.Tensor,
                   fixations: torch.Tensor, weights=(0.8, 0.1, 0.1)) -> tuple[torch.Tensor, dict]:
    """ATSal's attention-stream loss, w0·KLD(S, G) + w1·KLD(A, maxpool(G)) + w2·(−NSS(S)), with the main KLD on
    the sphere, A supervised as a distribution against the max-pooled target at its resolution, and NSS on
    the real fixations (ATSal thresholded the blurred map instead). Returns the total and its parts."""
    h, w = attention_map.shape[-2:]
    pooled = F.adaptive_max_pool2d(target[:, None], (h, w))[:, 0]          # (B, h32, w32)
    pooled = pooled / pooled.flatten(1).sum(1).clamp_min(EPS).view(-1, 1, 1)
    a = attention_map[:, 0].flatten(1)
    log_a = (a / a.sum(1, keepdim=True).clamp_min(EPS)).clamp_min(EPS).log()
    parts = {"kld": sphere_kld(log_density, target), "kld_attention": kld_loss(log_a, pooled),
             "nss": nss_loss(log_density, fixations)}
    total = weights[0] * parts["kld"] + weights[1] * parts["kld_attention"] + weights[2] * parts["nss"]
    return total, {k: float(v.detach()) for k, v in parts.items()}


def expert_loss(log_density: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Per-face KLD + (1 − CC) between an expert's face log-densities (N, s/4, s/4) and face targets (N, s/4, s/4,
    each summing to 1 or all zero), averaged with `weight` (N,): each face's share of the sphere mass, so an
    empty face (no target) counts for nothing. Targets: training.panorama_data.face_targets."""
    t, log_p = target.flatten(1), log_density.flatten(1)
    kld = (t * (torch.log(t + EPS) - log_p)).sum(1)                       # (N,)
    p = log_p.exp() - log_p.exp().mean(1, keepdim=True)
    tc = t - t.mean(1, keepdim=True)
    cc = (p * tc).sum(1) / (p.norm(dim=1) * tc.norm(dim=1) + EPS)         # (N,)
    return ((kld + 1 - cc) * weight).sum() / weight.sum().clamp_min(EPS)


# -----------------------------------------------------------------------------------------------------------
# Registry entry: offered only once trained weights are bundled in assets/weights/atsal/


class ATSalPanoramaModel:
    """A loaded ATSal as a panorama model: `predict` gives the fused map, `predict_streams` every stream."""
    needs_gaze = False

    def __init__(self, network: ATSal, notice: str = ""):
        from models.fold_bn import fold_batchnorm
        from models.onnx_runtime import accelerate
        self.network = net = fold_batchnorm(network.float().eval())        # same outputs, fewer layers to run
        s = net.poles.face_size
        self.runners = net.runners = {
            "attention": accelerate(net.attention, torch.rand(1, 3, *net.attention.input_size)),
            "poles": accelerate(net.poles, torch.rand(len(POLES), 3, s, s)),
            "equator": accelerate(net.equator, torch.rand(len(EQUATOR), 3, s, s))}
        self.notice = notice

    def predict_streams(self, equi: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
        return self.network.predict_streams(equi, temporal=temporal)

    def predict(self, equi: np.ndarray) -> np.ndarray:
        return self.predict_streams(equi)["fused"]

    def reset_temporal(self) -> None:
        self.network.reset_temporal()


def load_atsal(weights: str | None = None) -> ATSalPanoramaModel:
    """weights: None = bundled assets/weights/atsal, a save_pretrained folder, or 'hub:REPO@REV'."""
    from models.hub import resolve_weights
    folder, notice = resolve_weights("atsal", weights)
    return ATSalPanoramaModel(ATSal.from_pretrained(str(folder), strict=True), notice)


def _register() -> None:
    from models.registry import register_if_bundled
    register_if_bundled("panorama", "atsal", load_atsal,
                        "ATSal: attention stream × poles/equator experts, trained on synthetic panoramas (see its model card).")


_register()
