"""Fold BatchNorm into the preceding convolution for inference: y = γ·(Wx + b − μ)/σ + β becomes one conv with
W' = γW/σ and b' = γ(b − μ)/σ + β, so the BN layers (and their memory traffic) disappear. Only valid in eval mode,
where BN uses its running statistics; the result is numerically the same network (tested)."""
from __future__ import annotations

import torch.nn as nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from models.nets.efficientnet_lite import EfficientNetLite, MBConvBlock

# (conv attribute, the BN attribute applied right after it in forward) for modules that are not Sequential.
CONV_BN_PAIRS = {
    EfficientNetLite: [("_conv_stem", "_bn0"), ("_conv_head", "_bn1")],
    MBConvBlock: [("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")],
}


def fold_batchnorm(model: nn.Module) -> nn.Module:
    """In place: every conv → BN pair becomes one conv and the BN an Identity. Returns the model (in eval mode)."""
    model.eval()
    for module in model.modules():
        for conv_name, bn_name in CONV_BN_PAIRS.get(type(module), []):
            conv, bn = getattr(module, conv_name, None), getattr(module, bn_name, None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                setattr(module, conv_name, fuse_conv_bn_eval(conv, bn))
                setattr(module, bn_name, nn.Identity())
        if isinstance(module, nn.Sequential):
            children = list(module)
            for i in range(len(children) - 1):
                if isinstance(children[i], nn.Conv2d) and isinstance(children[i + 1], nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(children[i], children[i + 1])
                    module[i + 1] = nn.Identity()
    return model
