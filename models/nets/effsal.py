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

from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin

from models.nets.decoder import FPNDecoder, GaussianPriors, gaussian_kernel, rename_legacy_decoder_keys
from models.nets.efficientnet_lite import create_encoder


@dataclass
class EffSalConfig:
    encoder: str = "lite0"
    input_height: int = 288            # the network's own input size; any image is resized to it
    input_width: int = 384
    decoder_channels: int = 64
    n_priors: int = 16                 # learned Gaussian prior maps in the bottleneck
    output_blur_sigma: float = 1.5     # in output pixels (stride 4): smooths the final density like a 1-dva blur


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
        self.decoder = FPNDecoder((ch4, ch8, ch16), ch32 + c.n_priors, d)
        self.head = nn.Conv2d(d // 2, 1, 3, padding=1)
        self.register_buffer("blur", gaussian_kernel(c.output_blur_sigma), persistent=False)

    convert_legacy_keys = staticmethod(rename_legacy_decoder_keys)

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
        y = self.decoder(f4, f8, f16, torch.cat([f32, priors], dim=1))   # (B, d/2, h4, w4)
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

