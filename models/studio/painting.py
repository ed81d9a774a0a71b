"""Paintings of any size for the app: an upload larger than the models need (a 6000×4880 museum scan) is
downscaled on load to a working copy whose longest side is at most WORK_SIDE (what models.as_rgb accepts), and
the original's size is kept, so drawings and downloads can be made at the original resolution.

    painting = load_painting("scan.jpg")      # .rgb: the working copy; .original_size: (w, h) of the file
    painting.stem                              # "scan": download names carry it
    full = painting.original()                 # the full-resolution pixels, or None above FULL_SIZE_PIXELS

Limits: files of more than MAX_PIXELS pixels are refused before any pixel is decoded (a decompression-bomb
guard); drawings and downloads are made at the original size up to FULL_SIZE_PIXELS, at the working size above.
"""
from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from models import as_rgb
from models.image_io import FORMATS, MAX_SIDE, MIN_SIDE, check_file, load_image

WORK_SIDE = MAX_SIDE                 # 4096: the longest side the models are given
MAX_PIXELS = 80_000_000              # refused above this (e.g. 10000×8000): a decompression-bomb guard
FULL_SIZE_PIXELS = 40_000_000        # drawings and downloads at the original size up to this (e.g. 8000×5000)
LIMITS = (f"paintings up to {MAX_PIXELS / 1e6:.0f} megapixels are read (the models see a copy at most "
          f"{WORK_SIDE} px on its longest side); drawings and downloads keep the original size up to "
          f"{FULL_SIZE_PIXELS / 1e6:.0f} megapixels")


def file_stem(path, fallback: str = "painting") -> str:
    """A short, safe file-name stem from an upload's name ('The Starry Night.jpg' → 'The-Starry-Night')."""
    if path is None or not isinstance(path, (str, Path)):
        return fallback
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(str(path)).stem).strip("-._")[:60]
    return stem or fallback


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled so the longest side is at most `max_side` (unchanged when it already is)."""
    f = min(1.0, max_side / max(width, height))
    return max(1, round(width * f)), max(1, round(height * f))


@dataclass
class Painting:
    rgb: np.ndarray                              # working copy, RGB uint8, longest side ≤ WORK_SIDE
    original_size: tuple[int, int]               # (w, h) of the upload
    stem: str = "painting"
    path: str | None = None                      # the upload's file (None for an array)
    _original: np.ndarray | None = field(default=None, repr=False)

    @property
    def work_size(self) -> tuple[int, int]:
        return self.rgb.shape[1], self.rgb.shape[0]

    @property
    def downscaled(self) -> bool:
        return self.original_size != self.work_size

    @property
    def scale(self) -> float:
        """Original pixels per working pixel (1 when not downscaled)."""
        return self.original_size[0] / self.work_size[0]

    @property
    def full_size_output(self) -> bool:
        """Whether drawings and downloads are made at the original size (it fits FULL_SIZE_PIXELS)."""
        return self.original_size[0] * self.original_size[1] <= FULL_SIZE_PIXELS

    @property
    def output_size(self) -> tuple[int, int]:
        """(w, h) of drawings and downloads."""
        return self.original_size if self.full_size_output else self.work_size

    def original(self) -> np.ndarray | None:
        """The full-resolution pixels when they are drawn at that size, else None. For a downscaled file they are
        decoded again here (only the calls that draw at full size pay for it)."""
        if not self.full_size_output:
            return None
        if not self.downscaled:
            return self.rgb
        if self._original is None:
            self._original = _decode(Path(self.path)) if self.path else None
        return self._original

    def note(self) -> str:
        """One line for the user when the upload was downscaled ('' otherwise)."""
        if not self.downscaled:
            return ""
        (w, h), (ww, wh), (ow, oh) = self.original_size, self.work_size, self.output_size
        where = ("at the original size" if self.full_size_output
                 else f"at {ow}×{oh} (the original is over {FULL_SIZE_PIXELS / 1e6:.0f} megapixels)")
        return f"Your {w}×{h} image was read at {ww}×{wh} for the models; downloads are {where}."


def _decode(path: Path) -> np.ndarray:
    """All pixels of an image file (its size already checked against MAX_PIXELS) as RGB uint8, upright: the
    loader every model path uses, with the size limit lifted to this file's."""
    with Image.open(path) as im:
        side = max(im.size)
    return load_image(path, max_side=max(side, WORK_SIDE))


