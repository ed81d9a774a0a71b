"""Train ATSal (models/nets/atsal.py) on synthetic 360° panoramas built from the 2D gaze train splits, early-stopping
on panoramas built from the val splits with held-out backgrounds.

    python -m training.train_atsal --data osie,mit1003 --out runs/atsal --export assets/weights/atsal \\
        --init_experts assets/weights/effsal-lite0 --threads 2
    python -m training.train_atsal --stage attention --out runs/atsal-attention                   # in stages:
    python -m training.train_atsal --stage experts --init_from runs/atsal-attention/best.pt --out runs/atsal-experts \\
        --init_experts assets/weights/effsal-lite0 --export assets/weights/atsal
    torchrun --nproc_per_node 2 -m training.train_atsal --backend gloo ...                         # DDP

What is trained (`--stage`): "attention" = the attention stream on the ERP frame (attention_loss); "experts" =
the Poles expert on the U/D cube faces and the Equator expert on F/R/B/L (expert_loss against face_targets of
the same panoramas); "all" = both in one loop, the losses summed. Streams outside the stage are frozen. The
attention encoder starts from ImageNet; the experts start from a trained 2D EffSal with `--init_experts FOLDER`
(a save_pretrained folder: the experts take its architecture and load its weights strictly; EffSal is fully
convolutional and its priors live on a [0, 1]² grid, so the face size may differ from its input size), else
from ImageNet. `--init_from` starts the whole model from an earlier ATSal run (best.pt / ckpt.pt, or a
save_pretrained folder), e.g. the attention stage before the experts stage; its architecture wins over the
size flags, and `--init_experts` is applied after it (the expert architectures must then match).

Every epoch draws new panoramas (dataset seed = seed + epoch); val panoramas are fixed and rendered once.
Same conventions as training/train_saliency.py: every setting below is a commented default (--name value);
the run folder gets config.json, log.jsonl (one line per epoch), ckpt.pt (latest, for --resume) and best.pt
(lowest val loss of the stage); `--export DIR` writes the best weights as an ATSal save_pretrained folder
(fp16, safetensors). Never trains or tunes on the test splits or the held-out backgrounds.

Timing (measured on this 2-core machine with --threads 1 while another 2-thread training job kept both cores
busy, load ≈ 3; `--length 96 --val_length 32 --epochs 1`, defaults otherwise: stage all, batch 4, ERP 128×256,
faces 96, render 192×384): 1.08 s per training step including rendering, ≈ 0.06 s per val panorama, ≈ 10 s
set-up (datasets, ImageNet weights, rendering the val panoramas). Defaults: 10 epochs × 160 steps = 1600 steps
→ ≈ 29 min at that contended 1-thread rate; on 2 free threads convolutions run ≈ 1.3–1.5× faster (rendering
stays single-threaded), ≈ 0.75–0.85 s per step → ≈ 21–24 min in all (less if early stopping triggers).
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, DistributedSampler

from models.nets.atsal import ATSal
from models.runtime.projections import EQUATOR, FACES, POLES
from training.loop import Trainer, latest_checkpoint
from training.losses import attention_loss, expert_loss
from training.run_setup import parse_defaults, start_run
from training.panorama_data import HELD_OUT_EVERY, LAYOUTS, SyntheticPanoramaSet, face_targets, load_backgrounds

DEFAULTS = dict(
    # model and data
    data="osie,mit1003",          # datasets under $GAZE_DATA/gaze (train split pasted to fit, val split to stop)
    out="runs/atsal",             # run folder (outside git)
    backgrounds="",               # folder of ERP background panoramas (empty = $GAZE_DATA/panoramas); every
                                  # 4th file (sorted) is held out for val / evaluation
    layout="horizon",             # gaze images around the horizon, feathered (real 360° latitudes) | scattered
                                  # (1–3 hard-edged images at random pitch): training.panorama_data.LAYOUTS
    limit=0,                      # use only the first N images per dataset and split (0 = all; for smoke runs)
    stage="all",                  # attention | experts | all (both in one loop, losses summed)
    init_experts="",              # EffSal save_pretrained folder for both experts (e.g. assets/weights/effsal-lite0);
                                  # empty = ImageNet encoders
    init_from="",                 # start from an ATSal run: best.pt / ckpt.pt, or a save_pretrained folder
    # architecture and panoramas (ignored with --init_from / --resume: the architecture comes from there)
    input_height=128,             # attention-stream ERP input (2:1; multiples of 32)
    input_width=256,
    face_size=96,                 # cube-face input of the experts (a multiple of 32)
    expert_face_size=0,           # with --init_from: train its experts at this face size instead (0 = keep);
                                  # the experts are fully convolutional, so their weights carry over
    render_height=192,            # panoramas are rendered at render_height × 2·render_height, then the ERP is
                                  # resized to the input and faces are sampled from it (2 × face_size = sharp faces)
    length=640,                   # training panoramas per epoch (new ones each epoch): 160 steps of 4
    val_length=64,                # val panoramas (fixed)
    # optimisation
    epochs=10,
    batch_size=4,                 # panoramas per step (the experts see 2 pole and 4 equator faces of each)
    lr=1e-3,                      # decoders / new layers
    encoder_lr=2e-4,              # pretrained encoders
    weight_decay=1e-4,
    warmup_steps=50,
    patience=3,                   # early stopping on val loss (epochs without improvement)
    # system
    seed=0,
    threads=0,                    # torch threads (0 = torch's default)
    device="auto",                # auto = cuda when available
    backend="",                   # DDP backend under torchrun: gloo (CPU) or nccl (GPU); empty = auto
    resume=False,
    export="",                    # folder to write the best weights to (ATSal save_pretrained, fp16)
)
STAGES = ("attention", "experts", "all")
POLE_IDX = [FACES.index(k) for k in POLES]
EQUATOR_IDX = [FACES.index(k) for k in EQUATOR]


def parse_args(argv=None) -> argparse.Namespace:
    return parse_defaults(DEFAULTS, __doc__, argv, choices={"stage": STAGES, "layout": tuple(LAYOUTS)})


# -----------------------------------------------------------------------------------------------------------
# Data


class PanoramaTrainingSet(SyntheticPanoramaSet):
    """Item i → (ERP x (3, H, W), target (H/4, W/4), fixation counts (H/4, W/4), faces (6, 3, s, s), face
    targets (6, s/4, s/4), face weights (6,)): the attention-stream sample and the experts' face targets of the
    *same* panorama, rendered once at `render_size`. `with_faces=False` gives empty face tensors (attention stage)."""

    def __init__(self, *args, face_size: int = 96, with_faces: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.face_size, self.with_faces = face_size, with_faces
        self._last = None

    def render(self, index: int):
        if self._last is None or self._last[0] != (self.seed, index):   # __getitem__ renders; reuse that one
            self._last = ((self.seed, index), super().render(index))
        return self._last[1]

    def __getitem__(self, index: int):
        x, target, fixations = super().__getitem__(index)
        if not self.with_faces:
            empty = torch.zeros(0)
            return x, target, fixations, empty, empty, empty
        s = self.render(index)
        faces = face_targets(s.image, s.density, self.face_size)
        return x, target, fixations, faces["images"], faces["density"], faces["weight"]


def resolve_backgrounds(folder: str, split: str, size: tuple[int, int]) -> list[np.ndarray]:
    """Train or held-out backgrounds (training.panorama_data.load_backgrounds), with a clear error when a
    folder is too small to hold any out (it needs at least HELD_OUT_EVERY images)."""
    root = Path(folder) if folder else None
    try:
        return load_backgrounds(split, size, root=root)
    except ValueError as err:
        raise SystemExit(f"{err}. Backgrounds: every {HELD_OUT_EVERY}th file is held out for val/test, so a "
                         f"folder needs at least {HELD_OUT_EVERY} panoramas") from None


# -----------------------------------------------------------------------------------------------------------
# Model


def build_arch(cfg) -> dict:
    expert = {"face_size": cfg.face_size}
    if cfg.init_experts:
        from models.nets.effsal import EffSal
        net = EffSal.from_pretrained(cfg.init_experts)                     # only reads config + safetensors
        expert.update({k: v for k, v in net.config_dict().items() if k not in ("input_height", "input_width")})
    return {"attention": {"input_height": cfg.input_height, "input_width": cfg.input_width}, "expert": expert}


def load_state(source: str) -> tuple[dict, dict]:
    """(arch, state dict) of an ATSal run checkpoint (.pt with "model" and "arch") or save_pretrained folder."""
    path = Path(source)
    if path.is_dir():
        if not (path / "model.safetensors").is_file():
            raise SystemExit(f"{path}: no model.safetensors (only safetensors weights are loaded)")
        model = ATSal.from_pretrained(str(path), strict=True)
        return model.config_dict(), {k: v.float() for k, v in model.state_dict().items()}
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    return ckpt["arch"], ckpt["model"]


def init_experts_from_effsal(model: ATSal, folder: str) -> None:
    """Both experts ← the EffSal weights of a save_pretrained folder (strict: every key must match)."""
    from models.nets.effsal import EffSal
    state = EffSal.from_pretrained(folder).float().state_dict()
    for expert in (model.poles, model.equator):
        expert.net.load_state_dict(state, strict=True)


def build_model(cfg, arch: dict | None = None) -> ATSal:
    """ImageNet encoders (or everything from --init_from), then both experts from --init_experts if given."""
    if cfg.init_from:
        arch, state = load_state(cfg.init_from)
        if cfg.expert_face_size:
            arch = {**arch, "expert": {**arch["expert"], "face_size": cfg.expert_face_size}}
        model = ATSal(arch, pretrained_encoder=False)
        model.load_state_dict(state, strict=True)
    else:
        model = ATSal(arch or build_arch(cfg), pretrained_encoder=True)
    if cfg.init_experts:                     # after --init_from too: e.g. --stage experts on an attention run
        init_experts_from_effsal(model, cfg.init_experts)
    return model


def trained_streams(stage: str) -> list[str]:
    return {"attention": ["attention"], "experts": ["poles", "equator"], "all": ["attention", "poles", "equator"]}[stage]


def set_train_mode(model: ATSal, stage: str) -> None:
    """Trained streams in train mode with their encoders' ImageNet BatchNorm statistics kept; the rest frozen."""
    model.eval()
    for name in trained_streams(stage):
        stream = getattr(model, name)
        stream.train()
        encoder = stream.encoder if name == "attention" else stream.net.encoder
        for m in encoder.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.eval()


