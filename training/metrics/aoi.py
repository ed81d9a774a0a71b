"""Areas of interest (AOIs) on an image and the eye-tracking metrics people report per AOI, with bootstrap 95 %
intervals over viewers, for sampled viewers and for recorded people alike.

    aois = [rect_aoi("face", 300, 80, 160, 200), polygon_aoi("hands", [(280, 500), (420, 480), (400, 600)])]
    check_aois(aois, (800, 600))                              # ValueError naming the AOI and what is wrong
    result = aoi_metrics(paths, aois, (800, 600))             # paths: list of (n, 3) x, y, duration_ms
    result["metrics"]["dwell_share"]["value"]                 # one number per AOI, also "low", "high"

Conventions (docs/aoi.md has the user-facing version):
- A fixation belongs to every AOI that contains its position, so overlapping AOIs each count it (as Tobii Pro
  Lab does). For the order of entering and the transitions a fixation goes to the first AOI listed that
  contains it, and fixations outside every AOI are skipped: A, outside, B is one transition A → B.
- Time to first fixation = the summed durations of the fixations before the first one in the AOI. Fixation
  onsets are not stored for sampled viewers, so saccade time is left out on both sides alike.
- A visit is a run of consecutive fixations inside the AOI; "number of visits" counts the runs.
- Per-viewer counts and durations are averaged over all viewers (a viewer who never looks counts 0); times
  and ranks of the first entry are averaged over the viewers who entered the AOI (NaN if none did).
- Intervals: percentile bootstrap over viewers (resampling whole viewers, `n_boot` times, seeded).
"""
from __future__ import annotations

import csv
import io
import json
import math
from dataclasses import dataclass

import numpy as np
from matplotlib.path import Path as PolygonPath

MAX_AOIS = 50
EDGE_TOLERANCE_PX = 1.0           # vertices this close outside the image are clipped, not refused
N_BOOT = 1000

# key → (what it is, how the summary is taken over viewers: "all" viewers or those who "entered")
METRICS = {
    "dwell_ms": ("total duration of fixations in the AOI (ms)", "all"),
    "dwell_share": ("share of the viewer's total fixation time spent in the AOI", "all"),
    "fixation_count": ("number of fixations in the AOI", "all"),
    "ttff_ms": ("time to first fixation (ms): summed durations of the fixations before it", "entered"),
    "first_fixation_ms": ("duration of the first fixation in the AOI (ms)", "entered"),
    "fixated": ("share of viewers who fixate the AOI at least once", "all"),
    "first_entered": ("share of viewers for whom this is the first AOI entered", "all"),
    "visit_count": ("number of visits (runs of consecutive fixations in the AOI)", "all"),
    "entry_rank": ("rank among the AOIs in the order of entering (1 = first)", "entered"),
}


@dataclass(frozen=True)
class AOI:
    """A named polygon in image pixels, x right and y down. A rectangle is a 4-vertex polygon with shape "rect"."""
    name: str
    points: tuple[tuple[float, float], ...]
    shape: str = "polygon"

    def to_dict(self) -> dict:
        if self.shape == "rect":
            (x0, y0), (x1, y1) = self.points[0], self.points[2]
            return {"name": self.name, "rect": [x0, y0, x1 - x0, y1 - y0]}
        return {"name": self.name, "points": [list(p) for p in self.points]}


def rect_aoi(name: str, x: float, y: float, width: float, height: float) -> AOI:
    """A rectangle from its top-left corner and size in pixels."""
    x, y, width, height = (float(v) for v in (x, y, width, height))
    if not (width > 0 and height > 0):
        raise ValueError(f"AOI {name!r}: a rectangle needs a positive width and height; got {width:g}×{height:g}")
    return AOI(name, ((x, y), (x + width, y), (x + width, y + height), (x, y + height)), "rect")


def polygon_aoi(name: str, points) -> AOI:
    try:
        pts = np.asarray(points, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"AOI {name!r}: points must be a list of [x, y] pairs") from None
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"AOI {name!r}: points must be a list of [x, y] pairs; got shape {pts.shape}")
    return AOI(name, tuple((float(x), float(y)) for x, y in pts))


