"""Sphere projections for 360° saliency: equirectangular (ERP) ↔ cube map, and flat images pasted on the sphere.

ATSal (docs/seed-models.md §3) runs an attention stream on the ERP and two expert streams on the cube map:
a Poles expert on the U/D faces and an Equator expert on F/R/B/L. This file gives those projections plus a
way to build 360° training data from 2D gaze datasets: paste a painting with its fixations onto a panorama.

Conventions (the same as py360convert):
- 3-D frame: x right, y up, z forward. Longitude = atan2(x, z), positive to the right; latitude positive up.
- ERP pixel column j spans longitudes [-π + 2πj/W, -π + 2π(j+1)/W], so its centre is at x = j + 0.5 in
  continuous pixel coordinates. Continuous x ∈ [0, W] and y ∈ [0, H], the image centre (W/2, H/2) is
  (lon 0, lat 0): face F. Flat images use the same continuous coordinates, so fixation (x, y) lies in
  pixel (floor(y), floor(x)), as in `training.datasets.fixation_map`.
- Saliency maps on the ERP are densities per unit solid angle, normalised to sum 1 over the pixels.
  Probability mass of a pixel ∝ value × latitude weight, exactly how `training.metrics.panorama` weighs
  pixels (`sphere_mass` gives it).

Cube faces are as py360convert 1.0.4 `e2c(..., cube_format="dict")` returns them: keys F R B L U D.
F, R, B and L are upright, as seen from inside the sphere. U and D are laid out as in the dice net: the
bottom edge of U and the top edge of D meet the F face. Face pixels run edge to edge, so the first and last
pixel centres lie on the cube edges.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np
import py360convert


FACES = ("F", "R", "B", "L", "U", "D")
POLES = ("U", "D")                # ATSal's Poles expert
EQUATOR = ("F", "R", "B", "L")    # ATSal's Equator expert

# Each face as (forward, right, down) unit vectors, in the order of FACES. A face pixel (row, col) looks
# along forward + a·right + b·down with a = 2·col/(face_w−1) − 1 and b = 2·row/(face_w−1) − 1. This is
# the grid `py360convert.utils.xyzcube` samples the ERP on.
_FACE_AXES = np.array([
    [(0, 0, 1), (1, 0, 0), (0, -1, 0)],     # F
    [(1, 0, 0), (0, 0, -1), (0, -1, 0)],    # R
    [(0, 0, -1), (-1, 0, 0), (0, -1, 0)],   # B
    [(-1, 0, 0), (0, 0, 1), (0, -1, 0)],    # L
    [(0, 1, 0), (1, 0, 0), (0, 0, 1)],      # U: rows run from the back to the front
    [(0, -1, 0), (1, 0, 0), (0, 0, -1)],    # D: rows run from the front to the back
], dtype=np.float64)

ASPECT = 2.0                      # equirectangular: width = 2 × height
ASPECT_TOLERANCE = 0.05           # relative: width/height within 2 ± 5 %, one rule for the app and the API
_REMAP_DTYPES = (np.uint8, np.uint16, np.int16, np.float32, np.float64)  # what cv2.remap accepts


# ---------------------------------------------------------------------------------------------- coordinates

def check_equirect(width: int, height: int, what: str = "panorama") -> None:
    """ValueError unless width:height is 2:1 within ±5 %."""
    ratio = width / max(height, 1)
    if abs(ratio / ASPECT - 1.0) > ASPECT_TOLERANCE:
        raise ValueError(
            f"an equirectangular {what} is twice as wide as high (2:1, ±{ASPECT_TOLERANCE:.0%}); "
            f"got {width}×{height} ({ratio:.2f}:1). Upload a 360° {what} in equirectangular projection.")


def equirect_directions(height: int, width: int) -> np.ndarray:
    """(H, W, 3) unit vectors (x right, y up, z forward) through the ERP pixel centres."""
    lon = ((np.arange(width) + 0.5) / width - 0.5) * 2 * np.pi
    lat = (0.5 - (np.arange(height) + 0.5) / height) * np.pi
    lon, lat = np.meshgrid(lon, lat)
    return np.stack([np.cos(lat) * np.sin(lon), np.sin(lat), np.cos(lat) * np.cos(lon)], axis=-1)


def directions_to_equirect(directions: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., 3) directions → (..., 2) continuous ERP pixel coordinates (x in [0, W), y in [0, H])."""
    d = directions / np.linalg.norm(directions, axis=-1, keepdims=True)
    lon = np.arctan2(d[..., 0], d[..., 2])
    lat = np.arcsin(np.clip(d[..., 1], -1.0, 1.0))
    x = np.mod((lon / (2 * np.pi) + 0.5) * width, width)
    y = (0.5 - lat / np.pi) * height
    return np.stack([x, y], axis=-1)


