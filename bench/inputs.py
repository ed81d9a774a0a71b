"""Inputs the app benchmarks send: a painting-like image, an equirectangular panorama, a predicted map and a
fixations CSV, written into a folder (seeded, so every run sends the same bytes)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_inputs(folder: Path, painting_hw=(300, 400), pano_hw=(512, 1024), n_fixations: int = 20) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    h, w = painting_hw
    img = (rng.random((h, w, 3)) * 80 + 60).astype(np.uint8)
    img[h // 3: 2 * h // 3, 2 * w // 5: 7 * w // 10] = 230                   # one bright object
    files = {"painting": folder / "painting.png", "pano": folder / "pano.jpg", "pred": folder / "pred.npy",
             "gt": folder / "gt.csv"}
    Image.fromarray(img).save(files["painting"])
    Image.fromarray((rng.random((*pano_hw, 3)) * 255).astype(np.uint8)).save(files["pano"])
    np.save(files["pred"], rng.random((h, w)))
    points = rng.integers(0, min(h, w) - 1, (n_fixations, 2))
    files["gt"].write_text("x,y\n" + "\n".join(f"{x},{y}" for x, y in points) + "\n")
    return files