# ---------------------------------------------------------------------------------------------------------------
# Validation
# ---------------------------------------------------------------------------------------------------------------

def _segments_cross(p1, p2, q1, q2) -> bool:
    """Proper crossing or touching of segments p1p2 and q1q2 (orientation test)."""
    def orient(a, b, c):
        v = (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])
        return 0 if abs(v) < 1e-9 else (1 if v > 0 else -1)

    def on_segment(a, b, c):
        return min(a[0], b[0]) - 1e-9 <= c[0] <= max(a[0], b[0]) + 1e-9 and \
            min(a[1], b[1]) - 1e-9 <= c[1] <= max(a[1], b[1]) + 1e-9

    o1, o2, o3, o4 = orient(p1, p2, q1), orient(p1, p2, q2), orient(q1, q2, p1), orient(q1, q2, p2)
    if o1 != o2 and o3 != o4:
        return True
    return any(o == 0 and on_segment(a, b, c) for o, a, b, c in
               ((o1, p1, p2, q1), (o2, p1, p2, q2), (o3, q1, q2, p1), (o4, q1, q2, p2)))


def self_intersection(points) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges (i, j) that cross or touch, or None. O(k²), k is small for an AOI."""
    pts = [tuple(p) for p in points]
    k = len(pts)
    for i in range(k):
        for j in range(i + 1, k):
            if j == i + 1 or (i == 0 and j == k - 1):             # neighbours share a vertex
                continue
            if _segments_cross(pts[i], pts[(i + 1) % k], pts[j], pts[(j + 1) % k]):
                return i, j
    return None


def check_aois(aois: list[AOI], size: tuple[int, int]) -> list[AOI]:
    """Every AOI valid for an image of `size` (width, height), or a ValueError that names the AOI. Vertices within
    EDGE_TOLERANCE_PX outside the image are clipped to it (a rectangle drawn to the edge)."""
    width, height = size
    if not aois:
        raise ValueError("no areas of interest: draw or import at least one")
    if len(aois) > MAX_AOIS:
        raise ValueError(f"{len(aois)} areas of interest; at most {MAX_AOIS}")
    seen, out = set(), []
    for aoi in aois:
        name = str(aoi.name).strip()
        if not name:
            raise ValueError("an area of interest has an empty name; every AOI needs one")
        if name in seen:
            raise ValueError(f"two areas of interest are named {name!r}; names must be unique")
        seen.add(name)
        pts = np.asarray(aoi.points, dtype=float).reshape(-1, 2)
        if len(pts) < 3:
            raise ValueError(f"AOI {name!r}: a polygon needs at least 3 points; got {len(pts)}")
        if not np.isfinite(pts).all():
            raise ValueError(f"AOI {name!r}: coordinates must be finite numbers")
        outside = (pts[:, 0] < -EDGE_TOLERANCE_PX) | (pts[:, 0] > width + EDGE_TOLERANCE_PX) | \
                  (pts[:, 1] < -EDGE_TOLERANCE_PX) | (pts[:, 1] > height + EDGE_TOLERANCE_PX)
        if outside.any():
            x, y = pts[np.argmax(outside)]
            raise ValueError(f"AOI {name!r}: point ({x:g}, {y:g}) lies outside the {width}×{height} image; "
                             f"AOIs are in pixels of the image, x right and y down from the top-left corner")
        pts = np.clip(pts, 0, [width, height])
        crossing = self_intersection(pts)
        if crossing is not None:
            raise ValueError(f"AOI {name!r} crosses itself (edges {crossing[0] + 1} and {crossing[1] + 1}); "
                             f"list the points in order around the area")
        area = 0.5 * abs(np.dot(pts[:, 0], np.roll(pts[:, 1], -1)) - np.dot(pts[:, 1], np.roll(pts[:, 0], -1)))
        if area < 1.0:
            raise ValueError(f"AOI {name!r} is empty (area {area:.2g} px²): its points lie on one line or one spot")
        out.append(AOI(name, tuple(map(tuple, pts.tolist())), aoi.shape))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Import / export
# ---------------------------------------------------------------------------------------------------------------

def aoi_from_dict(item: dict, size: tuple[int, int] | None = None, relative: bool = False) -> AOI:
    """{"name", "rect": [x, y, w, h]} or {"name", "points": [[x, y], ...]}; `relative` coordinates are shares of
    the image's width and height (one AOI set for images of different sizes)."""
    if not isinstance(item, dict) or "name" not in item:
        raise ValueError(f"an AOI must be an object with a name and a rect or points; got {item!r:.80}")
    sx, sy = (size if relative and size else (1.0, 1.0))
    name = str(item["name"])
    if "rect" in item:
        try:
            x, y, w, h = (float(v) for v in item["rect"])
        except (TypeError, ValueError):
            raise ValueError(f"AOI {name!r}: rect must be [x, y, width, height]") from None
        return rect_aoi(name, x * sx, y * sy, w * sx, h * sy)
    if "points" in item:
        aoi = polygon_aoi(name, item["points"])
        return AOI(name, tuple((x * sx, y * sy) for x, y in aoi.points))
    raise ValueError(f"AOI {name!r}: give a rect [x, y, width, height] or points [[x, y], ...]")


