"""Barlow Twins pretraining of the EfficientNet-Lite encoder on unlabelled paintings, over painting styles
(SSLArtScanpath's idea; views from training/style_views.py).

    python -m training.pretrain_barlow --paintings ../shared/data/paintings --out runs/barlow --threads 2
    python -m training.pretrain_barlow --out runs/barlow --resume          # continue after an interruption
    python -m training.pretrain_barlow --out runs/barlow --summary results/ssl/barlow.json   # for docs/results.md

Barlow Twins (Zbontar et al., ICML 2021): the cross-correlation matrix between the batch-normalised projections
of two views should be the identity, loss = Σ_i (1 − C_ii)² + λ Σ_{i≠j} C_ij², λ = 5e-3 as in the paper (the
SSLArt release used 0.5 and dropped the projector's last layer; neither is followed here). The encoder starts
from ImageNet (`--init imagenet`; `scratch` for random) and its stem and stride-4/8 stages stay frozen, as in
SPGEn, so the CPU spends its time on the deeper, more style-dependent stages.

Held out: every 10th painting (training/domain_adaptation.HELD_OUT_EVERY). Each epoch reports the held-out
Barlow loss and `style_retrieval`: for each held-out painting, a restyled view must find the painting's other
restyled view among all held-out paintings by cosine similarity of pooled encoder features (top-1; chance =
1 / number held out). Epoch 0 is the starting encoder. The encoder with the best held-out loss is written to
OUT/encoder.safetensors (train_sslart --encoder reads it).
"""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import save_file

from training.loop import Trainer, latest_checkpoint
from training.run_setup import parse_defaults, start_run
from training.style_views import StyleViews

DEFAULTS = dict(paintings="../shared/data/paintings", out="runs/barlow", init="imagenet", encoder="lite0",
                epochs=6, batch_size=48, size=160, lr=1e-3, encoder_lr=3e-4, weight_decay=1e-4, warmup_steps=20,
                projector=1024, lambd=5e-3, seed=0, threads=0, device="cpu", backend="", limit=0, resume=False,
                summary="")


def barlow_twins_loss(z1: torch.Tensor, z2: torch.Tensor, lambd: float = 5e-3) -> torch.Tensor:
    """(B, D) projections of two views → Σ (1 − C_ii)² + λ Σ_{i≠j} C_ij², C the (D, D) cross-correlation."""
    b = z1.shape[0]
    z1 = (z1 - z1.mean(0)) / z1.std(0).clamp_min(1e-4)
    z2 = (z2 - z2.mean(0)) / z2.std(0).clamp_min(1e-4)
    c = z1.T @ z2 / b
    on_diag = (torch.diagonal(c) - 1).pow(2).sum()
    off_diag = c.pow(2).sum() - torch.diagonal(c).pow(2).sum()
    return on_diag + lambd * off_diag


