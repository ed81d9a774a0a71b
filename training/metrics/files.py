"""Saliency maps and fixations read from files and scored: a predicted map against a ground-truth map (grey
image or .npy) or a fixations CSV. What training.evaluate_maps runs over folders and the app's Evaluate tab
runs on one pair."""
from __future__ import annotations

import csv
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from models.runtime.densities import empirical_saliency_map
from training.metrics import saliency as sal_metrics


MAP_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".npy"}


GT_EXTENSIONS = MAP_EXTENSIONS | {".csv"}


MAX_MAP_PIXELS = 4096 * 4096       # checked from the file header, before anything is decoded


def _npy_shape(path: Path) -> tuple:
    with open(path, "rb") as f:
        major, _ = np.lib.format.read_magic(f)
        read_header = np.lib.format.read_array_header_1_0 if major == 1 else np.lib.format.read_array_header_2_0
        shape, _, _ = read_header(f)
    return shape


def load_map(path: str | Path) -> np.ndarray:
    """A saliency map file (grey or colour image, or .npy) → float64 (H, W), non-negative."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            if int(np.prod(_npy_shape(path))) > 3 * MAX_MAP_PIXELS:
                raise ValueError(f"array of shape {_npy_shape(path)} is larger than {MAX_MAP_PIXELS} pixels")
            arr = np.load(path, allow_pickle=False)
        else:
            with Image.open(path) as im:
                if im.size[0] * im.size[1] > MAX_MAP_PIXELS:
                    raise ValueError(f"{im.size[0]}×{im.size[1]} is larger than {MAX_MAP_PIXELS} pixels")
                arr = np.asarray(im.convert("F") if im.mode in ("I", "I;16", "F") else im.convert("L"))
    except Exception as err:
        raise ValueError(f"{path.name}: not a readable saliency map ({type(err).__name__}: {err})") from None
    arr = np.asarray(arr, dtype=np.float64)
    if arr.ndim == 3 and arr.shape[2] in (3, 4):
        arr = arr[:, :, :3].mean(2)
    if arr.ndim != 2 or min(arr.shape) < 2:
        raise ValueError(f"{path.name}: a saliency map must be 2-D, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{path.name}: the map contains NaN or infinite values")
    if arr.min() < 0:
        raise ValueError(f"{path.name}: the map has negative values; saliency maps are non-negative")
    return arr


def load_fixations_csv(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """CSV with columns x,y (pixels) → (N, 2); every row checked against size (width, height)."""
    path = Path(path)
    width, height = size
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path.name}: not UTF-8 text (byte {err.start}); save the CSV as UTF-8") from None
    if "\x00" in text:
        raise ValueError(f"{path.name}: a binary file, not a CSV")
    with io.StringIO(text, newline="") as f:
        reader = csv.DictReader(f)
        columns = [c.strip() for c in (reader.fieldnames or [])]
        if "x" not in columns or "y" not in columns:
            raise ValueError(f"{path.name}: a fixations CSV needs columns x and y; found {columns or 'no header'}")
        reader.fieldnames = columns
        points = []
        for line_no, row in enumerate(reader, start=2):
            try:
                x, y = float(row["x"]), float(row["y"])
            except (TypeError, ValueError):
                raise ValueError(f"{path.name}:{line_no}: x and y must be numbers, got {row.get('x')!r}, {row.get('y')!r}") from None
            if not (np.isfinite(x) and np.isfinite(y)):
                raise ValueError(f"{path.name}:{line_no}: x and y must be finite numbers, got {x}, {y}")
            if not (0 <= x <= width and 0 <= y <= height):
                raise ValueError(f"{path.name}:{line_no}: fixation ({x}, {y}) lies outside the {width}×{height} map")
            points.append((x, y))
    if not points:
        raise ValueError(f"{path.name}: no fixations")
    return np.array(points)


def resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    if pred.shape == shape:
        return pred
    return cv2.resize(pred, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def score_pair(pred_path, gt_path, protocol: str = "mit", sigma_px: float = 24.0) -> dict:
    pred = load_map(pred_path)
    if Path(gt_path).suffix.lower() == ".csv":
        height, width = pred.shape
        fixations = load_fixations_csv(gt_path, (width, height))
        gt_map = empirical_saliency_map(fixations, (width, height), sigma_px)
        return sal_metrics.compute_all(pred, fixations, gt_map, protocol=protocol)
    gt = load_map(gt_path)
    if gt.max() <= 0:
        raise ValueError(f"{Path(gt_path).name}: the ground-truth map is all zeros")
    return sal_metrics.map_metrics_continuous(resize_to(pred, gt.shape), gt, protocol=protocol)
