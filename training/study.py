"""A virtual eye-tracking study with areas of interest: AOI metrics from sampled viewers, a real study beside
them, and the report (table, bar chart with error bars, transition diagram, CSV and JSON).

    report = aoi_report(rgb, aois, "spgen", n_viewers=100, viewing_time_s=3.0, seed=0, out_dir="runs/aoi")
    report["table_rows"], report["chart_png_path"], report["csv_path"]      # what the app shows

    python -m training.study STUDY_DIR --aoi AOIS.json --out REPORT_DIR

STUDY_DIR has images/ and either fixations.csv (image,subject,index,x,y,duration_ms) or samples.csv (image,
participant,time_ms,x,y: raw gaze, fixations found by pymovements). AOIS.json is one AOI set for every painting
({"units": "relative", "aois": [...]} fits any size) or {"paintings": {"name.jpg": {"aois": [...]}}}. Each
painting gets REPORT_DIR/<name>/ with metrics.csv, metrics.json, dwell.png, transitions.png, overlay.png;
REPORT_DIR/summary.csv and summary.json compare the paintings. A painting whose input is bad is reported in the
summary with its message and the others still run.

CSV column names follow Tobii Pro Lab's metric names where one exists (docs/aoi.md lists them).
"""
from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from training.metrics.aoi import (AOI, METRICS, aoi_metrics, aois_from_json, calibrate, check_aois,  # noqa: E402
                                  compare)
from training.study_data import Placement, Study, StudyError, read_fixations_csv, read_samples_csv  # noqa: E402

DEFAULT_VIEWERS = 100
# The viewers of a virtual study: chosen on the val splits (results/aoi/*-val.json), where saliency-sampler's
# dwell shares follow the people's more closely than spgen's (Pearson r higher for both datasets and both AOI
# sets; time to first fixation slightly lower, well above the floor). The Scanpaths tab keeps its own default.
AOI_MODEL = "saliency-sampler"
MAX_VIEWERS = 1000
SCANPATH_SCORED = 10          # sampled paths scored with MultiMatch & co against the people (quadratic cost)

# metric key → (column name, scale for the export); Tobii Pro Lab's names where it has the metric
COLUMNS = {
    "dwell_ms": ("Total duration of fixations (ms)", 1.0),
    "dwell_share": ("Share of total fixation duration (%)", 100.0),
    "fixation_count": ("Number of fixations", 1.0),
    "ttff_ms": ("Time to first fixation (ms)", 1.0),
    "first_fixation_ms": ("Duration of first fixation (ms)", 1.0),
    "fixated": ("Percentage fixated (%)", 100.0),
    "first_entered": ("First AOI entered (%)", 100.0),
    "visit_count": ("Number of visits", 1.0),
    "entry_rank": ("Entry order (mean rank)", 1.0),
}


# ---------------------------------------------------------------------------------------------------------------
# Predicted viewers
# ---------------------------------------------------------------------------------------------------------------

def sample_viewers(rgb: np.ndarray, model_name: str | None = None, n_viewers: int = DEFAULT_VIEWERS,
                   viewing_time_s: float = 3.0, seed: int = 0, model=None) -> list[np.ndarray]:
    """`n_viewers` sampled viewers' paths ((n, 3) x, y, duration_ms) of one image at a viewing time."""
    from models import create_model

    if not 1 <= int(n_viewers) <= MAX_VIEWERS:
        raise ValueError(f"the number of viewers must be between 1 and {MAX_VIEWERS}; got {n_viewers}")
    model = model or create_model(model_name or AOI_MODEL)
    return model.sample_batch(rgb, int(n_viewers), seed=seed, viewing_time_s=viewing_time_s)


def saliency_density(rgb: np.ndarray, model=None) -> np.ndarray:
    from models import DEFAULT, create_model

    density = np.asarray((model or create_model(DEFAULT["saliency"])).predict(rgb), float)
    return density / density.sum()


# ---------------------------------------------------------------------------------------------------------------
# Tables and exports
# ---------------------------------------------------------------------------------------------------------------

def _fmt(value, scale: float) -> str:
    return "" if value is None else f"{value * scale:.4g}"