def aois_from_json(source, size: tuple[int, int]) -> list[AOI]:
    """JSON text, a path or a parsed object: {"units": "pixels"|"relative", "aois": [...]} or a bare list."""
    data = source
    if isinstance(source, (str, bytes)) and not str(source).lstrip().startswith(("{", "[")):
        with open(source, encoding="utf-8") as f:
            data = json.load(f)
    elif isinstance(source, (str, bytes)):
        try:
            data = json.loads(source)
        except json.JSONDecodeError as e:
            raise ValueError(f"AOI file is not valid JSON: {e}") from None
    if isinstance(data, dict):
        units = data.get("units", "pixels")
        if units not in ("pixels", "relative"):
            raise ValueError(f"AOI units must be 'pixels' or 'relative'; got {units!r}")
        items, relative = data.get("aois"), units == "relative"
    else:
        items, relative = data, False
    if not isinstance(items, list):
        raise ValueError('an AOI file needs a list of AOIs: {"aois": [{"name": ..., "rect": [x, y, w, h]}]}')
    return check_aois([aoi_from_dict(item, size, relative) for item in items], size)


def aois_to_json(aois: list[AOI], size: tuple[int, int]) -> str:
    return json.dumps({"units": "pixels", "width": size[0], "height": size[1],
                       "aois": [a.to_dict() for a in aois]}, indent=2)


def aois_from_csv(text: str, size: tuple[int, int]) -> list[AOI]:
    """A simple CSV: `name,x,y,width,height` per rectangle, or `name,x,y` per polygon vertex (rows of one name
    in order around the polygon)."""
    reader = csv.DictReader(io.StringIO(text))
    columns = [c.strip().lower() for c in reader.fieldnames or []]
    reader.fieldnames = columns
    if not {"name", "x", "y"} <= set(columns):
        raise ValueError(f"an AOI CSV needs columns name, x, y (and width, height for rectangles); found {columns}")
    rects, polygons = [], {}
    for line, row in enumerate(reader, start=2):
        try:
            x, y = float(row["x"]), float(row["y"])
            w, h = (float(row[c]) if (row.get(c) or "").strip() else None for c in ("width", "height"))
        except (TypeError, ValueError):
            raise ValueError(f"AOI CSV line {line}: x, y, width, height must be numbers") from None
        name = (row["name"] or "").strip()
        if w is not None and h is not None:
            rects.append(rect_aoi(name, x, y, w, h))
        else:
            polygons.setdefault(name, []).append((x, y))
    return check_aois(rects + [polygon_aoi(n, p) for n, p in polygons.items()], size)


def aois_to_csv(aois: list[AOI]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["name", "x", "y", "width", "height"])
    for a in aois:
        if a.shape == "rect":
            writer.writerow([a.name, *(f"{v:g}" for v in a.to_dict()["rect"])])
        else:
            writer.writerows([a.name, f"{x:g}", f"{y:g}", "", ""] for x, y in a.points)
    return out.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------------------------