def camera_axes(yaw_deg: float, pitch_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(right, up, forward) unit vectors of a level camera looking at longitude yaw, latitude pitch."""
    yaw, pitch = np.deg2rad(yaw_deg), np.deg2rad(pitch_deg)
    forward = np.array([np.cos(pitch) * np.sin(yaw), np.sin(pitch), np.cos(pitch) * np.cos(yaw)])
    right = np.array([np.cos(yaw), 0.0, -np.sin(yaw)])     # stays horizontal: no roll
    return right, np.cross(forward, right), forward


def _focal_px(image_width: int, fov_deg: float) -> float:
    """Gnomonic focal length in pixels: the image width spans the horizontal field of view."""
    if not 0 < fov_deg < 180:
        raise ValueError(f"the horizontal field of view must be in (0, 180) degrees; got {fov_deg}")
    return image_width / 2 / np.tan(np.deg2rad(fov_deg) / 2)


# ------------------------------------------------------------------------------------------------ cube map

def _remap(src: np.ndarray, map_x: np.ndarray, map_y: np.ndarray) -> np.ndarray:
    """Bilinear cv2.remap per channel (cv2 takes few channels and few dtypes); keeps the dtype."""
    work = src if src.dtype in _REMAP_DTYPES else src.astype(np.float64)
    map_x, map_y = map_x.astype(np.float32, copy=False), map_y.astype(np.float32, copy=False)
    if work.ndim == 2:
        out = cv2.remap(work, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    else:
        out = np.stack([cv2.remap(np.ascontiguousarray(work[..., c]), map_x, map_y, cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE) for c in range(work.shape[2])], axis=-1)
    return out.astype(src.dtype, copy=False) if src.dtype.kind == "f" else out


def equirect_to_faces(equi: np.ndarray, face_w: int) -> dict[str, np.ndarray]:
    """Cube faces of an ERP image (H, W, C) or map (H, W).

    Parameters
    ----------
    equi : (H, W) or (H, W, C) array. uint8, uint16, int16 and float keep their dtype; anything else
        (bool, int32, …, which py360convert's cv2 path rejects) is converted to float64.
    face_w : face side in pixels (ATSal uses 256).

    Returns
    -------
    {"F", "R", "B", "L", "U", "D": (face_w, face_w[, C]) array}
    """
    equi = np.asarray(equi)
    if equi.ndim not in (2, 3) or min(equi.shape[:2]) < 2:
        raise ValueError(f"expected an (H, W) or (H, W, C) equirectangular array; got shape {equi.shape}")
    if face_w < 2:
        raise ValueError(f"face_w must be at least 2; got {face_w}")
    if equi.dtype not in _REMAP_DTYPES and equi.dtype != np.float16:
        equi = equi.astype(np.float64)
    faces = py360convert.e2c(np.ascontiguousarray(equi), face_w=face_w, mode="bilinear", cube_format="dict")
    return {k: faces[k] for k in FACES}


def faces_to_equirect(faces: dict[str, np.ndarray], height: int, width: int) -> np.ndarray:
    """ERP (height, width[, C]) from the six faces of `equirect_to_faces`, bilinear; keeps uint8, uint16,
    int16 and float dtypes (others come back float64).

    Not `py360convert.c2e`: in 1.0.4 c2e samples the faces on a grid that differs from e2c's (ERP pixels at
    linspace(-π, π, W) instead of the pixel centres, face pixels at tan = 2k/face_w − 1 instead of
    2k/(face_w−1) − 1). A round trip is then off by up to about a pixel, and W must be a multiple of 8.
    Here each ERP pixel centre is traced to the face pixel e2c wrote for that direction.
    """
    missing = set(FACES) - set(faces)
    if missing:
        raise ValueError(f"faces needs keys {', '.join(FACES)}; missing {', '.join(sorted(missing))}")
    first = np.asarray(faces["F"])
    face_w = first.shape[0]
    if first.ndim not in (2, 3) or first.shape[1] != face_w or face_w < 2:
        raise ValueError(f"faces must be square (face_w, face_w[, C]) arrays; F has shape {first.shape}")
    for k in FACES:
        if np.shape(faces[k]) != first.shape:
            raise ValueError(f"face {k} has shape {np.shape(faces[k])}, F has {first.shape}")
    stack = np.concatenate([np.asarray(faces[k]) for k in FACES], axis=0)    # (6·face_w, face_w[, C])
    col, row = _face_grid(height, width, face_w)
    return _remap(stack, col, row)


@functools.lru_cache(maxsize=8)
def _face_coordinates(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) in [−1, 1]: where each ERP pixel centre lies on the tangent plane of its cube face (see _FACE_AXES)."""
    d = equirect_directions(height, width)
    forward, right, down = _FACE_AXES[:, 0], _FACE_AXES[:, 1], _FACE_AXES[:, 2]
    face = equirect_face_index(height, width)
    depth = np.einsum("hwk,hwk->hw", d, forward[face])
    a = np.clip(np.einsum("hwk,hwk->hw", d, right[face]) / depth, -1, 1)
    b = np.clip(np.einsum("hwk,hwk->hw", d, down[face]) / depth, -1, 1)
    a.flags.writeable = b.flags.writeable = False
    return a, b


@functools.lru_cache(maxsize=8)
def _face_grid(height: int, width: int, face_w: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 (col, row) in the stacked faces (6·face_w, face_w) for every ERP pixel centre. Cached: it costs
    ~0.3 s at 2048×1024 and depends only on the sizes, so video frames and repeated calls reuse it."""
    a, b = _face_coordinates(height, width)
    face = equirect_face_index(height, width)
    col = ((a + 1) / 2 * (face_w - 1)).astype(np.float32)
    row = ((b + 1) / 2 * (face_w - 1) + face * face_w).astype(np.float32)
    col.flags.writeable = row.flags.writeable = False
    return col, row


@functools.lru_cache(maxsize=8)
def face_window(height: int, width: int) -> np.ndarray:
    """(H, W) blending weight of each ERP pixel within its cube face: cos(πa/2)·cos(πb/2), 1 at the face centre,
    falling smoothly to 0 on the face's edges. Maps made face by face and blended with these weights over cube
    maps turned against each other (`turn_shift`) show no face border: each map's weight is 0 where it jumps."""
    a, b = _face_coordinates(height, width)
    window = (np.cos(np.pi / 2 * a) * np.cos(np.pi / 2 * b)) ** 2
    window.flags.writeable = False
    return window


def turn_shift(width: int, yaw_deg: float) -> int:
    """Columns to roll an ERP image by to turn it by `yaw_deg` about the vertical axis (to the nearest column):
    the faces of `np.roll(equi, -shift, axis=1)` are those of a cube whose F face looks at longitude yaw; a map
    made from them goes back with `np.roll(map, shift, axis=1)`."""
    return int(round(yaw_deg / 360.0 * width)) % width


@functools.lru_cache(maxsize=8)
def equirect_face_index(height: int, width: int) -> np.ndarray:
    """(H, W) index into FACES of the cube face each ERP pixel centre looks through (read-only, cached)."""
    forward = _FACE_AXES[:, 0]
    face = np.argmax(equirect_directions(height, width) @ forward.T, axis=-1)   # largest forward component
    face.flags.writeable = False
    return face


def split_streams(faces: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """ATSal's split of the cube: (poles {U, D}, equator {F, R, B, L})."""
    missing = set(FACES) - set(faces)
    if missing:
        raise ValueError(f"faces needs keys {', '.join(FACES)}; missing {', '.join(sorted(missing))}")
    return {k: faces[k] for k in POLES}, {k: faces[k] for k in EQUATOR}


