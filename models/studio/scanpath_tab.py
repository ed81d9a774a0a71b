"""What the app's Scanpath tab does, as plain functions (the app only wires them to widgets).

    paths = sample_scanpaths(image, "spgen", n_scanpaths=3, temperature=0.5, viewing_time_s=3, seed=0)
    drawing = draw_scanpaths(image, paths)                 # numbered circles sized by duration, arrows
    gif = animate_scanpaths(image, paths)                   # the gaze moving, one GIF
    json_path, csv_path = export_scanpaths(paths, image.shape, settings)

Scanpaths are (n, 3) arrays of x, y in image pixels and duration in ms, in temporal order. The same seed gives
the same scanpaths.
"""
from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from models import DEFAULT, as_rgb, list_models, load_model, predict_saliency
from models.studio.files import output_dir
from models.studio.painting import load_painting
from models.runtime.viewers import DEFAULT_VIEWING_TIME_S, MAX_VIEWING_TIME_S, check_variability, check_viewing_time
from models.studio.rendering import _scaled, colorize

MAX_SCANPATHS = 10
VARIABILITY_NOTE = ("0: the most typical viewer (the same path every time) · 0.5: as varied as the people of "
                    "the eye-tracking studies · 1: a very idiosyncratic viewer, still mostly on salient content")
# One colour per scanpath (matplotlib's tab10, RGB), cycling beyond ten.
COLOURS = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207)]


def scanpath_models() -> list[str]:
    return list_models("scanpath", include_gaze_models=False)


def default_temperature(model_name: str) -> float:
    """The temperature a model samples at by default (SPGEn / SSLArt: chosen on val scanpaths)."""
    return float(load_model(model_name).default_temperature)


def sample_scanpaths(image, model_name: str, n_scanpaths: int = 3, temperature: float = 0.5,
                     viewing_time_s: float = DEFAULT_VIEWING_TIME_S, seed: int = 0) -> list[np.ndarray]:
    """`n_scanpaths` viewers of one image looking for `viewing_time_s`; ValueError for bad settings."""
    rgb = as_rgb(image)
    if model_name not in scanpath_models():
        raise ValueError(f"unknown scanpath model '{model_name}'; choose one of {', '.join(scanpath_models())}")
    if not 1 <= int(n_scanpaths) <= MAX_SCANPATHS:
        raise ValueError(f"number of scanpaths must be between 1 and {MAX_SCANPATHS}; got {n_scanpaths}")
    check_viewing_time(viewing_time_s)
    check_variability(temperature)
    paths = load_model(model_name).sample_batch(rgb, int(n_scanpaths), temperature=float(temperature), seed=int(seed),
                                                viewing_time_s=float(viewing_time_s))
    return [np.asarray(p, dtype=np.float64) for p in paths]


def _radius(duration_ms: float, scale: float) -> int:
    """Circle radius ∝ sqrt(duration) (area ∝ time), 300 ms ≈ 2.2 % of the image's short side."""
    return max(3, int(round(scale * 0.022 * np.sqrt(max(duration_ms, 1.0) / 300.0))))


MAP_SHARES = (0.10, 0.25)       # "over the map": lines around the most-looked-at 10 % and 25 % of the picture
MAP_CAPTION = ("the painting dimmed to grey, the saliency map in colour over it (brighter: more attention) and "
               "white lines around the most-looked-at 10 % and 25 % of the picture")


def map_backdrop(image, saliency: np.ndarray, colormap: str = "inferno", strength: float = 0.5) -> np.ndarray:
    """A backdrop for scanpaths over a saliency map that keeps both readable: the painting dimmed to grey, the
    map in colour over it on the shared scale (rendering.SCALES "even": 1× = an even spread), opaque enough to
    read where attention is, and white contour lines around the most-looked-at MAP_SHARES of the picture."""
    rgb = as_rgb(image)
    saliency = np.asarray(saliency, dtype=np.float32)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    base = cv2.cvtColor((grey * 0.5).astype(np.uint8), cv2.COLOR_GRAY2RGB)
    scaled = _scaled(saliency, "even")
    alpha = np.minimum(1.0, 0.2 + 1.2 * float(strength) * scaled).astype(np.float32)
    canvas = cv2.blendLinear(colorize(saliency, colormap, "even"), base, alpha, 1 - alpha)
    thick = max(1, int(round(min(rgb.shape[:2]) / 400)))
    ranked = np.sort(saliency.ravel())[::-1]
    for k, share in enumerate(MAP_SHARES):
        level = ranked[max(0, int(round(share * ranked.size)) - 1)]
        mask = (saliency >= level).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(canvas, contours, -1, (255, 255, 255), thick * (2 if k == 0 else 1), cv2.LINE_AA)
    return canvas


