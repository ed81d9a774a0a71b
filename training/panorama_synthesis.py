"""Flat images pasted on the sphere: 360° training data from 2D gaze datasets (a photo or painting with its
fixations placed on a background panorama by inverse gnomonic projection, so the ground truth is exact).
Conventions are those of models/runtime/projections.py."""
from __future__ import annotations

import cv2
import numpy as np

from models.runtime.projections import _focal_px, _remap, camera_axes, directions_to_equirect, equirect_directions
from models.runtime.densities import empirical_saliency_map
from training.metrics.panorama import latitude_weights


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


def _points_where(points: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """The ERP points (N, 2) x, y whose pixel is True in the (H, W) mask `keep`."""
    if not len(points):
        return points
    height, width = keep.shape
    cols = np.clip(np.floor(points[:, 0]).astype(int), 0, width - 1)
    rows = np.clip(np.floor(points[:, 1]).astype(int), 0, height - 1)
    return points[keep[rows, cols]]


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
        points = _points_where(points, ~covered)
        if rho is not None:                                          # sphere mass 1 before covering
            total += n_fixations * np.where(covered, 0.0, rho)
        kept_points.append(points)
        covered |= inside
    if total.sum() <= 0:
        raise ValueError("no visible fixations: give at least one item with fixations")
    fixations_equi = np.concatenate(kept_points[::-1]) if kept_points else np.zeros((0, 2))
    return panorama, total / total.sum(), fixations_equi


# ------------------------------------------------------------------- panoramas with a real latitude distribution

HORIZON_PITCH_SD_DEG = 16.0   # image centres' latitude; with the fixations' spread inside an image the ground
                              # truth's latitude marginal comes out near the σ 20° equator bias of real 360°
                              # viewing (measured by training.panorama_data.latitude_fit; assets/weights/atsal)
FEATHER = 0.15                # share of an image's width / height over which it fades into what lies below


def _feather(height: int, width: int, image_size: tuple[int, int], yaw_deg: float, pitch_deg: float,
             fov_deg: float, feather: float) -> np.ndarray:
    """Opacity (H, W) of a pasted image: 1 inside, falling smoothly (smoothstep) to 0 at its edges."""
    img_w, img_h = image_size
    x, y, inside, _ = _view(height, width, image_size, yaw_deg, pitch_deg, fov_deg)
    edge = np.minimum(np.minimum(x, img_w - x) / (feather * img_w), np.minimum(y, img_h - y) / (feather * img_h))
    t = np.clip(np.where(inside, edge, 0.0), 0.0, 1.0)
    return t * t * (3 - 2 * t)


def make_horizon_panorama(background_equi: np.ndarray, items: list[tuple[np.ndarray, np.ndarray]],
                          rng: np.random.Generator, fov_deg: tuple[float, float] = (50.0, 80.0),
                          pitch_sd_deg: float = HORIZON_PITCH_SD_DEG, max_pitch_deg: float = 45.0,
                          sigma_px: float = 24.0, feather: float = FEATHER
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gaze images spread around the horizon, as content sits in a real 360° scene, with the exact ground truth.

    Unlike `make_synthetic_panorama` (1–3 images with hard edges, where the gaze is wherever an image was pasted),
    every longitude gets content that carries gaze: the items are spaced evenly in yaw from a random start (±30 %
    of the spacing jitter), their centres' pitch is normal (sd `pitch_sd_deg`, clipped), and each fades into the
    background and its neighbours over `feather` of its size, so no paste boundary marks where the gaze is.
    Where images overlap, the later one's opacity scales the earlier one's density away, and an earlier
    fixation survives where the later image is less than half opaque. Each image's sphere mass is its number of
    fixations. Same returns as `make_synthetic_panorama`.
    """
    panorama = np.asarray(background_equi).astype(np.float64)
    height, width = panorama.shape[:2]
    n = len(items)
    if n == 0:
        raise ValueError("give at least one item with fixations")
    spacing = 360.0 / n
    start = float(rng.uniform(-180.0, 180.0))
    layers = []
    for k, (image, fixations) in enumerate(items):
        image = np.asarray(image)
        fixations = np.asarray(fixations, dtype=np.float64).reshape(-1, 2)
        img_h, img_w = image.shape[:2]
        fov = float(rng.uniform(*fov_deg))
        yaw = (start + k * spacing + rng.uniform(-0.3, 0.3) * spacing + 180.0) % 360.0 - 180.0
        pitch = float(np.clip(rng.normal(0.0, pitch_sd_deg), -max_pitch_deg, max_pitch_deg))
        density = empirical_saliency_map(fixations, (img_w, img_h), sigma_px) if len(fixations) else None
        colour, rho, _ = _render(height, width, image, density, yaw, pitch, fov)
        alpha = _feather(height, width, (img_w, img_h), yaw, pitch, fov, feather)
        panorama = panorama * (1 - alpha[..., None] if panorama.ndim == 3 else 1 - alpha) + \
            colour * (alpha[..., None] if panorama.ndim == 3 else alpha)
        points = image_points_to_equirect(fixations, (img_w, img_h), yaw, pitch, fov, (width, height))
        layers.append((rho, alpha, points, len(fixations)))

    above = np.zeros((height, width))                                # opacity of the images placed later
    total = np.zeros((height, width))
    kept_points = []
    for rho, alpha, points, n_fixations in reversed(layers):
        points = _points_where(points, above < 0.5)
        if rho is not None:
            total += n_fixations * rho * (1 - above)
        kept_points.append(points)
        above = 1 - (1 - above) * (1 - alpha)
    if total.sum() <= 0:
        raise ValueError("no visible fixations: give at least one item with fixations")
    fixations_equi = np.concatenate(kept_points[::-1])
    out = np.clip(np.rint(panorama), 0, 255) if np.issubdtype(np.asarray(background_equi).dtype, np.integer) \
        else panorama
    return out.astype(np.asarray(background_equi).dtype), total / total.sum(), fixations_equi
