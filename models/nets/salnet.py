"""SalNet, the deep convnet of Pan, Sayrol, Giró-i-Nieto, McGuinness & O'Connor, "Shallow and Deep Convolutional
Networks for Saliency Prediction", CVPR 2016 (arXiv 1603.00845).

240×320 in, 240×320 out: two 3×3/2 max-pools in Caffe's ceil mode (240 → 120 → 60) and a 8×8/4 deconvolution
back to 240×320 (the PyTorch port's floor pooling gives 237×317). Layer kernels follow the paper's deploy
prototxt; channel widths are multiplied by `width` (1.0 = the paper's 25.8 M parameters). The paper initialised
conv1–3 from VGG_CNN_M, which is not available offline here: with `pretrained_init` we copy the first layers of the
ImageNet EfficientNet-Lite0 stem instead (see the model card) — the closest pretrained filters at hand.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin


@dataclass
class SalNetConfig:
    width: float = 0.25              # channel multiplier; 0.25 keeps CPU training inside a session
    input_height: int = 240
    input_width: int = 320


# (out_channels at width 1, kernel) for conv1..conv8 as in the deploy prototxt; conv9 → 1 channel, k13.
PAPER_LAYERS = [(96, 7), (256, 5), (512, 3), (512, 5), (512, 5), (256, 7), (128, 11), (32, 11)]


class SalNet(nn.Module, PyTorchModelHubMixin, library_name="visual-attention-studio", license="apache-2.0",
             tags=["saliency", "salnet"]):
    """Image (B, 3, 240, 320) RGB in [0, 1] → log-density (B, 240, 320)."""
    output_stride = 1

    def __init__(self, arch: dict | None = None, pretrained_init: bool = False):
        super().__init__()
        self.config = SalNetConfig(**(arch or {}))
        channels = [max(8, round(c * self.config.width)) if i < 7 else c for i, (c, _) in enumerate(PAPER_LAYERS)]
        kernels = [k for _, k in PAPER_LAYERS]
        self.register_buffer("mean", torch.tensor([118.0, 110.0, 100.0]).view(1, 3, 1, 1) / 255.0, persistent=False)
        self.conv1 = nn.Conv2d(3, channels[0], kernels[0], padding=kernels[0] // 2)
        self.lrn = nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75)
        self.pool1 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.conv2 = nn.Conv2d(channels[0], channels[1], kernels[1], padding=kernels[1] // 2)
        self.pool2 = nn.MaxPool2d(3, 2, ceil_mode=True)
        self.convs = nn.ModuleList(
            nn.Conv2d(channels[i - 1], channels[i], kernels[i], padding=kernels[i] // 2) for i in range(2, 8))
        self.conv9 = nn.Conv2d(channels[7], 1, 13, padding=6)
        self.deconv = nn.ConvTranspose2d(1, 1, 8, stride=4, padding=2, bias=False)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.constant_(self.deconv.weight, 1.0 / 16)                    # start as bilinear-like upsampling
        if pretrained_init:
            self._init_from_imagenet()

    @property
    def input_size(self) -> tuple[int, int]:
        return (self.config.input_height, self.config.input_width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean) * 2.0                                            # (B, 3, 240, 320), ~[-1, 1] as Caffe
        x = self.pool1(self.lrn(F.relu(self.conv1(x))))                      # (B, c1, 120, 160)
        x = self.pool2(F.relu(self.conv2(x)))                                # (B, c2, 60, 80)
        for conv in self.convs:
            x = F.relu(conv(x))                                              # (B, c, 60, 80)
        x = self.deconv(self.conv9(x))                                       # (B, 1, 240, 320)
        logits = x.flatten(1)
        return (logits - torch.logsumexp(logits, 1, keepdim=True)).view(x.shape[0], *x.shape[-2:])

    def freeze_batchnorm_where_pretrained(self) -> None:
        """SalNet has no BatchNorm; kept for the training loop's common interface."""

    def _init_from_imagenet(self) -> None:
        """Copy ImageNet EfficientNet-Lite0 stem filters (3×3, 32 ch) into the centre of conv1's 7×7 kernels."""
        from models.nets.efficientnet_lite import create_encoder
        stem = create_encoder("lite0", pretrained=True)._conv_stem.weight.detach()   # (32, 3, 3, 3)
        n = min(stem.shape[0], self.conv1.out_channels)
        with torch.no_grad():
            w = self.conv1.weight
            w[:n].zero_()
            c = w.shape[-1] // 2
            w[:n, :, c - 1:c + 2, c - 1:c + 2] = stem[:n] * (w.shape[1] ** -0.5)
