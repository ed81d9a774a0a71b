"""The one training loop every trainer runs: warm-up + cosine learning rates, early stopping on the val loss,
a resumable checkpoint every epoch, the best checkpoint kept and exported as an fp16 save_pretrained folder.

A trainer builds its data, model, optimizer and loss, then:

    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=len(loader),
                      warmup_steps=cfg.warmup_steps, patience=cfg.patience, clip_norm=5.0,
                      checkpoint=latest_checkpoint(run, cfg.resume))
    trainer.fit(epoch_batches, train_step, validate, export_to=cfg.export, build=lambda best: Net(...))

- epoch_batches(epoch): sets the epoch up (sampler, dataset seed, train mode) and returns its batches;
- train_step(batch) → (loss tensor, {name: float}): the forward pass and loss; the loop does the rest;
- validate() → {"loss": float, ...}: runs on rank 0 only, its "loss" picks the best epoch and stops early;
- build(best checkpoint) → the empty network the best weights are exported into.

Run folder: log.jsonl (one record per epoch: train_* means, val_*, seconds, best), ckpt.pt (the latest state,
for --resume) and best.pt (the weights with the lowest val loss).
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Callable, Iterable

import torch
import torch.distributed as dist
from torch.optim.lr_scheduler import LambdaLR
from tqdm import tqdm

from training.run_setup import Run


def lr_scale(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up, then cosine decay to 5 % of the base rate."""
    return min(1.0, (step + 1) / warmup_steps) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / max(1, total_steps))))


def warmup_cosine(optimizer, warmup_steps: int, total_steps: int) -> LambdaLR:
    """Every param group at its own base rate × lr_scale(step); step with the optimizer."""
    return LambdaLR(optimizer, lambda step: lr_scale(step, warmup_steps, total_steps))


def latest_checkpoint(run: Run, resume: bool) -> dict | None:
    """The run's ckpt.pt when resuming and there is one, else None. Weights only: tensors and plain values."""
    path = run.out / "ckpt.pt"
    return torch.load(path, map_location="cpu", weights_only=True) if resume and path.is_file() else None


def _state_of(obj):
    return obj.get_state() if isinstance(obj, torch.Generator) else obj.state_dict()


def _restore(obj, state) -> None:
    obj.set_state(state) if isinstance(obj, torch.Generator) else obj.load_state_dict(state)


