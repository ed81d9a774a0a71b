"""Saliency-map metrics in two flavours: the MIT MATLAB benchmark code and the Tübingen benchmark (pysaliency).

Definitions follow docs/anchors.md §2 (sources: cvzoya/saliency `code_forMetrics` for "mit";
matthias-k/pysaliency `metrics.py`, `saliency_map_models.py`, `roc` for "tuebingen"). Everything is written
from those definitions in numpy; no code was copied.

Conventions
-----------
- A saliency map is a 2-D float array (H, W) with the size of the image / ground truth (resize beforehand).
- Fixations are an (N, 2) float array of (x, y) pixel coordinates of that map (x right, y down).
  The pixel of a fixation is ``(row, col) = (floor(y), floor(x))``, clipped into the map. For fixations inside
  the map this equals pysaliency's ``Fixations.y_int / x_int`` (``np.asarray(v, dtype=int)``, truncation);
  pysaliency does not clip, we do, so fixations on the far border (x == W) still count.
- ``protocol="mit"``: duplicate fixations on one pixel collapse (MIT uses a binary fixation map), random parts
  (jitter, negative sampling) use ``rng``: a ``numpy.random.Generator`` or a seed; ``None`` means seed 0, so
  results are deterministic.
  ``protocol="tuebingen"``: every fixation counts (duplicates kept), ROC areas are exact with ties counted as
  one half, nothing is random.
- Bad input raises ``ValueError``: maps of different shapes, empty fixations, NaN/inf values, unknown protocol.

Deviations from the reference code (documented where they happen): constant maps never produce NaN. MIT NSS
of a constant map is 0 (MATLAB: NaN), min-max normalisation of a constant map gives zeros for the AUCs and a
uniform map for SIM / IG (MATLAB: NaN), CC with a constant map is 0 (pysaliency: 0 or NaN).
"""
from __future__ import annotations

import numpy as np

PROTOCOLS = ("mit", "tuebingen")
METRICS = ("auc_judd", "auc_borji", "sauc", "nss", "cc", "kld", "sim", "ig")

MATLAB_EPS = 2.2204e-16  # MATLAB `eps` as hard-coded in the MIT code and in pysaliency.MIT_KLDiv
LOG_FLOOR = 1e-300  # Tübingen IG: log(0) guard, so a zero-density fixation gives a very negative, finite score
JITTER = 1e-7  # MIT AUC-Judd: rand/1e7 breaks ties between equal map values

__all__ = ["METRICS", "PROTOCOLS", "auc_judd", "auc_borji", "sauc", "nss", "cc", "kld", "sim",
           "information_gain", "compute_all", "map_metrics_continuous", "fixation_pixels"]


# --------------------------------------------------------------------------------------------------------------
# Input checks and shared helpers
# --------------------------------------------------------------------------------------------------------------

def _check_protocol(protocol: str) -> str:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; use one of {', '.join(map(repr, PROTOCOLS))}")
    return protocol


def _as_map(values, name: str = "saliency map") -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (H, W); got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf values")
    return arr


def _same_shape(a: np.ndarray, b: np.ndarray, what: str) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: saliency map {a.shape} vs {what} {b.shape}; resize the prediction "
                         f"to the ground-truth size first")


