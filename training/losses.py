"""Distribution losses between a predicted log-density and gaze ground truth (all per sample, then batch mean).

`log_p`: (B, h, w) log-density (logsumexp over pixels = 0); `target`: (B, h, w) empirical map summing to 1;
`fixations`: (B, h, w) fixation counts.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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


def closest_subject_l1(xy: torch.Tensor, log_duration: torch.Tensor, paths: torch.Tensor, mask: torch.Tensor,
                       target: str = "closest") -> tuple[torch.Tensor, torch.Tensor]:
    """Scanpath regression against recorded subjects. xy (B, N, 2) in [0, 1], log_duration (B, N); paths
    (B, S, N, 3) x/W, y/H, log ms; mask (B, S, N). Per image, the masked mean L1 of the coordinates against the
    *closest* subject's scanpath (`target="random"`: one subject drawn at random, the ablation), and the L1 of
    log-durations against that same subject. A fixed random subject would pull each step to the average of all
    subjects (between the places people look); the min lets a sample match the human path it resembles."""
    b = xy.shape[0]
    m = mask.float()
    per_step = (xy[:, None] - paths[..., :2]).abs().sum(-1)               # (B, S, N)
    per_subject = (per_step * m).sum(-1) / m.sum(-1).clamp_min(1)         # (B, S)
    present = m.sum(-1) > 0
    if target == "random":
        best = torch.multinomial(present.float() + 1e-12, 1)[:, 0]
    elif target == "closest":
        best = per_subject.masked_fill(~present, float("inf")).argmin(1)
    else:
        raise ValueError(f"target must be 'closest' or 'random'; got {target!r}")
    rows = torch.arange(b, device=xy.device)
    coordinates = per_subject[rows, best].mean()
    chosen, chosen_mask = paths[rows, best], m[rows, best]               # (B, N, 3), (B, N)
    duration = ((log_duration - chosen[..., 2]).abs() * chosen_mask).sum() / chosen_mask.sum().clamp_min(1)
    return coordinates, duration


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


def log_normal_nll(log_duration: torch.Tensor, log_sd: torch.Tensor, paths: torch.Tensor,
                   mask: torch.Tensor) -> torch.Tensor:
    """−log p of every subject's step-t duration under step t's log-normal: log-ms target ~ N(mean, sd²).
    log_duration, log_sd (B, N) (log_sd is the SD itself, > 0); paths (B, S, N, 3) with log-ms in [..., 2];
    mask (B, S, N). The constant ½·log 2π is left out."""
    m = mask.float()
    z = (paths[..., 2] - log_duration[:, None]) / log_sd[:, None]
    nll = 0.5 * z ** 2 + torch.log(log_sd)[:, None]
    return (nll * m).sum() / m.sum().clamp_min(1)


def soft_cell_nll(log_p: torch.Tensor, xy: torch.Tensor, mask: torch.Tensor, grid_hw: tuple[int, int],
                  sigma_cells: float = 1.0) -> torch.Tensor:
    """Cross-entropy of per-step densities over a grid of cells against each recorded fixation spread by a
    Gaussian of `sigma_cells` cells (a fixation's position is known to about a degree, not to one cell).
    log_p (..., P) log-softmax over the h·w cells row by row; xy (..., 2) x/W, y/H in [0, 1]; mask (...)."""
    h, w = grid_hw
    gx = (torch.arange(w, device=xy.device, dtype=xy.dtype) + 0.5) / w
    gy = (torch.arange(h, device=xy.device, dtype=xy.dtype) + 0.5) / h
    tx = (-0.5 * ((gx - xy[..., :1]) * w / sigma_cells) ** 2).softmax(-1)      # (..., w) the Gaussian is
    ty = (-0.5 * ((gy - xy[..., 1:]) * h / sigma_cells) ** 2).softmax(-1)      # (..., h) separable: a product
    expected = (ty[..., None, :] @ log_p.unflatten(-1, (h, w)) @ tx[..., :, None])[..., 0, 0]   # Σ target·log_p
    m = mask.float()
    return (-expected * m).sum() / m.sum().clamp_min(1)

