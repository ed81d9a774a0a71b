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

from training.datasets import empirical_saliency_map
from training.metrics.panorama import latitude_weights

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
def _face_grid(height: int, width: int, face_w: int) -> tuple[np.ndarray, np.ndarray]:
    """float32 (col, row) in the stacked faces (6·face_w, face_w) for every ERP pixel centre. Cached: it costs
    ~0.3 s at 2048×1024 and depends only on the sizes, so video frames and repeated calls reuse it."""
    d = equirect_directions(height, width)
    forward, right, down = _FACE_AXES[:, 0], _FACE_AXES[:, 1], _FACE_AXES[:, 2]
    face = equirect_face_index(height, width)
    depth = np.einsum("hwk,hwk->hw", d, forward[face])
    a = np.einsum("hwk,hwk->hw", d, right[face]) / depth
    b = np.einsum("hwk,hwk->hw", d, down[face]) / depth
    col = ((np.clip(a, -1, 1) + 1) / 2 * (face_w - 1)).astype(np.float32)
    row = ((np.clip(b, -1, 1) + 1) / 2 * (face_w - 1) + face * face_w).astype(np.float32)
    col.flags.writeable = row.flags.writeable = False
    return col, row


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


# ------------------------------------------------------------------------------------- flat images on the sphere

def sphere_mass(density: np.ndarray) -> np.ndarray:
    """Probability mass per ERP pixel of a per-solid-angle density: density × latitude weight, sums to 1.
    These are the weights `training.metrics.panorama` uses."""
    density = np.asarray(density, dtype=np.float64)
    mass = density * latitude_weights(*density.shape)
    total = mass.sum()
    if total <= 0:
        raise ValueError("the density has no mass away from the poles")
    return mass / total


