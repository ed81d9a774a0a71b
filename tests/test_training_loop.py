"""training/loop.py on a tiny network: the warm-up + cosine rates, resuming as if never stopped, early stopping,
and the best checkpoint exported as a loadable fp16 folder."""
from __future__ import annotations

import json
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from huggingface_hub import PyTorchModelHubMixin
from safetensors import safe_open

from models.weights import load_network
from training.loop import Trainer, latest_checkpoint, warmup_cosine
from training.run_setup import Run

STEPS, BATCH, WARMUP = 4, 6, 3
X = torch.randn(STEPS * BATCH, 4, generator=torch.Generator().manual_seed(1))
Y = X.sum(1, keepdim=True)


def written_out_lr_scale(step: int, warmup: int, total: int) -> float:
    """The rates the trainers used to set by hand each step: linear warm-up, cosine decay to 5 %."""
    return min(1.0, (step + 1) / warmup) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / max(1, total))))


class Tiny(nn.Module, PyTorchModelHubMixin):
    def __init__(self, width: int = 8):
        super().__init__()
        self.inp, self.drop, self.out = nn.Linear(4, width), nn.Dropout(0.2), nn.Linear(width, 1)

    def forward(self, x):
        return self.out(self.drop(torch.relu(self.inp(x))))


def train(out, *, epochs=4, resume=False, init_seed=0, crash_at_step=None, patience=None, val_losses=None,
          export_to=""):
    """A run of the loop: two param groups with their own rates, dropout (torch RNG), a batch-order generator.
    Returns (trainer, model, the learning rates of every step)."""
    out.mkdir(exist_ok=True)
    run = Run(rank=0, world=1, device=torch.device("cpu"), out=out, distributed=False)
    torch.manual_seed(init_seed)
    model = Tiny()
    optimizer = torch.optim.AdamW([{"params": model.inp.parameters(), "lr": 1e-2},
                                   {"params": model.out.parameters(), "lr": 3e-3}])
    order = torch.Generator().manual_seed(0)
    trainer = Trainer(run, model, optimizer, epochs=epochs, steps_per_epoch=STEPS, warmup_steps=WARMUP,
                      patience=patience, clip_norm=1.0, extra={"order": order},
                      checkpoint=latest_checkpoint(run, resume))
    rates, scripted = [], iter(val_losses or [])

    def epoch_batches(epoch):
        model.train()
        perm = torch.randperm(len(X), generator=order)
        return [perm[i * BATCH:(i + 1) * BATCH] for i in range(STEPS)]

    def train_step(idx):
        if trainer.step == crash_at_step:
            raise KeyboardInterrupt
        rates.append([g["lr"] for g in optimizer.param_groups])
        loss = F.mse_loss(model(X[idx]), Y[idx])
        return loss, {"double": 2 * float(loss.detach())}

    @torch.no_grad()
    def validate():
        model.eval()
        return {"loss": next(scripted) if val_losses else float(F.mse_loss(model(X), Y))}

    trainer.fit(epoch_batches, train_step, validate, export_to=export_to,
                build=lambda best: Tiny(width=best["model"]["inp.weight"].shape[0]))
    return trainer, model, rates


def log_of(out) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def test_schedule_is_the_old_warmup_cosine_formula(tmp_path):
    w = torch.zeros(1, requires_grad=True)
    b = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([{"params": [w], "lr": 1e-3}, {"params": [b], "lr": 2e-4}])
    scheduler = warmup_cosine(optimizer, warmup_steps=100, total_steps=1200)
    seen = {}
    for step in range(1200):
        seen[step] = [g["lr"] for g in optimizer.param_groups]
        optimizer.step()
        scheduler.step()
    for step in (0, 1, 50, 99, 100, 101, 600, 1000, 1199):
        assert seen[step] == [base * written_out_lr_scale(step, 100, 1200) for base in (1e-3, 2e-4)], step
    assert seen[1199][0] == pytest.approx(0.05e-3, rel=1e-3)              # decays to 5 % of the base rate

    _, _, rates = train(tmp_path / "run", epochs=3)                      # what the trainer's steps actually use
    assert len(rates) == 3 * STEPS
    assert rates == [[base * written_out_lr_scale(step, WARMUP, 3 * STEPS) for base in (1e-2, 3e-3)]
                     for step in range(3 * STEPS)]


