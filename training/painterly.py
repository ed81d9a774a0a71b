"""Painterly test splits: the gaze test (and val) images rendered in painting styles that keep the geometry, so
the recorded human fixations stay valid for the styled image, and every model can be scored photo vs painting.

Styles (`TEST_STYLES`; each a pure function `(rgb uint8 (H, W, 3), seed) -> rgb uint8` of the same size,
deterministic for a seed):

- `stylize`      OpenCV's non-photorealistic stylization (domain-transform edge-preserving smoothing with the
                 edges drawn in; Gastal & Oliveira 2011): flat, ink-outlined washes.
- `oil`          Kuwahara filter (4 quadrants, radius ≈ long side / 130; OpenCV 5's headless wheel has no
                 `xphoto.oilPainting`), a slight saturation lift and an embossed brush-stroke relief (noise
                 smeared along one seeded direction), lit from the top left.
- `watercolour`  Iterated bilateral smoothing at half resolution (flat washes), the pigment made transparent
                 over white paper, pigment pooling at wash edges (edge darkening), granulation and a fibrous paper
                 texture (seeded multi-scale noise, multiplicative, low frequency).
- `palette`      Palette reduction: median-smoothed image quantised to the image's own 8 Lab colours (seeded
                 k-means++), i.e. an adaptive poster / screen-print palette.
- `colour-match` The Lab colour distribution of one *held-out* painting of `$GAZE_DATA/paintings` (every 10th
                 file, `training.domain_adaptation.HELD_OUT_EVERY`; the rest are Barlow Twins / domain-adaptation
                 training paintings) imposed by per-channel histogram matching (whole distributions; monotone
                 curves of the value, so no edge moves; slope limited to 3× as in CLAHE, so a near-flat sky or
                 JPEG noise is not stretched into bands and speckles); the seed picks the painting.

Transforms used at training time (augmentations, Barlow Twins views) are declared next to the code that applies
them (`saliency_data.AUGMENTATIONS`, `scanpath_data.AUGMENTATIONS`, `style_views.VIEW_TRANSFORMS`) and collected
in `TRAINING_TRANSFORMS`; no test style may be one of them (tests/test_painterly.py). In particular the Barlow
views' colour change is a Reinhard mean/std transfer from *training* paintings and their posterisation is a fixed
per-channel grid; `colour-match` (full histograms, held-out paintings) and `palette` (an adaptive per-image
palette) are different transforms.

Styled images are made on the fly and cached outside git (PNG, lossless, so a cached image equals a fresh one),
keyed by dataset folder / image / style / seed / style version:
`$PAINTERLY_CACHE`, default ~/.cache/visual-attention-studio/painterly.

    ds = painterly_dataset(load_dataset("osie", "test"), "oil", seed=0)    # same images, sizes, fixations
    rgb = ds.load_image(ds.images[0])                                        # the oil-painted image

    python -m training.painterly --data osie --split test --style oil --out /tmp/look --limit 8
    python -m training.painterly --data mit1003 --split val --style all --out /tmp/look --limit 4 --side_by_side
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import hashlib
import os
import sys
import zlib
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from training.config import gaze_data_root
from training.datasets import ALL, GazeDataset, load_dataset

STYLE_VERSIONS = {"colour-match": 2}   # bump a style's version when its output changes: the cache key holds it
DEFAULT_CACHE = Path.home() / ".cache" / "visual-attention-studio" / "painterly"


def _long_side(rgb: np.ndarray) -> int:
    return max(rgb.shape[:2])


def _seeded_noise(shape: tuple[int, int], rng: np.random.Generator, sigma: float) -> np.ndarray:
    """Gaussian noise blurred with σ, rescaled to zero mean and unit SD (float32 (H, W))."""
    n = rng.standard_normal(shape).astype(np.float32)
    if sigma > 0:
        n = cv2.GaussianBlur(n, (0, 0), sigma)
    return (n - n.mean()) / (n.std() + 1e-6)


# --- the styles ------------------------------------------------------------------------------------------------

def stylize(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """OpenCV stylization: edge-preserving smoothing plus darkened edges. No randomness (seed unused)."""
    s = 60 * _long_side(rgb) / 800
    out = cv2.stylization(np.ascontiguousarray(rgb[:, :, ::-1]), sigma_s=float(min(200.0, max(10.0, s))),
                          sigma_r=0.45)
    return np.ascontiguousarray(out[:, :, ::-1])


def kuwahara(rgb: np.ndarray, radius: int) -> np.ndarray:
    """Classic Kuwahara filter: each pixel takes the mean colour of whichever of its four (r+1)² quadrants has the
    lowest luminance variance (flattens texture, keeps edges). float32 (H, W, 3) in 0..255."""
    img = rgb.astype(np.float32)
    lum = img @ np.array([0.299, 0.587, 0.114], np.float32)
    k = radius + 1
    means, variances = [], []
    for anchor in ((radius, radius), (0, radius), (radius, 0), (0, 0)):       # the four quadrants
        box = functools.partial(cv2.boxFilter, ddepth=-1, ksize=(k, k), anchor=anchor,
                                borderType=cv2.BORDER_REFLECT)
        m_l = box(lum)
        variances.append(box(lum * lum) - m_l * m_l)
        means.append(box(img))
    best = np.argmin(np.stack(variances), axis=0)
    out = np.zeros_like(img)
    for q, mean in enumerate(means):
        out[best == q] = mean[best == q]
    return out


def oil(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """Kuwahara oil look with a seeded brush-stroke relief."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    radius = max(2, round(_long_side(rgb) / 130))
    x = kuwahara(rgb, radius)
    grey = x.mean(axis=2, keepdims=True)
    x = grey + 1.2 * (x - grey)                                          # oil colours are a little richer
    # Brush strokes: noise smeared along one direction (a line kernel), used as a height field and embossed.
    length = max(5, 4 * radius)
    angle = rng.uniform(0, np.pi)
    kernel = np.zeros((2 * length + 1, 2 * length + 1), np.float32)
    c = length
    dx, dy = np.cos(angle), np.sin(angle)
    for t in np.linspace(-length, length, 4 * length + 1):
        kernel[int(round(c + t * dy)), int(round(c + t * dx))] = 1.0
    kernel /= kernel.sum()
    height = cv2.filter2D(rng.standard_normal((h, w)).astype(np.float32), -1, kernel, borderType=cv2.BORDER_REFLECT)
    height = cv2.GaussianBlur(height, (0, 0), 0.8)
    relief = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) + cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3)
    relief /= relief.std() + 1e-6
    x = x * (1.0 + 0.035 * relief[..., None])
    return np.clip(x + 0.5, 0, 255).astype(np.uint8)


