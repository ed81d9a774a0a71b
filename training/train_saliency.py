"""Train a saliency model on the shared eye-tracking train splits, early-stopping on the val splits.

    python -m training.train_saliency --model effsal-lite0 --data osie,mit1003 --out runs/effsal-lite0
    python -m training.train_saliency --model salnet --loss euclidean --out runs/salnet
    python -m training.train_saliency --init assets/weights/effsal-lite0 --style_p 0.5 --style_val \
        --lr 2e-4 --encoder_lr 5e-5 --epochs 3 --out runs/effsal-lite0-style       # painterly style augmentation
    torchrun --nproc_per_node 2 -m training.train_saliency --model effsal-lite0 --backend gloo ...   # DDP

Every setting below is a commented default; each can be overridden with --name value. The run folder gets
config.json (the resolved settings), log.jsonl (one line per epoch), ckpt.pt (latest, for --resume) and
best.pt (lowest val loss). `--export DIR` writes the best weights as a save_pretrained folder (fp16).
`--init DIR` starts from a weights folder instead of ImageNet; `--style_p P` paints that share of the training
images (colours of a training painting, brush texture: saliency_data.PaintingLook); `--style_val` adds the val
images rendered in the painterly test styles to the val loss (half photos, half paintings), so the best epoch is
chosen on both.
Never trains or tunes on the test splits.
"""
from __future__ import annotations

import argparse

import torch
from torch.utils.data import DataLoader, DistributedSampler

from training.losses import nll_bits, saliency_loss
from training.loop import Trainer, latest_checkpoint
from training.run_setup import parse_defaults, start_run
from training.saliency_data import PaintingLook, SaliencyTrainingSet

DEFAULTS = dict(
    # model and data
    model="effsal-lite0",        # a trainable registry name: effsal-lite0, effsal-lite1, salnet
    data="osie,mit1003",          # datasets under $GAZE_DATA/gaze (train split to fit, val split to stop)
    out="runs/effsal-lite0",      # run folder (outside git)
    limit=0,                      # use only the first N images per dataset and split (0 = all; for smoke runs)
    init="",                      # weights folder to start from (save_pretrained); empty = ImageNet encoder
    style_p=0.0,                  # share of training images given a painting's colours and texture
    paintings="",                 # folder of paintings for style_p (empty = $GAZE_DATA/paintings; train part only)
    style_val=False,              # val loss = mean of photo val and val in the painterly test styles
    # optimisation
    epochs=12,
    batch_size=8,
    lr=1e-3,                      # decoder / new layers
    encoder_lr=2e-4,              # pretrained encoder: a smaller step keeps ImageNet features
    weight_decay=1e-4,
    warmup_steps=100,
    loss="kld_cc_nss",            # kld_cc_nss (KLD + (1−CC) + 0.1·(−NSS)) or euclidean (SalNet paper)
    patience=4,                   # early stopping on val loss (epochs without improvement)
    # system
    seed=0,
    threads=0,                    # torch threads (0 = torch's default)
    device="auto",                # auto = cuda when available
    backend="",                   # DDP backend under torchrun: gloo (CPU) or nccl (GPU); empty = auto
    resume=False,
    export="",                    # folder to write the best weights to (save_pretrained, fp16)
)


def parse_args(argv=None) -> argparse.Namespace:
    return parse_defaults(DEFAULTS, __doc__, argv)


def build_trainable(name: str, pretrained: bool = True, init: str = "") -> torch.nn.Module:
    """A fresh model: for training, ImageNet weights in the encoder where there is one, or the weights of the
    folder `init`; for export, none."""
    from models.nets import SALIENCY_NETWORKS as TRAINABLE
    from models.weights import load_network
    if name not in TRAINABLE:
        raise SystemExit(f"unknown trainable model '{name}'; choose one of {', '.join(TRAINABLE)}")
    if init:
        return load_network(type(TRAINABLE[name](pretrained=False)), init).train()
    return TRAINABLE[name](pretrained=pretrained)


