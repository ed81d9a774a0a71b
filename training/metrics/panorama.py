"""Latitude-weighted map metrics for equirectangular (ERP) 360° saliency maps.

Convention of the Salient360! toolbox (E. David, `comparison/saliencyMetrics.py`), as summarised in
docs/anchors.md §4; written here from that description, no code copied. An ERP row at latitude φ covers a
sphere area ∝ cos φ, so each row is weighted by w = sin(linspace(0, π, H)) (= cos latitude; 0 at the poles,
1 at the equator) before comparing maps. NSS, AUC and IG stay unweighted (use ``training.metrics.saliency``).
The toolbox averages f(A, B) and f(B, A) for non-KLD metrics; CC and SIM are symmetric, so that is a no-op.

Maps are (H, W) with W ≈ 2H; prediction and ground truth must have the same shape (resize beforehand).
"""
from __future__ import annotations

import numpy as np

from models.runtime.projections import equirect_face_index, turn_shift

FLOAT_EPS = float(np.finfo(np.float64).eps)  # the toolbox's ε (numpy float eps)
ASPECT_TOLERANCE = 0.1  # accept W/H in [1.9, 2.1]: ERP maps are 2:1 up to a pixel of rounding

__all__ = ["latitude_weights", "weighted_kld", "weighted_cc", "weighted_sim", "compute_all_panorama",
           "latitude_marginal", "face_borders", "seam_ratio", "turned_seam_ratio"]


def latitude_weights(height: int, width: int) -> np.ndarray:
    """(H, W) weights: sin(linspace(0, π, H)) for each row (cos of latitude), repeated over the columns."""
    if height < 1 or width < 1:
        raise ValueError(f"latitude_weights needs a positive size; got {height}×{width}")
    return np.repeat(np.sin(np.linspace(0.0, np.pi, height))[:, None], width, axis=1)


