"""Shared fixtures. Test images are drawn in code with fixed seeds; real data comes from $GAZE_DATA only."""
from __future__ import annotations

import atexit
import csv
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
# Exported ONNX graphs go to a folder of this test run (apps started by tests inherit it), not to ~/.cache.
if "ONNX_CACHE" not in os.environ:
    os.environ["ONNX_CACHE"] = tempfile.mkdtemp(prefix="onnx-cache-")
    atexit.register(shutil.rmtree, os.environ["ONNX_CACHE"], True)

import numpy as np
import pytest
from PIL import Image

from training.config import gaze_data_root

# Example paintings and panoramas come from the shared data in tests, never from the network ("off" when absent).
_GALLERY = gaze_data_root() / "gallery"
os.environ.setdefault("GALLERY_SOURCE", str(_GALLERY) if _GALLERY.is_dir() else "off")
_PANORAMAS = gaze_data_root() / "panoramas"
os.environ.setdefault("PANORAMA_SOURCE", str(_PANORAMAS) if _PANORAMAS.is_dir() else "off")   # never the web in tests


def draw_image(seed: int, size=(160, 120)) -> np.ndarray:
    """A smooth random RGB image with one bright blob (where synthetic observers look)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    cx, cy = rng.uniform(0.25, 0.75) * w, rng.uniform(0.25, 0.75) * h
    blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.08 * w) ** 2))
    base = rng.uniform(40, 90, 3)[None, None, :] + 10 * rng.standard_normal((h, w, 3))
    img = base + 160 * blob[:, :, None]
    return np.clip(img, 0, 255).astype(np.uint8), (cx, cy)


def write_dataset(root: Path, n_images: int = 6, n_subjects: int = 4, seed: int = 0, size=(160, 120)) -> Path:
    """A dataset folder in the shared layout: images/, fixations.csv, splits.csv (train/val/test)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows, splits = [], []
    for i in range(n_images):
        name = f"img{i:02d}.png"
        img, (cx, cy) = draw_image(seed * 1000 + i, size)
        Image.fromarray(img).save(root / "images" / name)
        for s in range(n_subjects):
            n_fix = int(rng.integers(4, 9))
            for k in range(n_fix):
                x = float(np.clip(rng.normal(cx, 12), 0, size[0] - 1))
                y = float(np.clip(rng.normal(cy, 12), 0, size[1] - 1))
                rows.append([name, f"s{s}", k, f"{x:.2f}", f"{y:.2f}", int(rng.integers(100, 500))])
        splits.append([root.name, name, ("train", "train", "val", "test")[i % 4] if i < 4 else ("train" if i % 2 else "test")])
    with open(root / "fixations.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "subject", "index", "x", "y", "duration_ms"])
        w.writerows(rows)
    with open(root / "splits.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "image", "split"])
        w.writerows(splits)
    return root


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    return write_dataset(tmp_path / "tiny")


@pytest.fixture
def synthetic_image() -> np.ndarray:
    return draw_image(7, (200, 150))[0]


def shared_data_or_skip(*parts: str) -> Path:
    path = gaze_data_root().joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set GAZE_DATA to the shared data folder)")
    return path


def serve_app(args: list[str]):
    """Start the app in a subprocess on a free 127.0.0.1 port (offline), yield its URL, stop it afterwards.
    `args` follow the Python executable, e.g. ["app.py"]. Use as `yield from serve_app([...])` in a fixture."""
    import socket
    import subprocess
    import sys
    import time
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "HF_HUB_OFFLINE": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "NO_PROXY": "127.0.0.1,localhost"}
    import tempfile
    # The app's output goes to a file: an unread pipe fills at 64 KiB and then blocks the app mid-print.
    log = tempfile.NamedTemporaryFile("w+", prefix="app-", suffix=".log")
    proc = subprocess.Popen([sys.executable, *args], cwd=Path(__file__).resolve().parent.parent, env=env,
                            stdout=log, stderr=subprocess.STDOUT, text=True)

    def output(tail: int = 5000) -> str:
        log.seek(0)
        return log.read()[-tail:]

    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited early:\n{output()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"app did not start within 120 s:\n{output()}")
    yield f"http://127.0.0.1:{port}/"
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    text = output(tail=10**8)
    log.close()
    # Every model of the running app stayed on ONNX Runtime (a fallback here once hid concurrent exports).
    assert "stays on PyTorch" not in text, text[-5000:]


def readme_screenshot(page, name: str, locator=None) -> None:
    """With SCREENSHOTS=DIR (e.g. docs/screenshots), save what the browser test sees for the README. Only tests
    that show our own generated images call this (never the gallery paintings)."""
    folder = os.environ.get("SCREENSHOTS")
    if not folder:
        return
    Path(folder).mkdir(parents=True, exist_ok=True)
    target = Path(folder) / f"{name}.png"
    # Old error popups stay out of the picture, but the page keeps its popup container for later errors.
    page.evaluate("document.querySelectorAll('.toast-wrap').forEach(e => e.style.visibility = 'hidden')")
    (locator or page).screenshot(path=str(target), **({} if locator else {"full_page": False}))
    page.evaluate("document.querySelectorAll('.toast-wrap').forEach(e => e.style.visibility = '')")
    with Image.open(target) as im:                               # 256 colours: a fifth of the size for the repo
        small = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    small.save(target, optimize=True)