def _as_fixations(fixations, name: str = "fixations") -> np.ndarray:
    arr = np.asarray(fixations, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise ValueError(f"{name} must be an (N, 2) array of (x, y); got shape {arr.shape}")
    if len(arr) == 0:
        raise ValueError(f"{name} is empty; the metric needs at least one fixation")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or inf coordinates")
    return arr


def fixation_pixels(fixations, shape: tuple[int, int]) -> np.ndarray:
    """Flat pixel indices (row * W + col) of (x, y) fixations: row = floor(y), col = floor(x), clipped into the
    map. One index per fixation, duplicates kept (use ``np.unique`` for MIT's binary fixation map)."""
    fix = _as_fixations(fixations)
    height, width = shape
    cols = np.clip(np.floor(fix[:, 0]).astype(np.int64), 0, width - 1)
    rows = np.clip(np.floor(fix[:, 1]).astype(np.int64), 0, height - 1)
    return rows * width + cols


def _rng(rng) -> np.random.Generator:
    return np.random.default_rng(0) if rng is None else np.random.default_rng(rng)


def _minmax(arr: np.ndarray) -> np.ndarray:
    """MATLAB `mat2gray`-style min-max to [0, 1]; a constant map becomes zeros instead of NaN."""
    lo, hi = arr.min(), arr.max()
    return (arr - lo) / (hi - lo) if hi > lo else np.zeros_like(arr)


def _minmax_density(arr: np.ndarray) -> np.ndarray:
    """MIT SIM / IG normalisation: min-max, then divide by the sum. A constant map becomes uniform (MATLAB: NaN)."""
    arr = _minmax(arr)
    total = arr.sum()
    return arr / total if total > 0 else np.full_like(arr, 1.0 / arr.size)


def _density(arr: np.ndarray) -> np.ndarray:
    """pysaliency `convert_saliency_map_to_density(minimum_value=0)`: shift up if the minimum is negative, then
    divide by the sum; an all-zero map becomes uniform."""
    if arr.min() < 0:
        arr = arr - arr.min()
    total = arr.sum()
    return arr / total if total > 0 else np.full_like(arr, 1.0 / arr.size)


def _trapezoid(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Trapezoid rule along the last axis (MATLAB `trapz(x, y)`)."""
    return np.sum(np.diff(x, axis=-1) * (y[..., 1:] + y[..., :-1]) / 2.0, axis=-1)


def _exact_auc(positives: np.ndarray, negatives: np.ndarray, weights: np.ndarray | None = None) -> float:
    """Area under the ROC curve using every value as a threshold, ties counted as one half.

    This is the Mann-Whitney statistic P(neg < pos) + ½ P(neg == pos); it equals the trapezoid area of
    pysaliency's `general_roc(..., judd=0)` (and the mean of `general_rocs_per_positive`). Optional
    ``weights`` weight the positives (used by ``auc_weighted``)."""
    negatives = np.sort(negatives, kind="stable")
    below = np.searchsorted(negatives, positives, side="left")
    not_above = np.searchsorted(negatives, positives, side="right")
    per_positive = (below + 0.5 * (not_above - below)) / negatives.size
    return float(np.average(per_positive, weights=weights))


def _step_auc(positives: np.ndarray, negatives: np.ndarray, step: float) -> np.ndarray:
    """MIT AUC-Borji / sAUC ROC: thresholds 0, step, 2·step, … up to the maximum value, TP = fraction of
    positives ≥ t, FP = fraction of negatives ≥ t, curve padded with (0,0) and (1,1), trapezoid.

    ``negatives`` is (n_splits, K); returns one AUC per split. One threshold grid up to the maximum over all
    splits is used: thresholds above a split's own maximum only add (0,0) points, i.e. zero area, so this equals
    MATLAB's per-split `0:step:max`.
    """
    top = max(positives.max(), negatives.max())
    thresholds = np.arange(int(np.floor(top / step + 1e-9)) + 1)[::-1] * step  # descending
    tp = (positives[:, None] >= thresholds).mean(axis=0)  # (T,)
    fp = (negatives[:, :, None] >= thresholds).mean(axis=1)  # (S, T)
    n_splits = negatives.shape[0]
    zeros, ones = np.zeros((n_splits, 1)), np.ones((n_splits, 1))
    tp_curve = np.hstack([zeros, np.broadcast_to(tp, fp.shape), ones])
    fp_curve = np.hstack([zeros, fp, ones])
    return _trapezoid(tp_curve, fp_curve)


def _fixation_inputs(sal, fixations) -> tuple[np.ndarray, np.ndarray]:
    sal = _as_map(sal)
    return sal, fixation_pixels(fixations, sal.shape)


# --------------------------------------------------------------------------------------------------------------
# Fixation-based metrics
# --------------------------------------------------------------------------------------------------------------

def auc_judd(sal, fixations, protocol: str = "mit", rng=None) -> float:
    """AUC-Judd: thresholds at the fixated map values only.

    mit (`AUC_Judd.m`): add uniform jitter rand/1e7 (from ``rng``), min-max normalise, binary fixation map
    (duplicates collapse). Thresholds = fixated values sorted descending; at the i-th, TP = i/Nfix and
    FP = (#{S ≥ t} − i)/(Npix − Nfix). Curve padded with (0,0), (1,1), trapezoid.
    tuebingen (pysaliency `AUC_Judd(jitter=False)`): positives = map value at every fixation (duplicates kept),
    negatives = the unfixated pixels; TP(t) = #pos ≥ t / Npos, FP(t) = #neg ≥ t / Nneg at each fixated value t.
    No jitter (pysaliency's default adds 1e-7 noise; we don't).
    """
    _check_protocol(protocol)
    sal, pix = _fixation_inputs(sal, fixations)
    flat = sal.ravel()
    unique = np.unique(pix)
    if unique.size == flat.size:
        raise ValueError("AUC-Judd is undefined when every pixel is fixated (no negatives)")

    if protocol == "mit":
        flat = _minmax(flat + _rng(rng).random(flat.size) * JITTER)
        thresholds = np.sort(flat[unique])[::-1]
        n_fix = thresholds.size
        above = flat.size - np.searchsorted(np.sort(flat), thresholds, side="left")  # #{S >= t}
        rank = np.arange(1, n_fix + 1)
        tp = rank / n_fix
        fp = (above - rank) / (flat.size - n_fix)
    else:
        positives = np.sort(flat[pix])
        unfixated = np.ones(flat.size, dtype=bool)
        unfixated[unique] = False
        negatives = np.sort(flat[unfixated])
        thresholds = positives[::-1]
        tp = (positives.size - np.searchsorted(positives, thresholds, side="left")) / positives.size
        fp = (negatives.size - np.searchsorted(negatives, thresholds, side="left")) / negatives.size
    tp = np.concatenate([[0.0], tp, [1.0]])
    fp = np.concatenate([[0.0], fp, [1.0]])
    return float(_trapezoid(tp, fp))


def auc_borji(sal, fixations, protocol: str = "mit", n_splits: int = 100, step: float = 0.1, rng=None) -> float:
    """AUC-Borji (mit) / the benchmark's "AUC" (tuebingen).

    mit (`AUC_Borji.m`): min-max normalise; positives = unique fixated pixels (Nfix); each of ``n_splits``
    splits draws Nfix pixels uniformly with replacement from the whole map as negatives; thresholds
    0:step:max, FP = #neg ≥ t / Nfix; mean AUC over splits.
    tuebingen (pysaliency `AUC(nonfixations='uniform')`): positives = every fixation (duplicates kept),
    negatives = all pixels, exact ROC with ties as ½ (a constant map gives exactly 0.5).
    """
    _check_protocol(protocol)
    sal, pix = _fixation_inputs(sal, fixations)
    flat = sal.ravel()
    if protocol == "tuebingen":
        return _exact_auc(flat[pix], flat)
    flat = _minmax(flat)
    positives = flat[np.unique(pix)]
    negatives = flat[_rng(rng).integers(0, flat.size, size=(n_splits, positives.size))]
    return float(_step_auc(positives, negatives, step).mean())


def sauc(sal, fixations, other_fixations, protocol: str = "mit", n_splits: int = 100, step: float = 0.1,
         rng=None) -> float:
    """Shuffled AUC: negatives are fixations from other images (``other_fixations``, (M, 2), already in this
    map's pixel coordinates), which cancels centre bias.

    mit (`AUC_shuffled.m`): min-max normalise; positives = unique fixated pixels; `otherMap` = union of the other
    fixations (duplicate locations collapse); each split draws min(Nfix, #other) of them without replacement
    (`randperm`); thresholds 0:step:max; mean over splits.
    tuebingen (pysaliency `FullShuffledNonfixationProvider`): negatives = map values at all other fixations,
    duplicates kept; exact ROC with ties as ½.
    """
    _check_protocol(protocol)
    sal, pix = _fixation_inputs(sal, fixations)
    other = fixation_pixels(_as_fixations(other_fixations, "other_fixations"), sal.shape)
    flat = sal.ravel()
    if protocol == "tuebingen":
        return _exact_auc(flat[pix], flat[other])
    flat = _minmax(flat)
    positives = flat[np.unique(pix)]
    other = np.unique(other)
    k = min(positives.size, other.size)
    gen = _rng(rng)
    # Sampling loops over splits (cheap); the ROC itself is vectorised over splits in _step_auc.
    draws = np.stack([other[gen.permutation(other.size)[:k]] for _ in range(n_splits)])
    return float(_step_auc(positives, flat[draws], step).mean())


def nss(sal, fixations, protocol: str = "mit") -> float:
    """Normalised scanpath saliency: mean of the z-scored map at fixations.

    mit (`NSS.m`): z-score with the N−1 std (MATLAB `std`), mean over unique fixated pixels. A constant map
    gives 0 (MATLAB: NaN).
    tuebingen (pysaliency `NSS`): std with divisor N, no division when std == 0 (a constant map gives 0),
    mean over every fixation (duplicates kept).
    """
    _check_protocol(protocol)
    sal, pix = _fixation_inputs(sal, fixations)
    flat = sal.ravel()
    if protocol == "mit":
        pix = np.unique(pix)
        std = flat.std(ddof=1) if flat.size > 1 else 0.0
    else:
        std = flat.std()
    if flat.max() == flat.min():        # constant map: the mean's rounding error must not become a z-score
        return 0.0
    values = flat[pix] - flat.mean()
    return float(values.mean() / std) if std > 0 else float(values.mean())


def information_gain(sal, fixations, baseline, protocol: str = "mit") -> float:
    """Information gain over a baseline map, in bits per fixation.

    mit (`InfoGain.m`): min-max normalise sal and baseline, divide each by its sum, mean over unique fixated
    pixels of log2(eps + S) − log2(eps + B), eps = 2.2204e-16. A constant map is taken as uniform.
    tuebingen (pysaliency `information_gain`): sal and baseline are densities (non-negative; normalised here to
    sum 1), mean over every fixation (duplicates kept) of log2 p − log2 b. log(0) is guarded with a floor of
    1e-300, so a fixation on zero predicted density costs ≈ 997 bits instead of inf.
    """
    _check_protocol(protocol)
    sal, pix = _fixation_inputs(sal, fixations)
    base = _as_map(baseline, "baseline map")
    _same_shape(sal, base, "baseline map")
    if protocol == "mit":
        s, b = _minmax_density(sal).ravel(), _minmax_density(base).ravel()
        pix = np.unique(pix)
        return float(np.mean(np.log2(MATLAB_EPS + s[pix]) - np.log2(MATLAB_EPS + b[pix])))
    for arr, name in ((sal, "saliency map"), (base, "baseline map")):
        if arr.min() < 0:
            raise ValueError(f"tuebingen information gain needs a non-negative density as {name} "
                             f"(got minimum {arr.min():.3g}); pass exp(log-density), not a log-density")
        if arr.sum() <= 0:
            raise ValueError(f"{name} sums to zero; it cannot be a density")
    s, b = (sal / sal.sum()).ravel(), (base / base.sum()).ravel()
    log_s = np.log2(np.maximum(s[pix], LOG_FLOOR))
    log_b = np.log2(np.maximum(b[pix], LOG_FLOOR))
    return float(np.mean(log_s - log_b))


# --------------------------------------------------------------------------------------------------------------
# Map-based metrics (prediction vs a ground-truth map)
# --------------------------------------------------------------------------------------------------------------

def _map_pair(sal, gt_map) -> tuple[np.ndarray, np.ndarray]:
    sal = _as_map(sal)
    gt = _as_map(gt_map, "ground-truth map")
    _same_shape(sal, gt, "ground-truth map")
    return sal, gt


def cc(sal, gt_map, protocol: str = "mit") -> float:
    """Pearson correlation between the maps (MIT `CC.m` z-scores then `corr2`; pysaliency `CC` uses
    `np.corrcoef`: the same number in both protocols). If either map is constant the result is 0.0
    (pysaliency returns NaN when both are)."""
    _check_protocol(protocol)
    sal, gt = _map_pair(sal, gt_map)
    a, b = sal - sal.mean(), gt - gt.mean()
    denom = np.sqrt(np.sum(a * a) * np.sum(b * b))
    return float(np.sum(a * b) / denom) if denom > 0 else 0.0


def kld(sal, gt_map, protocol: str = "mit") -> float:
    """KL divergence KL(GT ‖ prediction), natural log (lower is better).

    P = G/ΣG, Q = S/ΣS, KL = Σ P·log(eps + P/(Q + eps)), eps = 2.2204e-16: MIT `KLdiv.m` and pysaliency
    `MIT_KLDiv` (same in both protocols). As in pysaliency, a map with negative values is shifted to min 0 and an
    all-zero map is taken as uniform.
    """
    _check_protocol(protocol)
    sal, gt = _map_pair(sal, gt_map)
    q, p = _density(sal), _density(gt)
    return float(np.sum(p * np.log(MATLAB_EPS + p / (q + MATLAB_EPS))))


def sim(sal, gt_map, protocol: str = "mit") -> float:
    """Similarity (histogram intersection) Σ min(P, Q) of the two maps as distributions.

    mit (`similarity.m`): min-max normalise each map, then divide by its sum (constant map → uniform).
    tuebingen (pysaliency `SIM`): no min-max; shift up if the minimum is negative, divide by the sum.
    """
    _check_protocol(protocol)
    sal, gt = _map_pair(sal, gt_map)
    norm = _minmax_density if protocol == "mit" else _density
    return float(np.minimum(norm(sal), norm(gt)).sum())


# --------------------------------------------------------------------------------------------------------------
# Convenience entry points
# --------------------------------------------------------------------------------------------------------------

def compute_all(sal, fixations, gt_map, *, other_fixations=None, baseline=None, protocol: str = "mit",
                rng=None) -> dict[str, float]:
    """Every metric of ``METRICS`` computable from what is given, keyed by name.

    Always: auc_judd, auc_borji, nss. With ``gt_map``: cc, kld, sim. With ``other_fixations`` (non-empty):
    sauc. With ``baseline``: ig. The random parts (MIT jitter and splits) share ``rng`` (default seed 0).
    """
    _check_protocol(protocol)
    sal = _as_map(sal)
    fixations = _as_fixations(fixations)
    gen = _rng(rng)
    out = {"auc_judd": auc_judd(sal, fixations, protocol, rng=gen),
           "auc_borji": auc_borji(sal, fixations, protocol, rng=gen)}
    # An empty array of other fixations (e.g. a one-image split) means "no sAUC", not an error.
    if other_fixations is not None and len(other_fixations):
        out["sauc"] = sauc(sal, fixations, other_fixations, protocol, rng=gen)
    out["nss"] = nss(sal, fixations, protocol)
    if gt_map is not None:
        out["cc"] = cc(sal, gt_map, protocol)
        out["kld"] = kld(sal, gt_map, protocol)
        out["sim"] = sim(sal, gt_map, protocol)
    if baseline is not None:
        out["ig"] = information_gain(sal, fixations, baseline, protocol)
    return out


def map_metrics_continuous(sal, gt_map, protocol: str = "mit") -> dict[str, float]:
    """Metrics for a continuous ground-truth map with no fixations (the AI4VA workflow).

    - cc, kld, sim: as above (``protocol`` applies).
    - nss: mean of the z-scored prediction weighted by the GT as a distribution, Σ z·G/ΣG (z uses the N−1 std
      for mit, N for tuebingen). With a binary G of unique fixations this is MIT NSS.
    - auc_weighted: exact ROC area where every pixel is a positive with weight G and every pixel is also a
      negative with weight 1, ties counted as ½; i.e. P(S_pos > S_neg) + ½ P(=) with pos ~ G, neg ~ uniform.
      With a G that counts fixations per pixel this is the Tübingen "AUC". Deterministic, same in both
      protocols. A constant prediction gives 0.5.
    The GT must be non-negative with a positive sum.
    """
    _check_protocol(protocol)
    sal, gt = _map_pair(sal, gt_map)
    if gt.min() < 0 or gt.sum() <= 0:
        raise ValueError("the ground-truth map must be non-negative with a positive sum")
    flat, weights = sal.ravel(), gt.ravel() / gt.sum()
    std = flat.std(ddof=1 if protocol == "mit" and flat.size > 1 else 0)
    centred = flat - flat.mean()
    z = centred / std if std > 0 else centred
    keep = weights > 0  # zero-weight positives do not change the weighted mean; skip them
    return {"cc": cc(sal, gt, protocol), "kld": kld(sal, gt, protocol), "sim": sim(sal, gt, protocol),
            "nss": float(np.sum(z * weights)),
            "auc_weighted": _exact_auc(flat[keep], flat, weights=weights[keep])}