def evaluate_val_sets(model, loaders: dict, device, cfg) -> dict:
    """evaluate_val on each named val loader; with more than one, "loss" is their mean and each set's numbers are
    kept under its name (photo_nss, painterly_nss, ...)."""
    if len(loaders) == 1:
        return evaluate_val(model, next(iter(loaders.values())), device, cfg)
    parts = {name: evaluate_val(model, loader, device, cfg) for name, loader in loaders.items()}
    merged = {f"{name}_{k}": v for name, val in parts.items() for k, v in val.items()}
    return {"loss": sum(val["loss"] for val in parts.values()) / len(parts), **merged}


def evaluate_val(model, loader, device, cfg) -> dict:
    model.eval()
    totals = {"loss": 0.0, "kld": 0.0, "cc": 0.0, "nss": 0.0, "nll_bits": 0.0}
    n = 0
    with torch.inference_mode():
        for x, target, fix in loader:
            x, target, fix = x.to(device), target.to(device), fix.to(device)
            log_p = model(x)
            loss, parts = compute_loss(model, log_p, target, fix, cfg)
            b = x.shape[0]
            totals["loss"] += float(loss) * b
            totals["kld"] += parts["kld"] * b
            totals["cc"] += (1 - parts["cc"]) * b        # report CC itself
            totals["nss"] += -parts["nss"] * b
            totals["nll_bits"] += float(nll_bits(log_p, fix)) * b
            n += b
    return {k: v / max(n, 1) for k, v in totals.items()}


def compute_loss(model, out, target, fix, cfg):
    if cfg.loss == "euclidean":
        # SalNet's Euclidean loss on a map scaled to [0, 1] by its max (the paper regresses the saliency map).
        pred = out.exp()
        pred = pred / pred.flatten(1).amax(1)[:, None, None]
        t = target / target.flatten(1).amax(1).clamp_min(1e-12)[:, None, None]
        loss = ((pred - t) ** 2).flatten(1).sum(1).mean() / 2
        _, parts = saliency_loss(out, target, fix)
        return loss, parts
    return saliency_loss(out, target, fix)


def main(argv=None):
    cfg = parse_args(argv)
    run = start_run(cfg, argv, "training.train_saliency")
    device = run.device

    model = build_trainable(cfg.model, init=cfg.init).to(device)
    names = cfg.data.split(",")
    limit = cfg.limit or None
    look = PaintingLook(cfg.paintings or None) if cfg.style_p > 0 else None
    train_set = SaliencyTrainingSet(names, "train", model.input_size, model.output_stride, augment=True,
                                    seed=cfg.seed + run.rank, limit=limit, look=look, style_p=cfg.style_p)
    val_sets = {"photo": SaliencyTrainingSet(names, "val", model.input_size, model.output_stride, limit=limit)}
    if cfg.style_val:
        from training.painterly import TEST_STYLES, painterly_dataset
        val_sets["painterly"] = SaliencyTrainingSet(
            names, "val", model.input_size, model.output_stride, limit=limit,
            copies=lambda ds: [painterly_dataset(ds, style) for style in TEST_STYLES])
    sampler = DistributedSampler(train_set, seed=cfg.seed) if run.distributed else None
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                              generator=generator, drop_last=True)
    val_loaders = {name: DataLoader(ds, batch_size=cfg.batch_size) for name, ds in val_sets.items()}

    encoder_params = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    other_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [{"params": other_params, "lr": cfg.lr}]
    if encoder_params:
        groups.append({"params": encoder_params, "lr": cfg.encoder_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=len(train_loader),
                      warmup_steps=cfg.warmup_steps, patience=cfg.patience, clip_norm=5.0,
                      extra={"data_order": generator}, checkpoint=latest_checkpoint(run, cfg.resume))
    ddp_model = torch.nn.parallel.DistributedDataParallel(model) if run.distributed else model

    def epoch_batches(epoch):
        if sampler is not None:
            sampler.set_epoch(epoch)
        ddp_model.train()
        model.freeze_batchnorm_where_pretrained()
        return train_loader

    def train_step(batch):
        x, target, fix = (t.to(device) for t in batch)
        loss, _ = compute_loss(model, ddp_model(x), target, fix, cfg)
        return loss, {}

    trainer.fit(epoch_batches, train_step, lambda: evaluate_val_sets(model, val_loaders, device, cfg),
                export_to=cfg.export, build=lambda best: build_trainable(cfg.model, pretrained=False))


if __name__ == "__main__":
    main()