def table_rows(result: dict, source: str) -> list[dict]:
    """One row per AOI: value and 95 % interval of every metric, with the export's column names."""
    rows = []
    for k, name in enumerate(result["aois"]):
        row = {"AOI": name, "Source": source, "Participants": result["n_viewers"]}
        for key, (column, scale) in COLUMNS.items():
            m = result["metrics"][key]
            row[column] = _fmt(m["value"][k], scale)
            row[f"{column} 95% CI low"] = _fmt(m["low"][k], scale)
            row[f"{column} 95% CI high"] = _fmt(m["high"][k], scale)
        if "saliency_mass" in result:
            row["Saliency mass (%)"] = _fmt(result["saliency_mass"][k], 100.0)
        rows.append(row)
    return rows


def expected_range(paths: list[np.ndarray], aois: list[AOI], size: tuple[int, int], n_people: int,
                   model_name: str, seed: int = 0) -> dict | None:
    """Where a real study of `n_people` would land if it were like the val studies: the study-sized bootstrap
    of the predicted viewers widened by the model's calibration factors (training.aoi_validation --fit).
    None when the model has no calibration."""
    from training.aoi_validation import load_calibration
    factors = load_calibration().get(model_name)
    if not factors:
        return None
    return calibrate(aoi_metrics(paths, aois, size, seed=seed, resample_size=n_people), factors)


def comparison_rows(predicted: dict, observed: dict, expected: dict | None = None) -> list[dict]:
    """Per AOI and metric: predicted, observed, difference, whether the 95 % intervals overlap and, with the
    `expected` range of a study of this size (`expected_range`), that range and whether the observed value is in it."""
    diff = compare(predicted, observed)
    rows = []
    for k, name in enumerate(predicted["aois"]):
        for key, (column, scale) in COLUMNS.items():
            d, overlap = diff[key]["difference"][k], diff[key]["intervals_overlap"][k]
            row = {"AOI": name, "Metric": column,
                   "Predicted": _fmt(predicted["metrics"][key]["value"][k], scale),
                   "Observed": _fmt(observed["metrics"][key]["value"][k], scale),
                   "Difference": _fmt(d, scale),
                   "Intervals overlap": "" if overlap is None else ("yes" if overlap else "no")}
            if expected is not None:
                low, high = expected["metrics"][key]["low"][k], expected["metrics"][key]["high"][k]
                seen = observed["metrics"][key]["value"][k]
                row["Expected for this study size"] = "" if low is None else f"{_fmt(low, scale)}–{_fmt(high, scale)}"
                row["Observed in expected range"] = "" if low is None or seen is None else \
                    ("yes" if low <= seen <= high else "no")
            rows.append(row)
    return rows


def write_csv(rows: list[dict], path: Path) -> Path:
    columns = list(dict.fromkeys(c for row in rows for c in row))
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, columns)
        writer.writeheader()
        writer.writerows(rows)
    return path


# ---------------------------------------------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------------------------------------------

