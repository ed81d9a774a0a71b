"""Saliency maps and fixations read from files and scored: a predicted map against a ground-truth map (grey
image or .npy) or a fixations CSV. What training.evaluate_maps runs over folders and the app's Evaluate tab
runs on one pair.

Every metric defined for the ground truth given is returned. A map ground truth gives CC, KLD, SIM and the
GT-weighted NSS / AUC. A fixations CSV gives all eight saliency metrics; two of them need a reference:
- IG (information gain) is measured over the bundled ``centerbias`` model (the Tübingen/MIT benchmark's
  baseline: how much better than "people look at the middle" the prediction explains the fixations).
- sAUC (shuffled AUC) needs negatives that share the fixations' centre bias. The benchmarks take the fixations
  of *other images*; pass them as ``other_fixations`` (training.evaluate_maps does, from the other CSVs of the
  folder). A single uploaded pair has no other images, so its negatives are ``SAUC_CENTERBIAS_SAMPLES``
  points drawn (fixed seed) from the centre-bias density, a stand-in for other images' fixations.
``describe_baselines`` says which was used, in words the app can show.
"""
from __future__ import annotations

import csv
import functools
import io
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from models import create_model
from models.runtime.densities import empirical_saliency_map
from training.metrics import saliency as sal_metrics

IG_BASELINE = "centerbias"                 # registered model whose density is IG's baseline
SAUC_CENTERBIAS_SAMPLES = 5000             # sAUC negatives drawn from the centre bias when no other fixations
SAUC_SEED = 0                              # … with this seed, so one pair always gets the same score


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


def read_csv_text(path: Path) -> str:
    """A CSV file's text; ValueError for a file that is not UTF-8 text."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ValueError(f"{path.name}: not UTF-8 text (byte {err.start}); save the CSV as UTF-8") from None
    if "\x00" in text:
        raise ValueError(f"{path.name}: a binary file, not a CSV")
    return text


def load_fixations_csv(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """CSV with columns x,y (pixels) → (N, 2); every row checked against size (width, height)."""
    path = Path(path)
    width, height = size
    with io.StringIO(read_csv_text(path), newline="") as f:
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


@functools.lru_cache(maxsize=1)
def _centerbias():
    return create_model(IG_BASELINE)


def centerbias_density(size: tuple[int, int]) -> np.ndarray:
    """The bundled centre-bias model's density at (width, height), summing to 1."""
    return _centerbias().density(size)


def centerbias_samples(size: tuple[int, int], n: int = SAUC_CENTERBIAS_SAMPLES, seed: int = SAUC_SEED) -> np.ndarray:
    """(n, 2) x, y points drawn from the centre-bias density at (width, height): a pixel by its probability,
    then a uniform position inside it. Deterministic for a given seed."""
    width, height = size
    density = centerbias_density(size).ravel()
    rng = np.random.default_rng(seed)
    pixels = rng.choice(density.size, size=n, p=density / density.sum())
    rows, cols = np.divmod(pixels, width)
    return np.stack([cols + rng.random(n), rows + rng.random(n)], axis=1)


def describe_baselines(other_fixations: bool = False) -> dict[str, str]:
    """What IG and sAUC of a fixations ground truth are measured against, one sentence each (for the app and
    the JSON of training.evaluate_maps). ``other_fixations``: whether sAUC got fixations of other images."""
    sauc = ("fixations of the other images (the MIT / Tübingen benchmark convention)" if other_fixations else
            f"{SAUC_CENTERBIAS_SAMPLES} points drawn from the centre-bias density — a stand-in for other "
            f"images' fixations, which one uploaded pair does not have")
    return {"ig": f"the '{IG_BASELINE}' model (centre bias fitted on the osie + mit1003 train splits), as the "
                  f"Tübingen benchmark; IG treats the prediction as a probability density, so a map that is "
                  f"zero where people looked scores very negative",
            "sauc": sauc}


BASELINES_NOTE = ("With a fixations CSV, IG (bits per fixation) is measured over the centre-bias model and sAUC "
                  "takes its negatives from the centre-bias density (benchmarks use other images' fixations, "
                  "which one pair does not have). A ground-truth map gives CC, KLD, SIM and GT-weighted NSS/AUC.")


def score_pair(pred_path, gt_path, protocol: str = "mit", sigma_px: float = 24.0, other_fixations=None,
               rng=None) -> dict:
    """Score one predicted map against one ground truth; a flat {metric: float}.

    Map ground truth: cc, kld, sim, nss, auc_weighted (training.metrics.saliency.map_metrics_continuous).
    Fixations CSV: auc_judd, auc_borji, sauc, nss, cc, kld, sim, ig (training.metrics.saliency.compute_all),
    with the empirical map blurred by ``sigma_px``, IG over the centre bias, and sAUC negatives from
    ``other_fixations`` ((M, 2) x, y in the prediction's pixels, e.g. other images' fixations rescaled) or,
    when None or empty, from the centre-bias density (see ``describe_baselines``). ``rng``: the MIT protocol's
    random parts (None = seed 0).
    """
    pred = load_map(pred_path)
    if Path(gt_path).suffix.lower() == ".csv":
        height, width = pred.shape
        fixations = load_fixations_csv(gt_path, (width, height))
        gt_map = empirical_saliency_map(fixations, (width, height), sigma_px)
        if other_fixations is None or len(other_fixations) == 0:
            other_fixations = centerbias_samples((width, height))
        return sal_metrics.compute_all(pred, fixations, gt_map, other_fixations=other_fixations,
                                       baseline=centerbias_density((width, height)), protocol=protocol, rng=rng)
    gt = load_map(gt_path)
    if gt.max() <= 0:
        raise ValueError(f"{Path(gt_path).name}: the ground-truth map is all zeros")
    return sal_metrics.map_metrics_continuous(resize_to(pred, gt.shape), gt, protocol=protocol)


def map_size(path) -> tuple[int, int]:
    """(width, height) of a saliency map file from its header (nothing decoded); ValueError if unreadable."""
    path = Path(path)
    try:
        if path.suffix.lower() == ".npy":
            shape = _npy_shape(path)
            if len(shape) < 2:
                raise ValueError(f"shape {shape}")
            return int(shape[1]), int(shape[0])
        with Image.open(path) as im:
            return im.size
    except Exception as err:
        raise ValueError(f"{path.name}: not a readable saliency map ({type(err).__name__}: {err})") from None


def write_per_image_csv(path, rows: dict[str, dict], key: str = "image") -> Path:
    """One CSV row per image: `key` then every metric any row has (in first-seen order; blank where an image
    lacks it). Floats are written in full (repr) so the file reproduces the JSON means."""
    columns: list[str] = []
    for metrics in rows.values():
        columns += [k for k in metrics if k not in columns]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow([key, *columns])
        for name, metrics in rows.items():
            writer.writerow([name, *(repr(float(metrics[c])) if c in metrics else "" for c in columns)])
    return path
