"""Distribution losses between a predicted log-density and gaze ground truth (all per sample, then batch mean).

`log_p`: (B, h, w) log-density (logsumexp over pixels = 0); `target`: (B, h, w) empirical map summing to 1;
`fixations`: (B, h, w) fixation counts.
"""
from __future__ import annotations

import torch

EPS = 1e-12


def kld_loss(log_p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """KL(target ‖ prediction), natural log — the MIT/pysaliency KLD direction."""
    t = target.flatten(1)
    return (t * (torch.log(t + EPS) - log_p.flatten(1))).sum(1).mean()


def cc_loss(log_p: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """1 − Pearson correlation between the predicted density and the empirical map."""
    p = log_p.exp().flatten(1)
    t = target.flatten(1)
    p = p - p.mean(1, keepdim=True)
    t = t - t.mean(1, keepdim=True)
    cc = (p * t).sum(1) / (p.norm(dim=1) * t.norm(dim=1) + EPS)
    return (1 - cc).mean()


def nss_loss(log_p: torch.Tensor, fixations: torch.Tensor) -> torch.Tensor:
    """−NSS: the z-scored predicted density averaged over fixations (each fixation counted)."""
    p = log_p.exp().flatten(1)
    f = fixations.flatten(1)
    z = (p - p.mean(1, keepdim=True)) / (p.std(1, keepdim=True) + EPS)
    return -((z * f).sum(1) / f.sum(1).clamp_min(1)).mean()


def nll_bits(log_p: torch.Tensor, fixations: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood per fixation in bits relative to a uniform density (lower is better)."""
    f = fixations.flatten(1)
    n_pixels = f.shape[1]
    ll = (log_p.flatten(1) * f).sum(1) / f.sum(1).clamp_min(1)
    return -((ll + torch.log(torch.tensor(float(n_pixels)))) / torch.log(torch.tensor(2.0))).mean()


def saliency_loss(log_p, target, fixations, weights=(1.0, 1.0, 0.1)) -> tuple[torch.Tensor, dict]:
    """weights for (KLD, 1−CC, −NSS); returns the total and its parts for logging."""
    parts = {"kld": kld_loss(log_p, target), "cc": cc_loss(log_p, target), "nss": nss_loss(log_p, fixations)}
    total = weights[0] * parts["kld"] + weights[1] * parts["cc"] + weights[2] * parts["nss"]
    return total, {k: float(v.detach()) for k, v in parts.items()}
