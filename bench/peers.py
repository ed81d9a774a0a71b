"""Peer architectures that users of this field would otherwise run, with random weights, for timing only
(torchvision does not import beside the CPU torch here, so the backbones are written out; layer counts and
widths follow the papers, so the arithmetic is the real one).

- `salnet-full`: SalNet (Pan et al. 2016) at the paper's full width, 240×320 input (models/salnet.py, width 1).
- `atsal-vgg-attention`: ATSal's attention stream, a SalGAN-style VGG16 encoder-decoder (≈ 32 M parameters in
  the released checkpoint) on the 320×640 equirectangular frame; ATSal's two expert networks come on top.
- `deepgaze-iie-like`: a DeepGaze IIE-style ensemble: four backbones (ResNet-50, ResNeXt-50 32×4d,
  DenseNet-201, and an EfficientNet at B5 width/depth, Lite blocks) on the image downsampled by 2, each with a
  1×1 readout to a log-density, averaged. The readouts are simplified; the backbones dominate the cost.
Each `build_*` returns (module, (height, width) of the network input for a 1024×768 image).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k=3, stride=1, groups=1):
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


# --- VGG16 encoder-decoder (SalGAN generator layout) -------------------------------------------------------

VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]


class VGGEncoderDecoder(nn.Module):
    def __init__(self):
        super().__init__()
        layers, c = [], 3
        for v in VGG16:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.encoder = nn.Sequential(*layers)
        dec, c = [], 512
        for v in [512, 512, 512, "U", 512, 512, 512, "U", 256, 256, 256, "U", 128, 128, "U", 64, 64]:
            if v == "U":
                dec.append(nn.Upsample(scale_factor=2))
            else:
                dec += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
                c = v
        self.decoder = nn.Sequential(*dec, nn.Conv2d(64, 1, 1))

    def forward(self, x):
        return torch.sigmoid(self.decoder(self.encoder(x)))


# --- ResNet-50 / ResNeXt-50 ---------------------------------------------------------------------------------

class Bottleneck(nn.Module):
    def __init__(self, cin, width, cout, stride, groups):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, width, 1), conv_bn(width, width, 3, stride, groups),
                                  nn.Conv2d(width, cout, 1, bias=False), nn.BatchNorm2d(cout))
        self.skip = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return F.relu(self.body(x) + self.skip(x))


class ResNet50(nn.Module):
    def __init__(self, groups: int = 1, width_per_group: int = 64):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1))
        blocks, c = [], 64
        for i, (n, planes) in enumerate(zip((3, 4, 6, 3), (64, 128, 256, 512))):
            width = planes * width_per_group // 64 * groups
            for j in range(n):
                blocks.append(Bottleneck(c, width, planes * 4, 2 if (j == 0 and i > 0) else 1, groups))
                c = planes * 4
        self.blocks = nn.Sequential(*blocks)
        self.channels = c

    def forward(self, x):
        return self.blocks(self.stem(x))


# --- DenseNet-201 -------------------------------------------------------------------------------------------

class DenseLayer(nn.Module):
    def __init__(self, cin, growth=32):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), nn.ReLU(inplace=True), nn.Conv2d(cin, 4 * growth, 1, bias=False),
                                  nn.BatchNorm2d(4 * growth), nn.ReLU(inplace=True),
                                  nn.Conv2d(4 * growth, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


class DenseNet201(nn.Module):
    def __init__(self, growth=32, blocks=(6, 12, 48, 32)):
        super().__init__()
        layers, c = [conv_bn(3, 64, 7, 2), nn.MaxPool2d(3, 2, 1)], 64
        for i, n in enumerate(blocks):
            for _ in range(n):
                layers.append(DenseLayer(c, growth))
                c += growth
            if i < len(blocks) - 1:
                layers += [nn.BatchNorm2d(c), nn.ReLU(inplace=True), nn.Conv2d(c, c // 2, 1, bias=False), nn.AvgPool2d(2)]
                c //= 2
        self.features = nn.Sequential(*layers)
        self.channels = c

    def forward(self, x):
        return self.features(x)


class EfficientNetB5Like(nn.Module):
    def __init__(self):
        super().__init__()
        from models.nets.efficientnet_lite import EfficientNetLite, EfficientNetLiteConfig
        self.net = EfficientNetLite(EfficientNetLiteConfig("b5-like", 1.6, 2.2, 456, 0.4), with_head=False)
        self.channels = self.net.feature_channels[-1]

    def forward(self, x):
        return self.net.forward_features(x)[-1]


class DeepGazeIIELike(nn.Module):
    def __init__(self):
        super().__init__()
        self.backbones = nn.ModuleList([ResNet50(), ResNet50(groups=32, width_per_group=4), DenseNet201(),
                                        EfficientNetB5Like()])
        self.readouts = nn.ModuleList(nn.Sequential(conv_bn(b.channels, 8, 1), conv_bn(8, 16, 1), nn.Conv2d(16, 1, 1))
                                      for b in self.backbones)

    def forward(self, x):
        h, w = x.shape[-2:]
        logs = []
        for backbone, readout in zip(self.backbones, self.readouts):
            y = F.interpolate(readout(backbone(x)), size=(h, w), mode="bilinear", align_corners=False)
            logs.append(y.flatten(1).log_softmax(-1))
        return torch.logsumexp(torch.stack(logs), 0) - torch.log(torch.tensor(float(len(logs))))


def build(name: str):
    """(module in eval mode, network input (H, W) for a 1024×768 image — 2048×1024 for the 360° peer)."""
    if name == "salnet-full":
        from models.nets.salnet import SalNet
        return SalNet({"width": 1.0}).eval(), (240, 320)
    if name == "atsal-vgg-attention":
        return VGGEncoderDecoder().eval(), (320, 640)
    if name == "deepgaze-iie-like":
        return DeepGazeIIELike().eval(), (384, 512)
    raise ValueError(f"unknown peer '{name}'")


PEERS = ("salnet-full", "atsal-vgg-attention", "deepgaze-iie-like")
