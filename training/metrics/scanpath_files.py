"""Scanpaths read from a CSV file and scored: what the app's scanpath evaluation runs on uploaded files.

    humans = read_scanpaths_csv("humans.csv", (800, 600))          # {subject: (n, 3) x, y, duration_ms}
    model = read_scanpaths_csv("scanpaths.csv", (800, 600))        # e.g. the Scanpaths tab's own export
    score_scanpaths(list(model.values()), humans, (800, 600))
    # {"model": {metric: mean over model paths}, "human": {metric: inter-observer mean}}

CSV layout: one row per fixation, a header row, comma-separated, UTF-8.
- a scanpath column: ``subject``, ``participant``, ``observer``, ``scanpath`` (the app's export) or
  ``scanpath_id`` / ``subject_id`` / ``participant_id``: rows with one value form one scanpath;
- ``x``, ``y``: pixels of the image, x right, y down, inside the (width, height) given;
- optional ``duration_ms`` (or ``duration``, taken as milliseconds); without it every duration is 0 and
  MultiMatch's duration similarity is left out of the scores (nothing to compare);
- optional ``order`` (or ``index``, ``idx``, ``fixation``): the fixation's place in its scanpath; without it,
  the order of the rows;
- optional ``image``: a file with several images' rows (e.g. a dataset's fixations.csv) needs ``image=`` to
  pick one.
Anything else is a ValueError that names the file (and the line): missing columns, non-numbers, a fixation
outside the image, a repeated order, a negative duration, no rows.

The metrics are those of training/metrics/scanpath.py (MultiMatch, SequenceScore, SED, DTW), not re-implemented
here: the model's paths are scored with ``score_scanpath`` against all human paths, and the humans with
``inter_observer_scores`` (each subject against the others, the reference a model is read against).
"""
from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from training.metrics import scanpath as sp_metrics
from training.metrics.files import read_csv_text

ID_COLUMNS = ("subject", "participant", "observer", "scanpath", "scanpath_id", "subject_id", "participant_id")
ORDER_COLUMNS = ("order", "index", "idx", "fixation", "fixation_index")
DURATION_COLUMNS = ("duration_ms", "duration")
MAX_SCANPATHS = 100               # per file: MultiMatch's alignment is quadratic per pair of paths
MAX_SCANPATH_LENGTH = 300         # fixations per scanpath

__all__ = ["read_scanpaths_csv", "score_scanpaths", "ID_COLUMNS", "ORDER_COLUMNS", "DURATION_COLUMNS"]


def _number(path: Path, line_no: int, row: dict, column: str) -> float:
    raw = row.get(column)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{path.name}:{line_no}: {column} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{path.name}:{line_no}: {column} must be a finite number, got {raw!r}")
    return value