def save_figure(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def dwell_chart(results: dict[str, dict], path: Path, key: str = "dwell_share") -> Path:
    """Bars per AOI with 95 % interval error bars, one bar per source (predicted, observed)."""
    names = next(iter(results.values()))["aois"]
    column, scale = COLUMNS[key]
    fig, ax = plt.subplots(figsize=(max(5.0, 0.9 * len(names) + 2), 3.6), dpi=110)
    width = 0.8 / len(results)
    x = np.arange(len(names))
    for i, (source, result) in enumerate(results.items()):
        m = result["metrics"][key]
        value = np.array([np.nan if v is None else v for v in m["value"]]) * scale
        low = np.array([np.nan if v is None else v for v in m["low"]]) * scale
        high = np.array([np.nan if v is None else v for v in m["high"]]) * scale
        errors = np.nan_to_num(np.vstack([value - low, high - value]))
        ax.bar(x + (i - (len(results) - 1) / 2) * width, value, width, yerr=errors, capsize=3,
               label=f"{source} (n={result['n_viewers']})")
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel(column)
    ax.legend(frameon=False)
    ax.set_title("95 % intervals: bootstrap over viewers", fontsize=9)
    return save_figure(fig, path)


def transition_diagram(rgb: np.ndarray, aois: list[AOI], result: dict, path: Path, top: int = 12) -> Path:
    """The painting with its AOIs and an arrow per frequent AOI-to-AOI transition, width ∝ its share of all
    transitions, labelled with P(to | from)."""
    counts = np.asarray(result["transitions"]["counts"], float)
    share = np.asarray([[np.nan if v is None else v for v in row] for row in result["transitions"]["share"]])
    fig, ax = plt.subplots(figsize=(7, 7 * rgb.shape[0] / rgb.shape[1]), dpi=110)
    ax.imshow(rgb, alpha=0.55)
    centres = [np.asarray(a.points).mean(0) for a in aois]
    for a, c in zip(aois, centres):
        pts = np.vstack([a.points, a.points[0]])
        ax.plot(pts[:, 0], pts[:, 1], lw=1.2, color="white")
        ax.text(*c, a.name, color="black", fontsize=8, ha="center", va="center",
                bbox=dict(boxstyle="round", fc="white", alpha=0.8, lw=0))
    total = counts.sum()
    if total > 0:
        pairs = sorted(((counts[i, j], i, j) for i in range(len(aois)) for j in range(len(aois)) if counts[i, j]),
                       reverse=True)[:top]
        for n, i, j in pairs:
            ax.annotate("", xy=centres[j], xytext=centres[i],
                        arrowprops=dict(arrowstyle="-|>", lw=0.5 + 8 * n / total, color="tab:red", alpha=0.8,
                                        connectionstyle="arc3,rad=0.15", shrinkA=12, shrinkB=12))
            mid = (centres[i] + centres[j]) / 2 + 0.04 * (centres[j] - centres[i])[::-1] * [1, -1]
            ax.text(*mid, f"{share[i, j]:.0%}", fontsize=7, color="tab:red")
    ax.set_axis_off()
    ax.set_title(f"AOI transitions (top {top}; label: P(next AOI | leaving))", fontsize=9)
    return save_figure(fig, path)


def overlay(rgb: np.ndarray, density: np.ndarray, aois: list[AOI], study: Study, path: Path) -> Path:
    """The predicted map over the painting, the real fixations on top (size ∝ duration), the AOIs outlined."""
    fig, ax = plt.subplots(figsize=(7, 7 * rgb.shape[0] / rgb.shape[1]), dpi=110)
    ax.imshow(rgb)
    ax.imshow(density / density.max(), cmap="magma", alpha=0.45)
    for p in study.paths:
        ax.scatter(p[:, 0], p[:, 1], s=4 + p[:, 2] / 15, facecolor="none", edgecolor="cyan", lw=0.8)
    for a in aois:
        pts = np.vstack([a.points, a.points[0]])
        ax.plot(pts[:, 0], pts[:, 1], lw=1.2, color="white")
    ax.set_axis_off()
    ax.set_title(f"predicted map and {len(study.paths)} participants' fixations", fontsize=9)
    return save_figure(fig, path)


# ---------------------------------------------------------------------------------------------------------------
# Model against a real study: the standard metrics
# ---------------------------------------------------------------------------------------------------------------

def standard_scores(density: np.ndarray, predicted_paths: list[np.ndarray], study: Study) -> dict:
    """Saliency metrics of the predicted map against the study's fixations (training/metrics/saliency.py) and
    scanpath metrics of SCANPATH_SCORED sampled paths against the participants (scanpath_files.py)."""
    from models.runtime.densities import empirical_saliency_map
    from training.config import DEFAULT_SIGMA_PX
    from training.metrics.saliency import compute_all
    from training.metrics.scanpath_files import score_scanpaths

    fixations = np.concatenate([p[:, :2] for p in study.paths])
    gt_map = empirical_saliency_map(fixations, study.size, DEFAULT_SIGMA_PX)
    out = {"saliency": compute_all(density, fixations, gt_map)}
    if len(study.paths) >= 2:
        out["scanpath"] = score_scanpaths(predicted_paths[:SCANPATH_SCORED], study.paths, study.size)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------------------------

def aoi_report(image_rgb: np.ndarray, aois: list[AOI], model_name: str | None = None,
               n_viewers: int = DEFAULT_VIEWERS, viewing_time_s: float = 3.0, seed: int = 0,
               out_dir: str | Path | None = None, study: Study | None = None, scanpath_model=None,
               saliency_model=None) -> dict:
    """Predicted AOI metrics (and, with a real `study`, the observed ones beside them) written to `out_dir`
    (a new temporary folder if None). Returns {"table_rows", "comparison_rows" (with a study), "chart_png_path",
    "transitions_png_path", "overlay_png_path" (with a study), "csv_path", "json_path", "result"}."""
    import tempfile

    model_name = model_name or AOI_MODEL
    rgb = np.asarray(image_rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an RGB image (H, W, 3); got shape {rgb.shape}")
    size = (rgb.shape[1], rgb.shape[0])
    aois = check_aois(list(aois), size)
    if study is not None and tuple(study.size) != size:
        raise StudyError(f"the study is for a {study.size[0]}×{study.size[1]} image, this one is {size[0]}×{size[1]}")
    out = Path(out_dir) if out_dir else Path(tempfile.mkdtemp(prefix="aoi-"))
    out.mkdir(parents=True, exist_ok=True)
    density = saliency_density(rgb, saliency_model)
    paths = sample_viewers(rgb, model_name, n_viewers, viewing_time_s, seed, scanpath_model)
    predicted = aoi_metrics(paths, aois, size, density=density, seed=seed)
    results = {"predicted": predicted}
    rows = table_rows(predicted, "predicted")
    report = {"result": {"predicted": predicted, "model": model_name, "viewing_time_s": viewing_time_s,
                         "seed": seed, "aoi_definitions": [a.to_dict() for a in aois]}}
    if study is not None:
        observed = aoi_metrics(study.paths, aois, size, density=density, seed=seed)
        expected = expected_range(paths, aois, size, len(study.paths), model_name, seed)
        results["observed"] = observed
        rows += table_rows(observed, "observed")
        report["comparison_rows"] = comparison_rows(predicted, observed, expected)
        report["result"].update(observed=observed, comparison=compare(predicted, observed), expected=expected,
                                study_notes=study.notes, scores=standard_scores(density, paths, study))
        report["overlay_png_path"] = str(overlay(rgb, density, aois, study, out / "overlay.png"))
        write_csv(report["comparison_rows"], out / "comparison.csv")
    report["table_rows"] = rows
    report["csv_path"] = str(write_csv(rows, out / "metrics.csv"))
    (out / "metrics.json").write_text(json.dumps(report["result"], indent=1, default=float))
    report["json_path"] = str(out / "metrics.json")
    report["chart_png_path"] = str(dwell_chart(results, out / "dwell.png"))
    report["transitions_png_path"] = str(transition_diagram(rgb, aois, predicted, out / "transitions.png"))
    return report


# ---------------------------------------------------------------------------------------------------------------
# The CLI: a whole study
# ---------------------------------------------------------------------------------------------------------------

def _aois_for(spec: dict, image: str, size: tuple[int, int]) -> list[AOI]:
    if "paintings" in spec:
        if image not in spec["paintings"]:
            raise ValueError(f"the AOI file has no AOIs for {image}")
        return aois_from_json(spec["paintings"][image], size)
    return aois_from_json(spec, size)


def _pair(text: str | None, count: int, what: str) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != count:
        raise SystemExit(f"{what} takes {count} comma-separated numbers; got {text!r}")
    return values


def run_study(study_dir: Path, spec: dict, out: Path, model_name: str | None, n_viewers: int,
              viewing_time_s: float, seed: int, method: str, ppd: float, placement: Placement | None,
              scale_from, limit: int | None = None) -> list[dict]:
    from models import DEFAULT, create_model
    from PIL import Image

    fixations, samples = study_dir / "fixations.csv", study_dir / "samples.csv"
    if not (study_dir / "images").is_dir() or not (fixations.exists() or samples.exists()):
        raise SystemExit(f"{study_dir}: a study folder needs images/ and fixations.csv or samples.csv")
    images = sorted(p.name for p in (study_dir / "images").iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if limit:
        images = images[:limit]
    scanpath_model = create_model(model_name or AOI_MODEL)
    saliency_model = create_model(DEFAULT["saliency"])
    summary = []
    for image in images:
        row = {"image": image}
        try:
            with Image.open(study_dir / "images" / image) as im:
                rgb = np.asarray(im.convert("RGB"))
            size = (rgb.shape[1], rgb.shape[0])
            aois = _aois_for(spec, image, size)
            if fixations.exists():
                study = read_fixations_csv(fixations, size, image=image, placement=placement, scale_from=scale_from)
            else:
                study = read_samples_csv(samples, size, image=image, method=method, ppd=ppd, placement=placement,
                                         scale_from=scale_from)
            report = aoi_report(rgb, aois, model_name, n_viewers, viewing_time_s, seed, out / Path(image).stem,
                                study, scanpath_model, saliency_model)
            result = report["result"]
            p = np.array([np.nan if v is None else v for v in result["predicted"]["metrics"]["dwell_share"]["value"]])
            o = np.array([np.nan if v is None else v for v in result["observed"]["metrics"]["dwell_share"]["value"]])
            overlaps = [v for key in METRICS for v in result["comparison"][key]["intervals_overlap"] if v is not None]
            row.update(participants=len(study.paths), aois=len(aois),
                       dwell_share_r=float(np.corrcoef(p, o)[0, 1]) if len(p) > 1 and p.std() > 0 and o.std() > 0
                       else None,
                       intervals_overlap_share=float(np.mean(overlaps)) if overlaps else None,
                       **{f"map_{k}": v for k, v in result["scores"]["saliency"].items()},
                       **{f"scanpath_{k}": v for k, v in result["scores"].get("scanpath", {}).get("model", {}).items()},
                       notes="; ".join(study.notes))
        except (ValueError, OSError) as e:                    # one bad painting does not stop the study
            row["error"] = str(e)
        summary.append(row)
        print(f"{image}: {row.get('error') or 'ok'}", flush=True)
    write_csv(summary, out / "summary.csv")
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=float))
    return summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("study_dir", type=Path)
    parser.add_argument("--aoi", type=Path, required=True, help="AOI JSON (one set, or per painting)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default=None, help="scanpath model (default: the registry's)")
    parser.add_argument("--viewers", type=int, default=DEFAULT_VIEWERS)
    parser.add_argument("--viewing_time", type=float, default=3.0, help="seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--method", choices=("idt", "ivt"), default="idt", help="fixation detector for samples.csv")
    parser.add_argument("--ppd", type=float, default=None, help="screen pixels per degree of visual angle")
    parser.add_argument("--placement", default=None, help="LEFT,TOP,WIDTH,HEIGHT of the image on the screen (px)")
    parser.add_argument("--scale_from", default=None, help="SCREEN_WIDTH,SCREEN_HEIGHT when the image filled it")
    parser.add_argument("--limit", type=int, default=None, help="first N paintings only")
    args = parser.parse_args(argv)
    from training.config import DEFAULT_SIGMA_PX

    try:
        spec = json.loads(args.aoi.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise SystemExit(f"{args.aoi}: cannot read the AOI JSON ({e})") from None
    placement = _pair(args.placement, 4, "--placement")
    args.out.mkdir(parents=True, exist_ok=True)
    summary = run_study(args.study_dir, spec, args.out, args.model, args.viewers, args.viewing_time, args.seed,
                        args.method, args.ppd or DEFAULT_SIGMA_PX, Placement(*placement) if placement else None,
                        _pair(args.scale_from, 2, "--scale_from"), args.limit)
    failed = [r for r in summary if "error" in r]
    print(f"wrote {args.out}/summary.csv: {len(summary) - len(failed)} painting(s) reported, {len(failed)} failed")
    return 1 if failed and len(failed) == len(summary) else 0


if __name__ == "__main__":
    sys.exit(main())
