"""A real eye-tracking study of one painting, loaded into what the AOI metrics read: {participant: (n, 3) x, y
(image pixels), duration_ms}, plus notes that say what was changed on the way (scaling, dropped fixations).

Inputs:
- fixations, our layout (image,subject,index,x,y,duration_ms, as training/datasets.py), or any CSV with a column
  mapping {"participant": ..., "x": ..., "y": ..., "duration_ms": ..., "order": ..., "image": ...};
- raw gaze samples (CSV with participant, time_ms, x, y, or an EyeLink .asc file), turned into fixations by
  pymovements' I-DT or I-VT detector.

Screen and image: eye trackers record screen pixels. Give where the image was shown (`placement`: left, top,
width, height in screen pixels) and coordinates are mapped into the image; or `scale_from` (the screen size
when the image filled the screen) to scale, which the notes say. Without either, coordinates beyond the image
are refused with a message that asks for the placement. Fixations that land on the screen outside the image
are dropped (they did not look at the painting) and counted in the notes.
"""
from __future__ import annotations

import csv
import io
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.config import DEFAULT_SIGMA_PX
from training.metrics.files import read_csv_text

OUR_COLUMNS = {"participant": "subject", "x": "x", "y": "y", "duration_ms": "duration_ms", "order": "index",
               "image": "image"}
SAMPLE_COLUMNS = {"participant": "participant", "time_ms": "time_ms", "x": "x", "y": "y", "image": "image"}
OUTSIDE_TOLERANCE = 0.02          # share of the image size: recorded noise just past the edge is not a screen
MIN_FIXATION_MS = 100             # Salvucci & Goldberg's I-DT default, also pymovements'
DISPERSION_DEG = 1.0              # I-DT: summed x and y extent of a fixation, degrees of visual angle
VELOCITY_DEG_S = 30.0             # I-VT: faster than this is a saccade


class StudyError(ValueError):
    """Anything wrong with a study's input; the message says what and where."""


@dataclass
class Placement:
    """Where the image was shown on the screen, in screen pixels."""
    left: float
    top: float
    width: float
    height: float


@dataclass
class Study:
    size: tuple[int, int]                                  # image (width, height)
    fixations: dict[str, np.ndarray]                       # participant → (n, 3) x, y, duration_ms
    notes: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[np.ndarray]:
        return list(self.fixations.values())


# ---------------------------------------------------------------------------------------------------------------
# Screen → image
# ---------------------------------------------------------------------------------------------------------------

def to_image(xy: np.ndarray, size: tuple[int, int], placement: Placement | None = None,
             scale_from: tuple[float, float] | None = None) -> tuple[np.ndarray, list[str]]:
    """(N, 2) recorded coordinates → image pixels (NaN kept), and notes."""
    width, height = size
    xy = np.asarray(xy, dtype=float).copy()
    notes = []
    if placement is not None:
        if not (placement.width > 0 and placement.height > 0):
            raise StudyError(f"the image's placement on the screen needs a positive width and height; got "
                             f"{placement.width:g}×{placement.height:g}")
        xy = (xy - [placement.left, placement.top]) * [width / placement.width, height / placement.height]
        notes.append(f"screen coordinates mapped into the image shown at ({placement.left:g}, {placement.top:g}), "
                     f"{placement.width:g}×{placement.height:g} screen pixels")
    elif scale_from is not None:
        sw, sh = scale_from
        if not (sw > 0 and sh > 0):
            raise StudyError(f"the screen size to scale from must be positive; got {sw:g}×{sh:g}")
        xy = xy * [width / sw, height / sh]
        notes.append(f"coordinates scaled from a {sw:g}×{sh:g} screen to the {width}×{height} image (assumes the "
                     f"image filled the screen; give its placement if it did not)")
    else:
        finite = xy[np.isfinite(xy).all(1)]
        if len(finite):
            far = (finite[:, 0] > width * (1 + OUTSIDE_TOLERANCE)) | (finite[:, 1] > height * (1 + OUTSIDE_TOLERANCE))
            if far.mean() > 0.05:
                mx, my = finite.max(0)
                raise StudyError(
                    f"{far.mean():.0%} of the coordinates lie beyond the {width}×{height} image (up to "
                    f"({mx:.0f}, {my:.0f})): they look like screen coordinates. Give the image's position on the "
                    f"screen (placement: left, top, width, height in screen pixels), or the screen size to scale "
                    f"from if the image filled the screen")
    return xy, notes