def hits(aois: list[AOI], xy: np.ndarray) -> np.ndarray:
    """(N, K) bool: fixation n lies in AOI k (edges count as inside)."""
    xy = np.asarray(xy, dtype=float).reshape(-1, 2)
    return np.stack([PolygonPath(np.asarray(a.points)).contains_points(xy, radius=1e-6) |
                     PolygonPath(np.asarray(a.points)).contains_points(xy, radius=-1e-6)
                     for a in aois], axis=1) if len(xy) else np.zeros((0, len(aois)), bool)


def masks(aois: list[AOI], size: tuple[int, int]) -> np.ndarray:
    """(K, H, W) bool: the pixels whose centre lies in each AOI (the same test as for fixations)."""
    width, height = size
    out = np.zeros((len(aois), height, width), bool)
    for k, a in enumerate(aois):
        pts = np.asarray(a.points)
        x0, y0 = np.clip(np.floor(pts.min(0)).astype(int), 0, None)
        x1, y1 = np.minimum(np.ceil(pts.max(0)).astype(int), (width, height))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        centres = np.column_stack([xx.ravel() + 0.5, yy.ravel() + 0.5])
        out[k, y0:y1, x0:x1] = hits([a], centres)[:, 0].reshape(yy.shape)
    return out


def saliency_mass(density: np.ndarray, aois: list[AOI]) -> np.ndarray:
    """(K,) share of the saliency map's mass inside each AOI."""
    density = np.asarray(density, dtype=float)
    total = density.sum()
    if not total > 0:
        raise ValueError("the saliency map has no mass")
    return np.array([density[m].sum() / total for m in masks(aois, (density.shape[1], density.shape[0]))])


# ---------------------------------------------------------------------------------------------------------------
# Per-viewer measures and their summaries
# ---------------------------------------------------------------------------------------------------------------

def per_viewer(paths: list[np.ndarray], aois: list[AOI]) -> dict[str, np.ndarray]:
    """Per viewer v and AOI k every measure of METRICS as (V, K) float arrays (NaN where a measure of the first
    entry has no value), plus "transitions" (V, K, K) counts of moves from AOI i to AOI j."""
    k_aois = len(aois)
    n_viewers = len(paths)
    lengths = [len(p) for p in paths]
    xy = np.concatenate([np.asarray(p, float)[:, :2] for p in paths]) if sum(lengths) else np.zeros((0, 2))
    inside_all = hits(aois, xy)
    out = {key: np.zeros((n_viewers, k_aois)) for key in METRICS}
    for key in ("ttff_ms", "first_fixation_ms", "entry_rank"):
        out[key][:] = np.nan
    transitions = np.zeros((n_viewers, k_aois, k_aois))
    start = 0
    for v, path in enumerate(paths):
        path = np.asarray(path, float).reshape(-1, 3)
        inside = inside_all[start:start + len(path)]
        start += len(path)
        if not len(path):                                   # a viewer without fixations counts zero everywhere
            continue
        durations = path[:, 2]
        before = np.concatenate([[0.0], np.cumsum(durations)[:-1]])
        dwell = durations @ inside
        out["dwell_ms"][v] = dwell
        total = durations.sum()
        out["dwell_share"][v] = dwell / total if total > 0 else 0.0
        out["fixation_count"][v] = inside.sum(0)
        entered = inside.any(0)
        out["fixated"][v] = entered
        first = inside.argmax(0)
        out["ttff_ms"][v, entered] = before[first[entered]]
        out["first_fixation_ms"][v, entered] = durations[first[entered]]
        # visits: a fixation inside whose predecessor is not inside
        starts = inside & ~np.vstack([np.zeros((1, k_aois), bool), inside[:-1]])
        out["visit_count"][v] = starts.sum(0)
        # the labelled sequence: first listed AOI containing each fixation; outside fixations skipped
        labels = np.where(inside.any(1), inside.argmax(1), -1)
        labels = labels[labels >= 0]
        if len(labels):
            changes = labels[np.concatenate([[True], labels[1:] != labels[:-1]])]
            np.add.at(transitions[v], (changes[:-1], changes[1:]), 1)
            order = list(dict.fromkeys(changes.tolist()))
            out["first_entered"][v, order[0]] = 1.0
            out["entry_rank"][v, order] = np.arange(1, len(order) + 1)
    out["transitions"] = transitions
    return out


