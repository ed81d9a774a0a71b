"""The app's Study tab as plain functions: areas of interest drawn, suggested, imported and exported as a table,
and the virtual eye-tracking study (training.study.aoi_report), with a real study beside it when one is given.
The app only wires these to widgets.

    rows = add_area([], [[10, 10], [120, 90]], "face", (800, 600))      # two clicks span a rectangle
    rows = suggest("grid", "painting.jpg", rows)                         # + r1c1 … r3c3
    preview, problems = draw_preview("painting.jpg", rows, points=[])    # the AOIs outlined and named
    report = run_study("painting.jpg", rows, "spgen", 100, 3.0, 0)      # table, chart, transitions, files

The AOI table (columns name, kind, points) is what the user edits and what a run reads. Points are "x y; x y;
…" in the pixels of the uploaded painting, x right and y down: a rectangle by two opposite corners, a polygon by
its vertices in order. A row that is wrong is reported by name and kept, so nothing typed is lost.
"""
from __future__ import annotations

import functools
import json
import math
import re
import shutil
from pathlib import Path

import cv2
import numpy as np

from models.studio.files import output_dir
from models.studio.painting import Painting, load_painting
from training.aoi_suggest import FaceDetectorUnavailable, face_aois, grid_aois, saliency_regions
from training.metrics.aoi import (AOI, MAX_AOIS, aoi_from_dict, aois_from_csv, aois_to_csv, aois_to_json,
                                  check_aois, polygon_aoi, rect_aoi)
from training.metrics.files import read_csv_text
from training.study import AOI_MODEL, DEFAULT_VIEWERS, aoi_report
from training.study_data import Placement, Study, StudyError, read_asc, read_fixations_csv, read_samples_csv

COLUMNS = ["name", "kind", "points"]
KINDS = ("rectangle", "polygon")
PREVIEW_SIDE = 1000                 # the drawing surface's longest side (clicks are mapped back to the painting)
MIN_VIEWERS, MAX_VIEWERS = 10, 300
MIN_TIME_S, MAX_TIME_S = 1.0, 30.0
STUDY_KINDS = ("fixations", "raw samples")
MAPPING_KEYS = ("participant", "x", "y", "duration_ms", "order", "image", "time_ms")
COMPARISON_COLUMNS = ["AOI", "Metric", "Predicted", "Observed", "Difference", "Intervals overlap",
                      "Expected for this study size", "Observed in expected range"]
# The on-screen table: the headline metrics with their intervals (the CSV download has every column).
SHOWN = ["AOI", "Source", "Participants", "Share of total fixation duration (%)", "Percentage fixated (%)",
         "Time to first fixation (ms)", "Number of fixations", "Number of visits", "Saliency mass (%)"]
COLOURS = [(255, 255, 255), (255, 200, 0), (0, 220, 255), (255, 90, 200), (120, 255, 120), (255, 140, 60)]
PENDING = (255, 60, 60)


# ---------------------------------------------------------------------------------------------------------------
# The painting, read once per upload
# ---------------------------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=4)
def _painting(path: str) -> Painting:
    return load_painting(path)


def painting_of(path) -> Painting:
    """The uploaded painting (its working copy and original size); ValueError for a bad file or none."""
    if path is None or (isinstance(path, str) and not path):
        raise ValueError("Upload a painting first (or click one of the example paintings).")
    return _painting(str(path))


def preview_scale(size: tuple[int, int]) -> float:
    """Drawing-surface pixels per painting pixel: a small painting is enlarged, so it is easy to click on."""
    return PREVIEW_SIDE / max(size)


# ---------------------------------------------------------------------------------------------------------------
# The AOI table
# ---------------------------------------------------------------------------------------------------------------

def table_rows(value) -> list[list[str]]:
    """The table as a list of [name, kind, points] strings, from what Gradio gives (a pandas DataFrame, or
    {"headers", "data"} from an API client, or a list); blank rows are dropped."""
    if value is None:
        return []
    if hasattr(value, "values") and hasattr(value, "columns"):             # pandas
        value = value.values.tolist()
    elif isinstance(value, dict):
        value = value.get("data") or []
    rows = []
    for row in value:
        cells = ["" if c is None or (isinstance(c, float) and math.isnan(c)) else str(c).strip()
                 for c in list(row)[:3]]
        cells += [""] * (3 - len(cells))
        if any(cells):
            rows.append(cells)
    return rows


def format_points(points) -> str:
    return "; ".join(f"{round(x, 1):g} {round(y, 1):g}" for x, y in points)


