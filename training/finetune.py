"""Fine-tune a saliency model on your own gaze study: a small folder in the shared layout (images/ +
fixations.csv, e.g. 10–100 paintings), with k-fold cross-validation that shows whether it helped.

    python -m training.finetune --data MY_STUDY --model effsal-lite0 --out runs/mine
    python -m training.finetune --data MY_STUDY --model effsal-lite0 --out runs/mine --resume   # after a stop
    python -m training.finetune --data osie --split val --style palette --limit 30 --out runs/ft-palette

1. Cross-validation (--folds K, at least 3): the images are shuffled (--seed) into K folds; each fold in turn is
   held out for testing, the next fold stops the training early (its loss), the rest is fitted. The held-out
   fold is scored by the starting model ("before") and the fine-tuned one ("after"): NSS, CC, AUC-Judd, KLD
   (training/metrics/saliency.py, MIT protocol, fixations of all subjects and the dataset's 1-degree map).
2. The exported model is fitted on every image for the median number of epochs the folds chose (no image is
   left to stop on) and written to OUT/NAME/: config.json (naming its base model), model.safetensors (fp16),
   README.md. `create_model(BASE, weights="OUT/NAME")` loads it, and with EXTRA_WEIGHTS=OUT/NAME every CLI and
   the app list it as NAME (models/weights.py).

Modes: `light` trains the centre-bias prior maps, the bottleneck layer they enter and the read-out head only
(DeepGaze adapts per dataset in this spirit); few enough weights for ten images. `deep` also trains the decoder
and the encoder from its stride-16 stage on, at a smaller rate; the stem and the stride-4/8 stages stay frozen.
`full` trains every layer (the encoder at the smaller rate): a new medium changes the low-level statistics that
the early stages see. BatchNorm statistics stay as trained unless `--norm_mix` > 0: then, before fitting, each
BatchNorm's mean and variance become that share of the fitting images' own (with their mirror images) and the
rest of the trained ones — a few dozen images are too few to replace them outright, but can move them.
Writes OUT/finetune.json and the before/after table OUT/before_after.{md,csv}; OUT/fold-K/ and OUT/final/ are
Trainer run folders (training/loop.py: log.jsonl, resumable ckpt.pt, best.pt). Uses CUDA when there is one.
Only saliency networks; scanpath models (spgen) are refused with a message.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import sys
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from models.nets import SALIENCY_NETWORKS
from models.runtime.images import image_batch, to_chw
from models.weights import BASE_MODEL_KEY, load_network, resolve_weights
from training.cli import run_and_report
from training.datasets import ALL, GazeDataset
from training.loop import Trainer, latest_checkpoint
from training.metrics import saliency as sal_metrics
from training.painterly import load_painterly
from training.run_setup import Run, parse_defaults, start_run
from training.saliency_data import SaliencyTrainingSet
from training.train_saliency import compute_loss, evaluate_val

DEFAULTS = dict(
    # study
    data="",                      # a folder in the shared layout, or a dataset name under $GAZE_DATA/gaze
    split=ALL,                    # all = every image with fixations (no splits.csv needed)
    style="",                     # render the images in a painterly test style first (training/painterly.py)
    style_seed=0,
    limit=0,                      # only the first N images (sorted by name; 0 = all)
    # model
    model="effsal-lite0",         # a trainable saliency model: effsal-lite0, effsal-lite1, effsal-lite2, salnet
    init="",                      # weights folder to start from (default: the model's bundled weights)
    mode="light",                 # light (priors, bottleneck, read-out), deep (also decoder, upper encoder) or full
    norm_mix=0.0,                 # share of the fitting images' own BatchNorm statistics (0 = as trained)
    out="runs/finetune",          # run folder (outside git)
    name="",                      # name of the exported model (default: MODEL-<out folder name>)
    # optimisation
    folds=5,
    epochs=12,
    patience=3,                   # early stopping on the val fold's loss
    batch_size=4,
    lr=1e-3,                      # the light-mode layers (and the decoder in deep mode)
    encoder_lr=1e-4,              # deep mode: the trainable encoder stages
    weight_decay=1e-4,
    loss="kld_cc_nss",            # as training.train_saliency
    # system
    seed=0,
    threads=0,
    device="auto",                # auto = cuda when available
    backend="",
    resume=False,
)
METRICS = ("nss", "cc", "auc_judd", "kld")
LABELS = {"nss": "NSS ↑", "cc": "CC ↑", "auc_judd": "AUC-Judd ↑", "kld": "KLD ↓"}
SCANPATH_MODELS = ("spgen", "sslart", "saliency-sampler")


class StudyError(ValueError):
    """A study folder or setting that cannot be fine-tuned on; the message says why."""


def parse_args(argv=None):
    return parse_defaults(DEFAULTS, __doc__, argv, choices={"mode": ("light", "deep", "full"),
                                                            "loss": ("kld_cc_nss", "euclidean")})


def load_study(cfg) -> GazeDataset:
    if not cfg.data:
        raise StudyError("--data is required: a folder with images/ and fixations.csv, or a dataset name")
    if cfg.model in SCANPATH_MODELS:
        raise StudyError(f"'{cfg.model}' is a scanpath model; fine-tuning supports the saliency networks "
                         f"({', '.join(SALIENCY_NETWORKS)}) only")
    if cfg.model not in SALIENCY_NETWORKS:
        raise StudyError(f"unknown trainable model '{cfg.model}'; choose one of {', '.join(SALIENCY_NETWORKS)}")
    if not 0.0 <= cfg.norm_mix <= 1.0:
        raise StudyError(f"--norm_mix {cfg.norm_mix}: give a share between 0 (statistics as trained) and 1 (the "
                         f"study's own)")
    if cfg.folds < 3:
        raise StudyError(f"--folds {cfg.folds}: at least 3 are needed (a test, a val and a training fold)")
    ds = load_painterly(cfg.data, cfg.split, cfg.style or None, cfg.style_seed)
    if cfg.limit:
        ds = dataclasses.replace(ds, images=ds.images[:cfg.limit])     # a copy: load_dataset caches `ds`
    if len(ds.images) < cfg.folds:
        raise StudyError(f"{ds.root}: {len(ds.images)} image(s) with fixations, fewer than --folds {cfg.folds}; "
                         f"add images or lower --folds (at least 3)")
    return ds


def split_folds(images: list[str], k: int, seed: int) -> list[list[str]]:
    order = np.random.default_rng(seed).permutation(len(images))
    return [sorted(images[i] for i in part) for part in np.array_split(order, k)]


class StudySamples(SaliencyTrainingSet):
    """SaliencyTrainingSet's targets and augmentations over chosen images of a study loaded once for all folds
    (so no super().__init__, which would load a dataset by name)."""

    def __init__(self, study: "Study", images: list[str], augment: bool, seed: int):
        self.input_size, self.augment = study.input_size, augment
        self.look, self.style_p = None, 0.0                              # no painted look: the study's own images
        self.output_size = (study.input_size[0] // study.output_stride, study.input_size[1] // study.output_stride)
        self.rng = np.random.default_rng(seed)
        self.images = [study.resized[i] for i in images]
        self.fixations = [study.ds.fixations(i) / np.array(study.ds.sizes[i]) for i in images]
        self.sigmas = [study.ds.sigma_px / study.ds.sizes[i][0] for i in images]


class Study:
    """The study's images at the network input, loaded once for every fold (full-size images, for scoring, are
    read when needed: a hundred large paintings would not fit in memory)."""

    def __init__(self, ds: GazeDataset, input_size: tuple[int, int], output_stride: int):
        self.ds, self.input_size, self.output_stride = ds, input_size, output_stride
        self.resized = {i: cv2.resize(ds.load_image(i), input_size[::-1], interpolation=cv2.INTER_AREA)
                        for i in tqdm(ds.images, desc="loading the study", mininterval=5)}


def load_start(cfg) -> tuple[torch.nn.Module, Path]:
    """The network to start from (fp32) and the folder its weights came from."""
    folder, _ = resolve_weights(cfg.model, cfg.init or None)
    network_class = type(SALIENCY_NETWORKS[cfg.model](pretrained=False))
    return load_network(network_class, folder), folder


def set_trainable(network: torch.nn.Module, mode: str, cfg) -> list[dict]:
    """requires_grad per mode; the optimizer's parameter groups."""
    if hasattr(network, "priors"):                                        # EffSal
        light = ("priors.", "decoder.bottleneck.", "head.")
        encoder = network.encoder
        frozen_blocks = {f"encoder._blocks.{b}." for b in range(encoder.feature_blocks[1] + 1)}
        frozen = ("encoder._conv_stem.", "encoder._bn0.", *frozen_blocks)
    else:                                                                 # SalNet: its last conv and upsampling
        light, frozen = ("conv9.", "deconv."), ("conv1.", "conv2.")
    head, encoder_params = [], []
    for name, p in network.named_parameters():
        train = name.startswith(light) if mode == "light" else mode == "full" or not name.startswith(frozen)
        p.requires_grad_(train)
        if train:
            (encoder_params if name.startswith("encoder.") else head).append(p)
    groups = [{"params": head, "lr": cfg.lr}]
    if encoder_params:
        groups.append({"params": encoder_params, "lr": cfg.encoder_lr})
    return groups


