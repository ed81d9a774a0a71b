"""Train SPGEn (models/nets/spgen.py) on recorded scanpaths (train splits; val for early stopping; never test).

    python -m training.train_spgen --data osie,mit1003 --init assets/weights/effsal-lite0 --out runs/spgen \
        --threads 2 --export assets/weights/spgen
    python -m training.train_spgen --out runs/spgen --resume          # continue after an interruption

The trunk starts from the trained saliency model (`--init`, an EffSal save_pretrained folder; its encoder holds
ImageNet weights underneath). The encoder's stem and its stride-4/8 stages stay frozen (they are generic
edges and textures, and freezing them halves the backward pass on a CPU); the rest of the encoder, the decoder,
the priors and the SPGEn heads learn.

The loss (`spgen_loss`), per image with all its subjects' scanpaths:
- `nll`: −log p_t(x_t) of every subject's t-th fixation under step t's map at T = 0 (a proper likelihood:
  each step map learns the distribution of where people are at that step, with no collapse to a mean);
- `xy`: L1 between the soft-argmax fixations, generated at a random temperature T ∈ [0, `max_train_T`], and
  the *closest* subject's scanpath (the min over subjects of the masked mean). Regressing on one random
  subject would pull every step to the average of all subjects, a point between the places people actually
  look; the min lets each noisy sample match the human path it resembles (`--xy_target random` is that
  ablation: one subject drawn at random per image, the same weight);
- `duration`: L1 on log-milliseconds against that same subject's fixations;
- `length`: binary cross-entropy of P(step t exists) against the share of subjects whose scanpath has a
  fixation t.
Total = nll + w_xy·xy + w_duration·duration + w_length·length. Checkpoints every epoch (resumable) in --out.

Durations as a distribution (`--durations_only --init_spgen assets/weights/spgen`): a trained SPGEn keeps every
weight; a second head predicts the SD of log-duration next to the existing mean, and only those two heads learn,
by the log-normal likelihood of every subject's step-t duration (`training.losses.log_normal_nll`). Positions,
lengths and the gate stay exactly as they were; sampled viewers then differ in how long they look.
"""
from __future__ import annotations

import argparse
import random

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from models.nets.spgen import SPGEn
from training.loop import Trainer, latest_checkpoint
from training.losses import closest_subject_l1, log_normal_nll
from training.run_setup import parse_defaults, start_run
from training.scanpath_data import ScanpathTrainingSet

DEFAULTS = dict(data="osie,mit1003", init="assets/weights/effsal-lite0", out="runs/spgen", epochs=6, batch_size=8,
                lr=1e-3, trunk_lr=1e-4, weight_decay=1e-4, warmup_steps=50, patience=2, seed=0, threads=0,
                device="cpu", backend="", max_fixations=12, max_train_T=0.5, w_xy=5.0, w_duration=0.5,
                w_length=1.0, limit=0, max_minutes=0.0, resume=False, export="", paintings="", w_domain=0.1,
                xy_target="closest", init_spgen="", durations_only=False)


def parse_args(argv=None) -> argparse.Namespace:
    return parse_defaults(DEFAULTS, __doc__, argv)


def spgen_loss(clean: dict, noisy: dict, paths: torch.Tensor, mask: torch.Tensor, cfg) -> tuple[torch.Tensor, dict]:
    """clean/noisy: SPGEn.read outputs at T = 0 and at the training temperature; paths (B, S, N, 3) x/W, y/H,
    log ms; mask (B, S, N). Returns the total and its parts (floats)."""
    log_maps = clean["log_maps"]                                          # (B, N, h, w)
    b, n, h, w = log_maps.shape
    m = mask.float()
    ix = (paths[..., 0] * w).long().clamp(0, w - 1)                       # (B, S, N)
    iy = (paths[..., 1] * h).long().clamp(0, h - 1)
    flat = log_maps.flatten(2)                                            # (B, N, h·w)
    picked = torch.gather(flat, 2, (iy * w + ix).permute(0, 2, 1))        # (B, N, S): log p_t(subject s's x_t)
    nll = -(picked.permute(0, 2, 1) * m).sum() / m.sum().clamp_min(1)

    xy, duration = closest_subject_l1(noisy["xy"], noisy["log_duration"], paths, mask,
                                      getattr(cfg, "xy_target", "closest"))
    subjects = (m.sum(-1) > 0).float()                                    # (B, S)
    share = (m * subjects[..., None]).sum(1) / subjects.sum(1, keepdim=True).clamp_min(1)   # (B, N)
    length = F.binary_cross_entropy(clean["exist"].clamp(1e-6, 1 - 1e-6), share)
    total = nll + cfg.w_xy * xy + cfg.w_duration * duration + cfg.w_length * length
    return total, {k: float(v.detach()) for k, v in {"nll": nll, "xy": xy, "duration": duration, "length": length}.items()}


