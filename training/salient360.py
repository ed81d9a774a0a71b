"""Salient360! 360° image data (ICME 2017/2018 Grand Challenge): equirectangular images with saliency maps
and/or fixation lists, read into samples for training and evaluation.

Two layouts are found on their own (or pass the folders explicitly):

    root/images/P1.jpg …            root/Stimuli/P1_xxx.jpg …                  (equirectangular, W ≈ 2H)
    root/saliency/P1.bin|.png …     root/HE/SalMaps/HEsalmap_1_2048x1024_32b.bin …
    root/fixations/P1.csv|.txt …    root/HE/Scanpaths/{L,R}/HEscanpath_1.txt …

A map or fixation file belongs to the image with the same key: the file stem without the toolbox's
`_{W}x{H}_{bits}b[_{type}]` suffix. Salient360! names are numbered, so `P1…`, `…salmap_1` and
`…scanpath_1` all get the key `P1`. An image may have several fixation files (for example one per eye);
their fixations are pooled.

Formats (as the Salient360! toolbox of E. David reads and writes them):
- Binary saliency map `.bin`: raw little-endian floats, row-major (H, W), one frame. The name may say the
  size and precision, `NAME_{W}x{H}_{16|32|64}b.bin`; without it the map is float32 and 2:1, size taken
  from the byte count. `.png`/`.jpg` maps are read as grey levels. Maps keep their own resolution:
  Salient360! ships 2048×1024 maps for larger stimuli. A map is a density per solid angle; the 360° metrics
  weight its rows by cos latitude.
- Fixation list `.csv`/`.txt`: comma-separated with one header row, which may start with `#`. Salient360!
  columns are `Idx, longitude, latitude, start timestamp, end timestamp`. Longitude is the fraction of the
  image width from the left edge, in [0, 1]. Latitude is the fraction of the height from the top, in
  [0, 1]. Only the longitude and latitude columns are used. Header names match after lower-casing and
  dropping non-letters. `lon`/`long` and `lat` are accepted.

    samples = load_salient360("data/salient360")
    samples[0].saliency      # (h, w) float32 summing to 1, or None
    samples[0].fixations     # (N, 2) x = lon·W, y = lat·H in the image's continuous pixel coordinates, or None
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from training.metrics.panorama import ASPECT_TOLERANCE

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
MAP_EXTENSIONS = (".bin", ".png", ".jpg", ".jpeg")
FIXATION_EXTENSIONS = (".csv", ".txt")
LONGITUDE_NAMES = ("longitude", "lon", "long", "longgaze", "longaze")
LATITUDE_NAMES = ("latitude", "lat", "latgaze")

_SIZE_SUFFIX = re.compile(r"^(?P<name>.+?)_(?P<w>\d+)x(?P<h>\d+)(?:_(?P<bits>\d+)b)?(?:_[A-Za-z]+)?$")
_NUMBERED = re.compile(r"^(?:P|[A-Za-z]*(?:salmap|scanpath|fixations?)_)(?P<n>\d+)(?:_.*)?$", re.IGNORECASE)


@dataclass
class Panorama360Sample:
    name: str                                   # the key shared by the image and its files, e.g. "P1"
    image_path: Path
    size: tuple[int, int]                       # (width, height) of the image
    saliency: np.ndarray | None = None          # (h, w) float32 density per solid angle, sums to 1
    fixations: np.ndarray | None = None         # (N, 2) x, y in the image's pixels
    saliency_path: Path | None = None
    fixation_paths: list[Path] = field(default_factory=list)

    def load_image(self) -> np.ndarray:
        """RGB uint8 (H, W, 3)."""
        with Image.open(self.image_path) as im:
            return np.asarray(im.convert("RGB"))

    def saliency_at(self, width: int, height: int) -> np.ndarray:
        """The saliency map resized to (width, height) and renormalised to sum 1 (float64)."""
        if self.saliency is None:
            raise ValueError(f"{self.image_path}: no saliency map")
        resized = cv2.resize(self.saliency.astype(np.float64), (width, height), interpolation=cv2.INTER_AREA
                             if width < self.saliency.shape[1] else cv2.INTER_LINEAR)
        resized = np.clip(resized, 0, None)
        return resized / resized.sum()


def file_key(stem: str) -> str:
    """Key that matches an image with its maps and fixation lists (see the module docstring)."""
    sized = _SIZE_SUFFIX.match(stem)
    if sized:
        stem = sized["name"]
    numbered = _NUMBERED.match(stem)
    return f"P{int(numbered['n'])}" if numbered else stem


def _files(folder: Path, extensions: tuple[str, ...]) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in extensions
                  and not p.name.startswith("."))


def _check_equirect(width: int, height: int, what: str) -> None:
    if abs(width / height - 2.0) > ASPECT_TOLERANCE:
        raise ValueError(f"{what}: {width}×{height} (W×H) is not equirectangular; expected W = 2H")


# --------------------------------------------------------------------------------------------------- maps

def read_saliency_map(path: Path) -> np.ndarray:
    """A Salient360! saliency map (`.bin` or image) → (h, w) float32 summing to 1; ValueError if malformed."""
    path = Path(path)
    if path.suffix.lower() == ".bin":
        sal = _read_bin(path)
    else:
        try:
            with Image.open(path) as im:
                sal = np.asarray(im.convert("L") if im.mode in ("RGB", "RGBA", "P", "LA") else im,
                                 dtype=np.float64)
        except OSError as err:
            raise ValueError(f"{path}: not a readable image ({err})") from None
        if sal.ndim != 2:
            raise ValueError(f"{path}: a saliency image must be grey-level; got shape {sal.shape}")
    height, width = sal.shape
    _check_equirect(width, height, f"{path}: saliency map")
    bad = ~np.isfinite(sal)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(f"{path}: {int(bad.sum())} NaN or inf values (first at row {row}, column {col})")
    if sal.min() < 0:
        row, col = np.unravel_index(np.argmin(sal), sal.shape)
        raise ValueError(f"{path}: negative values (min {sal.min():.3g} at row {row}, column {col})")
    total = sal.sum()
    if total <= 0:
        raise ValueError(f"{path}: the saliency map is all zeros")
    return (sal / total).astype(np.float32)


def _read_bin(path: Path) -> np.ndarray:
    sized = _SIZE_SUFFIX.match(path.stem)
    bits = int(sized["bits"]) if sized and sized["bits"] else 32
    if bits not in (16, 32, 64):
        raise ValueError(f"{path}: {bits}-bit floats are not supported; expected 16, 32 or 64")
    n_bytes = path.stat().st_size
    item = bits // 8
    if sized:
        width, height = int(sized["w"]), int(sized["h"])
        if n_bytes != width * height * item:
            raise ValueError(f"{path}: {n_bytes} bytes, but a {width}×{height} map of {bits}-bit floats has "
                             f"{width * height * item} (several frames, or a truncated file?)")
    else:
        # No size in the name: a 2:1 float32 map with n = 2·h² values.
        n = n_bytes // item
        height = int(round(np.sqrt(n / 2)))
        width = 2 * height
        if n_bytes % item or height == 0 or width * height != n:
            raise ValueError(f"{path}: {n_bytes} bytes is not a 2:1 map of {bits}-bit floats; name the file "
                             f"NAME_{{W}}x{{H}}_{{bits}}b.bin to give its size")
    return np.fromfile(path, dtype=f"<f{item}").reshape(height, width).astype(np.float64)


# ---------------------------------------------------------------------------------------------- fixations

def read_fixation_list(path: Path, size: tuple[int, int]) -> np.ndarray:
    """A Salient360! fixation list → (N, 2) x = lon·width, y = lat·height; ValueError naming file and line."""
    path = Path(path)
    width, height = size
    with open(path, newline="") as f:
        lines = f.read().splitlines()
    numbered = [(i, line) for i, line in enumerate(lines, start=1) if line.strip()]
    if not numbered:
        raise ValueError(f"{path}: empty file; expected a header row (Idx, longitude, latitude, …) and fixations")
    header_line, header = numbered[0]
    names = [re.sub("[^a-z]", "", name.lower()) for name in header.lstrip("#").split(",")]
    lon_col = next((names.index(n) for n in LONGITUDE_NAMES if n in names), None)
    lat_col = next((names.index(n) for n in LATITUDE_NAMES if n in names), None)
    if lon_col is None or lat_col is None:
        raise ValueError(f"{path}:{header_line}: the header needs longitude and latitude columns (Salient360!: "
                         f"Idx, longitude, latitude, start timestamp, end timestamp); got {header.strip()!r}")
    points = []
    for line_no, line in numbered[1:]:
        fields = line.split(",")
        if len(fields) != len(names):
            raise ValueError(f"{path}:{line_no}: expected {len(names)} fields like the header, got {len(fields)}: "
                             f"{line.strip()!r}")
        try:
            lon, lat = float(fields[lon_col]), float(fields[lat_col])
        except ValueError:
            raise ValueError(f"{path}:{line_no}: longitude and latitude must be numbers: {line.strip()!r}") from None
        if not (np.isfinite(lon) and np.isfinite(lat)):
            raise ValueError(f"{path}:{line_no}: NaN or inf coordinate: {line.strip()!r}")
        if not (0 <= lon <= 1 and 0 <= lat <= 1):
            raise ValueError(f"{path}:{line_no}: longitude {lon} / latitude {lat} outside [0, 1] (fractions of the "
                             f"image width and height)")
        points.append((lon * width, lat * height))
    if not points:
        raise ValueError(f"{path}: no fixations after the header")
    return np.array(points, dtype=np.float64)


# ------------------------------------------------------------------------------------------------- folder

def _first_dir(root: Path, candidates: tuple[str, ...]) -> Path | None:
    return next((root / c for c in candidates if (root / c).is_dir()), None)


def _by_key(paths: list[Path], images: dict[str, Path], what: str) -> dict[str, list[Path]]:
    grouped: dict[str, list[Path]] = {}
    for path in paths:
        grouped.setdefault(file_key(path.stem), []).append(path)
    orphans = sorted(str(p) for key, ps in grouped.items() if key not in images for p in ps)
    if orphans:
        raise ValueError(f"{len(orphans)} {what} file(s) match no image (keys: {sorted(images)[:5]}…), "
                         f"e.g. {orphans[:3]}")
    return grouped


def load_salient360(root: str | Path, saliency_dir: str | Path | None = None,
                    fixations_dir: str | Path | None = None) -> list[Panorama360Sample]:
    """Read a Salient360!-style folder (see the module docstring) into samples sorted by name.

    Parameters
    ----------
    root : folder with `images/` (or `Stimuli/`).
    saliency_dir, fixations_dir : override `saliency/` (or `HE/SalMaps/`) and `fixations/` (or
        `HE/Scanpaths/`); relative paths are under `root`. Both are optional. An image with neither gets a
        sample with `saliency` and `fixations` None.

    Raises
    ------
    ValueError : naming the file (and line) of anything malformed, ambiguous or unmatched.
    """
    root = Path(root)
    images_dir = _first_dir(root, ("images", "Stimuli", "stimuli"))
    if images_dir is None:
        raise ValueError(f"{root}: no images/ (or Stimuli/) folder of equirectangular images")
    sal_dir = root / saliency_dir if saliency_dir else _first_dir(root, ("saliency", "HE/SalMaps"))
    fix_dir = root / fixations_dir if fixations_dir else _first_dir(root, ("fixations", "HE/Scanpaths"))
    for folder, what in ((sal_dir, "saliency"), (fix_dir, "fixations")):
        if folder is not None and not folder.is_dir():
            raise ValueError(f"{folder}: the {what} folder does not exist")

    images: dict[str, Path] = {}
    for path in _files(images_dir, IMAGE_EXTENSIONS):
        key = file_key(path.stem)
        if key in images:
            raise ValueError(f"{path}: same key {key!r} as {images[key]}; rename one of them")
        images[key] = path
    if not images:
        raise ValueError(f"{images_dir}: no images ({', '.join(IMAGE_EXTENSIONS)})")
    maps = _by_key(_files(sal_dir, MAP_EXTENSIONS), images, "saliency") if sal_dir else {}
    fixation_files = _by_key(_files(fix_dir, FIXATION_EXTENSIONS), images, "fixation") if fix_dir else {}

    samples = []
    for key, image_path in sorted(images.items()):
        try:
            with Image.open(image_path) as im:          # header only
                size = im.size
        except OSError as err:
            raise ValueError(f"{image_path}: not a readable image ({err})") from None
        _check_equirect(*size, f"{image_path}: image")
        sample = Panorama360Sample(name=key, image_path=image_path, size=size)
        if key in maps:
            if len(maps[key]) > 1:
                raise ValueError(f"several saliency maps for {image_path.name}: {[str(p) for p in maps[key]]}")
            sample.saliency_path = maps[key][0]
            sample.saliency = read_saliency_map(sample.saliency_path)
        if key in fixation_files:
            sample.fixation_paths = fixation_files[key]
            sample.fixations = np.concatenate([read_fixation_list(p, size) for p in sample.fixation_paths])
        samples.append(sample)
    return samples
