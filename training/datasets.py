"""Eye-tracking datasets in the shared layout: `images/` + `fixations.csv` (+ optional `splits.csv`).

fixations.csv columns: image,subject,index,x,y,duration_ms — one row per fixation, `index` the order inside one
subject's scanpath on one image, x right / y down in pixels of the original image. Bad rows are reported with
their line number and never silently dropped.

    ds = load_dataset("mit1003", split="test")     # by name under $GAZE_DATA/gaze/, or by path
    ds = load_dataset("my_folder", split="all")     # every image with fixations; no splits.csv needed
    ds.fixations(ds.images[0])                      # (N, 2) x, y of every subject
    ds.scanpaths(ds.images[0])                      # {subject: (n, 3) x, y, duration_ms}
    ds.saliency_map(ds.images[0])                   # Gaussian-blurred fixation map, sums to 1
"""
from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image
from models.runtime.densities import empirical_saliency_map, fixation_map

from training.config import DEFAULT_SIGMA_PX, SIGMA_PX, gaze_data_root

REQUIRED_COLUMNS = ("image", "subject", "index", "x", "y", "duration_ms")
SPLITS = ("train", "val", "test")
ALL = "all"                                             # every image with fixations, no splits.csv needed


class DatasetError(ValueError):
    """Raised for anything wrong with a dataset folder; the message says what and where."""


@dataclass
class GazeDataset:
    root: Path
    name: str
    split: str | None
    images: list[str]                                   # image file names in this split, sorted
    sizes: dict[str, tuple[int, int]]                   # image -> (width, height)
    _scanpaths: dict[str, dict[str, np.ndarray]] = field(repr=False, default_factory=dict)
    sigma_px: float = DEFAULT_SIGMA_PX

    def __len__(self) -> int:
        return len(self.images)

    def image_path(self, image: str) -> Path:
        return self.root / "images" / image

    def load_image(self, image: str) -> np.ndarray:
        """RGB uint8 (H, W, 3)."""
        with Image.open(self.image_path(image)) as im:
            return np.asarray(im.convert("RGB"))

    def scanpaths(self, image: str) -> dict[str, np.ndarray]:
        """{subject: (n, 3) array of x, y, duration_ms in temporal order}."""
        return self._scanpaths.get(image, {})

    def fixations(self, image: str) -> np.ndarray:
        """(N, 2) x, y of all subjects' fixations on `image` (duplicates kept)."""
        paths = self.scanpaths(image).values()
        if not paths:
            return np.zeros((0, 2))
        return np.concatenate([p[:, :2] for p in paths])

    def fixation_map(self, image: str) -> np.ndarray:
        """(H, W) fixation counts at pixel (floor(y), floor(x))."""
        return fixation_map(self.fixations(image), self.sizes[image])

    def saliency_map(self, image: str, sigma_px: float | None = None) -> np.ndarray:
        """Empirical saliency map: fixation map blurred with σ (default: 1 dva for the dataset), sums to 1."""
        return empirical_saliency_map(self.fixations(image), self.sizes[image], sigma_px or self.sigma_px)


def resolve_dataset_dir(name_or_path: str | Path) -> Path:
    """A folder path, or a dataset name under $GAZE_DATA/gaze/."""
    path = Path(name_or_path)
    if path.is_dir():
        return path.resolve()
    candidate = gaze_data_root() / "gaze" / str(name_or_path)
    if candidate.is_dir():
        return candidate
    raise DatasetError(
        f"dataset '{name_or_path}' not found: it is neither a folder nor a name under {gaze_data_root() / 'gaze'} "
        "(set GAZE_DATA to the shared data folder)"
    )


def _read_split(root: Path, name: str, split: str) -> set[str]:
    """Images of `split` from splits.csv in the folder or its parent (columns image,split and optionally
    dataset). A splits.csv whose dataset column never names this folder is an error that says so: a folder
    copied or renamed away from its splits.csv must not silently get an empty split or another dataset's."""
    if split not in SPLITS:
        raise DatasetError(f"unknown split '{split}'; choose one of {', '.join(SPLITS + (ALL,))}")
    searched = (root / "splits.csv", root.parent / "splits.csv")
    mismatch = None
    for splits_csv in searched:
        if not splits_csv.is_file():
            continue
        with open(splits_csv, newline="") as f:
            reader = csv.DictReader(f)
            if not {"image", "split"} <= set(reader.fieldnames or ()):
                raise DatasetError(f"{splits_csv}: needs columns image,split (and optionally dataset)")
            rows = list(reader)
        if "dataset" in (reader.fieldnames or ()):
            named = {(r["dataset"] or "").strip() for r in rows}
            if name not in named:
                mismatch = mismatch or (splits_csv, sorted(named))
                continue
            rows = [r for r in rows if (r["dataset"] or "").strip() == name]
        chosen = {r["image"] for r in rows if r["split"] == split}
        if not chosen:
            raise DatasetError(f"{splits_csv}: no rows with split '{split}' for dataset '{name}' "
                               f"(use --split {ALL} to score every image)")
        return chosen
    if mismatch:
        splits_csv, named = mismatch
        shown = ", ".join(repr(n) for n in named[:8]) + (", …" if len(named) > 8 else "")
        raise DatasetError(
            f"{splits_csv}: its dataset column names {shown} but not '{name}', the name of the folder {root}; "
            f"the split is looked up by folder name, so rename the folder to the dataset it holds, fix the "
            f"dataset column, or pass --split {ALL} to score every image")
    raise DatasetError(f"no splits.csv for dataset '{name}' (looked in {root} and its parent); "
                       f"pass --split {ALL} to score every image with fixations")