def test_resume_continues_as_if_never_stopped(tmp_path, capsys):
    _, full, full_rates = train(tmp_path / "full", epochs=4)
    with pytest.raises(KeyboardInterrupt):                              # killed in the middle of epoch 3
        train(tmp_path / "cut", epochs=4, crash_at_step=2 * STEPS + 1)
    ckpt = torch.load(tmp_path / "cut" / "ckpt.pt", weights_only=True)
    assert (ckpt["epoch"], ckpt["step"]) == (1, 2 * STEPS)              # the last finished epoch
    assert {"model", "optimizer", "scheduler", "order", "best_loss", "bad_epochs", "torch_rng"} <= set(ckpt)

    capsys.readouterr()
    trainer, resumed, rates = train(tmp_path / "cut", epochs=4, resume=True, init_seed=123)
    printed = capsys.readouterr().out
    assert "resumed from" in printed and "at epoch 2" in printed
    assert (trainer.epoch, trainer.step) == (4, 4 * STEPS)
    assert rates == full_rates[2 * STEPS:]
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
    full_log, cut_log = log_of(tmp_path / "full"), log_of(tmp_path / "cut")
    assert [r["epoch"] for r in cut_log] == [1, 2, 3, 4]
    for a, b in zip(full_log, cut_log):
        assert (a["train_loss"], a["train_double"], a["val_loss"], a["best"]) == \
               (b["train_loss"], b["train_double"], b["val_loss"], b["best"])


def test_resume_without_a_checkpoint_starts_afresh_with_a_new_log(tmp_path):
    train(tmp_path / "run", epochs=2)
    trainer, _, _ = train(tmp_path / "run", epochs=2)                   # no --resume: from scratch
    assert trainer.step == 2 * STEPS and [r["epoch"] for r in log_of(tmp_path / "run")] == [1, 2]


def test_early_stop_after_patience_bad_epochs(tmp_path, capsys):
    val = [1.0, 0.5, 0.6, 0.7, 0.8, 0.9]
    trainer, _, _ = train(tmp_path / "stop", epochs=6, patience=2, val_losses=val)
    log = log_of(tmp_path / "stop")
    assert [r["best"] for r in log] == [True, True, False, False]       # 2 bad epochs after the best, then stop
    assert "early stop: no val improvement for 2 epochs" in capsys.readouterr().out
    assert trainer.bad_epochs == 2 and trainer.best_loss == 0.5
    assert torch.load(tmp_path / "stop" / "best.pt", weights_only=True)["epoch"] == 1

    train(tmp_path / "all", epochs=6, patience=None, val_losses=val)    # no patience: every epoch
    assert len(log_of(tmp_path / "all")) == 6
    train(tmp_path / "three", epochs=6, patience=3, val_losses=val)
    assert len(log_of(tmp_path / "three")) == 5


def test_best_epoch_is_exported_as_a_loadable_fp16_folder(tmp_path):
    export = tmp_path / "export"
    _, last, _ = train(tmp_path / "run", epochs=3, val_losses=[1.0, 0.5, 0.9], export_to=str(export))
    best = torch.load(tmp_path / "run" / "best.pt", weights_only=True)
    assert best["epoch"] == 1 and best["val"] == {"loss": 0.5}
    with safe_open(str(export / "model.safetensors"), "pt") as f:
        assert {f.get_slice(k).get_dtype() for k in f.keys()} == {"F16"}
    assert json.loads((export / "config.json").read_text()) == {"width": 8}
    loaded = load_network(Tiny, export)
    for name, value in loaded.state_dict().items():
        assert torch.equal(value, best["model"][name].half().float()), name
    assert not torch.equal(loaded.inp.weight, last.inp.weight.half().float())   # the best epoch, not the last