class StageLoss(nn.Module):
    """The stage's loss on one batch as a module, so DistributedDataParallel can wrap it."""

    def __init__(self, model: ATSal, stage: str):
        super().__init__()
        self.model, self.stage = model, stage

    def forward(self, x, target, fixations, faces, face_density, face_weight):
        total, parts = 0.0, {}
        if self.stage in ("attention", "all"):
            log_density, attn = self.model.attention(x)
            loss, parts = attention_loss(log_density, attn, target, fixations)
            parts = {f"attention_{k}": v for k, v in parts.items()}
            parts["attention"] = float(loss.detach())
            total = total + loss
        if self.stage in ("experts", "all"):
            s, n = faces.shape[-1], face_density.shape[-1]
            for name, idx in (("poles", POLE_IDX), ("equator", EQUATOR_IDX)):
                expert = getattr(self.model, name)
                log_density = expert(faces[:, idx].reshape(-1, 3, s, s))                     # (B·k, s/4, s/4)
                loss = expert_loss(log_density, face_density[:, idx].reshape(-1, n, n), face_weight[:, idx].reshape(-1))
                parts[name] = float(loss.detach())
                total = total + loss
        return total, parts


def evaluate_val(loss_fn: StageLoss, batches, device) -> dict:
    loss_fn.model.eval()
    totals, n = {}, 0
    with torch.inference_mode():
        for batch in batches:
            batch = [t.to(device) for t in batch]
            loss, parts = loss_fn(*batch)
            b = batch[0].shape[0]
            for k, v in {"loss": float(loss), **parts}.items():
                totals[k] = totals.get(k, 0.0) + v * b
            n += b
    out = {k: v / max(n, 1) for k, v in totals.items()}
    if "attention_nss" in out:
        out["attention_nss"] = -out["attention_nss"]           # report NSS itself (the loss is −NSS)
    return out