def draw_scanpaths(image, paths: list[np.ndarray], saliency: np.ndarray | None = None, colormap: str = "inferno",
                   opacity: float = 0.5, upto: int | None = None) -> np.ndarray:
    """RGB drawing: the image (or, when `saliency` is given, `map_backdrop`: the dimmed painting under the map),
    each scanpath in its own colour as arrows between numbered circles whose area follows the fixation
    duration, outlined in black so they read on light and dark places alike. `upto`: only the first `upto`
    fixations of each path (for animation)."""
    rgb = as_rgb(image)
    canvas = map_backdrop(rgb, saliency, colormap, opacity) if saliency is not None else rgb.copy()
    scale = float(min(rgb.shape[:2]))
    thick = max(1, int(round(scale / 250)))
    font = max(0.35, scale / 900)
    for k, path in enumerate(paths):
        colour = COLOURS[k % len(COLOURS)]
        pts = np.asarray(path)[: upto if upto is not None else None]
        centres = [(int(round(x)), int(round(y))) for x, y in pts[:, :2]]
        for a, b in zip(centres[:-1], centres[1:]):
            tip = min(0.3, 12.0 / max(1.0, np.hypot(b[0] - a[0], b[1] - a[1])))
            cv2.arrowedLine(canvas, a, b, (0, 0, 0), thick + 2, cv2.LINE_AA, tipLength=tip)
            cv2.arrowedLine(canvas, a, b, colour, thick, cv2.LINE_AA, tipLength=tip)
        for i, ((cx, cy), d) in enumerate(zip(centres, pts[:, 2])):
            r = _radius(d, scale)
            cv2.circle(canvas, (cx, cy), r, colour, -1, cv2.LINE_AA)
            cv2.circle(canvas, (cx, cy), r, (255, 255, 255), max(1, thick // 2), cv2.LINE_AA)
            label = str(i + 1)
            (tw, th), _ = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
            cv2.putText(canvas, label, (cx - tw // 2, cy + th // 2), cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255),
                        thick, cv2.LINE_AA)
    return canvas


def animate_scanpaths(image, paths: list[np.ndarray], saliency: np.ndarray | None = None, out_dir=None,
                      max_side: int = 640, speed: float = 1.0, name: str = "scanpaths.gif") -> str:
    """A GIF of the gaze moving: frame i shows the first i fixations of every path; each frame lasts as long as
    the longest i-th fixation (÷ `speed`), so time runs like the recorded durations. Returns its path."""
    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    f = min(1.0, max_side / max(h, w))
    if f < 1.0:
        size = (max(1, round(w * f)), max(1, round(h * f)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
        saliency = cv2.resize(saliency, size, interpolation=cv2.INTER_AREA) if saliency is not None else None
        paths = [np.column_stack([p[:, :2] * f, p[:, 2]]) for p in paths]
    n = max((len(p) for p in paths), default=0)
    backdrop = map_backdrop(rgb, saliency) if saliency is not None else rgb        # drawn once for every frame
    frames, durations = [], []
    for i in range(0, n + 1):
        frames.append(Image.fromarray(draw_scanpaths(backdrop, paths, upto=i)))
        longest = max((p[i - 1, 2] for p in paths if len(p) >= i), default=300.0) if i else 400.0
        durations.append(int(np.clip(longest / speed, 60, 3000)))
    durations[-1] = 2000                                                        # hold the full picture
    folder = Path(out_dir) if out_dir else output_dir("scanpaths-")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    # One palette for every frame, from the last one (it holds the painting and every path's colour): GIF
    # encoding then needs no quantisation of its own per frame.
    palette = frames[-1].quantize(256, method=Image.Quantize.FASTOCTREE)
    frames = [frame.quantize(palette=palette, dither=Image.Dither.NONE) for frame in frames]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0, optimize=False)
    return str(path)


ROW_SETTINGS = ("image", "model", "temperature", "viewing_time_s", "seed")
ROW_FIELDS = ("scanpath", "order", "x", "y", "duration_ms")


def scanpath_rows(paths: list[np.ndarray], settings: dict | None = None) -> list[dict]:
    """One row per fixation: the settings that made it (image, model, temperature, viewing_time_s, seed, where
    given), scanpath (1-based), order (1-based), x, y (image pixels), duration_ms."""
    fixed = {k: settings[k] for k in ROW_SETTINGS if settings and k in settings}
    return [{**fixed, "scanpath": k + 1, "order": i + 1, "x": round(float(x), 2), "y": round(float(y), 2),
             "duration_ms": round(float(d), 1)} for k, p in enumerate(paths) for i, (x, y, d) in enumerate(p)]


def export_scanpaths(paths: list[np.ndarray], image_shape, settings: dict | None = None, out_dir=None,
                     stem: str = "scanpaths") -> tuple[str, str]:
    """Write {stem}.json (settings, image size, the paths) and {stem}.csv (`scanpath_rows`: the settings on
    every row); return their paths."""
    folder = Path(out_dir) if out_dir else output_dir("scanpaths-")
    folder.mkdir(parents=True, exist_ok=True)
    rows = scanpath_rows(paths, settings)
    h, w = image_shape[:2]
    doc = {"image_width": int(w), "image_height": int(h), "settings": settings or {},
           "scanpaths": [[{k: r[k] for k in ("order", "x", "y", "duration_ms")} for r in rows if r["scanpath"] == s + 1]
                         for s in range(len(paths))]}
    json_path, csv_path = folder / f"{stem}.json", folder / f"{stem}.csv"
    json_path.write_text(json.dumps(doc, indent=1))
    with open(csv_path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=[k for k in ROW_SETTINGS if settings and k in settings] + list(ROW_FIELDS))
        writer.writeheader()
        writer.writerows(rows)
    return str(json_path), str(csv_path)


def scanpath_view(image, model_name: str, n_scanpaths: int = 3, temperature: float = 0.5,
                  viewing_time_s: float = DEFAULT_VIEWING_TIME_S, seed: int = 0, show_saliency: bool = False,
                  colormap: str = "inferno"):
    """Everything the tab shows: (drawing RGB, GIF path, JSON path, CSV path, rows). `image`: a file, an array
    or a models.studio.painting.Painting; a painting larger than the models take is sampled on its working copy
    and drawn at that size, while the exports and rows give x, y in the original image's pixels."""
    painting = load_painting(image)
    rgb = painting.rgb
    paths = sample_scanpaths(rgb, model_name, n_scanpaths, temperature, viewing_time_s, seed)
    saliency = None
    if show_saliency:
        saliency = predict_saliency(load_model(DEFAULT["saliency"]), rgb)
    folder = output_dir("scanpaths-")
    drawing = draw_scanpaths(rgb, paths, saliency, colormap)
    gif = animate_scanpaths(rgb, paths, saliency, out_dir=folder, name=f"{painting.stem}-scanpaths.gif")
    settings = {"image": Path(painting.path).name if painting.path else painting.stem, "model": model_name, "temperature": float(temperature),
                "viewing_time_s": float(viewing_time_s), "seed": int(seed), "n_scanpaths": int(n_scanpaths)}
    if painting.downscaled:                              # coordinates in the original image's pixels
        f = painting.scale
        paths = [np.column_stack([p[:, :2] * f, p[:, 2]]) for p in paths]
        settings["sampled_at"] = list(painting.work_size)
    w, h = painting.original_size
    json_path, csv_path = export_scanpaths(paths, (h, w), settings, out_dir=folder, stem=f"{painting.stem}-scanpaths")
    return drawing, gif, json_path, csv_path, scanpath_rows(paths, settings)
