"""Score a scanpath model against recorded human scanpaths.

    python -m training.evaluate_scanpaths --model saliency-sampler --data osie --split test --samples 5 --out F.json
    python -m training.evaluate_scanpaths --model human --data osie --split test      # inter-observer scores
    python -m training.evaluate_scanpaths --model spgen --data osie --split test --samples 10 --population_only

For every image, `--samples` scanpaths are drawn (seeded) and each is scored against every subject's scanpath of
that image (MultiMatch, SequenceScore with MeanShift clusters of the human fixations, string-edit distance on a
5×5 grid, DTW); per image the mean over samples, then the mean over images. `human` scores each subject against
the others (leave one out). Each sampled viewer looks for `--viewing_time` seconds (3, as the people did); how
many fixations fit follows from their durations (models/runtime/viewers.py).

Every result also holds "population": the sampled viewers against the human viewers of the same images as
distributions (training/metrics/population.py: durations, saccade amplitudes, fixations per path, diversity,
fixations stacked within 1°). `--population_only` skips the per-path scores, which dominate the run time.
`--style NAME` draws the model's scanpaths on a painterly copy of the split (training/painterly.py: same images,
sizes and human scanpaths, the image rendered in that style); the JSON then also holds "style" and "style_seed".
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
from tqdm import tqdm

from models import DEFAULT, create_model, model_entry
from models.runtime.scanpath import SaliencySampler, SPGEnScanpathModel
from models.runtime.viewers import DEFAULT_VIEWING_TIME_S
from training.cli import run_and_report
from training.painterly import PHOTO, TEST_STYLES, load_painterly
from training.metrics import scanpath as sp_metrics
from training.metrics.population import population_metrics

HUMAN = "human"


def evaluate_scanpaths(model_name: str, data: str, split: str, samples: int = 5, limit: int | None = None,
                       temperature: float | None = None, seed: int = 0, progress: bool = True,
                       sharpness: float | None = None, weights: str | None = None, label: str | None = None,
                       population_only: bool = False, style: str | None = None, style_seed: int = 0,
                       cache: str | None = None, viewing_time_s: float = DEFAULT_VIEWING_TIME_S) -> dict:
    """`weights`: another weights folder for a trained model (e.g. an ablation); `label`: the name written
    into the result (so make_results keeps it apart from the bundled model); `style`: a painterly test style
    (training.painterly.TEST_STYLES) seeded by `style_seed`, styled images cached under `cache`."""
    if model_name != HUMAN and model_entry(model_name, with_weights=bool(weights)).task != "scanpath":
        raise ValueError(f"'{model_name}' is not a scanpath model; scanpath models: use models.list_models('scanpath')")
    if style not in (None, PHOTO) and model_name == HUMAN:
        raise ValueError("--style is for a model: the human scanpaths were recorded on the photos")
    ds = load_painterly(data, split, style, style_seed, cache)
    if weights and model_name == HUMAN:
        raise ValueError("--weights is for a model, not for the human scores")
    model = None if model_name == HUMAN else create_model(model_name, **({"weights": weights} if weights else {}))
    if sharpness is not None:
        if not isinstance(model, SPGEnScanpathModel):
            raise ValueError(f"'{model_name}' has no read-out sharpness setting")
        model.sharpness = float(sharpness)
    images = ds.images[:limit] if limit else ds.images
    rows, sampled, observed, sizes, diversities = [], [], [], [], []
    desc = f"{model_name} on {ds.name}/{split}{f' [{style}]' if style else ''}"
    for k, image in enumerate(tqdm(images, desc=desc, disable=not progress)):
        humans = [p for p in ds.scanpaths(image).values() if len(p) > 0]
        size = ds.sizes[image]
        clusters = sp_metrics.fit_fixation_clusters(humans)
        human_diversity = diversity(humans, clusters)
        if model is None:
            paths = humans
            if not population_only:
                rows.append({**sp_metrics.inter_observer_scores(humans, size), "diversity": human_diversity})
        else:
            paths = draw_samples(model, ds.load_image(image), samples, temperature, seed * 100003 + k * 101,
                                 viewing_time_s)
            if not population_only:
                per_sample = [sp_metrics.score_scanpath(path, humans, size, clusters=clusters) for path in paths]
                row = {m: float(np.nanmean([r[m] for r in per_sample])) for m in per_sample[0]}
                rows.append({**row, "diversity": diversity(paths, clusters)})
        sampled.append([np.asarray(p, dtype=np.float64) for p in paths])
        observed.append(humans)
        sizes.append(size)
        diversities.append((human_diversity if model is None else diversity(paths, clusters), human_diversity))
    metrics = {m: float(np.nanmean([r[m] for r in rows])) for m in rows[0]} if rows else {}
    population = population_metrics(sampled, observed, sizes, one_degree_px=ds.sigma_px,
                                    diversity_model=float(np.nanmean([d for d, _ in diversities])),
                                    diversity_human=float(np.nanmean([h for _, h in diversities])))
    used = temperature if temperature is not None else (None if model is None else model.default_temperature)
    return {"model": label or model_name, "weights": weights, "dataset": ds.name, "split": split, "n_images": len(images),
            "samples": 0 if model is None else samples, "temperature": None if model is None else used,
            "viewing_time_s": None if model is None else viewing_time_s,
            "sharpness": model.sharpness if isinstance(model, SPGEnScanpathModel) else None,
            # the saliency model a sampling baseline draws from (it follows the registry default)
            "saliency_model": DEFAULT["saliency"] if isinstance(model, SaliencySampler) else None,
            "metrics": metrics, "population": population,
            **({"style": style, "style_seed": style_seed} if style else {})}


def draw_samples(model, rgb: np.ndarray, count: int, temperature: float | None, seed: int,
                 viewing_time_s: float = DEFAULT_VIEWING_TIME_S) -> list[np.ndarray]:
    """`count` viewers of one image, seeded; temperature None = the model's own default."""
    return model.sample_batch(rgb, count, temperature=temperature, seed=seed, viewing_time_s=viewing_time_s)


