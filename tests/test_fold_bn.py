"""BatchNorm folding gives the same network: outputs match the unfolded model, and no BN is left."""
import copy

import torch
import torch.nn as nn

from models.nets.effsal import EffSal
from models.runtime.fold_bn import fold_batchnorm


def randomise_batchnorm(model: nn.Module) -> None:
    """Non-trivial running statistics and affine parameters, so a wrong fold cannot pass by accident."""
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.5)
            m.running_var.copy_(torch.rand(n, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(n, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(n, generator=g) * 0.2)


def test_folded_effsal_matches_original():
    torch.manual_seed(0)
    model = EffSal({"decoder_channels": 16, "n_priors": 4}).eval()
    randomise_batchnorm(model)
    folded = fold_batchnorm(copy.deepcopy(model))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in folded.modules())
    x = torch.rand(2, 3, 96, 128)
    with torch.inference_mode():
        a, b = model(x), folded(x)
    assert a.shape == b.shape == (2, 24, 32)
    assert torch.allclose(a, b, atol=1e-4), (a - b).abs().max()