def _parse_fixations(csv_path: Path, sizes: dict[str, tuple[int, int]]) -> dict[str, dict[str, np.ndarray]]:
    rows: dict[str, dict[str, list[tuple[int, float, float, float]]]] = defaultdict(lambda: defaultdict(list))
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != REQUIRED_COLUMNS:
            raise DatasetError(f"{csv_path}: header must be {','.join(REQUIRED_COLUMNS)}, got {header}")
        for line_no, row in enumerate(reader, start=2):
            if len(row) != len(REQUIRED_COLUMNS):
                raise DatasetError(f"{csv_path}:{line_no}: expected 6 fields, got {len(row)}: {row}")
            image, subject = row[0], row[1]
            try:
                index, x, y, duration = int(row[2]), float(row[3]), float(row[4]), float(row[5])
            except ValueError:
                raise DatasetError(f"{csv_path}:{line_no}: index, x, y, duration_ms must be numbers: {row}") from None
            if image not in sizes:
                raise DatasetError(f"{csv_path}:{line_no}: image '{image}' is not in images/")
            width, height = sizes[image]
            if not (np.isfinite(x) and np.isfinite(y) and 0 <= x <= width and 0 <= y <= height):
                raise DatasetError(f"{csv_path}:{line_no}: fixation ({x}, {y}) outside the {width}×{height} image {image}")
            if not np.isfinite(duration) or duration < 0 or index < 0:
                raise DatasetError(f"{csv_path}:{line_no}: negative or invalid index/duration: {row}")
            rows[image][subject].append((index, x, y, duration))
    scanpaths: dict[str, dict[str, np.ndarray]] = {}
    for image, subjects in rows.items():
        scanpaths[image] = {}
        for subject, fixs in subjects.items():
            fixs.sort()
            indices = [i for i, *_ in fixs]
            if len(set(indices)) != len(indices):
                raise DatasetError(f"{csv_path}: subject {subject} on {image} has a repeated fixation index")
            scanpaths[image][subject] = np.array([f[1:] for f in fixs], dtype=np.float64)
    return scanpaths


def _image_sizes(images_dir: Path, names: list[str]) -> dict[str, tuple[int, int]]:
    sizes = {}
    for name in names:
        try:
            with Image.open(images_dir / name) as im:   # header only, no decode
                sizes[name] = im.size
        except OSError as err:
            raise DatasetError(f"{images_dir / name}: not a readable image ({err})") from None
    return sizes


_CACHE: dict[tuple[str, str | None], GazeDataset] = {}


def load_dataset(name_or_path: str | Path, split: str | None = None) -> GazeDataset:
    """Load a dataset folder (cached per process). `split` None or "all" = every image with fixations (no
    splits.csv needed); "train" / "val" / "test" = the images splits.csv gives that split."""
    root = resolve_dataset_dir(name_or_path)
    key = (str(root), split)
    if key in _CACHE:
        return _CACHE[key]
    name = root.name
    images_dir, csv_path = root / "images", root / "fixations.csv"
    if not images_dir.is_dir():
        raise DatasetError(f"{root}: missing images/ folder")
    if not csv_path.is_file():
        raise DatasetError(f"{root}: missing fixations.csv")
    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None or tuple(h.strip() for h in header) != REQUIRED_COLUMNS:
            raise DatasetError(f"{csv_path}: header must be {','.join(REQUIRED_COLUMNS)}, got {header}")
        referenced = sorted({r[0] for r in reader if r})
    missing = [n for n in referenced if not (images_dir / n).is_file()]
    if missing:
        raise DatasetError(f"{csv_path}: {len(missing)} image(s) listed but missing from images/, e.g. {missing[:3]}")
    sizes = _image_sizes(images_dir, referenced)
    scanpaths = _parse_fixations(csv_path, sizes)
    images = sorted(scanpaths)
    if split is not None and split != ALL:
        chosen = _read_split(root, name, split)
        unknown = chosen - set(images)
        if unknown:
            raise DatasetError(f"splits.csv names {len(unknown)} image(s) of {name} without fixations, e.g. {sorted(unknown)[:3]}")
        images = sorted(chosen)
    ds = GazeDataset(root=root, name=name, split=split, images=images, sizes=sizes, _scanpaths=scanpaths,
                     sigma_px=SIGMA_PX.get(name, DEFAULT_SIGMA_PX))
    _CACHE[key] = ds
    return ds


def normalised_fixations(ds: GazeDataset, images: list[str] | None = None) -> np.ndarray:
    """(N, 2) fixations of `images` (default all in the split) as fractions (x/W, y/H) in [0, 1]."""
    parts = []
    for image in images if images is not None else ds.images:
        fix = ds.fixations(image)
        width, height = ds.sizes[image]
        parts.append(fix / np.array([width, height]))
    return np.concatenate(parts) if parts else np.zeros((0, 2))