def diversity(paths: list[np.ndarray], clusters) -> float:
    """1 − the mean SequenceScore between every pair of `paths` (same cluster labels as the scoring): 0 when all
    are the same sequence of regions. For humans this is the diversity between subjects; for a model, between
    its samples, so the two can be compared at each temperature. NaN with fewer than two paths."""
    paths = [p for p in paths if len(p)]
    pairs = [(i, j) for i in range(len(paths)) for j in range(i + 1, len(paths))]
    if not pairs:
        return float("nan")
    return 1.0 - float(np.mean([sp_metrics.sequence_score(paths[i], [paths[j]], clusters) for i, j in pairs]))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a scanpath model, or 'human' for the inter-observer scores")
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="test", choices=["train", "val", "test"])
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--temperature", type=float, default=None, help="default: the model's own")
    parser.add_argument("--viewing_time", type=float, default=DEFAULT_VIEWING_TIME_S,
                        help="seconds each sampled viewer looks (the datasets recorded 3 s)")
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weights", help="weights folder for a trained model (default: the bundled ones)")
    parser.add_argument("--label", help="model name to write into the result (default --model)")
    parser.add_argument("--sharpness", type=float, default=None, help="read-out sharpness (SPGEn; default: the model's own)")
    parser.add_argument("--population_only", action="store_true",
                        help="only the population comparison (skips the per-path scores; use --samples 10 or more)")
    parser.add_argument("--style", choices=[*TEST_STYLES, PHOTO],
                        help="draw on a painterly copy of the split in this style (training/painterly.py); "
                             f"'{PHOTO}': the photos, recorded with a style (a reference for --limit runs)")
    parser.add_argument("--style_seed", type=int, default=0, help="seed of the painterly style")
    parser.add_argument("--cache", help="cache folder for styled images (default $PAINTERLY_CACHE or ~/.cache/...)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    return run_and_report(lambda: evaluate_scanpaths(args.model, args.data, args.split, args.samples, args.limit or None,
                                  args.temperature, args.seed, sharpness=args.sharpness,
                                  weights=args.weights, label=args.label,
                                  population_only=args.population_only, style=args.style,
                                  style_seed=args.style_seed, cache=args.cache,
                                  viewing_time_s=args.viewing_time), args.out)


if __name__ == "__main__":
    sys.exit(main())