def build_model(cfg):
    from models.nets.effsal import EffSal
    if cfg.durations_only:
        return duration_model(cfg.init_spgen)
    model = SPGEn({"max_fixations": cfg.max_fixations})
    if cfg.init:
        trunk = EffSal.from_pretrained(cfg.init, strict=True)
        model.trunk.load_state_dict(trunk.float().state_dict())
    for p in frozen_parameters(model):
        p.requires_grad_(False)
    return model


def duration_model(folder: str) -> SPGEn:
    """A trained SPGEn with a duration distribution added; everything but the two duration heads frozen."""
    import json
    from pathlib import Path
    from models.weights import load_network
    if not folder:
        raise SystemExit("--durations_only needs --init_spgen FOLDER (a trained SPGEn, e.g. assets/weights/spgen)")
    trained = load_network(SPGEn, folder)
    arch = {**json.loads((Path(folder) / "config.json").read_text()).get("arch", {}), "duration_distribution": True}
    model = SPGEn(arch)
    missing, unexpected = model.load_state_dict(trained.state_dict(), strict=False)
    assert not unexpected and all(k.startswith("duration_sd.") for k in missing), (missing, unexpected)
    for name, p in model.named_parameters():
        p.requires_grad_(name.startswith(("duration.", "duration_sd.")))
    return model


def duration_batch(model, x, paths, mask):
    """The log-normal likelihood of the recorded durations at T = 0 (the positions it reads from are frozen)."""
    with torch.no_grad():
        maps, y = model.latent_maps(x)
    out = model.read(maps, y, 0.0)
    nll = log_normal_nll(out["log_duration"], out["log_duration_sd"], paths, mask)
    return nll, {"duration_nll": float(nll.detach()), "duration_sd": float(out["log_duration_sd"].mean().detach())}


def frozen_parameters(model):
    enc = model.trunk.encoder
    last_frozen = enc.feature_blocks[1]                                   # through the stride-8 stage
    yield from enc._conv_stem.parameters()
    yield from enc._bn0.parameters()
    for block in enc._blocks[: last_frozen + 1]:
        yield from block.parameters()


def run_batch(model, x, paths, mask, cfg, temperature: float, domain=None):
    """The scanpath loss of one batch; with `domain` = (classifier, painting batch, λ), plus w_domain × the
    domain classifier's BCE through the gradient-reversal layer (photos 0, paintings 1)."""
    maps, y, deepest = model.latent_maps(x, with_deepest=True)
    clean = model.read(maps, y, 0.0)
    noisy = model.read(maps, y, temperature) if temperature > 0 else clean
    total, parts = spgen_loss(clean, noisy, paths, mask, cfg)
    if domain is not None:
        classifier, paintings, lam = domain
        painted = model.trunk.encoder.forward_features(paintings)[-1]
        logits = classifier(torch.cat([deepest, painted]), lam)
        labels = torch.cat([torch.zeros(len(deepest)), torch.ones(len(painted))])
        bce = F.binary_cross_entropy_with_logits(logits, labels)
        total = total + cfg.w_domain * bce
        parts.update(domain=float(bce.detach()), domain_acc=float(((logits > 0).float() == labels).float().mean()))
    return total, parts


@torch.no_grad()
def domain_accuracy(model, classifier, photo_loader, painting_loader, max_batches: int = 10) -> float:
    """Balanced accuracy of the domain classifier on held-out photos (val split) and held-out paintings:
    0.5 = the encoder's features no longer tell the domains apart."""
    model.eval()
    classifier.eval()
    hits = []
    for label, loader in ((0.0, photo_loader), (1.0, painting_loader)):
        right, n = 0, 0
        for i, batch in enumerate(loader):
            if i >= max_batches:
                break
            x = batch[0] if isinstance(batch, (list, tuple)) else batch
            logits = classifier(model.trunk.encoder.forward_features(x)[-1], 0.0)
            right += int(((logits > 0).float() == label).sum())
            n += len(x)
        hits.append(right / max(n, 1))
    classifier.train()
    return float(np.mean(hits))