def _erp_pair(sal, gt) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    sal = np.asarray(sal, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    for arr, name in ((sal, "saliency map"), (gt, "ground-truth map")):
        if arr.ndim != 2 or arr.size == 0:
            raise ValueError(f"{name} must be a non-empty 2-D array (H, W); got shape {arr.shape}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} contains NaN or inf values")
    if sal.shape != gt.shape:
        raise ValueError(f"shape mismatch: saliency map {sal.shape} vs ground-truth map {gt.shape}; resize the "
                         f"prediction to the ground-truth size first")
    height, width = gt.shape
    if abs(width / height - 2.0) > ASPECT_TOLERANCE:
        raise ValueError(f"an equirectangular map is twice as wide as high; got {width}×{height} (W×H)")
    return sal, gt, latitude_weights(height, width)


def _weighted_distribution(arr: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """arr × w renormalised to sum 1. Negative maps are shifted to min 0 first (as pysaliency does for
    densities); a map with no weighted mass becomes the weight map itself (uniform on the sphere)."""
    if arr.min() < 0:
        arr = arr - arr.min()
    mass = arr * weights
    total = mass.sum()
    return mass / total if total > 0 else weights / weights.sum()


def weighted_kld(sal, gt) -> float:
    """KL(GT ‖ prediction) on the sphere: p = GT·w, q = sal·w, each renormalised to sum 1, then
    Σ_{p≠0} p·log((p + ε)/(q + ε)), natural log, ε = float eps. Lower is better; 0 for identical maps."""
    sal, gt, w = _erp_pair(sal, gt)
    if not np.any(gt):
        raise ValueError("the ground-truth map is all zeros")
    p, q = _weighted_distribution(gt, w), _weighted_distribution(sal, w)
    nz = p > 0
    return float(np.sum(p[nz] * np.log((p[nz] + FLOAT_EPS) / (q[nz] + FLOAT_EPS))))


def weighted_cc(sal, gt) -> float:
    """Pearson correlation with pixel weights w (statsmodels `DescrStatsW(...).corrcoef` definition:
    weighted means, weighted covariance / weighted stds). 0.0 if either map is constant on the sphere."""
    sal, gt, w = _erp_pair(sal, gt)
    w = w / w.sum()
    a = sal - np.sum(w * sal)
    b = gt - np.sum(w * gt)
    cov, var_a, var_b = np.sum(w * a * b), np.sum(w * a * a), np.sum(w * b * b)
    denom = np.sqrt(var_a * var_b)
    return float(cov / denom) if denom > 0 else 0.0


def _weighted_minmax_density(arr: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """SIM normalisation: × w, min-max, divide by the sum; a map that is constant after weighting is uniform."""
    arr = arr * weights
    lo, hi = arr.min(), arr.max()
    if hi <= lo:
        return np.full_like(arr, 1.0 / arr.size)
    arr = (arr - lo) / (hi - lo)
    return arr / arr.sum()


def weighted_sim(sal, gt) -> float:
    """Similarity on the sphere: each map × w, min-max normalised, divided by its sum, then Σ min(P, Q)."""
    sal, gt, w = _erp_pair(sal, gt)
    return float(np.minimum(_weighted_minmax_density(sal, w), _weighted_minmax_density(gt, w)).sum())


def compute_all_panorama(sal, gt) -> dict[str, float]:
    """{"kld", "cc", "sim"}: the latitude-weighted Salient360! map metrics of a prediction against a GT map."""
    return {"kld": weighted_kld(sal, gt), "cc": weighted_cc(sal, gt), "sim": weighted_sim(sal, gt)}


def latitude_marginal(density, bins: int = 18) -> np.ndarray:
    """(bins,) share of a map's mass on the sphere in equal latitude bands, north pole first (18 bins: 10° each).
    The map is a density per solid angle, so each row's mass is its sum × cos latitude."""
    density = np.asarray(density, dtype=np.float64)
    if density.ndim != 2 or density.shape[0] < bins:
        raise ValueError(f"latitude_marginal needs an (H, W) map with H ≥ {bins}; got shape {density.shape}")
    height = density.shape[0]
    latitude = 90.0 - (np.arange(height) + 0.5) * 180.0 / height
    rows = np.clip(density, 0, None).sum(axis=1) * np.cos(np.deg2rad(latitude))
    band = np.minimum(((90.0 - latitude) / (180.0 / bins)).astype(int), bins - 1)
    mass = np.bincount(band, weights=rows, minlength=bins)
    total = mass.sum()
    if total <= 0:
        raise ValueError("the map has no mass")
    return mass / total


SEAM_CONTROL_TURNS_DEG = (15.0, 45.0, 75.0)   # the face borders turned this far lie away from every face border


def face_borders(height: int, width: int) -> np.ndarray:
    """(H, W) bool: ERP pixels next to a pixel of another cube face (models/runtime/projections' cube)."""
    face = equirect_face_index(height, width)
    border = (face != np.roll(face, 1, axis=1)) | (face != np.roll(face, -1, axis=1))
    border[1:] |= face[1:] != face[:-1]
    border[:-1] |= face[:-1] != face[1:]
    return border


def seam_ratio(density) -> float:
    """How visible the cube-face borders are in an ERP map: its mean gradient magnitude on the borders of the six
    cube faces ÷ its mean gradient magnitude on the same border curves turned 15°, 45° and 75° about the vertical
    axis (the same shapes at the same latitudes, away from any face border). Near 1 for a map that knows nothing
    of the faces (the content decides; lower or higher by chance); far above 1 when each face was predicted on
    its own and the faces disagree at their edges. Gradients by central differences, wrapping in longitude."""
    m = np.asarray(density, dtype=np.float64)
    if m.ndim != 2 or min(m.shape) < 8:
        raise ValueError(f"seam_ratio needs an (H, W) map of at least 8×8; got shape {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ValueError("the map contains NaN or inf values")
    height, width = m.shape
    gradient = np.hypot((np.roll(m, -1, axis=1) - np.roll(m, 1, axis=1)) / 2, np.gradient(m, axis=0))
    border = face_borders(height, width)
    control = [np.roll(border, turn_shift(width, yaw), axis=1) & ~border for yaw in SEAM_CONTROL_TURNS_DEG]
    base = np.mean([gradient[c].mean() for c in control])
    if base <= 0:
        return 1.0 if gradient[border].mean() <= 0 else float("inf")
    return float(gradient[border].mean() / base)


SEAM_INPUT_TURNS_DEG = (0.0, 22.5, 45.0, 67.5)   # the cube repeats every 90°: four turns a quarter of that apart


def turned_seam_ratio(predict, equi: np.ndarray, turns_deg: tuple[float, ...] = SEAM_INPUT_TURNS_DEG):
    """A model's own seams on one panorama: `seam_ratio` of predict(equi turned by each of turns_deg about the
    vertical axis), averaged. A model that predicts cube faces keeps its face borders where they are while the
    scene turns under them, so a seam it makes shows in every turn; a peak of the scene that happens to lie on a
    face border (which alone can push one map's ratio to 1.5 or more) moves away in the other turns.
    predict: (H, W, 3) panorama → (H, W) map in the same (turned) frame, or a dict of such maps (then a dict of
    averaged ratios comes back)."""
    equi = np.asarray(equi)
    if not turns_deg:
        raise ValueError("turned_seam_ratio needs at least one turn")
    width = equi.shape[1]
    maps = [predict(np.roll(equi, turn_shift(width, t), axis=1)) for t in turns_deg]
    if isinstance(maps[0], dict):
        return {k: float(np.mean([seam_ratio(m[k]) for m in maps])) for k in maps[0]}
    return float(np.mean([seam_ratio(m) for m in maps]))