def watercolour(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """Flat washes of transparent pigment on textured white paper, darker where washes meet."""
    rng = np.random.default_rng(seed)
    h, w = rgb.shape[:2]
    scale = _long_side(rgb) / 800
    small = cv2.resize(rgb, (max(8, w // 2), max(8, h // 2)), interpolation=cv2.INTER_AREA)
    for _ in range(4):
        small = cv2.bilateralFilter(small, 9, 30, 5 * max(scale, 0.3))
    wash = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    density = 1.0 - wash                                                  # pigment density per channel
    # Pigment pools where one wash meets another: darker rims along the wash edges.
    lum = cv2.cvtColor((wash * 255).astype(np.uint8), cv2.COLOR_RGB2GRAY).astype(np.float32) / 255.0
    edges = np.hypot(cv2.Sobel(lum, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(lum, cv2.CV_32F, 0, 1, ksize=3))
    edges = cv2.GaussianBlur(edges, (0, 0), 1.0 + scale)
    edges = np.clip(edges / (np.percentile(edges, 99) + 1e-6), 0, 1)
    granulation = _seeded_noise((h, w), rng, 2.5 * max(scale, 0.5))
    blooms = _seeded_noise((h, w), rng, 25 * max(scale, 0.3))             # uneven wetness: lighter / darker
    density = density * 0.72 * (1.0 + 0.4 * edges[..., None]) * (1.0 + 0.05 * granulation[..., None]
                                                                 + 0.08 * blooms[..., None])
    # Paper: slightly warm white with fibres (fine) and cockling (coarse), multiplicative.
    paper = 1.0 + 0.012 * _seeded_noise((h, w), rng, 0.8) + 0.02 * _seeded_noise((h, w), rng, 10 * max(scale, 0.3))
    paper_colour = np.array([1.0, 0.985, 0.95], np.float32)
    out = (1.0 - np.clip(density, 0, 1)) * paper_colour * paper[..., None]
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def _kmeans(points: np.ndarray, k: int, rng: np.random.Generator, iterations: int = 12) -> np.ndarray:
    """Seeded k-means++ then Lloyd iterations; (k, D) centres."""
    centres = [points[rng.integers(len(points))]]
    for _ in range(1, k):
        d2 = np.min(((points[:, None, :] - np.array(centres)[None]) ** 2).sum(-1), axis=1)
        centres.append(points[rng.choice(len(points), p=d2 / d2.sum()) if d2.sum() > 0 else rng.integers(len(points))])
    centres = np.array(centres, np.float64)
    for _ in range(iterations):
        labels = np.argmin(((points[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
        for j in range(k):
            if np.any(labels == j):
                centres[j] = points[labels == j].mean(0)
    return centres


def palette(rgb: np.ndarray, seed: int = 0, colours: int = 8) -> np.ndarray:
    """The image in its own `colours` Lab colours (k-means on a seeded pixel sample), after a median blur."""
    rng = np.random.default_rng(seed)
    smooth = cv2.medianBlur(np.ascontiguousarray(rgb), 5 if _long_side(rgb) >= 300 else 3)
    lab = cv2.cvtColor(smooth.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float64)
    sample = lab[rng.choice(len(lab), size=min(len(lab), 6000), replace=False)]
    centres = _kmeans(sample, min(colours, len(np.unique(sample, axis=0))), rng)
    labels = np.empty(len(lab), np.int64)
    for start in range(0, len(lab), 65536):                            # chunks keep the distance matrix small
        part = lab[start:start + 65536]
        labels[start:start + 65536] = np.argmin(((part[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    out = cv2.cvtColor(centres[labels].reshape(rgb.shape).astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def held_out_paintings(folder: str | Path | None = None) -> list[Path]:
    """The paintings no model trains on: every HELD_OUT_EVERY-th file, the same as the Barlow Twins and
    domain-adaptation runs hold out (their split "val")."""
    from training.domain_adaptation import PaintingImages
    folder = Path(folder) if folder else gaze_data_root() / "paintings"
    if not folder.is_dir():
        raise FileNotFoundError(f"no paintings at {folder} (set GAZE_DATA to the shared data folder): the "
                                "colour-match style takes its colours from held-out paintings")
    return list(PaintingImages(folder, (1, 1), split="val").files)


QUANTILES = np.linspace(0.0, 1.0, 257)


@functools.lru_cache(maxsize=256)
def _painting_quantiles(path: str) -> np.ndarray:
    """(3, 257) quantiles of each Lab channel of a painting."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB).reshape(-1, 3)
    return np.quantile(lab, QUANTILES, axis=0).T


PAINTINGS_FOLDER: str | None = None       # None: $GAZE_DATA/paintings (tests point it at a folder of their own)


def matching_curve(values: np.ndarray, target_quantiles: np.ndarray, max_gain: float = 3.0, bins: int = 512
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Histogram matching as a monotone curve of the value (equal values stay equal), with its slope limited to
    `max_gain` × the range-to-range slope, the clipped excess spread evenly (as CLAHE does), so a near-flat area
    (a sky, JPEG noise in the shadows) is not stretched over a wide range of the target. (knots, curve)."""
    lo, hi = float(values.min()), float(values.max())
    if hi - lo < 1e-6:
        return np.array([lo, lo + 1.0]), np.full(2, float(np.median(target_quantiles)))
    hist, edges = np.histogram(values, bins=bins, range=(lo, hi))
    cdf = np.concatenate([[0.0], np.cumsum(hist)]) / max(hist.sum(), 1)
    curve = np.interp(cdf, QUANTILES, target_quantiles)
    steps = np.diff(curve)
    limit = max_gain * (target_quantiles[-1] - target_quantiles[0]) / bins
    for _ in range(8):
        excess = np.clip(steps - limit, 0, None).sum()
        steps = np.minimum(steps, limit) + excess / bins
        if excess < 1e-9:
            break
    return edges, target_quantiles[0] + np.concatenate([[0.0], np.cumsum(steps)])


def colour_match(rgb: np.ndarray, seed: int = 0) -> np.ndarray:
    """Match each Lab channel's histogram to a held-out painting chosen by `seed` (slope-limited curves)."""
    paintings = held_out_paintings(PAINTINGS_FOLDER)
    target = _painting_quantiles(str(paintings[np.random.default_rng(seed).integers(len(paintings))]))
    lab = cv2.cvtColor(rgb.astype(np.float32) / 255.0, cv2.COLOR_RGB2LAB)
    flat = lab.reshape(-1, 3)
    out = np.empty_like(flat)
    for c in range(3):
        knots, curve = matching_curve(flat[:, c], target[c])
        out[:, c] = np.interp(flat[:, c], knots, curve)
    out[:, 0] = np.clip(out[:, 0], 0, 100)
    back = cv2.cvtColor(out.reshape(lab.shape).astype(np.float32), cv2.COLOR_LAB2RGB)
    return np.clip(back * 255.0 + 0.5, 0, 255).astype(np.uint8)


TEST_STYLES: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {
    "stylize": stylize,
    "oil": oil,
    "watercolour": watercolour,
    "palette": palette,
    "colour-match": colour_match,
}

# One line each, for docs/results.md.
STYLE_DESCRIPTIONS = {
    "stylize": "OpenCV stylization: edge-preserving smoothing, edges inked in",
    "oil": "Kuwahara filter (radius ≈ long side / 130), richer colour, embossed brush strokes",
    "watercolour": "bilateral washes at half resolution, transparent pigment on white paper, darker wash edges, "
                   "granulation and paper texture",
    "palette": "median blur, then the image's own 8 Lab colours (k-means)",
    "colour-match": "Lab histograms of a held-out painting (every 10th of the paintings; none trains a model), "
                    "matching curves slope-limited to 3× so flat areas are not blown up",
}
assert set(STYLE_DESCRIPTIONS) == set(TEST_STYLES)


def training_transforms() -> dict[str, tuple[str, ...]]:
    """{module: names of the transforms it applies at training time}, from the tuples declared in each module."""
    from training import saliency_data, scanpath_data, style_views
    return {"training.saliency_data": saliency_data.AUGMENTATIONS,
            "training.scanpath_data": scanpath_data.AUGMENTATIONS,
            "training.style_views": style_views.VIEW_TRANSFORMS}


TRAINING_TRANSFORMS: frozenset[str] = frozenset(n for names in training_transforms().values() for n in names)


def apply_style(rgb: np.ndarray, style: str, seed: int = 0) -> np.ndarray:
    if style not in TEST_STYLES:
        raise ValueError(f"unknown painterly style '{style}'; choose one of {', '.join(TEST_STYLES)}")
    rgb = np.ascontiguousarray(np.asarray(rgb, dtype=np.uint8)[..., :3])
    out = TEST_STYLES[style](rgb, seed)
    assert out.shape == rgb.shape and out.dtype == np.uint8, (style, out.shape, out.dtype)
    return out


def image_seed(seed: int, image: str) -> int:
    """A per-image seed from the run's seed and the image name (stable across processes and Python versions)."""
    return (int(seed) * 1_000_003 + zlib.crc32(image.encode())) % (2 ** 32)


def cache_root(cache: str | Path | None = None) -> Path:
    return Path(cache or os.environ.get("PAINTERLY_CACHE") or DEFAULT_CACHE).expanduser()


@dataclasses.dataclass
class PainterlyDataset(GazeDataset):
    """A GazeDataset whose `load_image` returns the painterly copy; images, sizes, fixations, σ unchanged."""
    style: str = "stylize"
    style_seed: int = 0
    cache: Path | None = None             # folder for this dataset + style + seed; None = no caching

    def load_image(self, image: str) -> np.ndarray:
        path = self.cache / f"{Path(image).stem}.png" if self.cache else None
        if path is not None and path.is_file():
            with Image.open(path) as im:
                cached = np.asarray(im.convert("RGB"))
            if cached.shape[1::-1] == tuple(self.sizes[image]):
                return cached
        styled = apply_style(super().load_image(image), self.style, image_seed(self.style_seed, image))
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.png")
            Image.fromarray(styled).save(tmp, compress_level=1)
            os.replace(tmp, path)                                        # atomic: no half-written cache file
        return styled


def painterly_dataset(ds: GazeDataset, style: str, seed: int = 0, cache: str | Path | None | bool = None
                      ) -> PainterlyDataset:
    """A painterly copy of `ds`. `cache`: a folder (default $PAINTERLY_CACHE or ~/.cache/...), or False for none.
    The cache folder is keyed by dataset name + a hash of its folder, style, seed and the style's version."""
    if style not in TEST_STYLES:
        raise ValueError(f"unknown painterly style '{style}'; choose one of {', '.join(TEST_STYLES)}")
    folder = None
    if cache is not False:
        key = hashlib.sha1(str(Path(ds.root).resolve()).encode()).hexdigest()[:8]
        folder = cache_root(cache or None) / f"{ds.name}-{key}" / f"{style}-seed{seed}-v{STYLE_VERSIONS.get(style, 1)}"
    fields = {f.name: getattr(ds, f.name) for f in dataclasses.fields(GazeDataset)}
    return PainterlyDataset(**fields, style=style, style_seed=int(seed), cache=folder)


PHOTO = "photo"           # `--style photo`: the unchanged images, recorded with a "style" (a reference run)


def load_painterly(data: str, split: str | None, style: str | None, seed: int = 0,
                   cache: str | Path | None = None) -> GazeDataset:
    """`load_dataset`, styled when `style` is a painterly style (the evaluation CLIs' `--style`); None or
    "photo" = the photos themselves."""
    ds = load_dataset(data, split)
    return painterly_dataset(ds, style, seed, cache) if style and style != PHOTO else ds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="dataset name under $GAZE_DATA/gaze or a folder")
    parser.add_argument("--split", default="test", choices=["train", "val", "test", ALL])
    parser.add_argument("--style", required=True, help=f"one of {', '.join(TEST_STYLES)}, or 'all'")
    parser.add_argument("--out", required=True, help="folder for the styled images (keep it outside the repo)")
    parser.add_argument("--limit", type=int, default=0, help="only the first N images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", help="cache folder (default $PAINTERLY_CACHE or ~/.cache/...)")
    parser.add_argument("--side_by_side", action="store_true", help="write photo | styled pairs")
    args = parser.parse_args(argv)
    styles = list(TEST_STYLES) if args.style == "all" else [args.style]
    out = Path(args.out).resolve()
    repo = Path(__file__).resolve().parent.parent
    if out == repo or repo in out.parents:
        print(f"error: {out} is inside the repository; styled images must stay out of git", file=sys.stderr)
        return 2
    try:
        base = load_dataset(args.data, args.split)
        for style in styles:
            ds = painterly_dataset(base, style, args.seed, args.cache)
            folder = out / style
            folder.mkdir(parents=True, exist_ok=True)
            for image in ds.images[:args.limit or None]:
                styled = ds.load_image(image)
                if args.side_by_side:
                    styled = np.concatenate([base.load_image(image), styled], axis=1)
                Image.fromarray(styled).save(folder / f"{Path(image).stem}.png")
            print(f"{style}: {len(ds.images[:args.limit or None])} images in {folder}")
    except (ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