def _view(height: int, width: int, image_size: tuple[int, int], yaw_deg: float, pitch_deg: float,
          fov_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Inverse gnomonic projection: for each ERP pixel centre, the continuous (x, y) it hits on the flat
    image, whether that lies on the image, and cos of the angle to the optical axis."""
    img_w, img_h = image_size
    f = _focal_px(img_w, fov_deg)
    right, up, forward = camera_axes(yaw_deg, pitch_deg)
    d = equirect_directions(height, width)
    depth = d @ forward
    safe = np.where(depth > 1e-9, depth, 1.0)          # rays behind the camera never hit the image
    x = img_w / 2 + f * (d @ right) / safe
    y = img_h / 2 - f * (d @ up) / safe
    inside = (depth > 1e-9) & (x >= 0) & (x <= img_w) & (y >= 0) & (y <= img_h)
    return x, y, inside, depth


def _sample(src: np.ndarray, x: np.ndarray, y: np.ndarray, shrink: float) -> np.ndarray:
    """Bilinear sample of `src` at continuous coordinates; shrink first (area average) when it is much
    finer than the ERP, so a large image does not alias."""
    h, w = src.shape[:2]
    if shrink > 1.5:
        small = (max(1, round(w / shrink)), max(1, round(h / shrink)))
        src = cv2.resize(src, small, interpolation=cv2.INTER_AREA)
    sx, sy = src.shape[1] / w, src.shape[0] / h
    return _remap(src, x * sx - 0.5, y * sy - 0.5)     # continuous coordinate → array index


def _render(height: int, width: int, image: np.ndarray, density: np.ndarray | None, yaw_deg: float,
            pitch_deg: float, fov_deg: float) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """The image as seen on the ERP, its density (per solid angle, sphere mass 1) and its footprint."""
    img_h, img_w = image.shape[:2]
    x, y, inside, depth = _view(height, width, (img_w, img_h), yaw_deg, pitch_deg, fov_deg)
    shrink = _focal_px(img_w, fov_deg) * 2 * np.pi / width    # image pixels per ERP pixel at the centre
    colour = _sample(image, x, y, shrink)
    if density is None:
        return colour, None, inside
    q = _sample(density, x, y, shrink)                # per image pixel, so still a density on the image plane
    # An image pixel at angle θ from the axis covers a solid angle ∝ cos³θ (gnomonic projection), so a
    # density per image pixel becomes q / cos³θ per unit solid angle.
    rho = np.where(inside, np.clip(q, 0, None) / np.where(inside, depth, 1.0) ** 3, 0.0)
    if not np.any(rho > 0):
        raise ValueError("the pasted density has no mass on the panorama: blur a sparse fixation map first")
    mass = np.sum(rho * latitude_weights(height, width))
    return colour, rho / mass if mass > 0 else rho / rho.sum(), inside


def _check_density(density: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    density = np.asarray(density, dtype=np.float64)
    if density.shape != shape:
        raise ValueError(f"the density must have the image's shape {shape}; got {density.shape}")
    if not np.all(np.isfinite(density)) or density.min() < 0 or density.sum() <= 0:
        raise ValueError("the density must be finite, non-negative and not all zero")
    return density / density.sum()


def paste_on_sphere(background_equi: np.ndarray, image: np.ndarray, density: np.ndarray, yaw_deg: float,
                    pitch_deg: float, fov_deg: float) -> tuple[np.ndarray, np.ndarray]:
    """Paste a flat image and its saliency onto an ERP panorama, as a viewer at the centre would see it.

    Parameters
    ----------
    background_equi : (H, W[, C]) panorama; not modified.
    image : (h, w[, C]) flat image, the same number of channels as the background.
    density : (h, w) fixation map or saliency density on the image (any non-negative scale). A sparse
        fixation map is only sampled, so blur it first; map exact points with `image_points_to_equirect`.
    yaw_deg, pitch_deg : longitude and latitude of the image centre (yaw > 0 right, pitch > 0 up).
    fov_deg : horizontal field of view the image width spans; the vertical one follows from the aspect.

    Returns
    -------
    panorama : background with the image pasted, the background's dtype.
    density_equi : (H, W) density per solid angle, zero outside the image footprint, summing to 1.
    """
    background_equi = np.asarray(background_equi)
    image = np.asarray(image)
    if background_equi.shape[2:] != image.shape[2:]:
        raise ValueError(f"image {image.shape} and background {background_equi.shape} need the same channels")
    density = _check_density(density, image.shape[:2])
    height, width = background_equi.shape[:2]
    colour, rho, inside = _render(height, width, image, density, yaw_deg, pitch_deg, fov_deg)
    panorama = background_equi.copy()
    panorama[inside] = colour[inside].astype(background_equi.dtype)
    return panorama, rho / rho.sum()


def image_points_to_equirect(points_xy: np.ndarray, image_size: tuple[int, int], yaw_deg: float,
                             pitch_deg: float, fov_deg: float, equi_size: tuple[int, int]) -> np.ndarray:
    """Map fixations on a flat image to the ERP, with the geometry of `paste_on_sphere`.

    Parameters
    ----------
    points_xy : (N, 2) x right, y down, continuous pixels of the flat image.
    image_size, equi_size : (width, height) of the flat image and of the panorama.

    Returns
    -------
    (N, 2) continuous ERP pixel coordinates, x in [0, W), y in [0, H].
    """
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    img_w, img_h = image_size
    f = _focal_px(img_w, fov_deg)
    right, up, forward = camera_axes(yaw_deg, pitch_deg)
    rays = (forward[None] + ((points[:, 0] - img_w / 2) / f)[:, None] * right[None]
            + ((img_h / 2 - points[:, 1]) / f)[:, None] * up[None])
    return directions_to_equirect(rays, equi_size[1], equi_size[0])


# --------------------------------------------------------------------------------- synthetic 360° training data

def _angular_radius(image_size: tuple[int, int], fov_deg: float) -> float:
    """Half the angle across the image diagonal: a circle on the sphere that contains the footprint."""
    w, h = image_size
    half_w = np.tan(np.deg2rad(fov_deg) / 2)
    return float(np.arctan(np.hypot(half_w, half_w * h / w)))


def _angle_between(yaw1: float, pitch1: float, yaw2: float, pitch2: float) -> float:
    return float(np.arccos(np.clip(camera_axes(yaw1, pitch1)[2] @ camera_axes(yaw2, pitch2)[2], -1, 1)))


def make_synthetic_panorama(background_equi: np.ndarray, items: list[tuple[np.ndarray, np.ndarray]],
                            rng: np.random.Generator, fov_deg: float | tuple[float, float] = (50.0, 80.0),
                            pitch_sd_deg: float = 20.0, max_pitch_deg: float = 60.0, sigma_px: float = 24.0,
                            max_tries: int = 200) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Place 2D gaze images on a panorama at random yaw/pitch and build the exact 360° ground truth.

    Pitch is normal (sd `pitch_sd_deg`) clipped to ±`max_pitch_deg`, since people and content sit near the
    horizon; yaw is uniform. Each image gets the first of `max_tries` placements whose bounding circle
    does not touch the others', or else the one that overlaps least. A later image covers an earlier one,
    and the covered fixations and density of the earlier one are dropped.

    Parameters
    ----------
    background_equi : (H, W[, C]) panorama.
    items : [(image (h, w[, C]), fixations (N, 2) x, y pixels)]; the image density is the fixation map
        blurred with `sigma_px` (`training.datasets.empirical_saliency_map`).
    rng : the only source of randomness: the same seed gives the same panorama.
    fov_deg : horizontal field of view of each image, fixed or drawn uniformly from (low, high).

    Returns
    -------
    panorama : the background's dtype.
    density : (H, W) per solid angle, summing to 1: the sum of the pasted densities, each scaled to a
        sphere mass equal to its image's number of fixations (minus what later images cover).
    fixations_equi : (M, 2) x, y continuous ERP pixels of the visible fixations, in item order.
    """
    panorama = np.asarray(background_equi).copy()
    height, width = panorama.shape[:2]
    placed: list[tuple[float, float, float]] = []                     # (yaw, pitch, radius)
    layers = []
    for image, fixations in items:
        image = np.asarray(image)
        fixations = np.asarray(fixations, dtype=np.float64).reshape(-1, 2)
        img_h, img_w = image.shape[:2]
        fov = float(rng.uniform(*fov_deg)) if np.ndim(fov_deg) == 1 else float(fov_deg)
        radius = _angular_radius((img_w, img_h), fov)
        best, best_gap = None, -np.inf
        for _ in range(max_tries):
            yaw = float(rng.uniform(-180.0, 180.0))
            pitch = float(np.clip(rng.normal(0.0, pitch_sd_deg), -max_pitch_deg, max_pitch_deg))
            gap = min((_angle_between(yaw, pitch, y2, p2) - radius - r2 for y2, p2, r2 in placed), default=np.inf)
            if gap > best_gap:
                best, best_gap = (yaw, pitch), gap
            if gap >= 0:
                break
        yaw, pitch = best
        placed.append((yaw, pitch, radius))
        density = empirical_saliency_map(fixations, (img_w, img_h), sigma_px) if len(fixations) else None
        colour, rho, inside = _render(height, width, image, density, yaw, pitch, fov)
        panorama[inside] = colour[inside].astype(panorama.dtype)
        points = image_points_to_equirect(fixations, (img_w, img_h), yaw, pitch, fov, (width, height))
        layers.append((rho, inside, points, len(fixations)))

    covered = np.zeros((height, width), dtype=bool)                  # by the images placed later
    total = np.zeros((height, width))
    kept_points = []
    for rho, inside, points, n_fixations in reversed(layers):
        if len(points):
            cols = np.clip(np.floor(points[:, 0]).astype(int), 0, width - 1)
            rows = np.clip(np.floor(points[:, 1]).astype(int), 0, height - 1)
            points = points[~covered[rows, cols]]
        if rho is not None:                                          # sphere mass 1 before covering
            total += n_fixations * np.where(covered, 0.0, rho)
        kept_points.append(points)
        covered |= inside
    if total.sum() <= 0:
        raise ValueError("no visible fixations: give at least one item with fixations")
    fixations_equi = np.concatenate(kept_points[::-1]) if kept_points else np.zeros((0, 2))
    return panorama, total / total.sum(), fixations_equi
