"""Drawing densities: colour maps, heatmap overlays on the painting, and the legend."""
from __future__ import annotations

import functools

import cv2
import numpy as np

COLORMAPS = ("inferno", "jet", "viridis", "magma", "turbo", "gray")


@functools.lru_cache(maxsize=len(COLORMAPS))
def _colormap_lut(colormap: str) -> np.ndarray:
    """(256, 3) uint8 RGB table of a matplotlib colormap (its own 256-entry lookup table)."""
    import matplotlib
    if colormap not in COLORMAPS:
        raise ValueError(f"unknown colormap '{colormap}'; choose one of {', '.join(COLORMAPS)}")
    lut = (matplotlib.colormaps[colormap](np.arange(256))[:, :3] * 255).astype(np.uint8)
    lut.flags.writeable = False
    return lut


def _scaled(density: np.ndarray) -> np.ndarray:
    """density / its maximum, float32 in [0, 1] (all zeros stay zeros)."""
    density = np.asarray(density, dtype=np.float32)
    peak = float(density.max()) if density.size else 0.0
    return density * np.float32(1.0 / peak) if peak > 0 else np.clip(density, 0, None)


def colorize(density: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """Density → RGB uint8 heatmap, scaled by its maximum. Indexes the colormap's 256 entries as matplotlib
    does (floor(x·256), top clipped), through cv2.applyColorMap (a table lookup, not matplotlib's float path)."""
    lut = _colormap_lut(colormap)
    index = np.minimum(_scaled(density) * 256, 255).astype(np.uint8)
    return cv2.applyColorMap(index, np.ascontiguousarray(lut[:, None, :]))


def overlay(image: np.ndarray, density: np.ndarray, colormap: str = "inferno", opacity: float = 0.6) -> np.ndarray:
    """Heatmap blended over the image; the blend follows the map so low-saliency areas keep the painting visible."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError("opacity must be between 0 and 1")
    alpha = np.float32(opacity) * np.sqrt(_scaled(density))
    image = np.ascontiguousarray(image, dtype=np.uint8)
    return cv2.blendLinear(colorize(density, colormap), image, alpha, 1 - alpha)


def legend_html(colormap: str = "inferno", stops: int = 9) -> str:
    """A colour bar for the heatmaps: the colormap from 'less attention' to 'more attention', as HTML."""
    lut = _colormap_lut(colormap)
    colours = ", ".join("#%02x%02x%02x" % tuple(int(c) for c in lut[round(i * 255 / (stops - 1))]) for i in range(stops))
    return (f'<div class="attention-legend" role="img" aria-label="Colour scale ({colormap}): the left end is '
            f'less predicted attention, the right end more">'
            f'<div style="height:14px;border-radius:3px;background:linear-gradient(to right, {colours})"></div>'
            '<div style="display:flex;justify-content:space-between;font-size:0.85em">'
            '<span>less attention</span><span>more attention</span></div></div>')
