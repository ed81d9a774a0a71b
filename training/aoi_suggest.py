"""Suggested areas of interest that a user accepts or edits: a grid, the saliency map's top regions, and faces.

    grid_aois((800, 600), rows=3, cols=3)               # "r1c1" … "r3c3"
    saliency_regions(density, count=3)                   # boxes around the densest blobs, "region 1" first
    face_aois(rgb)                                       # OpenCV's bundled frontal-face Haar cascade

The face detector is OpenCV's classic Viola–Jones frontal-face cascade. It needs `cv2.CascadeClassifier`
(OpenCV 4, or OpenCV 5 with the contrib modules) and the cascade file (bundled with OpenCV 4's wheels; Debian's
opencv-data has it too). OpenCV 5 as requirements.txt pins it has neither, so there `face_aois` raises
FaceDetectorUnavailable with that explanation instead of pretending no face was found.
"""
from __future__ import annotations

import functools
from pathlib import Path

import cv2
import numpy as np

from training.metrics.aoi import AOI, rect_aoi

REGION_LEVEL = 0.5            # a region is the connected area above this share of its own peak
REGION_MARGIN = 0.05          # boxes grow by this share of the image diagonal, as a drawn AOI would
FACE_MIN_SHARE = 0.03         # smallest face searched: this share of the image's shorter side
CASCADE_FOLDERS = ([Path(cv2.data.haarcascades)] if hasattr(cv2, "data") else []) + \
    [Path("/usr/share/opencv4/haarcascades")]                        # OpenCV 4's wheels; Debian's opencv-data


def grid_aois(size: tuple[int, int], rows: int = 3, cols: int = 3) -> list[AOI]:
    """A rows × cols grid of rectangles covering the image, named r<row>c<col> from the top-left."""
    width, height = size
    if not (1 <= rows <= 10 and 1 <= cols <= 10):
        raise ValueError(f"a grid needs 1–10 rows and columns; got {rows}×{cols}")
    xs, ys = np.linspace(0, width, cols + 1), np.linspace(0, height, rows + 1)
    return [rect_aoi(f"r{r + 1}c{c + 1}", xs[c], ys[r], xs[c + 1] - xs[c], ys[r + 1] - ys[r])
            for r in range(rows) for c in range(cols)]


def saliency_regions(density: np.ndarray, count: int = 3, name: str = "region") -> list[AOI]:
    """Up to `count` boxes around the map's densest blobs, densest first. Each round takes the global peak, the
    connected area around it above REGION_LEVEL × the peak, boxes it (with a margin) and blanks the box, so the
    next region is a different blob."""
    work = np.asarray(density, dtype=np.float64).copy()
    height, width = work.shape
    margin = REGION_MARGIN * float(np.hypot(width, height))
    out = []
    for i in range(count):
        peak = work.max()
        if not peak > 0:
            break
        y, x = np.unravel_index(np.argmax(work), work.shape)
        blob = (work >= REGION_LEVEL * peak).astype(np.uint8)
        _, labels = cv2.connectedComponents(blob)
        ys, xs = np.nonzero(labels == labels[y, x])
        x0, x1 = max(0.0, xs.min() - margin), min(float(width), xs.max() + 1 + margin)
        y0, y1 = max(0.0, ys.min() - margin), min(float(height), ys.max() + 1 + margin)
        out.append(rect_aoi(f"{name} {i + 1}", x0, y0, x1 - x0, y1 - y0))
        work[int(y0):int(np.ceil(y1)), int(x0):int(np.ceil(x1))] = 0.0
    return out


class FaceDetectorUnavailable(RuntimeError):
    """The installed OpenCV has no bundled face detector."""


@functools.lru_cache(maxsize=1)
def _face_cascade():
    if not hasattr(cv2, "CascadeClassifier"):
        raise FaceDetectorUnavailable(
            f"face suggestions need OpenCV's Haar cascade face detector, which OpenCV {cv2.__version__} no longer "
            f"includes (it was dropped from the main module in OpenCV 5); draw face AOIs by hand, or use the "
            f"saliency regions")
    name = "haarcascade_frontalface_default.xml"
    found = [folder / name for folder in CASCADE_FOLDERS if (folder / name).is_file()]
    cascade = cv2.CascadeClassifier(str(found[0])) if found else None
    if cascade is None or cascade.empty():
        raise FaceDetectorUnavailable(f"OpenCV's face detector file {name} was not found (looked in "
                                      f"{', '.join(map(str, CASCADE_FOLDERS))})")
    return cascade


def detect_faces(rgb: np.ndarray, min_neighbours: int = 5) -> np.ndarray:
    """(n, 4) x, y, width, height of frontal faces, largest first."""
    grey = cv2.equalizeHist(cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY))
    side = max(24, int(FACE_MIN_SHARE * min(grey.shape)))
    found = _face_cascade().detectMultiScale(grey, scaleFactor=1.1, minNeighbors=min_neighbours,
                                             minSize=(side, side))
    boxes = np.asarray(found, dtype=float).reshape(-1, 4)
    return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3])]


def face_aois(rgb: np.ndarray, max_faces: int = 10) -> list[AOI]:
    """The detected faces as rectangles "face 1", "face 2", … (largest first)."""
    return [rect_aoi(f"face {i + 1}", *box) for i, box in enumerate(detect_faces(rgb)[:max_faces])]
