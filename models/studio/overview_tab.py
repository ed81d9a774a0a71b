"""One painting, every view: the best saliency map, a few sampled scanpaths, attention statistics and a short
plain-language reading of them (the app's Overview tab).

    result = painting_overview(image, temperature=0.3, n_scanpaths=3, seed=0)
    result["overlay"], result["scanpaths"], result["statistics"], result["reading"]
"""
from __future__ import annotations

import numpy as np

from models import DEFAULT, load_model, predict_saliency
from models.studio.painting import load_painting
from models.studio.rendering import overlay
from models.runtime.viewers import DEFAULT_VIEWING_TIME_S
from models.studio.scanpath_tab import draw_scanpaths

TOP_SHARES = (0.05, 0.10, 0.25)          # "the most-looked-at 5 / 10 / 25 % of the picture"
POPULATION = 20                          # virtual viewers behind the reading; the first few are drawn


def attention_statistics(density: np.ndarray) -> dict:
    """Numbers that summarise a saliency density (H, W):
    - `top_{5,10,25}`: share of the attention that falls on the most salient 5 / 10 / 25 % of the pixels
      (an even spread gives 0.05 / 0.10 / 0.25);
    - `entropy`: Shannon entropy as a fraction of its maximum log2(H·W) (1 = even, lower = concentrated);
    - `centre_x`, `centre_y`: centre of mass as fractions of width and height (0.5, 0.5 = the middle);
    - `spread`: RMS distance of attention from that centre, as a fraction of the image diagonal;
    - `peak_x`, `peak_y`: where the single most salient pixel is (fractions)."""
    p = np.asarray(density, dtype=np.float64)
    if p.ndim != 2 or p.size < 2 or not np.isfinite(p).all() or p.min() < 0 or p.sum() <= 0:
        raise ValueError("attention statistics need a non-negative, finite 2-D map with some mass")
    p = p / p.sum()
    h, w = p.shape
    ranked = np.sort(p.ravel())[::-1]
    cumulative = np.cumsum(ranked)
    stats = {f"top_{round(f * 100)}": float(cumulative[max(0, int(round(f * p.size)) - 1)]) for f in TOP_SHARES}
    nz = p[p > 0]
    stats["entropy"] = float(-(nz * np.log2(nz)).sum() / np.log2(p.size))
    ys, xs = (np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w
    cx, cy = float(p.sum(0) @ xs), float(p.sum(1) @ ys)
    stats["centre_x"], stats["centre_y"] = cx, cy
    d2 = ((xs[None, :] - cx) * w) ** 2 + ((ys[:, None] - cy) * h) ** 2
    stats["spread"] = float(np.sqrt((p * d2).sum()) / np.hypot(w, h))
    iy, ix = np.unravel_index(int(np.argmax(p)), p.shape)
    stats["peak_x"], stats["peak_y"] = float((ix + 0.5) / w), float((iy + 0.5) / h)
    return stats


def where(x: float, y: float) -> str:
    """A place in plain words from fractions of width and height, e.g. 'the upper left'."""
    row = "upper" if y < 1 / 3 else ("lower" if y > 2 / 3 else "")
    col = "left" if x < 1 / 3 else ("right" if x > 2 / 3 else "")
    if not row and not col:
        return "the centre"
    if not col:
        return f"the {row} middle"
    return f"the {row + ' ' if row else ''}{col}".replace("the  ", "the ")


def reading(stats: dict, scanpaths: list[np.ndarray] | None = None, image_hw: tuple[int, int] | None = None,
            density: np.ndarray | None = None, viewing_time_s: float = DEFAULT_VIEWING_TIME_S) -> str:
    """A few sentences a visitor can read: how concentrated attention is, where it sits, and what the population
    of sampled viewers does. Only facts computed from the inputs; no claims beyond them."""
    top10 = stats["top_10"]
    if top10 >= 0.5:
        level = "strongly concentrated"
    elif top10 >= 0.3:
        level = "moderately concentrated"
    else:
        level = "spread out"
    lines = [f"Attention is **{level}**: the most-looked-at 10 % of the picture draws {top10:.0%} of the predicted "
             f"attention (an even spread would give 10 %).",
             f"Its centre of mass lies in {where(stats['centre_x'], stats['centre_y'])} "
             f"({stats['centre_x']:.0%} across, {stats['centre_y']:.0%} down); the strongest spot is in "
             f"{where(stats['peak_x'], stats['peak_y'])}."]
    if scanpaths and image_hw is not None:
        h, w = image_hw
        paths = [p for p in scanpaths if len(p)]
        counts = np.array([len(p) for p in paths])
        durations = np.concatenate([p[:, 2] for p in paths])
        first = [where(p[0, 0] / w, p[0, 1] / h) for p in paths]
        common = max(set(first), key=first.count)
        text = (f"{len(paths)} virtual viewers looking for {viewing_time_s:g} s make {counts.mean():.1f} fixations "
                f"each on average ({np.percentile(counts, 10):.0f}–{np.percentile(counts, 90):.0f} for 8 in 10 "
                f"of them); a fixation lasts {np.median(durations):.0f} ms typically "
                f"({np.percentile(durations, 10):.0f}–{np.percentile(durations, 90):.0f} ms for 8 in 10); "
                f"{first.count(common) / len(paths):.0%} of them begin in {common}.")
        if density is not None:
            threshold = np.quantile(density, 0.9)
            hits = [float(density[min(int(y), h - 1), min(int(x), w - 1)] >= threshold)
                    for p in paths for x, y, _ in p]
            text += f" {np.mean(hits):.0%} of their fixations land in the most-looked-at 10 %."
        lines.append(text)
    return " ".join(lines)


def statistics_rows(stats: dict) -> list[list]:
    """The statistics as (name, value) rows for a table, with units in the names."""
    return [["attention on the top 5 % of the area", f"{stats['top_5']:.1%}"],
            ["attention on the top 10 % of the area", f"{stats['top_10']:.1%}"],
            ["attention on the top 25 % of the area", f"{stats['top_25']:.1%}"],
            ["entropy (share of the maximum)", f"{stats['entropy']:.3f}"],
            ["centre of mass (x, y, share of width / height)", f"{stats['centre_x']:.2f}, {stats['centre_y']:.2f}"],
            ["spread (share of the diagonal)", f"{stats['spread']:.3f}"],
            ["strongest spot (x, y)", f"{stats['peak_x']:.2f}, {stats['peak_y']:.2f}"]]


def painting_overview(image, saliency_model: str | None = None, scanpath_model: str | None = None,
                      temperature: float | None = None, n_scanpaths: int = 3, seed: int = 0,
                      colormap: str = "inferno", opacity: float = 0.6) -> dict:
    """Everything the Overview tab shows for one image, from the default (best) models unless named. `image`: a
    file, an array or a models.studio.painting.Painting (a large one is read on its working copy)."""
    painting = load_painting(image)
    rgb = painting.rgb
    saliency_model = saliency_model or DEFAULT["saliency"]
    scanpath_model = scanpath_model or DEFAULT["scanpath"]
    density = predict_saliency(load_model(saliency_model), rgb)
    if temperature is None:
        temperature = load_model(scanpath_model).default_temperature
    population = load_model(scanpath_model).sample_batch(rgb, max(POPULATION, n_scanpaths), float(temperature),
                                                         seed=seed, viewing_time_s=DEFAULT_VIEWING_TIME_S)
    paths = population[:n_scanpaths]                    # the ones drawn are among those the reading counts
    stats = attention_statistics(density)
    return {"overlay": overlay(rgb, density, colormap, opacity), "density": density,
            "scanpaths": draw_scanpaths(rgb, paths), "paths": paths, "statistics": stats,
            "rows": statistics_rows(stats), "reading": reading(stats, population, rgb.shape[:2], density),
            "models": {"saliency": saliency_model, "scanpath": scanpath_model, "temperature": float(temperature)},
            "stem": painting.stem, "note": painting.note()}