def row_of(aoi: AOI) -> list[str]:
    if aoi.shape == "rect":
        return [aoi.name, "rectangle", format_points([aoi.points[0], aoi.points[2]])]
    return [aoi.name, "polygon", format_points(aoi.points)]


def _parse_points(text: str, name: str) -> list[tuple[float, float]]:
    points = []
    for pair in filter(None, (p.strip() for p in re.split(r"[;\n]", text))):
        values = pair.replace(",", " ").split()
        try:
            x, y = (float(v) for v in values)
        except ValueError:
            raise ValueError(f"AOI {name!r}: points are 'x y; x y; …' (numbers); got {pair!r}") from None
        points.append((x, y))
    return points


def aoi_of(row: list[str]) -> AOI:
    """One table row as an AOI (not yet checked against the image); ValueError naming it."""
    name, kind, text = row
    label = name or "(no name)"
    kind = kind.lower() or "polygon"
    points = _parse_points(text, label)
    if kind in ("rectangle", "rect"):
        if len(points) != 2:
            raise ValueError(f"AOI {label!r}: a rectangle is two opposite corners 'x y; x y'; got {len(points)} "
                             f"point(s)")
        (x0, y0), (x1, y1) = points
        return rect_aoi(name, min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
    if kind == "polygon":
        return polygon_aoi(name, points or np.zeros((0, 2)))
    raise ValueError(f"AOI {label!r}: kind must be rectangle or polygon; got {kind!r}")


def read_table(value, size: tuple[int, int]) -> tuple[list[AOI], list[str]]:
    """The table's valid AOIs (checked against the image of `size`) and a message per row that is not."""
    aois, problems, seen = [], [], set()
    for row in table_rows(value):
        try:
            aoi = check_aois([aoi_of(row)], size)[0]
        except ValueError as err:
            problems.append(str(err))
            continue
        if aoi.name in seen:
            problems.append(f"two areas of interest are named {aoi.name!r}; names must be unique")
            continue
        seen.add(aoi.name)
        aois.append(aoi)
    if len(aois) > MAX_AOIS:
        problems.append(f"{len(aois)} areas of interest; at most {MAX_AOIS}")
    return aois, problems


def checked_aois(value, size: tuple[int, int]) -> list[AOI]:
    """Every row of the table as a valid AOI, or a ValueError listing what to fix."""
    aois, problems = read_table(value, size)
    if problems:
        raise ValueError("Fix the areas of interest first: " + "; ".join(problems))
    return check_aois(aois, size)


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 2
    while out in taken:
        out, k = f"{name} ({k})", k + 1
    return out


def append(value, aois: list[AOI]) -> list[list[str]]:
    """The table with `aois` added at the end (a name already in the table gets a number)."""
    rows = table_rows(value)
    taken = {r[0] for r in rows}
    for aoi in aois:
        name = _unique(aoi.name, taken)
        taken.add(name)
        rows.append(row_of(AOI(name, aoi.points, aoi.shape)))
    return rows


def add_area(value, points, name: str, size: tuple[int, int]) -> list[list[str]]:
    """The clicked points as a new AOI: two points span a rectangle, three or more make a polygon. ValueError
    (nothing changes) when they do not make a valid area or the name is taken."""
    points = [tuple(map(float, p)) for p in points or []]
    rows = table_rows(value)
    name = (name or "").strip() or _unique(f"area {len(rows) + 1}", {r[0] for r in rows})
    if name in {r[0] for r in rows}:
        raise ValueError(f"an area of interest is already named {name!r}; choose another name")
    if len(points) < 2:
        raise ValueError("Click on the painting to place points first: two opposite corners for a rectangle, "
                         "three or more for a polygon.")
    if len(points) == 2:
        (x0, y0), (x1, y1) = points
        if x0 == x1 or y0 == y1:
            raise ValueError(f"AOI {name!r}: the two corners lie on one line; click two opposite corners")
        aoi = rect_aoi(name, min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
    else:
        aoi = polygon_aoi(name, points)
    return rows + [row_of(check_aois([aoi], size)[0])]


# ---------------------------------------------------------------------------------------------------------------
# Suggestions, import and export
# ---------------------------------------------------------------------------------------------------------------

def suggest(kind: str, path, value) -> list[list[str]]:
    """The table with suggested AOIs appended: "grid" (3×3), "salient" (the saliency map's top 3 regions) or
    "faces". ValueError saying why when there is nothing to add (faces: the detector this OpenCV lacks)."""
    painting = painting_of(path)
    size = painting.original_size
    if kind == "grid":
        found = grid_aois(size, 3, 3)
    elif kind == "salient":
        from models import DEFAULT, load_model
        density = np.asarray(load_model(DEFAULT["saliency"]).predict(painting.rgb), float)
        found = [_scaled(a, painting.scale) for a in saliency_regions(density, count=3)]
    elif kind == "faces":
        try:
            found = [_scaled(a, painting.scale) for a in face_aois(painting.rgb)]
        except FaceDetectorUnavailable as err:
            raise ValueError(f"No face suggestions here: {err}") from None
        if not found:
            raise ValueError("No faces found in this painting (OpenCV's frontal-face detector); draw them by hand.")
    else:
        raise ValueError(f"unknown suggestion {kind!r}; use grid, salient or faces")
    return append(value, check_aois(found, size))


def _scaled(aoi: AOI, factor: float) -> AOI:
    return AOI(aoi.name, tuple((x * factor, y * factor) for x, y in aoi.points), aoi.shape)


def import_file(file, path, value) -> list[list[str]]:
    """An AOI file (JSON, or the simple CSV) appended to the table. JSON rows are added as they are, so a wrong one
    stays in the table with its message; a CSV is read whole or refused with the reason."""
    if file is None:
        return table_rows(value)
    painting = painting_of(path)
    file = Path(str(file))
    text = read_csv_text(file)
    if file.suffix.lower() == ".csv":
        return append(value, aois_from_csv(text, painting.original_size))
    return append(value, aois_from_json_rows(text, painting.original_size))


def aois_from_json_rows(text: str, size: tuple[int, int]) -> list[AOI]:
    """AOI JSON ({"units", "aois"} or a bare list) as AOIs, converted but not checked against the image."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"the AOI file is not valid JSON: {err}") from None
    items = data.get("aois") if isinstance(data, dict) else data
    units = data.get("units", "pixels") if isinstance(data, dict) else "pixels"
    if units not in ("pixels", "relative"):
        raise ValueError(f"AOI units must be 'pixels' or 'relative'; got {units!r}")
    if not isinstance(items, list):
        raise ValueError('an AOI file needs a list of AOIs: {"aois": [{"name": ..., "rect": [x, y, w, h]}]}')
    return [aoi_from_dict(item, size, units == "relative") for item in items]


def table_from_json(source, size: tuple[int, int]) -> list[list[str]]:
    """AOI JSON (text or a file) as table rows, for API callers: as they are (the run checks them)."""
    text = source if str(source).lstrip().startswith(("{", "[")) else read_csv_text(Path(source))
    return [row_of(aoi) for aoi in aois_from_json_rows(text, size)]


def export_files(value, path) -> list[str]:
    """The table's AOIs as JSON and CSV files named after the painting."""
    painting = painting_of(path)
    aois = checked_aois(value, painting.original_size)
    folder = output_dir("aois-")
    json_path, csv_path = folder / f"{painting.stem}-aois.json", folder / f"{painting.stem}-aois.csv"
    json_path.write_text(aois_to_json(aois, painting.original_size), encoding="utf-8")
    csv_path.write_text(aois_to_csv(aois), encoding="utf-8")
    return [str(json_path), str(csv_path)]


# ---------------------------------------------------------------------------------------------------------------
# The drawing surface
# ---------------------------------------------------------------------------------------------------------------

def _surface(painting: Painting) -> tuple[np.ndarray, float]:
    """The painting at the drawing surface's size, and surface pixels per original pixel."""
    f = preview_scale(painting.original_size)
    w, h = (max(1, round(v * f)) for v in painting.original_size)
    shrink = w < painting.rgb.shape[1]
    return cv2.resize(painting.rgb, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR), f


def click_point(path, points, index) -> list[list[float]]:
    """A click on the drawing surface (Gradio's select index: x, y in its pixels) as a point in the painting, to
    the nearest whole pixel."""
    painting = painting_of(path)
    f = preview_scale(painting.original_size)
    x, y = (float(v) / f for v in index[:2])
    w, h = painting.original_size
    return [*(points or []), [round(min(max(x, 0.0), w)), round(min(max(y, 0.0), h))]]


def draw_preview(path, value, points=None) -> tuple[np.ndarray, list[str]]:
    """The painting with every valid AOI outlined and named, and the points being placed; plus the table's
    problems (rows that are not drawn)."""
    painting = painting_of(path)
    canvas, f = _surface(painting)
    canvas = canvas.copy()
    aois, problems = read_table(value, painting.original_size)
    thick = max(1, round(max(canvas.shape[:2]) / 400))
    for k, aoi in enumerate(aois):
        colour = COLOURS[k % len(COLOURS)]
        pts = np.round(np.asarray(aoi.points) * f).astype(np.int32)
        cv2.polylines(canvas, [pts], True, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.polylines(canvas, [pts], True, colour, thick, cv2.LINE_AA)
        _label(canvas, aoi.name, pts.min(0), colour, thick)
    pending = np.round(np.asarray(points or [], float).reshape(-1, 2) * f).astype(np.int32)
    if len(pending) > 1:
        cv2.polylines(canvas, [pending], False, PENDING, thick, cv2.LINE_AA)
    for p in pending:
        cv2.circle(canvas, tuple(int(v) for v in p), 2 * thick + 2, PENDING, -1, cv2.LINE_AA)
    return canvas, problems


def _label(canvas: np.ndarray, text: str, corner, colour, thick: int) -> None:
    scale = 0.4 * thick + 0.1
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    x, y = int(corner[0]) + 3, int(corner[1]) + th + 4
    cv2.rectangle(canvas, (x - 2, y - th - 3), (x + tw + 2, y + base), (0, 0, 0), -1)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


# ---------------------------------------------------------------------------------------------------------------
# A real study
# ---------------------------------------------------------------------------------------------------------------

def parse_mapping(text: str | None) -> dict[str, str] | None:
    """The column mapping: JSON ({"participant": "Participant name", ...}) or lines / commas of ours=theirs."""
    text = (text or "").strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            mapping = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"the column mapping is not valid JSON: {err}") from None
    else:
        mapping = {}
        for part in filter(None, (p.strip() for p in re.split(r"[,\n]", text))):
            ours, sep, theirs = part.partition("=") if "=" in part else part.partition(":")
            if not sep or not theirs.strip():
                raise ValueError(f"the column mapping is ours=theirs, e.g. 'x=Fixation point X'; got {part!r}")
            mapping[ours.strip()] = theirs.strip()
    if not isinstance(mapping, dict):
        raise ValueError("the column mapping must be an object of ours: theirs")
    unknown = sorted(set(mapping) - set(MAPPING_KEYS))
    if unknown:
        raise ValueError(f"the column mapping names {', '.join(unknown)}; it maps {', '.join(MAPPING_KEYS)} to "
                         f"your file's columns")
    return {k: str(v) for k, v in mapping.items()}


def parse_screen(text: str | None) -> tuple[Placement | None, tuple[float, float] | None]:
    """Where the image was on the screen: "left, top, width, height" (screen pixels) → a placement; "width,
    height" (the screen, when the image filled it) → a size to scale from; empty → neither."""
    text = (text or "").strip()
    if not text:
        return None, None
    try:
        values = [float(v) for v in re.split(r"[,\s]+", text) if v]
    except ValueError:
        values = []
    if len(values) == 4:
        return Placement(*values), None
    if len(values) == 2:
        return None, (values[0], values[1])
    raise ValueError(f"the image on the screen is 'left, top, width, height' in screen pixels (or 'width, height' "
                     f"of the screen if the image filled it); got {text!r}")


def read_study(file, kind: str, size: tuple[int, int], mapping: str | None = None,
               screen: str | None = None) -> Study:
    """An uploaded study for the painting of `size` (original pixels): fixations, raw samples or an EyeLink .asc.
    StudyError (a ValueError) saying what is wrong."""
    path = Path(str(file))
    columns = parse_mapping(mapping)
    placement, scale_from = parse_screen(screen)
    if path.suffix.lower() == ".asc":
        return read_asc([path], size, placement=placement, scale_from=scale_from)
    if kind not in STUDY_KINDS:
        raise ValueError(f"the study file holds {' or '.join(STUDY_KINDS)}; got {kind!r}")
    reader = read_fixations_csv if kind == "fixations" else read_samples_csv
    try:
        return reader(path, size, columns=columns, placement=placement, scale_from=scale_from)
    except StudyError as err:
        if "screen coordinates" not in str(err):
            raise
        raise StudyError(f"{err} (here: 'The image on the screen', under 'Compare with a real study')") from None


def _to_working(study: Study, painting: Painting) -> Study:
    f = 1.0 / painting.scale
    if f == 1.0:
        return study
    fixations = {p: np.column_stack([v[:, :2] * f, v[:, 2]]) for p, v in study.fixations.items()}
    return Study(painting.work_size, fixations, [*study.notes, f"read at the {painting.work_size[0]}×"
                                                 f"{painting.work_size[1]} working copy of the painting"])


# ---------------------------------------------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------------------------------------------

def check_settings(n_viewers, viewing_time_s, seed) -> tuple[int, float, int]:
    n_viewers, viewing_time_s = int(n_viewers), float(viewing_time_s)
    if not MIN_VIEWERS <= n_viewers <= MAX_VIEWERS:
        raise ValueError(f"the number of viewers must be between {MIN_VIEWERS} and {MAX_VIEWERS}; got {n_viewers}")
    if not MIN_TIME_S <= viewing_time_s <= MAX_TIME_S:
        raise ValueError(f"the viewing time must be between {MIN_TIME_S:g} and {MAX_TIME_S:g} s; got "
                         f"{viewing_time_s:g}")
    return n_viewers, viewing_time_s, int(seed or 0)


def shown_rows(rows: list[dict]) -> list[list[str]]:
    """The headline columns, each value with its 95 % interval."""
    out = []
    for row in rows:
        cells = []
        for column in SHOWN:
            value, low, high = (row.get(column, ""), row.get(f"{column} 95% CI low", ""),
                                row.get(f"{column} 95% CI high", ""))
            cells.append(f"{value} [{low}, {high}]" if low != "" and high != "" else str(value))
        out.append(cells)
    return out


def score_rows(scores: dict) -> list[list]:
    """The standard saliency and scanpath metrics of the models against the study, as (metric, value) rows."""
    rows = [[f"map: {k}", round(float(v), 4)] for k, v in scores.get("saliency", {}).items()]
    for who, values in scores.get("scanpath", {}).items():
        who = {"model": "sampled vs people", "human": "people vs each other"}.get(who, who)
        if isinstance(values, dict):
            rows += [[f"scanpaths ({who}): {k}", round(float(v), 4)] for k, v in values.items()
                     if isinstance(v, (int, float))]
    return rows


def run_study(path, value, model_name: str = AOI_MODEL, n_viewers=DEFAULT_VIEWERS, viewing_time_s=3.0, seed=0,
              study_file=None, study_kind: str = "fixations", mapping: str | None = None, screen: str | None = None,
              progress=None) -> dict:
    """The virtual study of the table's AOIs on the painting, and the comparison with a real study if one is
    given. Every input is checked before any model runs or any file is written. Returns {"rows" (the headline
    table), "chart", "transitions", "files" (CSV, JSON), "comparison", "overlay", "scores", "note"}."""
    from models import DEFAULT, load_model
    from models.studio.scanpath_tab import scanpath_models

    def step(share: float, what: str) -> None:
        if progress is not None:
            progress(share, desc=what)

    painting = painting_of(path)
    aois = checked_aois(value, painting.original_size)
    if model_name not in scanpath_models():
        raise ValueError(f"unknown scanpath model {model_name!r}; choose one of {', '.join(scanpath_models())}")
    n_viewers, viewing_time_s, seed = check_settings(n_viewers, viewing_time_s, seed)
    study = None
    if study_file:
        step(0.05, "reading the study")
        study = _to_working(read_study(study_file, study_kind, painting.original_size, mapping, screen), painting)
    step(0.2, f"{n_viewers} viewers looking for {viewing_time_s:g} s")
    folder = output_dir(f"{painting.stem}-study-")
    try:
        report = aoi_report(painting.rgb, [_scaled(a, 1.0 / painting.scale) for a in aois], model_name,
                            n_viewers, viewing_time_s, seed, folder, study, load_model(model_name),
                            load_model(DEFAULT["saliency"]))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)             # a failed request leaves no output behind
        raise
    result = report["result"]
    note = (f"**{model_name}**: {n_viewers} sampled viewers looking for {viewing_time_s:g} s (seed {seed}); "
            f"values with their 95 % bootstrap intervals over viewers.")
    if painting.downscaled:
        note += (f" The study ran on the {painting.work_size[0]}×{painting.work_size[1]} copy the models see "
                 f"(the AOIs and the real fixations scaled to it; metrics.json lists the AOIs at that size).")
    if study is not None:
        notes = "".join(f" {n[:1].upper()}{n[1:]}." for n in study.notes)
        note += f"\n\nReal study: {len(study.paths)} participants.{notes}"
        if result.get("expected") is not None:
            note += (f" “Expected for this study size”: where a study of {len(study.paths)} people would land 95 % "
                     f"of the time if the model were as right as on the val splits (its bootstrap interval for "
                     f"that many people, widened by factors fitted on val; docs/aoi.md).")
    return {"rows": shown_rows(report["table_rows"]), "chart": report["chart_png_path"],
            "transitions": report["transitions_png_path"], "files": [report["csv_path"], report["json_path"]],
            "comparison": [[r.get(c, "") for c in COMPARISON_COLUMNS] for r in report.get("comparison_rows", [])],
            "overlay": report.get("overlay_png_path"), "scores": score_rows(result.get("scores", {})),
            "note": note}