# -----------------------------------------------------------------------------------------------------------
# Loop


def main(argv=None):
    cfg = parse_args(argv)
    run = start_run(cfg, argv, "training.train_atsal")
    device = run.device

    ckpt = latest_checkpoint(run, cfg.resume)
    if ckpt is not None:
        if ckpt["stage"] != cfg.stage:
            raise SystemExit(f"{run.out / 'ckpt.pt'} is a --stage {ckpt['stage']} run; resume it with that stage")
        model = ATSal(ckpt["arch"], pretrained_encoder=False)      # the trainer loads the weights
    else:
        model = build_model(cfg)
    model.to(device)
    streams = trained_streams(cfg.stage)
    for name, module in model.named_children():
        module.requires_grad_(name in streams)

    names = cfg.data.split(",")
    limit = cfg.limit or None
    h, w = model.attention.input_size
    render_size = (cfg.render_height, 2 * cfg.render_height)
    common = dict(input_size=(h, w), output_stride=model.attention.output_stride, render_size=render_size,
                  face_size=model.poles.face_size, with_faces=cfg.stage != "attention", limit=limit,
                  layout=cfg.layout)
    train_set = PanoramaTrainingSet(names, "train", resolve_backgrounds(cfg.backgrounds, "train", render_size),
                                    length=cfg.length, seed=cfg.seed, **common)
    sampler = DistributedSampler(train_set, seed=cfg.seed) if run.distributed else None
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                              generator=generator, drop_last=True)
    val_batches = []
    if run.is_main:                  # rendered once: the same val panoramas every epoch
        val_set = PanoramaTrainingSet(names, "val", resolve_backgrounds(cfg.backgrounds, "val", render_size),
                                      length=cfg.val_length, seed=cfg.seed + 10_000, **common)
        val_batches = list(DataLoader(val_set, batch_size=cfg.batch_size))

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    encoder_params = [p for n, p in trainable if ".encoder." in n]
    other_params = [p for n, p in trainable if ".encoder." not in n]
    groups = [{"params": other_params, "lr": cfg.lr}, {"params": encoder_params, "lr": cfg.encoder_lr}]
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    # frozen streams get no gradients, so clipping all parameters clips the trained ones
    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=len(train_loader),
                      warmup_steps=cfg.warmup_steps, patience=cfg.patience, clip_norm=5.0,
                      extra={"data_order": generator}, meta={"arch": model.config_dict(), "stage": cfg.stage},
                      tags={"stage": cfg.stage}, checkpoint=ckpt)

    loss_fn = StageLoss(model, cfg.stage)
    ddp_loss = torch.nn.parallel.DistributedDataParallel(loss_fn) if run.distributed else loss_fn

    def epoch_batches(epoch):
        train_set.seed = cfg.seed + epoch            # new panoramas every epoch, reproducible per (seed, epoch)
        if sampler is not None:
            sampler.set_epoch(epoch)
        set_train_mode(model, cfg.stage)
        return train_loader

    trainer.fit(epoch_batches, lambda batch: ddp_loss(*[t.to(device) for t in batch]),
                lambda: evaluate_val(loss_fn, val_batches, device),
                export_to=cfg.export, build=lambda best: ATSal(best["arch"], pretrained_encoder=False))


if __name__ == "__main__":
    main()
