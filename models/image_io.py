"""Reading uploaded image files safely: the header is checked before any pixel is decoded (so a decompression
bomb is refused without allocating it), EXIF orientation is applied, and every mode PIL reads (grey, palette,
RGBA, CMYK, 16-bit, float) becomes RGB uint8. Every failure is a ValueError that says what is wrong.

    rgb = load_image("upload.jpg")          # (H, W, 3) uint8
"""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

MAX_SIDE = 4096                     # larger uploads are refused rather than exhausting memory
MIN_SIDE = 8
FORMATS = "JPEG, PNG, WebP, TIFF, BMP or GIF"


def _to_rgb(im: Image.Image) -> np.ndarray:
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):            # 16-bit / 32-bit grey → 8-bit
        arr = np.asarray(im, dtype=np.float64)
        if not np.isfinite(arr).all():
            raise ValueError("the image contains NaN or infinite values")
        top = 65535.0 if im.mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / top * 255.0 + 0.5, 0, 255).astype(np.uint8)
        return np.repeat(arr[:, :, None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"))    # transparent → white paper
    return np.asarray(im.convert("RGB"))


def check_file(path: Path) -> None:
    """ValueError unless `path` is a file with something in it."""
    if not path.is_file():
        raise ValueError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise ValueError(f"{path.name}: the file is empty")


def load_image(path: str | Path, max_side: int = MAX_SIDE) -> np.ndarray:
    """An image file → RGB uint8 (H, W, 3). Animated images give their first frame."""
    path = Path(path)
    name = path.name
    check_file(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:                                       # reads the header only
                w, h = im.size
                if max(w, h) > max_side:
                    raise ValueError(f"{name}: image too large ({w}×{h}); the longest side may be at most "
                                     f"{max_side} pixels — resize it first")
                if min(w, h) < MIN_SIDE:
                    raise ValueError(f"{name}: image too small ({w}×{h}); it needs at least {MIN_SIDE} pixels "
                                     "per side")
                if getattr(im, "n_frames", 1) > 1:
                    im.seek(0)                                                 # animated: the first frame
                im.load()
                im = ImageOps.exif_transpose(im)                               # camera orientation → upright
                return np.ascontiguousarray(_to_rgb(im))
    except UnidentifiedImageError:
        raise ValueError(f"{name}: not an image this app can read ({FORMATS})") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(f"{name}: too many pixels to decode safely (a decompression bomb?); the longest side "
                         f"may be at most {max_side} pixels") from None
    except (OSError, SyntaxError, EOFError) as err:                            # truncated or corrupt data
        raise ValueError(f"{name}: the image file is truncated or corrupt ({err})") from None