@torch.no_grad()
def mix_norm_statistics(network, study: Study, images: list[str], mix: float, device: torch.device) -> None:
    """Each BatchNorm's running mean and variance ← `mix` × those of `images` (and their mirror images, one pass)
    + (1 − `mix`) × the trained ones."""
    norms = [m for m in network.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms or mix <= 0:
        return
    trained = [(m.running_mean.clone(), m.running_var.clone(), m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None                                   # a cumulative average over the pass
    x = torch.stack([to_chw(study.resized[i]) for i in images])
    x = torch.cat([x, x.flip(-1)]).to(device)
    network.train()
    network(x)
    network.eval()
    for m, (mean, var, momentum) in zip(norms, trained):
        m.running_mean.mul_(mix).add_((1 - mix) * mean)
        m.running_var.mul_(mix).add_((1 - mix) * var)
        m.momentum = momentum


def fit(study: Study, network, cfg, out: Path, train: list[str], val: list[str] | None, epochs: int,
        device: torch.device) -> dict:
    """Train `network` in place under the Trainer in `out`; with `val`, early stopping on its loss and the best
    epoch's weights loaded at the end; without, every epoch runs and the last is kept. Returns {best_epoch}."""
    out.mkdir(parents=True, exist_ok=True)
    run = Run(rank=0, world=1, device=device, out=out, distributed=False)
    network.to(device)
    mix_norm_statistics(network, study, train, cfg.norm_mix, device)
    optimizer = torch.optim.AdamW(set_trainable(network, cfg.mode, cfg), weight_decay=cfg.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    loader = DataLoader(StudySamples(study, train, augment=True, seed=cfg.seed), batch_size=cfg.batch_size,
                        shuffle=True, generator=generator)
    stop_on = DataLoader(StudySamples(study, val or train, augment=False, seed=cfg.seed), batch_size=cfg.batch_size)
    trainer = Trainer(run, network, optimizer, epochs=epochs, steps_per_epoch=len(loader),
                      warmup_steps=max(1, len(loader)), patience=cfg.patience if val else None, clip_norm=5.0,
                      extra={"data_order": generator}, checkpoint=latest_checkpoint(run, cfg.resume))

    def epoch_batches(epoch):
        network.eval()                     # BatchNorm statistics stay as trained (and there is no dropout)
        return loader

    def train_step(batch):
        x, target, fix = (t.to(device) for t in batch)
        loss, _ = compute_loss(network, network(x), target, fix, cfg)
        return loss, {}

    trainer.fit(epoch_batches, train_step, lambda: evaluate_val(network, stop_on, device, cfg))
    if val:
        best = torch.load(out / "best.pt", map_location="cpu", weights_only=True)
        network.load_state_dict(best["model"])
        return {"best_epoch": int(best["epoch"]) + 1}
    return {"best_epoch": trainer.epoch}


@torch.inference_mode()
def predict(network, rgb: np.ndarray, device: torch.device) -> np.ndarray:
    """As models.runtime.saliency.NetworkSaliencyModel.predict: density at image resolution, summing to 1."""
    network.eval()
    log_density = network(image_batch(rgb, network.input_size).to(device))[0].float().cpu().numpy()
    density = cv2.resize(np.exp(log_density), rgb.shape[1::-1], interpolation=cv2.INTER_LINEAR)
    density = np.maximum(density, 0).astype(np.float64) + 1e-12
    return density / density.sum()


def score(network, study: Study, images: list[str], device: torch.device) -> dict[str, dict[str, float]]:
    """{image: {metric: value}} on the MIT protocol."""
    ds, rows = study.ds, {}
    for image in images:
        pred, fix, gt = predict(network, ds.load_image(image), device), ds.fixations(image), ds.saliency_map(image)
        rows[image] = {"nss": sal_metrics.nss(pred, fix), "cc": sal_metrics.cc(pred, gt),
                       "auc_judd": sal_metrics.auc_judd(pred, fix), "kld": sal_metrics.kld(pred, gt)}
    return rows


def mean_of(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    return {m: float(np.mean([r[m] for r in rows.values()])) for m in METRICS}


def run_fold(k: int, folds: list[list[str]], study: Study, cfg, before: dict, device) -> dict:
    """Fold k held out; the next fold stops the training; results cached in fold-k/result.json (resume)."""
    out = Path(cfg.out) / f"fold-{k}"
    done = out / "result.json"
    if cfg.resume and done.is_file():
        return json.loads(done.read_text())
    test, val = folds[k], folds[(k + 1) % len(folds)]
    train = [i for j, f in enumerate(folds) if j not in (k, (k + 1) % len(folds)) for i in f]
    print(f"fold {k + 1}/{len(folds)}: fit {len(train)}, stop on {len(val)}, test {len(test)} images", flush=True)
    network, _ = load_start(cfg)
    chosen = fit(study, network, cfg, out, train, val, cfg.epochs, device)
    after = score(network, study, test, device)
    result = {"fold": k, "test": test, "val": val, **chosen,
              "before": {i: before[i] for i in test}, "after": after}
    done.write_text(json.dumps(result, indent=1) + "\n")
    return result


def table_rows(results: list[dict]) -> list[dict]:
    """One row per fold and a last row over every held-out image (each image is held out once)."""
    rows = []
    pooled_before, pooled_after = {}, {}
    for r in results:
        pooled_before.update(r["before"])
        pooled_after.update(r["after"])
        rows.append({"fold": str(r["fold"] + 1), "n_test": len(r["test"]), "best_epoch": r["best_epoch"],
                     **{f"{m}_{when}": mean_of(r[when])[m] for m in METRICS for when in ("before", "after")}})
    rows.append({"fold": "all", "n_test": len(pooled_after), "best_epoch": "",
                 **{f"{m}_{when}": mean_of(d)[m] for m in METRICS
                    for when, d in (("before", pooled_before), ("after", pooled_after))}})
    return rows


def write_table(rows: list[dict], out: Path) -> str:
    with open(out / "before_after.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    labels = " | ".join(f"{LABELS[m]} before → after" for m in METRICS)
    header = f"| fold | test images | best epoch | {labels} |"
    lines = [header, "|" + "---|" * (3 + len(METRICS))]
    for r in rows:
        cells = [f"{r[f'{m}_before']:.3f} → {r[f'{m}_after']:.3f}" for m in METRICS]
        lines.append(f"| {r['fold']} | {r['n_test']} | {r['best_epoch']} | " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    (out / "before_after.md").write_text(text)
    return text


def export(network, cfg, folder: Path, start: Path, summary: dict, table: str) -> None:
    """fp16 save_pretrained folder + the base model's name in config.json + a short model card."""
    network.cpu().half().save_pretrained(folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, BASE_MODEL_KEY: cfg.model}, indent=2) + "\n")
    study = summary["study"] + (f" ({cfg.split} split)" if cfg.split != ALL else "") + (
        f" rendered in the `{cfg.style}` style" if cfg.style else "")
    (folder / "README.md").write_text(
        f"# {folder.name}\n\n`{cfg.model}` (from `{start}`) fine-tuned by `training.finetune` on {study}: "
        f"{summary['n_images']} images, {cfg.mode} mode, {summary['final_epochs']} epoch(s) on every image "
        f"(the median of the folds' early-stopping epochs).\n\nCommand: `{summary['command']}`\n\n"
        f"## Cross-validation ({cfg.folds} folds; before = `{cfg.model}`, after = fine-tuned on the other folds)\n\n"
        f"{table}\nLoad it with `create_model(\"{cfg.model}\", weights=\"{folder}\")`, or list it as "
        f"`{folder.name}` everywhere with `EXTRA_WEIGHTS={folder}`.\n")


def finetune(cfg, argv=None) -> dict:
    ds = load_study(cfg)
    run = start_run(cfg, argv, "training.finetune")
    device, out = run.device, Path(cfg.out)
    name = cfg.name or f"{cfg.model}-{out.resolve().name}"
    start_network, start = load_start(cfg)
    study = Study(ds, start_network.input_size, start_network.output_stride)
    folds = split_folds(ds.images, cfg.folds, cfg.seed)
    before = score(start_network.to(device), study, ds.images, device)
    results = [run_fold(k, folds, study, cfg, before, device)
               for k in tqdm(range(cfg.folds), desc="folds", mininterval=5)]
    rows = table_rows(results)
    table = write_table(rows, out)
    final_epochs = max(1, int(round(float(np.median([r["best_epoch"] for r in results])))))
    print(f"final: {final_epochs} epoch(s) on all {len(ds.images)} images", flush=True)
    network, _ = load_start(cfg)
    fit(study, network, cfg, out / "final", ds.images, None, final_epochs, device)
    summary = {"study": str(ds.root), "split": cfg.split, "style": cfg.style or None, "n_images": len(ds.images),
               "model": cfg.model, "start": str(start), "mode": cfg.mode, "folds": cfg.folds,
               "final_epochs": final_epochs, "weights": str(out / name), "name": name, "device": str(device),
               "command": json.loads((out / "config.json").read_text())["command"],
               "cross_validation": rows, "per_fold": [{k: r[k] for k in ("fold", "test", "val", "best_epoch")}
                                                      for r in results]}
    export(network, cfg, out / name, start, summary, table)
    (out / "finetune.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(table, flush=True)
    return {k: summary[k] for k in ("name", "weights", "n_images", "mode", "final_epochs")} | {
        "before_after_all": rows[-1]}


def main(argv=None) -> int:
    cfg = parse_args(argv)
    return run_and_report(lambda: finetune(cfg, argv), None)


if __name__ == "__main__":
    sys.exit(main())
