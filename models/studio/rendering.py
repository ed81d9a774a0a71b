"""Drawing densities: colour maps, heatmap overlays on the painting, and the legend."""
from __future__ import annotations

import functools

import cv2
import numpy as np

COLORMAPS = ("inferno", "jet", "viridis", "magma", "turbo", "gray")
EVEN_TOP = 6.0            # the shared scale's top: 6 times the attention of an even spread, or more
# How a density becomes colours: "peak" scales every map to its own maximum (the brightest colour is each map's
# peak, so a flat map is a full wash); "even" is one scale for every model, the attention relative to an even
# spread (1× = what every place would get if attention were uniform), from 0 to EVEN_TOP×, so maps can be
# compared: the uniform map is a flat, dark 1× and concentrated maps reach the top.
SCALES = {"peak": "each map to its own peak", "even": f"shared: × an even spread (0 to {EVEN_TOP:g}×)"}


@functools.lru_cache(maxsize=len(COLORMAPS))
def _colormap_lut(colormap: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap (its own 256-entry lookup table)."""
    import matplotlib
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap '{colormap}'; choose one of {', '.join(COLORMAPS)}")
    lut = (matplotlib.colormaps[colormap](np.arange(256))[:, :3] * 255).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def check_style(colormap: str, opacity: float, scale: str = "peak") -> None:
    """ValueError naming a bad colormap, opacity or colour scale (before any work is done)."""
    _colormap_lut(colormap)
    if not 0.0 <= float(opacity) <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    check_scale(scale)


def check_scale(scale: str) -> str:
    if scale not in SCALES:
        raise ValueError(f"unknown colour scale '{scale}'; choose one of {', '.join(SCALES)}")
    return scale


def _scaled(density: np.ndarray, scale: str = "peak", row_weights: np.ndarray | None = None) -> np.ndarray:
    """The density as float32 in [0, 1] on a colour scale (SCALES): "peak", density / its maximum; "even",
    density / (its mean · EVEN_TOP), clipped at 1, the mean weighted per row by `row_weights` when given (an
    equirectangular panorama's rows cover cos-latitude shares of the sphere). All zeros stay zeros."""
    density = np.asarray(density, dtype=np.float32)
    if check_scale(scale) == "even":
        if not density.size:
            return density
        rows = density.mean(axis=1, dtype=np.float64)
        mean = float(rows.mean() if row_weights is None else (rows * row_weights).sum() / np.sum(row_weights))
        if mean <= 0:
            return np.clip(density, 0, None)
        return np.clip(density * np.float32(1.0 / (mean * EVEN_TOP)), 0.0, 1.0)
    peak = float(density.max()) if density.size else 0.0
    return density * np.float32(1.0 / peak) if peak > 0 else np.clip(density, 0, None)


def colorize(density: np.ndarray, colormap: str = "inferno", scale: str = "peak") -> np.ndarray:
    """Density → RGB uint8 heatmap on a colour scale (SCALES; by default each map to its maximum). Indexes the
    colormap's 256 entries as matplotlib does (floor(x·256), top clipped), through cv2.applyColorMap (a table
    lookup, not matplotlib's float path)."""
    lut = _colormap_lut(colormap)
    index = np.minimum(_scaled(density, scale) * 256, 255).astype(np.uint8)
    return cv2.applyColorMap(index, np.ascontiguousarray(lut[:, None, :]))


def overlay(image: np.ndarray, density: np.ndarray, colormap: str = "inferno", opacity: float = 0.6,
            scale: str = "peak", row_weights: np.ndarray | None = None) -> np.ndarray:
    """Heatmap blended over the image; the blend follows the map so low-saliency areas keep the painting visible.
    `row_weights`: see `_scaled`."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    scaled = _scaled(density, scale, row_weights)
    alpha = np.float32(opacity) * np.sqrt(scaled)
    image = np.ascontiguousarray(image, dtype=np.uint8)
    lut = _colormap_lut(colormap)
    colours = cv2.applyColorMap(np.minimum(scaled * 256, 255).astype(np.uint8), np.ascontiguousarray(lut[:, None, :]))
    return cv2.blendLinear(colours, image, alpha, 1 - alpha)


def legend_html(colormap: str = "inferno", scale: str = "peak", stops: int = 9) -> str:
    """A colour bar for the heatmaps, as HTML: the colormap from less to more attention, and what the ends mean
    on the colour scale in use (SCALES)."""
    lut = _colormap_lut(colormap)
    colours = ", ".join("#%02x%02x%02x" % tuple(int(c) for c in lut[round(i * 255 / (stops - 1))]) for i in range(stops))
    if check_scale(scale) == "even":
        even = 100 / EVEN_TOP
        ends = ("0", f"{EVEN_TOP:g}× an even spread or more")
        described = (f"shared by every model: the left end is no attention, the right end {EVEN_TOP:g} times the "
                     "attention of an even spread or more")
        marker = (f'<span style="position:absolute;left:{even:.1f}%;transform:translateX(-50%)">│ 1× (even)</span>')
        title = f"Colour scale, shared across models: attention relative to an even spread (0 to {EVEN_TOP:g}×)"
    else:
        ends = ("less attention", "more attention (this map's peak)")
        described = "each map to its own peak: the left end is less predicted attention, the right end the map's peak"
        marker = ""
        title = "Colour scale: each map to its own peak (maps of different models are not comparable)"
    return (f'<div class="attention-legend" data-scale="{scale}" data-colormap="{colormap}" role="img" '
            f'aria-label="Colour scale ({colormap}), {described}">'
            f'<div style="font-size:0.85em">{title}</div>'
            f'<div class="legend-bar" style="height:14px;border-radius:3px;'
            f'background:linear-gradient(to right, {colours})"></div>'
            '<div style="display:flex;justify-content:space-between;font-size:0.85em;position:relative">'
            f'<span>{ends[0]}</span>{marker}<span>{ends[1]}</span></div></div>')
