"""Score 360° saliency on held-out synthetic panoramas: each ATSal stream and the equator-bias baseline.

    python -m training.evaluate_panorama --model atsal --data osie,mit1003 --n 50 --out results/panorama/atsal.json
    python -m training.evaluate_panorama --model atsal --weights runs/atsal-export --out results/panorama/x.json
    python -m training.evaluate_panorama --model equator-bias --out results/panorama/equator-bias.json

Panoramas: `training.panorama_data.evaluation_panoramas` — test-split images only (never train), pasted on the
held-out backgrounds (every 4th file of $GAZE_DATA/panoramas, or of `--backgrounds FOLDER`), fixed seed, at
`--size` × 2·`--size`. Ground truth: the panorama's exact density (per solid angle) and its visible fixations.

Metrics, per panorama then averaged: CC, KLD, SIM latitude-weighted (training/metrics/panorama.py, the
Salient360! convention); NSS and AUC-Judd unweighted on the ERP fixations (training/metrics/saliency.py, MIT
protocol), as the Salient360! toolbox does. Streams of `--model atsal`: attention, prior (its learned latitude
prior alone), poles, equator, experts, fused (ATSal.predict_streams), plus the "equator-bias" baseline row; "poles" and "equator" are zero where their
expert never looks, so they are scored as partial maps (their KLD is large wherever gaze falls elsewhere).
Each map's seam ratio (training/metrics/panorama.py `seam_ratio`: gradient on the cube-face borders ÷ on the
same borders turned away from them; about 1 when no face border shows) is averaged too, under "seam".

Writes {"task": "panorama", "model", "dataset", "split", "n_panoramas", "seed", "size", "weights", "gt",
"streams": {stream: {metric: mean}}, "seam": {stream: mean seam ratio}}. The keys "protocol" and "samples" are not used, so
training/make_results.py does not mistake these files for 2D results; `panorama_table` renders them.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.cli import run_and_report
from training.metrics import saliency as sal_metrics
from training.metrics.panorama import compute_all_panorama, seam_ratio, turned_seam_ratio

MODELS = ("atsal", "equator-bias")
ATSAL_STREAMS = ("attention", "prior", "poles", "equator", "experts", "fused")
BASELINE = "equator-bias"
LAYOUT_TEXT = {"horizon": "5–7 gaze images around the horizon, feathered, latitudes of real 360° viewing — the "
                          "ground truth follows the equator bias",
               "scattered": "1–3 hard-edged gaze images at random pitch — the gaze is wherever an image was "
                            "pasted, so the equator prior is weak here"}
COLUMNS = [("cc", "CC ↑"), ("kld", "KLD ↓"), ("sim", "SIM ↑"), ("nss", "NSS ↑"), ("auc_judd", "AUC-Judd ↑")]


def load_atsal(weights: str | None):
    """ATSal from a save_pretrained folder (safetensors only; None = the bundled assets/weights/atsal), run on
    PyTorch as trained."""
    from models.nets.atsal import ATSal
    from models.runtime.panorama import ATSalPanoramaModel
    from models.weights import load_network, resolve_weights
    folder, notice = resolve_weights("atsal", weights)
    if not (Path(folder) / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder}: no model.safetensors (train one with training.train_atsal --export, "
                                f"or pass --weights FOLDER)")
    if notice:
        print(notice, file=sys.stderr)
    return ATSalPanoramaModel(load_network(ATSal, folder), onnx=False), str(folder)


def score_map(pred: np.ndarray, density: np.ndarray, fixations: np.ndarray, rng: np.random.Generator) -> dict:
    metrics = compute_all_panorama(pred, density)                                  # cc, kld, sim (weighted)
    if len(fixations):
        metrics["nss"] = sal_metrics.nss(pred, fixations, "mit")
        metrics["auc_judd"] = sal_metrics.auc_judd(pred, fixations, "mit", rng=rng)
    return metrics


def evaluate(model_name: str, data: str = "osie,mit1003", n: int = 50, seed: int = 0, split: str = "test",
             size: int = 512, weights: str | None = None, backgrounds: str | None = None,
             progress: bool = True, layout: str = "horizon") -> dict:
    from models import create_model
    from training.panorama_data import evaluation_panoramas, load_backgrounds
    if model_name not in MODELS:
        raise ValueError(f"unknown panorama model '{model_name}'; choose one of {', '.join(MODELS)}")
    if weights and model_name != "atsal":
        raise ValueError("--weights is for --model atsal")
    shape = (size, 2 * size)
    names = data.split(",")
    model, folder = load_atsal(weights) if model_name == "atsal" else (None, None)
    held_out = load_backgrounds(split, shape, root=backgrounds) if backgrounds else None
    panoramas = evaluation_panoramas(names, split, n=n, seed=seed, backgrounds=held_out, size=shape, layout=layout)
    baseline = create_model(BASELINE)
    per_stream, seams = defaultdict(list), defaultdict(list)
    for i, sample in enumerate(tqdm(panoramas, desc=f"{model_name} on {n} panoramas", disable=not progress)):
        maps = {}
        if model is not None:
            out = model.predict_streams(sample.image)
            maps.update({k: out[k] for k in ATSAL_STREAMS})
        maps[BASELINE] = baseline.predict(sample.image)
        for stream, pred in maps.items():
            rng = np.random.default_rng([seed, i])                   # AUC-Judd jitter: the same for every stream
            per_stream[stream].append(score_map(pred, sample.density, sample.fixations, rng))
            seams[stream].append(seam_ratio(pred))
    streams = {stream: {k: float(np.mean([r[k] for r in rows if k in r]))
                        for k, _ in COLUMNS if any(k in r for r in rows)}
               for stream, rows in per_stream.items()}
    return {"task": "panorama", "model": model_name, "dataset": ",".join(names), "split": split,
            "n_panoramas": len(panoramas), "seed": seed, "size": list(shape), "weights": folder, "layout": layout,
            "backgrounds": f"held-out ({backgrounds or '$GAZE_DATA/panoramas'})",
            "gt": "exact density of the pasted images' fixation maps (per solid angle) + their visible fixations",
            "streams": streams, "seam": {stream: float(np.mean(v)) for stream, v in seams.items()}}


# -----------------------------------------------------------------------------------------------------------
# Markdown for docs/results.md


def panorama_table(results_dir) -> list[str]:
    """Markdown lines: one section per (dataset, split, n_panoramas) of the "task": "panorama" JSON files under
    `results_dir`, one row per model stream and one equator-bias row (from its own file, else from the first
    file that carries it). [] when there are none."""
    groups = defaultdict(list)
    for path in sorted(Path(results_dir).glob("**/*.json")):
        try:
            r = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(r, dict) and r.get("task") == "panorama":
            groups[(r.get("layout", "scattered"), r.get("dataset", "?"), r.get("split", "test"),
                    r["n_panoramas"])].append((path, r))
    lines = []
    for (layout, dataset, split, n), results in sorted(groups.items()):
        lines += [f"## Panorama saliency — synthetic 360° panoramas from {dataset} {split}, layout `{layout}` "
                  f"({n} panoramas)", "",
                  f"Held-out backgrounds, {split}-split images only (`training.evaluate_panorama --layout {layout}`; "
                  f"{LAYOUT_TEXT[layout]}). CC, KLD, SIM latitude-weighted (Salient360!); NSS, AUC-Judd on the ERP "
                  "fixations. Seam: gradient on the cube-face borders ÷ on the same borders turned away (≈ 1: no "
                  "face border shows).", "",
                  "| model | stream | " + " | ".join(c[1] for c in COLUMNS) + " | seam |",
                  "|" + "---|" * (len(COLUMNS) + 3)]
        models = [r["model"] for _, r in results]
        baseline_row = None
        for path, r in sorted(results, key=lambda pr: (pr[1]["model"] == BASELINE, pr[1]["model"], str(pr[0]))):
            label = r["model"] if models.count(r["model"]) == 1 else f"{r['model']} ({path.stem})"
            for stream in [s for s in ATSAL_STREAMS if s in r["streams"]] + \
                          [s for s in r["streams"] if s not in ATSAL_STREAMS and s != BASELINE]:
                lines.append(_row(label, stream, r["streams"][stream], r.get("seam", {}).get(stream)))
            if BASELINE in r["streams"] and (baseline_row is None or r["model"] == BASELINE):
                baseline_row = _row(BASELINE, "baseline", r["streams"][BASELINE], r.get("seam", {}).get(BASELINE))
        if baseline_row:
            lines.append(baseline_row)
        lines.append("")
    return lines


def _row(model: str, stream: str, metrics: dict, seam: float | None = None) -> str:
    cells = [f"{metrics[k]:.3f}" if k in metrics else "–" for k, _ in COLUMNS]
    cells.append(f"{seam:.2f}" if seam is not None else "–")                 # older result files have none
    return f"| {model} | {stream} | " + " | ".join(cells) + " |"


REFERENCE_SIGMA_DEG = 20.0     # the equator bias of real 360° viewing (assets/weights/atsal/README.md)


def latitude_summary(marginal: np.ndarray, reference: np.ndarray) -> dict:
    """Total variation from the reference marginal, and the shares within ±30° and beyond ±60° of latitude
    (18 bands of 10°, north first)."""
    m = np.asarray(marginal, float)
    return {"tv": float(0.5 * np.abs(m - reference).sum()), "within_30": float(m[6:12].sum()),
            "beyond_60": float(m[:3].sum() + m[15:].sum()), "marginal": [round(float(v), 4) for v in m]}


def latitude_check(weights: str | None = None, data: str = "osie,mit1003", n: int = 50, seed: int = 1,
                   size: int = 512, progress: bool = True) -> dict:
    """Latitude marginals, each against the σ 20° equator bias: the ground truth of the val panoramas of each
    layout (what the model is taught), and every ATSal stream averaged over the example panoramas of
    $GAZE_DATA/panoramas (real scenes, no gaze): the numbers of the latitude test in tests/test_atsal.py. Each
    example's seam ratio is `turned_seam_ratio` (the scene turned under the cube), as the seam test measures it."""
    from models.runtime.panorama import EquatorBiasModel
    from models.studio.panorama_tab import prepare_panorama
    from training.config import gaze_data_root
    from training.metrics.panorama import latitude_marginal
    from training.panorama_data import LAYOUTS, evaluation_panoramas
    reference = latitude_marginal(EquatorBiasModel(REFERENCE_SIGMA_DEG).predict(np.zeros((size, 2 * size, 3), np.uint8)))
    out = {"task": "panorama-latitude", "reference_sigma_deg": REFERENCE_SIGMA_DEG,
           "reference": latitude_summary(reference, reference), "ground_truth": {}, "examples": {}}
    for layout in LAYOUTS:
        panoramas = evaluation_panoramas(data.split(","), "val", n=n, seed=seed, size=(size, 2 * size), layout=layout)
        mean = np.mean([latitude_marginal(p.density) for p in panoramas], axis=0)
        out["ground_truth"][layout] = {"n_panoramas": len(panoramas), **latitude_summary(mean, reference)}
    model, folder = load_atsal(weights)
    files = sorted((gaze_data_root() / "panoramas").glob("*.jpg"))
    if not files:
        raise FileNotFoundError(f"no example panoramas (*.jpg) in {gaze_data_root() / 'panoramas'}: set GAZE_DATA "
                                f"to the shared data folder")
    per_stream, seams = defaultdict(list), defaultdict(list)
    for path in tqdm(files, desc="example panoramas", disable=not progress):
        image = prepare_panorama(path, max_width=1024)
        for stream, m in model.predict_streams(image).items():
            if stream != "attention_map":
                per_stream[stream].append(latitude_marginal(m))
        for stream, ratio in turned_seam_ratio(model.predict_streams, image).items():
            if stream != "attention_map":
                seams[stream].append(ratio)
    out["weights"], out["n_examples"] = folder, len(files)
    out["examples"] = {k: {**latitude_summary(np.mean(v, axis=0), reference),
                           "seam_min": float(min(seams[k])), "seam_max": float(max(seams[k]))}
                       for k, v in per_stream.items()}
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, help="required unless --latitude (which checks atsal)")
    parser.add_argument("--data", default="osie,mit1003", help="datasets under $GAZE_DATA/gaze or folders")
    parser.add_argument("--n", type=int, default=50, help="number of panoramas")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="test", choices=["val", "test"],
                        help="images pasted (val only for model selection)")
    parser.add_argument("--size", type=int, default=512, help="panorama height (width = 2 × height)")
    parser.add_argument("--weights", help="ATSal save_pretrained folder (safetensors); default assets/weights/atsal")
    parser.add_argument("--backgrounds", help="folder of background panoramas (default $GAZE_DATA/panoramas); "
                                              "its held-out files (every 4th) are used")
    parser.add_argument("--layout", default="horizon", choices=["horizon", "scattered"],
                        help="how the gaze images sit on the panoramas (training.panorama_data.LAYOUTS)")
    parser.add_argument("--latitude", action="store_true",
                        help="instead: latitude marginals of the val ground truth and of the streams on the example "
                             "panoramas against the σ 20° equator bias (latitude_check)")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args(argv)
    if args.latitude:
        return run_and_report(lambda: latitude_check(args.weights, args.data), args.out)
    if args.model is None:
        parser.error("--model is required (or --latitude)")
    return run_and_report(lambda: evaluate(args.model, args.data, args.n, args.seed, args.split, args.size,
                                           args.weights, args.backgrounds, layout=args.layout), args.out)


if __name__ == "__main__":
    sys.exit(main())
