"""Where the app's output files go (maps, scanpath exports, GIFs, viewer textures, videos): one folder per
request under a single root, and folders older than an hour are removed as new ones are made, so a server
that runs for weeks does not fill its disk. Gradio's own upload cache is cleaned by `delete_cache` in app.py.

    folder = output_dir("saliency-")      # a fresh folder; older ones are purged at most once a minute
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("STUDIO_OUTPUTS") or Path(tempfile.gettempdir()) / "visual-attention-studio")
MAX_AGE_S = float(os.environ.get("STUDIO_OUTPUT_MAX_AGE_S", 3600))
PURGE_EVERY_S = 60.0
_last_purge = 0.0
_lock = threading.Lock()


def purge_old(max_age_s: float = MAX_AGE_S, now: float | None = None) -> int:
    """Remove output folders not modified for `max_age_s`; returns how many were removed."""
    now = time.time() if now is None else now
    removed = 0
    if not ROOT.is_dir():
        return 0
    for entry in ROOT.iterdir():
        try:
            if now - entry.stat().st_mtime > max_age_s:
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(missing_ok=True)
                removed += 1
        except FileNotFoundError:                  # removed by another request meanwhile
            continue
    return removed


def output_dir(prefix: str) -> Path:
    """A new folder for one request's outputs (purging old ones first, at most once a minute)."""
    global _last_purge
    ROOT.mkdir(parents=True, exist_ok=True)
    with _lock:
        if time.time() - _last_purge > PURGE_EVERY_S:
            _last_purge = time.time()
            purge_old()
    return Path(tempfile.mkdtemp(prefix=prefix, dir=ROOT))


def image_files(prefix: str, images: dict[str, np.ndarray], quality: int = 92) -> dict[str, str]:
    """Write RGB uint8 arrays as JPEG files in a fresh output folder; {name: path}.

    The app returns images as files of its own rather than as arrays: Gradio caches an array under a hash of
    its encoded bytes and writes it in place, so two requests with identical results (many visitors clicking the
    same example painting) rewrite the file while another download reads it, and that download is cut short.
    Our files reach Gradio's cache by copy-then-rename, which is safe."""
    from PIL import Image
    folder = output_dir(prefix)
    paths = {}
    for name, array in images.items():
        path = folder / f"{name}.jpg"
        Image.fromarray(array).save(path, quality=quality)
        paths[name] = str(path)
    return paths