class BarlowTwins(nn.Module):
    """Encoder → global average pool of the stride-32 features → 3-layer projector (Linear-BN-ReLU ×2, Linear)."""

    def __init__(self, encoder: nn.Module, width: int = 1024):
        super().__init__()
        self.encoder = encoder
        c = encoder.feature_channels[-1]
        self.projector = nn.Sequential(nn.Linear(c, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
                                       nn.Linear(width, width, bias=False), nn.BatchNorm1d(width), nn.ReLU(inplace=True),
                                       nn.Linear(width, width, bias=False))

    def pooled(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder.forward_features(x)[-1].mean(dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.pooled(x))


def frozen_encoder_parameters(encoder):
    """Stem and the blocks through the stride-8 stage."""
    yield from encoder._conv_stem.parameters()
    yield from encoder._bn0.parameters()
    for block in encoder._blocks[: encoder.feature_blocks[1] + 1]:
        yield from block.parameters()


def load_paintings(folder: str | Path, split: str, short_side: int = 256, limit: int = 0) -> list[np.ndarray]:
    from training.domain_adaptation import PaintingImages
    files = PaintingImages(folder, (short_side, short_side), split).files
    files = files[:limit] if limit else files
    out = []
    for path in files:
        with Image.open(path) as im:
            rgb = np.asarray(im.convert("RGB"))
        s = short_side / min(rgb.shape[:2])
        out.append(cv2.resize(rgb, (max(1, round(rgb.shape[1] * s)), max(1, round(rgb.shape[0] * s))),
                              interpolation=cv2.INTER_AREA))
    return out


@torch.no_grad()
def held_out_scores(model: BarlowTwins, views: StyleViews, lambd: float, seed: int = 12345) -> dict:
    """Held-out Barlow loss and style-retrieval top-1 on fixed (seeded) view pairs."""
    model.eval()
    rng = np.random.default_rng(seed)
    pairs = [views.pair(i, rng) for i in range(len(views.paintings))]
    a = torch.stack([p[0] for p in pairs])
    b = torch.stack([p[1] for p in pairs])
    fa = torch.cat([model.pooled(a[k:k + 32]) for k in range(0, len(a), 32)])
    fb = torch.cat([model.pooled(b[k:k + 32]) for k in range(0, len(b), 32)])
    loss = barlow_twins_loss(model.projector(fa), model.projector(fb), lambd)
    sim = F.normalize(fa, dim=1) @ F.normalize(fb, dim=1).T
    top1 = (sim.argmax(1) == torch.arange(len(sim))).float().mean()
    return {"loss": float(loss), "style_retrieval": float(top1), "chance": 1.0 / len(sim)}


def write_summary(run: Path, out: Path) -> dict:
    """results JSON from a run's log: the starting encoder (epoch 0), the best held-out epoch, and the sizes."""
    import json
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line.strip()]
    config = json.loads((run / "config.json").read_text())
    trained = [r for r in log if r["epoch"] > 0]
    best = min(trained, key=lambda r: r["val_loss"])
    from training.domain_adaptation import PaintingImages
    summary = {"task": "barlow-pretraining", "command": config["command"], "epochs": len(trained),
               "n_train": len(PaintingImages(config["paintings"], (8, 8), "train")),
               "n_heldout": len(PaintingImages(config["paintings"], (8, 8), "val")),
               "start": log[0], "best": best, "log": log}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def main(argv=None):
    cfg = parse_defaults(DEFAULTS, __doc__, argv)
    if cfg.summary:                                   # only write the results summary of an existing run
        write_summary(Path(cfg.out), Path(cfg.summary))
        return
    run = start_run(cfg, argv, "training.pretrain_barlow")
    out = run.out
    from models.nets.efficientnet_lite import create_encoder
    encoder = create_encoder(cfg.encoder, pretrained=cfg.init == "imagenet")
    model = BarlowTwins(encoder, cfg.projector)
    frozen = set(id(p) for p in frozen_encoder_parameters(encoder))
    for p in frozen_encoder_parameters(encoder):
        p.requires_grad_(False)
    train_views = StyleViews(load_paintings(cfg.paintings, "train", limit=cfg.limit), cfg.size, cfg.seed)
    val_views = StyleViews(load_paintings(cfg.paintings, "val", limit=cfg.limit), cfg.size, cfg.seed + 1)
    print(f"{len(train_views.paintings)} training paintings, {len(val_views.paintings)} held out")
    enc_params = [p for p in encoder.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW([{"params": list(model.projector.parameters()), "lr": cfg.lr},
                                   {"params": enc_params, "lr": cfg.encoder_lr}], weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train_views.paintings) // cfg.batch_size
    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                      warmup_steps=cfg.warmup_steps, checkpoint=latest_checkpoint(run, cfg.resume))
    if trainer.epoch == 0:                                # epoch 0: the starting encoder, for comparison
        trainer.log({"epoch": 0, **{f"val_{k}": v for k, v in held_out_scores(model, val_views, cfg.lambd).items()}})
    rng = np.random.default_rng(cfg.seed + trainer.epoch)

    def epoch_batches(epoch):
        model.train()
        for m in encoder.modules():                       # frozen stages keep their statistics too
            if isinstance(m, nn.BatchNorm2d) and all(id(p) in frozen for p in m.parameters()):
                m.eval()
        order = rng.permutation(len(train_views.paintings))
        return [order[i * cfg.batch_size:(i + 1) * cfg.batch_size] for i in range(steps_per_epoch)]

    def train_step(indices):
        pairs = [train_views.pair(int(j), rng) for j in indices]
        z = model(torch.cat([torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])]))
        return barlow_twins_loss(z[:len(pairs)], z[len(pairs):], cfg.lambd), {}

    def save_encoder(epoch, val):                         # what train_sslart --encoder reads
        save_file({k: v.contiguous() for k, v in encoder.state_dict().items()}, str(out / "encoder.safetensors"),
                  metadata={"encoder": cfg.encoder, "init": cfg.init, "epoch": str(epoch + 1)})

    trainer.fit(epoch_batches, train_step, lambda: held_out_scores(model, val_views, cfg.lambd), on_best=save_encoder)


if __name__ == "__main__":
    main()