def _weighted_mean(weights: np.ndarray, values: np.ndarray, over: str) -> np.ndarray:
    """(B, K) means of `values` (V, K) under resampling weights (B, V); "entered" skips NaN."""
    finite = np.isfinite(values)
    summed = weights @ np.where(finite, values, 0.0)
    counts = weights @ finite.astype(float) if over == "entered" else weights.sum(1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return summed / counts


def _row_shares(counts: np.ndarray) -> np.ndarray:
    """(…, K, K) counts → each row as shares of leaving that AOI (NaN rows with no transitions)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return counts / counts.sum(-1, keepdims=True)


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import warnings
    with warnings.catch_warnings():                      # all-NaN columns (an AOI nobody entered) stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanpercentile(samples, 2.5, axis=0), np.nanpercentile(samples, 97.5, axis=0)


def _clean(values) -> list:
    """JSON-friendly: NaN → None."""
    return [None if isinstance(v, float) and math.isnan(v) else v for v in np.asarray(values, float).tolist()] \
        if np.ndim(values) == 1 else [_clean(row) for row in values]


def aoi_metrics(paths: list[np.ndarray], aois: list[AOI], size: tuple[int, int], density: np.ndarray | None = None,
                n_boot: int = N_BOOT, seed: int = 0, resample_size: int | None = None) -> dict:
    """Every AOI metric for a set of viewers' paths ((n, 3) x, y, duration_ms each), with percentile bootstrap
    95 % intervals over viewers. Returns a JSON-friendly dict: {"aois": names, "n_viewers", "metrics": {key:
    {"value", "low", "high"} per AOI}, "transitions": {"counts", "share", "low", "high"} (K×K, rows: from),
    "order": names by mean entry rank, "saliency_mass" (with `density`)}. Needs at least one viewer.
    `resample_size` (default: the number of viewers) draws that many viewers per bootstrap round: with the size of
    a real study it gives the range in which that study's mean would fall if the predicted population were
    right, which is what a prediction is checked against."""
    paths = [np.asarray(p, float).reshape(-1, 3) for p in paths]
    if not paths:
        raise ValueError("no viewers: nothing to compute AOI metrics from")
    aois = check_aois(aois, size)
    measures = per_viewer(paths, aois)
    n_viewers = len(paths)
    rng = np.random.default_rng(seed)
    draws = int(resample_size or n_viewers)
    picks = rng.integers(0, n_viewers, size=(n_boot, draws))
    weights = np.zeros((n_boot, n_viewers))
    np.add.at(weights, (np.repeat(np.arange(n_boot), draws), picks.ravel()), 1.0)
    everyone = np.ones((1, n_viewers))
    metrics = {}
    for key, (_, over) in METRICS.items():
        values = measures[key]
        low, high = _interval(_weighted_mean(weights, values, over))
        metrics[key] = {"value": _clean(_weighted_mean(everyone, values, over)[0]), "low": _clean(low),
                        "high": _clean(high)}
    counts = measures["transitions"]
    k_aois = len(aois)
    boot_counts = (weights @ counts.reshape(n_viewers, -1)).reshape(n_boot, k_aois, k_aois)
    t_low, t_high = _interval(_row_shares(boot_counts))
    total = counts.sum(0)
    ranks = np.array([np.nan if v is None else v for v in metrics["entry_rank"]["value"]])
    order = [aois[k].name for k in np.argsort(np.where(np.isnan(ranks), np.inf, ranks), kind="stable")
             if not np.isnan(ranks[k])]
    result = {"aois": [a.name for a in aois], "n_viewers": n_viewers, "n_boot": n_boot, "metrics": metrics,
              "transitions": {"counts": total.tolist(), "share": _clean(_row_shares(total)),
                              "low": _clean(t_low), "high": _clean(t_high)},
              "order": order}
    if density is not None:
        result["saliency_mass"] = saliency_mass(density, aois).tolist()
    return result


def compare(predicted: dict, observed: dict) -> dict:
    """Per metric and AOI: predicted − observed, and whether the two 95 % intervals overlap (None where either
    side has no value)."""
    out = {}
    for key in METRICS:
        p, o = predicted["metrics"][key], observed["metrics"][key]
        diff, overlap = [], []
        for k in range(len(predicted["aois"])):
            values = (p["value"][k], o["value"][k], p["low"][k], p["high"][k], o["low"][k], o["high"][k])
            if any(v is None for v in values):
                diff.append(None)
                overlap.append(None)
                continue
            diff.append(p["value"][k] - o["value"][k])
            overlap.append(bool(p["low"][k] <= o["high"][k] and o["low"][k] <= p["high"][k]))
        out[key] = {"difference": diff, "intervals_overlap": overlap}
    return out


# --------------------------------------------------------------------------------- calibrated prediction intervals
# A bootstrap over sampled viewers holds their sampling noise only, not the model's own error, so a real study's
# value falls outside it far more often than 5 % (docs/results.md). `calibrate` widens a study-sized interval
# (aoi_metrics with resample_size = the study's number of people) by a factor per metric, fitted on val images
# (split conformal prediction with a normalised score): on exchangeable data 95 % of real values fall inside.

INTERVAL_FLOOR = {"dwell_ms": 10.0, "dwell_share": 0.01, "fixation_count": 0.05, "ttff_ms": 10.0,
                  "first_fixation_ms": 10.0, "fixated": 0.01, "first_entered": 0.01, "visit_count": 0.05,
                  "entry_rank": 0.05}      # added to each half-width, so a zero-width interval can still widen
SHARES = ("dwell_share", "fixated", "first_entered")


def conformity_scores(value, low, high, observed, key: str) -> np.ndarray:
    """How many (floored) half-widths the observed value lies from the predicted one, on its side; NaN where
    any is missing. The 95 % quantile of these over val AOIs is the metric's calibration factor."""
    v, lo, hi, y = (np.asarray(a, float) for a in (value, low, high, observed))
    floor = INTERVAL_FLOOR[key]
    with np.errstate(invalid="ignore"):
        return np.where(y >= v, (y - v) / (hi - v + floor), (v - y) / (v - lo + floor))


def fit_calibration(scores: np.ndarray, coverage: float = 0.95) -> float:
    """The split-conformal factor: the ⌈(n + 1)·coverage⌉-th smallest score of n finite ones."""
    s = np.sort(np.asarray(scores, float)[np.isfinite(scores)])
    if len(s) == 0:
        raise ValueError("no finite conformity scores to calibrate on")
    return float(s[min(len(s) - 1, math.ceil((len(s) + 1) * coverage) - 1)])


def calibrated_bounds(value, low, high, key: str, factor: float) -> tuple[np.ndarray, np.ndarray]:
    """The interval widened by `factor` around the predicted value, kept inside the metric's range."""
    v, lo, hi = (np.asarray(a, float) for a in (value, low, high))
    floor = INTERVAL_FLOOR[key]
    new_low, new_high = v - factor * (v - lo + floor), v + factor * (hi - v + floor)
    upper = 1.0 if key in SHARES else np.inf
    lower = 1.0 if key == "entry_rank" else 0.0
    return np.clip(new_low, lower, upper), np.clip(new_high, lower, upper)


def calibrate(result: dict, factors: dict[str, float]) -> dict:
    """A copy of an `aoi_metrics` result whose metric intervals are widened by the per-metric `factors`
    (`fit_calibration`; metrics without a factor keep their bootstrap interval). Meant for a study-sized result:
    then each interval is where a real study of that size lands 95 % of the time, if val is like this image."""
    out = json.loads(json.dumps(result))
    for key, factor in factors.items():
        m = out["metrics"].get(key)
        if m is None:
            continue
        as_array = lambda values: np.array([np.nan if v is None else v for v in values], float)  # noqa: E731
        low, high = calibrated_bounds(as_array(m["value"]), as_array(m["low"]), as_array(m["high"]), key, factor)
        m["low"], m["high"] = _clean(low), _clean(high)
    out["interval"] = "calibrated"
    return out