def _header_size(path: Path) -> tuple[int, int]:
    """(w, h) from the file's header; ValueError for non-images and decompression bombs."""
    name = path.name
    check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)      # sizes are checked below
            im = Image.open(path)                                      # the header only
        with im:
            w, h = im.size
            # EXIF orientation (shown rotated by 90°): only where it sits in the header (a PNG's may follow
            # the pixels, and reading it would decode them).
            if im.format in ("JPEG", "MPO", "TIFF", "WEBP") and im.getexif().get(274) in (5, 6, 7, 8):
                w, h = h, w
            return w, h
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image this app can read ({FORMATS})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{name}: too many pixels to decode safely (a decompression bomb?); at most "
                         f"{MAX_PIXELS / 1e6:.0f} megapixels are read") from None
    except (OSError, SyntaxError, EOFError) as err:
        raise ValueError(f"{name}: the image file is truncated or corrupt ({err})") from None


def _check_size(w: int, h: int, name: str) -> None:
    if w * h > MAX_PIXELS:
        raise ValueError(f"{name}: image too large ({w}×{h}, {w * h / 1e6:.0f} megapixels): too many pixels to "
                         f"decode safely (a decompression bomb?); at most {MAX_PIXELS / 1e6:.0f} megapixels are read")
    if min(w, h) < MIN_SIDE:
        raise ValueError(f"{name}: image too small ({w}×{h}); it needs at least {MIN_SIDE} pixels per side")
    ww, wh = fit_size(w, h, WORK_SIDE)
    if min(ww, wh) < MIN_SIDE:
        raise ValueError(f"{name}: image too large and too thin ({w}×{h}): scaled to {WORK_SIDE} px on its longest "
                         f"side it would be {ww}×{wh}, under {MIN_SIDE} px; crop it first")


def _downscale(rgb: np.ndarray, max_side: int = WORK_SIDE) -> np.ndarray:
    h, w = rgb.shape[:2]
    size = fit_size(w, h, max_side)
    if size == (w, h):
        return rgb
    return np.ascontiguousarray(cv2.resize(rgb, size, interpolation=cv2.INTER_AREA))


def load_painting(image, name: str | None = None) -> Painting:
    """An uploaded image file (any size up to MAX_PIXELS) or an array → a Painting; ValueError saying what is
    wrong otherwise. Files within WORK_SIDE go through models.load_image unchanged."""
    if isinstance(image, Painting):
        return image
    if image is None:
        raise ValueError("no image given")
    if isinstance(image, (str, Path)):
        path = Path(image)
        stem = file_stem(name or path)
        w, h = _header_size(path)
        if max(w, h) <= WORK_SIDE:
            rgb = load_image(path)                                        # the loader every model path uses
            return Painting(rgb, (rgb.shape[1], rgb.shape[0]), stem, str(path))
        _check_size(w, h, path.name)
        full = _decode(path)
        size = (full.shape[1], full.shape[0])
        painting = Painting(_downscale(full), size, stem, str(path))
        if painting.full_size_output:
            painting._original = full                                     # decoded once: keep it for this call
        return painting
    array = np.asarray(image.convert("RGB")) if hasattr(image, "convert") else np.asarray(image)
    if array.ndim in (2, 3) and max(array.shape[:2]) > WORK_SIDE:
        h, w = array.shape[:2]
        _check_size(w, h, "image")
        full = _rgb_uint8(array)
        painting = Painting(as_rgb(_downscale(full)), (w, h), file_stem(name))
        if painting.full_size_output:
            painting._original = full
        return painting
    rgb = as_rgb(array)
    return Painting(rgb, (rgb.shape[1], rgb.shape[0]), file_stem(name))


def _rgb_uint8(array: np.ndarray) -> np.ndarray:
    """Any image array (grey, RGB, RGBA; uint8 or float in [0, 1]) of any size → RGB uint8, as models.as_rgb
    does within its size limit."""
    if array.ndim == 2:
        array = array[:, :, None]
    if array.shape[2] == 1:
        array = np.repeat(array, 3, axis=2)
    if array.shape[2] not in (3, 4):
        raise ValueError(f"expected an image of shape (H, W, 3), got {array.shape}")
    array = array[:, :, :3]
    if array.dtype != np.uint8:
        if not np.isfinite(array).all():
            raise ValueError("image contains NaN or infinite values")
        scale = 255.0 if array.max() <= 1.0 else 1.0
        array = np.clip(array * scale, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)


def resize_map(density: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A map resized to (w, h) (bilinear; maps are smooth), float32."""
    density = np.asarray(density, dtype=np.float32)
    if (density.shape[1], density.shape[0]) == tuple(size):
        return density
    return cv2.resize(density, tuple(size), interpolation=cv2.INTER_LINEAR)
