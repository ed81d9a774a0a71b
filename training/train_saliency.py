"""Train a saliency model on the shared eye-tracking train splits, early-stopping on the val splits.

    python -m training.train_saliency --model effsal-lite0 --data osie,mit1003 --out runs/effsal-lite0
    python -m training.train_saliency --model salnet --loss euclidean --out runs/salnet
    torchrun --nproc_per_node 2 -m training.train_saliency --model effsal-lite0 --backend gloo ...   # DDP

Every setting below is a commented default; each can be overridden with --name value. The run folder gets
config.json (the resolved settings), log.jsonl (one line per epoch), ckpt.pt (latest, for --resume) and
best.pt (lowest val loss). `--export DIR` writes the best weights as a save_pretrained folder (fp16).
Never trains or tunes on the test splits.
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from training.run_setup import end_epoch, lr_scale, parse_defaults, resume_checkpoint, start_run
from training.losses import nll_bits, saliency_loss
from training.saliency_data import SaliencyTrainingSet

DEFAULTS = dict(
    # model and data
    model="effsal-lite0",        # a trainable registry name: effsal-lite0, effsal-lite1, salnet
    data="osie,mit1003",          # datasets under $GAZE_DATA/gaze (train split to fit, val split to stop)
    out="runs/effsal-lite0",      # run folder (outside git)
    limit=0,                      # use only the first N images per dataset and split (0 = all; for smoke runs)
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


def build_trainable(name: str) -> torch.nn.Module:
    """A fresh model for training (ImageNet weights in the encoder where there is one)."""
    from models.trainable import TRAINABLE
    if name not in TRAINABLE:
        raise SystemExit(f"unknown trainable model '{name}'; choose one of {', '.join(TRAINABLE)}")
    return TRAINABLE[name](pretrained=True)


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
    rank, device, out, distributed, is_main = run.rank, run.device, run.out, run.distributed, run.is_main

    model = build_trainable(cfg.model).to(device)
    names = cfg.data.split(",")
    limit = cfg.limit or None
    train_set = SaliencyTrainingSet(names, "train", model.input_size, model.output_stride, augment=True,
                                    seed=cfg.seed + rank, limit=limit)
    val_set = SaliencyTrainingSet(names, "val", model.input_size, model.output_stride, limit=limit)
    sampler = DistributedSampler(train_set, seed=cfg.seed) if distributed else None
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=sampler is None, sampler=sampler,
                              generator=generator, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size)

    encoder_params = [p for n, p in model.named_parameters() if n.startswith("encoder.")]
    other_params = [p for n, p in model.named_parameters() if not n.startswith("encoder.")]
    groups = [{"params": other_params, "lr": cfg.lr}]
    if encoder_params:
        groups.append({"params": encoder_params, "lr": cfg.encoder_lr})
    optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    base_lrs = [g["lr"] for g in optimizer.param_groups]
    total_steps = cfg.epochs * len(train_loader)

    start_epoch, best_loss, bad_epochs, step = 0, math.inf, 0, 0
    ckpt_path = out / "ckpt.pt"
    if cfg.resume and ckpt_path.is_file():
        start_epoch, best_loss, bad_epochs, step = resume_checkpoint(ckpt_path, model, optimizer)
        if is_main:
            print(f"resumed from {ckpt_path} at epoch {start_epoch}")

    ddp_model = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    for epoch in range(start_epoch, cfg.epochs):
        if sampler is not None:
            sampler.set_epoch(epoch)
        ddp_model.train()
        model.freeze_batchnorm_where_pretrained()
        t0, running = time.time(), 0.0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not is_main, dynamic_ncols=True)
        for i, (x, target, fix) in enumerate(bar):
            # linear warm-up, then cosine decay to 5 % of the base rate
            scale = lr_scale(step, cfg.warmup_steps, total_steps)
            for g, lr in zip(optimizer.param_groups, base_lrs):
                g["lr"] = lr * scale
            x, target, fix = x.to(device), target.to(device), fix.to(device)
            loss, _ = compute_loss(model, ddp_model(x), target, fix, cfg)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            step += 1
            running += float(loss.detach())
            bar.set_postfix(loss=f"{running / (i + 1):.4f}")
        stop = False
        if is_main:
            val = evaluate_val(model, val_loader, device, cfg)
            improved = val["loss"] < best_loss
            if improved:
                best_loss, bad_epochs = val["loss"], 0
                torch.save({"model": model.state_dict(), "epoch": epoch, "val": val}, out / "best.pt")
            else:
                bad_epochs += 1
            record = {"epoch": epoch + 1, "train_loss": running / max(1, len(train_loader)),
                      "seconds": time.time() - t0, **{f"val_{k}": v for k, v in val.items()}, "best": improved}
            end_epoch(out, record, model, optimizer, epoch, best_loss, bad_epochs, step)
            stop = bad_epochs >= cfg.patience
        if distributed:                     # every rank must leave the loop together, or the others hang
            flag = torch.tensor([int(stop)], device=device)
            dist.broadcast(flag, 0)
            stop = bool(flag.item())
        if stop:
            if is_main:
                print(f"early stop: no val improvement for {cfg.patience} epochs")
            break
    if distributed:
        dist.destroy_process_group()
    if is_main and cfg.export:
        export_best(cfg.model, out / "best.pt", Path(cfg.export))


def export_best(name: str, best_path: Path, folder: Path) -> None:
    """Write the best checkpoint as a save_pretrained folder with fp16 weights."""
    from models.trainable import TRAINABLE
    model = TRAINABLE[name](pretrained=False)
    model.load_state_dict(torch.load(best_path, map_location="cpu", weights_only=True)["model"])
    model.half().save_pretrained(folder)
    print(f"exported {best_path} → {folder}")


if __name__ == "__main__":
    main()