class Trainer:
    """The epoch loop around one model and optimizer.

    patience: stop after that many epochs without a lower val loss (None: run every epoch).
    clip_norm: clip the model's gradient norm to it (None: no clipping).
    max_minutes: also stop after the epoch that ends past this much training time (0: no limit).
    extra: more state for ckpt.pt, {name: module, optimizer or torch.Generator} (e.g. a data-order generator,
        so a resumed run draws the same batches as an uninterrupted one).
    meta: plain values stored in ckpt.pt and best.pt (e.g. the architecture, to rebuild the network).
    tags: plain values added to every log record.
    checkpoint: a ckpt.pt to continue from (latest_checkpoint); None starts afresh, with a new log.
    """

    def __init__(self, run: Run, model: torch.nn.Module, optimizer: torch.optim.Optimizer, *, epochs: int,
                 steps_per_epoch: int, warmup_steps: int, patience: int | None = None,
                 clip_norm: float | None = None, max_minutes: float = 0.0, extra: dict | None = None,
                 meta: dict | None = None, tags: dict | None = None, checkpoint: dict | None = None):
        self.run, self.model, self.optimizer = run, model, optimizer
        self.epochs, self.patience, self.clip_norm, self.max_minutes = epochs, patience, clip_norm, max_minutes
        self.extra, self.meta, self.tags = extra or {}, meta or {}, tags or {}
        self.total_steps = epochs * steps_per_epoch
        self.scheduler = warmup_cosine(optimizer, warmup_steps, self.total_steps)
        self.epoch, self.step, self.best_loss, self.bad_epochs = 0, 0, math.inf, 0   # epoch: the next to train
        if checkpoint is not None:
            self.load(checkpoint)
            if run.is_main:
                print(f"resumed from {run.out / 'ckpt.pt'} at epoch {self.epoch}", flush=True)
        elif run.is_main:
            (run.out / "log.jsonl").unlink(missing_ok=True)       # the log tells the story of this run only

    def fit(self, epoch_batches: Callable[[int], Iterable], train_step: Callable, validate: Callable[[], dict], *,
            on_best: Callable[[int, dict], None] | None = None, export_to: str | Path = "",
            build: Callable[[dict], torch.nn.Module] | None = None) -> None:
        """Train up to `epochs`; on_best(epoch, val) runs on rank 0 after best.pt is written; `export_to`
        writes the best weights there as an fp16 save_pretrained folder of `build(best checkpoint)`."""
        run, started = self.run, time.time()
        while self.epoch < self.epochs:
            t0, running, n = time.time(), {}, 0
            bar = tqdm(epoch_batches(self.epoch), desc=f"epoch {self.epoch + 1}/{self.epochs}",
                       disable=not run.is_main, dynamic_ncols=True, mininterval=5)
            for batch in bar:
                loss, parts = train_step(batch)
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if self.clip_norm:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.step, n = self.step + 1, n + 1
                for k, v in {"loss": float(loss.detach()), **parts}.items():
                    running[k] = running.get(k, 0.0) + v
                bar.set_postfix(loss=f"{running['loss'] / n:.4f}")
            train_seconds = time.time() - t0

            reason = ""                       # why rank 0 stops the run here, if it does
            if run.is_main:                   # the other ranks wait for its decision at the broadcast below
                val = validate()
                improved = val["loss"] < self.best_loss
                if improved:
                    self.best_loss, self.bad_epochs = val["loss"], 0
                    torch.save({"model": self.model.state_dict(), **self.meta, "epoch": self.epoch, "val": val},
                               run.out / "best.pt")
                    if on_best is not None:
                        on_best(self.epoch, val)
                else:
                    self.bad_epochs += 1
                self.log({"epoch": self.epoch + 1, **self.tags,
                          **{f"train_{k}": v / max(1, n) for k, v in running.items()},
                          "seconds": time.time() - t0, "seconds_per_step": train_seconds / max(1, n),
                          **{f"val_{k}": v for k, v in val.items()}, "best": improved})
                self.save()
                reason = self.stop_reason(started)
            self.epoch += 1
            stop = bool(reason)
            if run.distributed:             # every rank must leave the loop together, or the others hang
                flag = torch.tensor([int(stop)], device=run.device)
                dist.broadcast(flag, 0)
                stop = bool(flag.item())
            if stop:
                if reason:
                    print(reason, flush=True)
                break
        if run.distributed:
            dist.destroy_process_group()
        if export_to and run.is_main:
            export_best(run.out / "best.pt", Path(export_to), build)

    def stop_reason(self, started: float) -> str:
        if self.patience is not None and self.bad_epochs >= self.patience:
            return f"early stop: no val improvement for {self.patience} epochs"
        if self.max_minutes and (time.time() - started) / 60 > self.max_minutes:
            return f"stopping after {self.max_minutes} minutes (resume with --resume)"
        return ""

    def log(self, record: dict) -> None:
        with open(self.run.out / "log.jsonl", "a") as f:
            f.write(json.dumps(record) + "\n")
        print(json.dumps(record), flush=True)

    def save(self) -> None:
        """ckpt.pt after an epoch: everything a resumed run needs to continue as if never stopped."""
        torch.save({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                    "scheduler": self.scheduler.state_dict(), **self.meta,
                    **{name: _state_of(obj) for name, obj in self.extra.items()},
                    "epoch": self.epoch, "best_loss": self.best_loss, "bad_epochs": self.bad_epochs,
                    "step": self.step, "torch_rng": torch.get_rng_state()}, self.run.out / "ckpt.pt")

    def load(self, ckpt: dict) -> None:
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        for name, obj in self.extra.items():
            _restore(obj, ckpt[name])
        self.epoch, self.step = ckpt["epoch"] + 1, ckpt["step"]
        self.best_loss, self.bad_epochs = ckpt["best_loss"], ckpt["bad_epochs"]
        torch.set_rng_state(ckpt["torch_rng"])


def export_best(best_path: Path, folder: Path, build: Callable[[dict], torch.nn.Module]) -> None:
    """best.pt → `build(checkpoint)` with its weights → fp16 save_pretrained folder (config.json + safetensors),
    which models.weights.load_network reads back."""
    ckpt = torch.load(best_path, map_location="cpu", weights_only=True)
    model = build(ckpt)
    model.load_state_dict(ckpt["model"])
    model.half().save_pretrained(folder)
    print(f"exported {best_path} (epoch {ckpt['epoch'] + 1}) → {folder}", flush=True)
