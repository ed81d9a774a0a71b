"""Scanpath similarity metrics: MultiMatch, SequenceScore, string-edit distance, DTW, and the human ceiling.

Definitions follow docs/anchors.md §3 (shared copy: /work/shared/docs/anchors.md):

* **MultiMatch** (Jarodzka et al. 2010; Dewhurst et al. 2012), with the conventions of the reference Python
  port ``multimatch-gaze`` [R5]: saccades join consecutive fixations; the two saccade sequences are aligned by
  the cheapest monotone path through the matrix of saccade-vector differences; each dimension is the median
  over the aligned pairs, turned into a similarity ``1 − value / normaliser`` with vector / (2 × diagonal),
  direction / π, length and position / diagonal, duration 1 − |d1 − d2| / max(d1, d2).
* **SequenceScore** (as in Gazeformer [R7]): fixations → MeanShift cluster labels fitted per image on the human
  fixations; Needleman–Wunsch with 0/1 similarity and gap 0, normalised by the longer string; optional truncation;
  mean (or max) over the human strings.
* **SED**: fixations → cells of a regular grid, Levenshtein distance (optionally / longer string).
* **DTW**: dynamic time warping over the (x, y) Euclidean distance between fixations.

A scanpath is an (N, 3) float array of (x px, y px, duration ms) in temporal order; ``image_size`` is
(width, height) in pixels. Higher is better for MultiMatch and SequenceScore, lower for SED and DTW.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

SCANPATH_METRICS = ("mm_vector", "mm_direction", "mm_length", "mm_position", "mm_duration",
                    "sequence_score", "sed", "dtw")
MM_KEYS = ("vector", "direction", "length", "position", "duration")

__all__ = ["SCANPATH_METRICS", "multimatch", "fit_fixation_clusters", "sequence_score", "string_edit_distance",
           "dtw_distance", "score_scanpath", "inter_observer_scores"]


# ---------------------------------------------------------------------------------------------------------------
# Input checks
# ---------------------------------------------------------------------------------------------------------------

def _check_scanpath(sp, name: str = "scanpath") -> np.ndarray:
    """(N, 3) float array with N ≥ 1, finite values and non-negative durations, else ValueError."""
    try:
        arr = np.asarray(sp, dtype=float)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name} must be an (N, 3) array of x, y, duration_ms; got {type(sp).__name__}") from err
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"{name} must have shape (N, 3) = x px, y px, duration ms; got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no fixations")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values")
    if np.any(arr[:, 2] < 0):
        raise ValueError(f"{name} has negative fixation durations")
    return arr


def _check_humans(human_scanpaths, min_count: int = 1) -> list[np.ndarray]:
    if isinstance(human_scanpaths, np.ndarray) and human_scanpaths.ndim == 2:
        raise ValueError("human_scanpaths must be a list of (N, 3) scanpaths, not a single scanpath")
    humans = [_check_scanpath(h, f"human_scanpaths[{k}]") for k, h in enumerate(human_scanpaths)]
    if len(humans) < min_count:
        raise ValueError(f"need at least {min_count} human scanpath(s); got {len(humans)}")
    return humans


def _check_image_size(image_size) -> tuple[float, float]:
    try:
        w, h = (float(v) for v in image_size)
    except (TypeError, ValueError) as err:
        raise ValueError(f"image_size must be (width, height); got {image_size!r}") from err
    if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
        raise ValueError(f"image_size must be positive and finite; got {image_size!r}")
    return w, h


# ---------------------------------------------------------------------------------------------------------------
# MultiMatch
# ---------------------------------------------------------------------------------------------------------------

def _saccades(sp: np.ndarray):
    """Vector representation: saccade start points (k, 2), vectors (k, 2), and durations (k + 1,)."""
    return sp[:-1, :2].copy(), np.diff(sp[:, :2], axis=0), sp[:, 2].copy()


def _angle_deg(v1: np.ndarray, v2: np.ndarray) -> float:
    """Angle between two saccade vectors in degrees; NaN for a zero-length saccade (never merged then)."""
    n1, n2 = math.hypot(*v1), math.hypot(*v2)
    if n1 == 0 or n2 == 0:
        return math.nan
    return math.degrees(math.acos(max(-1.0, min(1.0, float(v1 @ v2) / (n1 * n2)))))


def _simplify_direction(starts, vecs, durs, t_dir, t_dur):
    """One pass: merge saccade i with i+1 when they turn by < t_dir degrees and the fixation between is short."""
    out_s, out_v, out_d = [], [], []
    i, k = 0, len(vecs)
    while i < k:
        if i < k - 1 and _angle_deg(vecs[i], vecs[i + 1]) < t_dir and durs[i + 1] < t_dur:
            out_s.append(starts[i]), out_v.append(vecs[i] + vecs[i + 1]), out_d.append(durs[i])
            i += 2                                      # the intermediate fixation disappears
        else:
            out_s.append(starts[i]), out_v.append(vecs[i]), out_d.append(durs[i])
            i += 1
    out_d.append(durs[-1])
    return np.array(out_s).reshape(-1, 2), np.array(out_v).reshape(-1, 2), np.array(out_d)


def _simplify_length(starts, vecs, durs, t_amp, t_dur):
    """One pass: merge a saccade shorter than t_amp with the next one when a fixation at its ends is short.

    The last saccade has no successor, so (as in multimatch-gaze) it is merged into the previous output saccade.
    """
    out_s, out_v, out_d = [], [], []
    i, k = 0, len(vecs)
    rho = np.hypot(vecs[:, 0], vecs[:, 1])
    while i < k:
        short = rho[i] < t_amp
        if i == k - 1:
            if short and (durs[-1] < t_dur or durs[-2] < t_dur) and out_v:
                out_v[-1] = out_v[-1] + vecs[i]         # start point and duration of the previous one stay
            else:
                out_s.append(starts[i]), out_v.append(vecs[i]), out_d.append(durs[i])
            i += 1
        elif short and (durs[i + 1] < t_dur or durs[i] < t_dur):
            out_s.append(starts[i]), out_v.append(vecs[i] + vecs[i + 1]), out_d.append(durs[i])
            i += 2
        else:
            out_s.append(starts[i]), out_v.append(vecs[i]), out_d.append(durs[i])
            i += 1
    out_d.append(durs[-1])
    return np.array(out_s).reshape(-1, 2), np.array(out_v).reshape(-1, 2), np.array(out_d)


def _simplify(starts, vecs, durs, t_amp, t_dir, t_dur):
    """Alternate direction and length passes until the number of saccades stops changing (Jarodzka 2010)."""
    while True:
        n_before = len(vecs)
        starts, vecs, durs = _simplify_direction(starts, vecs, durs, t_dir, t_dur)
        if len(vecs) > 0:
            starts, vecs, durs = _simplify_length(starts, vecs, durs, t_amp, t_dur)
        if len(vecs) == n_before:
            return starts, vecs, durs


def _align(cost: np.ndarray) -> list[tuple[int, int]]:
    """Cheapest monotone path from (0, 0) to (n−1, m−1) through `cost`, moving right, down or diagonally.

    This is the shortest path that MultiMatch finds with Dijkstra on the same graph (edge weight = cost of the
    cell entered). The graph is acyclic, so a dynamic programme gives the same optimum in O(n·m).
    Ties prefer the diagonal, then a step in the first path, then in the second.
    """
    n, m = cost.shape
    c = cost.tolist()
    acc = [[0.0] * m for _ in range(n)]
    for i in range(n):
        for j in range(m):
            if i == 0 and j == 0:
                best = 0.0
            elif i == 0:
                best = acc[0][j - 1]
            elif j == 0:
                best = acc[i - 1][0]
            else:
                best = min(acc[i - 1][j - 1], acc[i - 1][j], acc[i][j - 1])
            acc[i][j] = best + c[i][j]
    path = [(n - 1, m - 1)]
    i, j = n - 1, m - 1
    while i > 0 or j > 0:
        if i == 0:
            j -= 1
        elif j == 0:
            i -= 1
        else:
            diag, up, left = acc[i - 1][j - 1], acc[i - 1][j], acc[i][j - 1]
            if diag <= up and diag <= left:
                i, j = i - 1, j - 1
            elif up <= left:
                i -= 1
            else:
                j -= 1
        path.append((i, j))
    return path[::-1]


def multimatch(sp1, sp2, image_size, amplitude_threshold: float = 0.0, direction_threshold: float = 0.0,
               duration_threshold: float = 0.0) -> dict:
    """MultiMatch similarity of two scanpaths (Jarodzka et al. 2010; Dewhurst et al. 2012; anchors.md §3).

    Returns {"vector", "direction", "length", "position", "duration"}, each in [0, 1] (1 = identical).
    Conventions of multimatch-gaze 0.1.3: saccade i runs from fixation i to i+1; each aligned saccade pair is
    compared by vector difference, absolute angle difference (wrapped to [0, π]), length difference, distance
    between start points, and |d1 − d2| / max(d1, d2) of the durations of the fixations the saccades start from
    (so the last fixation's duration is not used); the median over pairs is normalised by 2 × diagonal, π,
    diagonal, diagonal and 1. Diagonal = hypot(width, height) of ``image_size``. Two zero durations count as equal.

    Both scanpaths need ≥ 3 fixations (≥ 2 saccades); otherwise every key is NaN, as in multimatch-gaze.

    Simplification (grouping) is applied when any threshold is > 0, with the rules of multimatch-gaze:
    ``amplitude_threshold`` px, ``direction_threshold`` degrees, ``duration_threshold`` **milliseconds**
    (multimatch-gaze takes seconds). Merging needs a fixation shorter than ``duration_threshold``, so with
    duration_threshold = 0 nothing is merged. The direction rule matches multimatch-gaze exactly. The length rule
    differs only where the **last** saccade is short and gets merged into the previous one: multimatch-gaze 0.1.3
    then (a) rebuilds that saccade from the last two *original* vectors, dropping part of it when the previous
    saccade was itself a merge, (b) stops iterating early because it counts durations, not saccades, and
    (c) raises IndexError on some paths. Here the last saccade is added to the previous output saccade and the
    passes repeat until the number of saccades stops changing.
    """
    a, b = _check_scanpath(sp1, "sp1"), _check_scanpath(sp2, "sp2")
    w, h = _check_image_size(image_size)
    for name, t in (("amplitude_threshold", amplitude_threshold), ("direction_threshold", direction_threshold),
                    ("duration_threshold", duration_threshold)):
        if not (math.isfinite(t) and t >= 0):
            raise ValueError(f"{name} must be finite and ≥ 0; got {t!r}")
    if len(a) < 3 or len(b) < 3:
        return {k: math.nan for k in MM_KEYS}

    s1, v1, d1 = _saccades(a)
    s2, v2, d2 = _saccades(b)
    if amplitude_threshold > 0 or direction_threshold > 0 or duration_threshold > 0:
        s1, v1, d1 = _simplify(s1, v1, d1, amplitude_threshold, direction_threshold, duration_threshold)
        s2, v2, d2 = _simplify(s2, v2, d2, amplitude_threshold, direction_threshold, duration_threshold)

    # Alignment: cost of pairing saccade i with saccade j = length of the difference of their vectors.
    vec_diff = np.hypot(v1[:, None, 0] - v2[None, :, 0], v1[:, None, 1] - v2[None, :, 1])
    ii, jj = (np.array(ix) for ix in zip(*_align(vec_diff)))

    theta1, theta2 = np.arctan2(v1[ii, 1], v1[ii, 0]), np.arctan2(v2[jj, 1], v2[jj, 0])
    ang = np.abs(np.mod(theta1, 2 * np.pi) - np.mod(theta2, 2 * np.pi))
    ang = np.where(ang > np.pi, 2 * np.pi - ang, ang)                       # the smaller way round
    len_diff = np.abs(np.hypot(v1[ii, 0], v1[ii, 1]) - np.hypot(v2[jj, 0], v2[jj, 1]))
    pos_diff = np.hypot(s1[ii, 0] - s2[jj, 0], s1[ii, 1] - s2[jj, 1])
    dur_a, dur_b = d1[ii], d2[jj]
    dur_max = np.maximum(dur_a, dur_b)
    dur_diff = np.divide(np.abs(dur_a - dur_b), dur_max, out=np.zeros_like(dur_max), where=dur_max > 0)

    diag = math.hypot(w, h)
    return {
        "vector": float(1 - np.median(vec_diff[ii, jj]) / (2 * diag)),
        "direction": float(1 - np.median(ang) / math.pi),
        "length": float(1 - np.median(len_diff) / diag),
        "position": float(1 - np.median(pos_diff) / diag),
        "duration": float(1 - np.median(dur_diff)),
    }


# ---------------------------------------------------------------------------------------------------------------
# SequenceScore
# ---------------------------------------------------------------------------------------------------------------

def fit_fixation_clusters(human_scanpaths, bandwidth: float | None = None):
    """Fit sklearn ``MeanShift`` on all human fixation (x, y) of one image (SequenceScore, anchors.md §3).

    ``bandwidth=None`` uses sklearn's ``estimate_bandwidth`` (quantile 0.3, what MeanShift does by default);
    if that estimate is 0 (e.g. all fixations on one spot) 1 px is used so the fit does not fail.
    Returns the fitted estimator; its ``cluster_centers_`` define the labels (nearest centre = ``predict``).
    """
    from sklearn.cluster import MeanShift, estimate_bandwidth

    humans = _check_humans(human_scanpaths)
    xy = np.concatenate([h[:, :2] for h in humans])
    if bandwidth is None:
        bandwidth = float(estimate_bandwidth(xy)) if len(xy) > 1 else 0.0
        if not bandwidth > 0:
            bandwidth = 1.0
    elif not (math.isfinite(bandwidth) and bandwidth > 0):
        raise ValueError(f"bandwidth must be positive; got {bandwidth!r}")
    return MeanShift(bandwidth=bandwidth).fit(xy)


def _cluster_labels(clusters, sp: np.ndarray) -> list[int]:
    """Label of each fixation = index of the nearest cluster centre (what MeanShift.predict returns)."""
    centres = getattr(clusters, "cluster_centers_", None)
    if centres is None:
        return [int(v) for v in clusters.predict(sp[:, :2])]
    d2 = ((sp[:, None, :2] - centres[None, :, :]) ** 2).sum(axis=2)
    return d2.argmin(axis=1).tolist()


def _needleman_wunsch(s1: Sequence, s2: Sequence) -> float:
    """Needleman–Wunsch score with similarity 1 (match) / 0 (mismatch) and gap 0, divided by max(len).

    With gap 0 and no mismatch penalty the optimum equals the longest common subsequence.
    """
    if len(s1) == 0 or len(s2) == 0:
        return 0.0
    prev = [0.0] * (len(s2) + 1)
    for a in s1:
        cur = [0.0]
        for j, b in enumerate(s2, start=1):
            cur.append(max(prev[j - 1] + (1.0 if a == b else 0.0), prev[j], cur[j - 1]))
        prev = cur
    return prev[-1] / max(len(s1), len(s2))


def sequence_score(sp_pred, human_scanpaths, clusters, max_len: int | None = None, reduce: str = "mean") -> float:
    """SequenceScore (anchors.md §3, as in Gazeformer): cluster strings compared with Needleman–Wunsch.

    Every fixation gets the label of its nearest ``clusters`` centre (from ``fit_fixation_clusters``); the
    predicted and each human string are truncated to ``max_len`` (None = no truncation), scored with
    ``_needleman_wunsch`` (0/1 similarity, gap 0, / longer string), and reduced by "mean" or "max" over humans.
    """
    pred = _check_scanpath(sp_pred, "sp_pred")
    humans = _check_humans(human_scanpaths)
    if reduce not in ("mean", "max"):
        raise ValueError(f"reduce must be 'mean' or 'max'; got {reduce!r}")
    if max_len is not None and (int(max_len) != max_len or max_len < 1):
        raise ValueError(f"max_len must be a positive integer or None; got {max_len!r}")
    cut = slice(None, None if max_len is None else int(max_len))
    pred_str = _cluster_labels(clusters, pred)[cut]
    scores = [_needleman_wunsch(pred_str, _cluster_labels(clusters, h)[cut]) for h in humans]
    return float(np.mean(scores) if reduce == "mean" else np.max(scores))


# ---------------------------------------------------------------------------------------------------------------
# String-edit distance and DTW
# ---------------------------------------------------------------------------------------------------------------

def _grid_string(sp: np.ndarray, w: float, h: float, grid: tuple[int, int]) -> list[int]:
    """Cell index row * n_cols + col of each fixation; points on or beyond the border go to the edge cell."""
    n_cols, n_rows = grid
    col = np.clip(np.floor(sp[:, 0] / w * n_cols), 0, n_cols - 1).astype(int)
    row = np.clip(np.floor(sp[:, 1] / h * n_rows), 0, n_rows - 1).astype(int)
    return (row * n_cols + col).tolist()


def _levenshtein(s1: Sequence, s2: Sequence) -> int:
    """Minimum number of insertions, deletions and substitutions (all cost 1) turning s1 into s2."""
    prev = list(range(len(s2) + 1))
    for i, a in enumerate(s1, start=1):
        cur = [i]
        for j, b in enumerate(s2, start=1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a != b)))
        prev = cur
    return prev[-1]


def string_edit_distance(sp1, sp2, image_size, grid: tuple[int, int] = (5, 5), normalise: bool = True) -> float:
    """String-edit distance (SED): fixations → cells of a ``grid`` = (n_cols, n_rows) over the image, Levenshtein.

    With ``normalise`` the distance is divided by the longer string, giving [0, 1] (0 = same cell sequence).
    """
    a, b = _check_scanpath(sp1, "sp1"), _check_scanpath(sp2, "sp2")
    w, h = _check_image_size(image_size)
    if len(grid) != 2 or any(int(g) != g or g < 1 for g in grid):
        raise ValueError(f"grid must be two positive integers (n_cols, n_rows); got {grid!r}")
    grid = (int(grid[0]), int(grid[1]))
    dist = _levenshtein(_grid_string(a, w, h, grid), _grid_string(b, w, h, grid))
    return float(dist / max(len(a), len(b))) if normalise else float(dist)


def dtw_distance(sp1, sp2) -> float:
    """Dynamic time warping over the (x, y) Euclidean distance of fixations, in pixels (durations ignored).

    The classic DTW: the sum of point distances along the cheapest warping path from the first pair of
    fixations to the last (steps (1, 0), (0, 1), (1, 1)). **Not normalised** by path length or image size, so
    longer scanpaths accumulate larger values; compare it only across paths of similar length on one image.
    """
    a, b = _check_scanpath(sp1, "sp1"), _check_scanpath(sp2, "sp2")
    dist = np.hypot(a[:, None, 0] - b[None, :, 0], a[:, None, 1] - b[None, :, 1]).tolist()
    m = len(b)
    prev = [math.inf] * m
    for i in range(len(a)):
        cur = [0.0] * m
        row = dist[i]
        for j in range(m):
            if i == 0 and j == 0:
                best = 0.0
            else:
                best = min(prev[j], prev[j - 1] if j else math.inf, cur[j - 1] if j else math.inf)
            cur[j] = best + row[j]
        prev = cur
    return float(prev[-1])


# ---------------------------------------------------------------------------------------------------------------
# One prediction against all humans, and the inter-observer ceiling
# ---------------------------------------------------------------------------------------------------------------

def _nanmean(values) -> float:
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    return float(arr.mean()) if arr.size else math.nan


def score_scanpath(sp_pred, human_scanpaths, image_size, clusters=None) -> dict:
    """Scores of one predicted scanpath against all human scanpaths of its image, keys ``SCANPATH_METRICS``.

    MultiMatch components are averaged over humans skipping NaN (paths with < 3 fixations; NaN if all are);
    SequenceScore is the mean over human strings (no truncation); SED (5×5 grid, normalised) and DTW (px) are
    averaged. ``clusters`` = ``fit_fixation_clusters(human_scanpaths)`` if None; pass it in to fit once per image.
    """
    pred = _check_scanpath(sp_pred, "sp_pred")
    humans = _check_humans(human_scanpaths)
    size = _check_image_size(image_size)
    if clusters is None:
        clusters = fit_fixation_clusters(humans)
    mm = [multimatch(pred, h, size) for h in humans]
    scores = {f"mm_{k}": _nanmean([r[k] for r in mm]) for k in MM_KEYS}
    scores["sequence_score"] = sequence_score(pred, humans, clusters)
    scores["sed"] = float(np.mean([string_edit_distance(pred, h, size) for h in humans]))
    scores["dtw"] = float(np.mean([dtw_distance(pred, h) for h in humans]))
    return {k: scores[k] for k in SCANPATH_METRICS}


def inter_observer_scores(human_scanpaths, image_size) -> dict:
    """Human ceiling: each subject scored against the other subjects, averaged over subjects (leave one out).

    For each subject the SequenceScore clusters are fitted on the other subjects' fixations only, so the held-out
    path does not shape its own labels. Needs ≥ 2 subjects; with fewer there is no one to compare with and every
    key is NaN (so a per-image mean with ``np.nanmean`` skips that image).
    """
    humans = _check_humans(human_scanpaths, min_count=0)
    size = _check_image_size(image_size)
    if len(humans) < 2:
        return {k: math.nan for k in SCANPATH_METRICS}
    rows = []
    for s, path in enumerate(humans):
        others = humans[:s] + humans[s + 1:]
        rows.append(score_scanpath(path, others, size, clusters=fit_fixation_clusters(others)))
    return {k: _nanmean([r[k] for r in rows]) for k in SCANPATH_METRICS}