def read_scanpaths_csv(path, size: tuple[int, int], image: str | None = None) -> dict[str, np.ndarray]:
    """A scanpaths CSV (see the module docstring) → {scanpath id: (n, 3) float array of x, y, duration_ms in
    temporal order}, ids in the order they first appear. ``size`` = (width, height) of the image; ``image``
    selects the rows of one image when the file has an ``image`` column with several values."""
    path = Path(path)
    width, height = size
    with io.StringIO(read_csv_text(path), newline="") as f:
        reader = csv.DictReader(f)
        columns = [(c or "").strip().lower() for c in (reader.fieldnames or [])]
        reader.fieldnames = columns
        id_col = next((c for c in ID_COLUMNS if c in columns), None)
        missing = [name for name, ok in (("x", "x" in columns), ("y", "y" in columns),
                                         (" / ".join(ID_COLUMNS[:4]), id_col is not None)) if not ok]
        if missing:
            raise ValueError(f"{path.name}: a scanpaths CSV needs columns x, y and a scanpath column "
                             f"({' / '.join(ID_COLUMNS)}); missing {', '.join(missing)}; "
                             f"found {columns or 'no header'}")
        order_col = next((c for c in ORDER_COLUMNS if c in columns), None)
        duration_col = next((c for c in DURATION_COLUMNS if c in columns), None)
        has_image = "image" in columns
        paths: dict[str, list[tuple[float, int, float, float, float]]] = {}
        images_seen: set[str] = set()
        for line_no, row in enumerate(reader, start=2):
            if has_image:
                name = (row.get("image") or "").strip()
                images_seen.add(name)
                if image is not None and name != image:
                    continue
            subject = (row.get(id_col) or "").strip()
            if not subject:
                raise ValueError(f"{path.name}:{line_no}: empty {id_col}; every row needs the scanpath it belongs to")
            x, y = _number(path, line_no, row, "x"), _number(path, line_no, row, "y")
            if not (0 <= x <= width and 0 <= y <= height):
                raise ValueError(f"{path.name}:{line_no}: fixation ({x:g}, {y:g}) lies outside the "
                                 f"{width}×{height} image")
            duration = _number(path, line_no, row, duration_col) if duration_col else 0.0
            if duration < 0:
                raise ValueError(f"{path.name}:{line_no}: {duration_col} must not be negative, got {duration:g}")
            order = _number(path, line_no, row, order_col) if order_col else float(line_no)
            paths.setdefault(subject, []).append((order, line_no, x, y, duration))
    if has_image and image is None and len(images_seen) > 1:
        shown = ", ".join(sorted(images_seen)[:5]) + (", …" if len(images_seen) > 5 else "")
        raise ValueError(f"{path.name}: rows of {len(images_seen)} images ({shown}); give the rows of one image, "
                         f"or choose one with image=")
    if not paths:
        where = f" for image {image!r}" if image is not None and has_image else ""
        raise ValueError(f"{path.name}: no fixations{where}")
    if len(paths) > MAX_SCANPATHS:
        raise ValueError(f"{path.name}: {len(paths)} scanpaths; at most {MAX_SCANPATHS} are scored at once")
    out = {}
    for subject, rows in paths.items():
        if len(rows) > MAX_SCANPATH_LENGTH:
            raise ValueError(f"{path.name}: scanpath {subject!r} has {len(rows)} fixations; at most "
                             f"{MAX_SCANPATH_LENGTH} per scanpath")
        rows.sort()
        orders = [r[0] for r in rows]
        if order_col and len(set(orders)) != len(orders):
            dup = next(o for o in orders if orders.count(o) > 1)
            lines = [r[1] for r in rows if r[0] == dup]
            raise ValueError(f"{path.name}: scanpath {subject!r} has {order_col} {dup:g} twice "
                             f"(lines {', '.join(map(str, lines))})")
        out[subject] = np.array([r[2:] for r in rows], dtype=np.float64)
    return out


def _mean(values) -> float:
    arr = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    return float(arr.mean()) if arr.size else math.nan


def score_scanpaths(model_paths, human_paths, size: tuple[int, int]) -> dict[str, dict[str, float]]:
    """Score a model's scanpaths of one image against the human scanpaths of that image.

    ``model_paths``: list of (n, 3) x, y, duration_ms arrays (or a dict of them, as read_scanpaths_csv gives);
    ``human_paths``: {subject: (n, 3)} (or a list); ``size``: (width, height).
    Returns {"model": {metric: mean over model paths of training.metrics.scanpath.score_scanpath against all
    humans}, "human": {metric: training.metrics.scanpath.inter_observer_scores}} with the metrics
    mm_vector … mm_duration, sequence_score (higher is better), sed, dtw (lower is better). SequenceScore's
    clusters are fitted once on the human fixations. MultiMatch needs ≥ 3 fixations per path (NaN otherwise);
    "human" is NaN with fewer than 2 subjects. Without durations in the human paths (all 0) mm_duration is left
    out of both.
    """
    humans = list(human_paths.values()) if isinstance(human_paths, dict) else list(human_paths)
    models = list(model_paths.values()) if isinstance(model_paths, dict) else list(model_paths)
    if not humans:
        raise ValueError("no human scanpaths to compare with")
    if not models:
        raise ValueError("no model scanpaths to score")
    clusters = sp_metrics.fit_fixation_clusters(humans)
    rows = [sp_metrics.score_scanpath(p, humans, size, clusters=clusters) for p in models]
    model = {k: _mean(r[k] for r in rows) for k in sp_metrics.SCANPATH_METRICS}
    human = sp_metrics.inter_observer_scores(humans, size)
    if not any(np.asarray(h, dtype=float)[:, 2].any() for h in humans):
        model.pop("mm_duration"), human.pop("mm_duration")
    return {"model": model, "human": human}