@torch.no_grad()
def evaluate_val(model, loader, cfg) -> dict:
    model.eval()
    totals, n = {}, 0
    for x, paths, mask in loader:
        loss, parts = duration_batch(model, x, paths, mask) if cfg.durations_only else \
            run_batch(model, x, paths, mask, cfg, 0.0)
        for k, v in {"loss": float(loss), **parts}.items():
            totals[k] = totals.get(k, 0.0) + v * len(x)
        n += len(x)
    return {k: v / n for k, v in totals.items()}


def main(argv=None):
    cfg = parse_args(argv)
    run = start_run(cfg, argv, "training.train_spgen")
    model = build_model(cfg)
    names = cfg.data.split(",")
    train_set = ScanpathTrainingSet(names, "train", model.input_size, cfg.max_fixations, augment=True)
    val_set = ScanpathTrainingSet(names, "val", model.input_size, cfg.max_fixations)
    if cfg.limit:
        train_set.items, val_set.items = train_set.items[:cfg.limit], val_set.items[:cfg.limit]
    generator = torch.Generator().manual_seed(cfg.seed)
    train_loader = DataLoader(train_set, batch_size=cfg.batch_size, shuffle=True, generator=generator, drop_last=True)
    val_loader = DataLoader(val_set, batch_size=cfg.batch_size)

    trunk = [p for n, p in model.named_parameters() if n.startswith("trunk.") and p.requires_grad]
    heads = [p for n, p in model.named_parameters() if not n.startswith("trunk.") and p.requires_grad]
    classifier, paintings, painting_val = None, None, None
    extra = {"data_order": generator}
    if cfg.paintings:
        from training.domain_adaptation import DomainClassifier, PaintingImages
        classifier = DomainClassifier(model.trunk.encoder.feature_channels[-1])
        heads += list(classifier.parameters())
        extra["classifier"] = classifier
        painting_set = PaintingImages(cfg.paintings, model.input_size, "train")
        paintings = _forever(DataLoader(painting_set, batch_size=cfg.batch_size, shuffle=True, drop_last=True,
                                        generator=torch.Generator().manual_seed(cfg.seed + 1)))
        painting_val = DataLoader(PaintingImages(cfg.paintings, model.input_size, "val"), batch_size=cfg.batch_size)
    groups = [{"params": heads, "lr": cfg.lr}, {"params": trunk, "lr": cfg.trunk_lr}]
    optimizer = torch.optim.AdamW([g for g in groups if g["params"]], weight_decay=cfg.weight_decay)
    # the model's gradient norm is clipped; the domain classifier's is not
    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=len(train_loader),
                      warmup_steps=cfg.warmup_steps, patience=cfg.patience, clip_norm=5.0,
                      max_minutes=cfg.max_minutes, extra=extra, checkpoint=latest_checkpoint(run, cfg.resume))
    rng = random.Random(cfg.seed + trainer.epoch)        # training temperatures

    def epoch_batches(epoch):
        model.train()
        model.trunk.freeze_batchnorm_where_pretrained()
        if cfg.durations_only:
            model.eval()                     # frozen BatchNorm statistics everywhere; only two linear heads learn
        return train_loader

    def train_step(batch):
        x, paths, mask = batch
        if cfg.durations_only:
            return duration_batch(model, x, paths, mask)
        domain = None
        if classifier is not None:
            from training.domain_adaptation import grl_lambda
            domain = (classifier, next(paintings), grl_lambda(trainer.step / max(1, trainer.total_steps)))
        return run_batch(model, x, paths, mask, cfg, rng.uniform(0.0, cfg.max_train_T), domain)

    def validate():
        val = evaluate_val(model, val_loader, cfg)     # its loss, the scanpath loss, picks the best epoch
        if classifier is not None:
            val["domain_acc"] = domain_accuracy(model, classifier, val_loader, painting_val)
        return val

    arch = model.config_dict() if cfg.durations_only else None
    trainer.fit(epoch_batches, train_step, validate, export_to=cfg.export,
                build=lambda best: SPGEn(arch or {"max_fixations": best["model"]["step_embedding"].shape[0]}))


def _forever(loader):
    while True:
        yield from loader


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