def _inside(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return (xy[:, 0] >= 0) & (xy[:, 0] <= width) & (xy[:, 1] >= 0) & (xy[:, 1] <= height)


def _finish(size, fixations: dict[str, np.ndarray], notes: list[str], placement, scale_from, source: str) -> Study:
    """Map every participant's fixations into the image, drop those off the image, note the empty ones."""
    if not fixations:
        raise StudyError(f"{source}: no participants")
    all_xy = np.concatenate([f[:, :2] for f in fixations.values() if len(f)] or [np.zeros((0, 2))])
    _, mapping_notes = to_image(all_xy, size, placement, scale_from)
    notes = notes + mapping_notes
    out, dropped, empty = {}, 0, []
    for participant, fix in fixations.items():
        xy, _ = to_image(fix[:, :2], size, placement, scale_from) if len(fix) else (fix[:, :2], [])
        keep = _inside(xy, size)
        dropped += int((~keep).sum())
        path = np.column_stack([xy[keep], fix[keep, 2]])
        if len(path):
            out[participant] = path
        else:
            empty.append(participant)
    if dropped:
        notes.append(f"{dropped} fixation(s) on the screen outside the image were left out")
    if empty:
        notes.append(f"participant(s) with no fixation on the image, left out: {', '.join(map(str, empty))}")
    if not out:
        raise StudyError(f"{source}: no participant has a fixation on the image")
    return Study(tuple(size), out, notes)


# ---------------------------------------------------------------------------------------------------------------
# Fixation CSVs
# ---------------------------------------------------------------------------------------------------------------

def _columns(found: list[str], mapping: dict[str, str], required: tuple[str, ...], source: str) -> dict[str, str]:
    """mapping (our name → file column) checked against the file's columns, case-insensitively."""
    lower = {c.strip().lower(): c for c in found}
    out = {}
    for ours, theirs in mapping.items():
        if theirs is None:
            continue
        column = lower.get(str(theirs).strip().lower())
        if column is None and ours in required:
            raise StudyError(f"{source}: no column {theirs!r} for {ours}; the file has "
                             f"{', '.join(found) or 'no header'}"
                             f" — give a column mapping, e.g. {{'{ours}': 'your column'}}")
        if column is not None:
            out[ours] = column
    return out


def _number(value, source: str, line: int, column: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise StudyError(f"{source}:{line}: {column} must be a number; got {value!r}") from None
    return number


def read_fixations_csv(path_or_text, size: tuple[int, int], image: str | None = None,
                       columns: dict[str, str] | None = None, placement: Placement | None = None,
                       scale_from: tuple[float, float] | None = None) -> Study:
    """A fixations CSV → Study. `columns` maps participant, x, y, duration_ms and optionally order, image to the
    file's column names (default: our layout). Rows of other images are skipped when `image` is given."""
    source = Path(path_or_text).name if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text) else "fixations CSV"
    text = read_csv_text(Path(path_or_text)) if source != "fixations CSV" else path_or_text
    reader = csv.DictReader(io.StringIO(text))
    found = reader.fieldnames or []
    cols = _columns(found, {**OUR_COLUMNS, **(columns or {})}, ("participant", "x", "y", "duration_ms"), source)
    rows: dict[str, list[tuple[float, float, float, float]]] = {}
    images = set()
    for line, row in enumerate(reader, start=2):
        if "image" in cols:
            images.add(row[cols["image"]])
            if image is not None and row[cols["image"]] != image:
                continue
        participant = (row[cols["participant"]] or "").strip()
        if not participant:
            raise StudyError(f"{source}:{line}: empty {cols['participant']}")
        x, y, duration = (_number(row[cols[c]], source, line, cols[c]) for c in ("x", "y", "duration_ms"))
        if not (math.isfinite(duration) and duration >= 0):
            raise StudyError(f"{source}:{line}: {cols['duration_ms']} must be a non-negative number; got {duration}")
        order = _number(row[cols["order"]], source, line, cols["order"]) if "order" in cols else float(line)
        if math.isfinite(x) and math.isfinite(y):                 # a fixation without a position is no fixation
            rows.setdefault(participant, []).append((order, x, y, duration))
        else:
            rows.setdefault(participant, [])
    if image is None and len(images) > 1:
        raise StudyError(f"{source}: rows of {len(images)} images; choose one with image=")
    fixations = {p: np.array([r[1:] for r in sorted(v)], float).reshape(-1, 3) for p, v in rows.items()}
    where = f" for image {image!r}" if image else ""
    if not fixations:
        raise StudyError(f"{source}: no fixations{where}")
    return _finish(size, fixations, [], placement, scale_from, source)


# ---------------------------------------------------------------------------------------------------------------
# Raw samples → fixations (pymovements)
# ---------------------------------------------------------------------------------------------------------------

def _regular(time_ms: np.ndarray, xy: np.ndarray, source: str) -> tuple[np.ndarray, float, list[str]]:
    """Samples on a regular clock: (T, 2) with NaN in gaps, the sample period (ms), and notes. pymovements'
    detectors need a constant interval; a gap in the recording becomes missing samples, as a blink does."""
    order = np.argsort(time_ms, kind="stable")
    time_ms, xy = time_ms[order], xy[order]
    steps = np.diff(time_ms)
    if (steps == 0).any():
        raise StudyError(f"{source}: {int((steps == 0).sum())} repeated time stamp(s); one sample per time")
    if len(time_ms) < 3:
        raise StudyError(f"{source}: {len(time_ms)} sample(s); too few to find fixations")
    period = float(np.median(steps))
    index = np.round((time_ms - time_ms[0]) / period).astype(int)
    grid = np.full((index[-1] + 1, 2), np.nan)
    grid[index] = xy
    notes = []
    lost = int(np.isnan(grid).any(1).sum())
    if lost:
        notes.append(f"{lost} of {len(grid)} samples missing (gaps, blinks or lost tracking)")
    return grid, period, notes


def detect_fixations(time_ms, xy, method: str = "idt", ppd: float = DEFAULT_SIGMA_PX,
                     min_duration_ms: float = MIN_FIXATION_MS, source: str = "samples") -> tuple[np.ndarray, list[str]]:
    """Raw samples of one participant (time in ms, (N, 2) x, y; NaN, or 0, 0 for lost samples and blinks) →
    ((n, 3) x, y, duration_ms, notes). `method`: "idt" (dispersion ≤ DISPERSION_DEG) or "ivt" (velocity ≤
    VELOCITY_DEG_S), thresholds in degrees through `ppd` (screen pixels per degree of visual angle). A fixation's
    position is the mean of its samples, its duration the detector's offset − onset."""
    import pymovements as pm

    time_ms = np.asarray(time_ms, dtype=float)
    xy = np.asarray(xy, dtype=float).reshape(-1, 2).copy()
    if len(time_ms) != len(xy):
        raise StudyError(f"{source}: {len(time_ms)} time stamps for {len(xy)} positions")
    if not np.isfinite(time_ms).all():
        raise StudyError(f"{source}: time stamps must be finite numbers")
    xy[(xy == 0).all(1)] = np.nan                          # EyeLink and Tobii write 0, 0 while the eye is lost
    grid, period, notes = _regular(time_ms, xy, source)
    if np.isnan(grid).all():
        return np.zeros((0, 3)), notes + ["no valid sample"]
    min_samples = max(2, int(math.ceil(min_duration_ms / period)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "idt":
            events = pm.events.idt(grid, minimum_duration=min_samples, dispersion_threshold=DISPERSION_DEG * ppd)
        elif method == "ivt":
            velocity = pm.transforms.numpy.pos2vel(grid, sampling_rate=1000.0 / period, method="smooth")
            events = pm.events.ivt(velocity, minimum_duration=min_samples,
                                   velocity_threshold=VELOCITY_DEG_S * ppd)
        else:
            raise StudyError(f"unknown fixation detector {method!r}; use 'idt' or 'ivt'")
    frame = events.frame
    out = []
    for onset, offset in zip(frame["onset"].to_list(), frame["offset"].to_list()):
        samples = grid[onset:max(offset, onset + 1)]
        samples = samples[np.isfinite(samples).all(1)]
        if len(samples):
            out.append((*samples.mean(0), (offset - onset) * period))
    return np.array(out, float).reshape(-1, 3), notes


def read_samples_csv(path_or_text, size: tuple[int, int], image: str | None = None,
                     columns: dict[str, str] | None = None, method: str = "idt", ppd: float = DEFAULT_SIGMA_PX,
                     placement: Placement | None = None, scale_from: tuple[float, float] | None = None) -> Study:
    """Raw gaze samples (participant, time_ms, x, y; optional image) → fixations by pymovements → Study.
    Empty x or y cells are lost samples. Without a participant column the file is one participant."""
    source = Path(path_or_text).name if isinstance(path_or_text, Path) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text) else "samples CSV"
    text = read_csv_text(Path(path_or_text)) if source != "samples CSV" else path_or_text
    reader = csv.DictReader(io.StringIO(text))
    found = reader.fieldnames or []
    cols = _columns(found, {**SAMPLE_COLUMNS, **(columns or {})}, ("time_ms", "x", "y"), source)
    samples: dict[str, list[tuple[float, float, float]]] = {}
    for line, row in enumerate(reader, start=2):
        if "image" in cols and image is not None and row[cols["image"]] != image:
            continue
        participant = (row[cols["participant"]] or "").strip() if "participant" in cols else "participant"
        t = _number(row[cols["time_ms"]], source, line, cols["time_ms"])
        x, y = ((_number(row[cols[c]], source, line, cols[c]) if (row[cols[c]] or "").strip() else math.nan)
                for c in ("x", "y"))
        samples.setdefault(participant, []).append((t, x, y))
    if not samples:
        raise StudyError(f"{source}: no samples" + (f" for image {image!r}" if image else ""))
    return _from_samples(samples, size, method, ppd, placement, scale_from, source)


def _from_samples(samples: dict[str, list], size, method, ppd, placement, scale_from, source) -> Study:
    fixations, notes = {}, [f"fixations detected with pymovements' {method.upper()} (ppd {ppd:g} screen px/°)"]
    for participant, rows in samples.items():
        arr = np.asarray(rows, float)
        fix, participant_notes = detect_fixations(arr[:, 0], arr[:, 1:], method, ppd,
                                                  source=f"{source}, participant {participant}")
        fixations[participant] = fix
        notes += [f"participant {participant}: {n}" for n in participant_notes]
    return _finish(size, fixations, notes, placement, scale_from, source)


def read_asc(paths, size: tuple[int, int], method: str = "idt", ppd: float = DEFAULT_SIGMA_PX,
             placement: Placement | None = None, scale_from: tuple[float, float] | None = None) -> Study:
    """EyeLink .asc files (one per participant, named by the file) read by pymovements → fixations → Study."""
    import pymovements as pm

    samples = {}
    for path in map(Path, paths):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                gaze = pm.gaze.from_asc(path)
        except Exception as e:                                   # pymovements raises several kinds on a bad file
            raise StudyError(f"{path.name}: not a readable EyeLink ASC file ({e})") from None
        frame = gaze.samples
        if "pixel" not in frame.columns or not len(frame):
            raise StudyError(f"{path.name}: no gaze samples in pixels")
        pixel = np.array([[math.nan if v is None else v for v in (p or [None, None])[:2]]
                          for p in frame["pixel"].to_list()], float)
        samples[path.stem] = np.column_stack([frame["time"].to_numpy().astype(float), pixel]).tolist()
    return _from_samples(samples, size, method, ppd, placement, scale_from, "ASC files")
