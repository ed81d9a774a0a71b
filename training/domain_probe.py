"""How well can photos be told from paintings by an encoder's features? A linear probe, trained after the fact.

    python -m training.domain_probe --weights assets/weights/spgen --out results/domain/spgen.json

The encoder's stride-32 features (mean- and max-pooled, as the training-time domain classifier sees them) are
extracted, frozen, for the gaze datasets' train images vs the train paintings; a logistic-regression probe is
fitted on them and scored on held-out photos (val split) vs held-out paintings (every 10th file), as balanced
accuracy. 0.5 = the features carry no domain information; 1.0 = perfectly separable. Run it on a model trained
with and without the gradient-reversal layer (`train_spgen --paintings`) to see what the reversal changed.
"""
from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from torch.utils.data import DataLoader

from training.cli import run_and_report


@torch.no_grad()
def pooled_features(encoder, loader) -> torch.Tensor:
    out = []
    for batch in loader:
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        f = encoder.forward_features(x)[-1]
        out.append(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], dim=1))
    return torch.cat(out)


def fit_probe(x: torch.Tensor, y: torch.Tensor, steps: int = 500, weight_decay: float = 1e-3) -> torch.nn.Linear:
    mean, std = x.mean(0), x.std(0).clamp_min(1e-6)
    probe = torch.nn.Linear(x.shape[1], 1)
    probe.register_buffer("mean", mean)
    probe.register_buffer("std", std)
    opt = torch.optim.LBFGS(probe.parameters(), lr=0.5, max_iter=steps)
    z = (x - mean) / std
    pos = float(y.mean())
    weights = torch.where(y > 0.5, 0.5 / pos, 0.5 / (1 - pos))           # balanced classes

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(probe(z)[:, 0], y, weight=weights)
        loss = loss + weight_decay * probe.weight.square().sum()
        loss.backward()
        return loss
    opt.step(closure)
    return probe


def balanced_accuracy(probe, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        pred = (probe((x - probe.mean) / probe.std)[:, 0] > 0).float()
    return float(np.mean([(pred[y == c] == c).float().mean() for c in (0.0, 1.0)]))


def probe_domains(weights: str, data: str = "osie,mit1003", paintings: str | None = None, batch_size: int = 16,
                  label: str | None = None, run: str | None = None) -> dict:
    """`label`: the model's name in the scanpath results; `run`: its training folder, whose held-out accuracy of
    the training-time domain classifier (val_domain_acc) at the exported (best-validation) epoch is copied in."""
    from models.nets.spgen import SPGEn
    from training.config import gaze_data_root
    from training.domain_adaptation import PaintingImages
    from training.scanpath_data import ScanpathTrainingSet
    net = SPGEn.from_pretrained(weights, strict=True).float().eval()
    encoder = net.trunk.encoder
    paintings = paintings or str(gaze_data_root() / "paintings")
    names = data.split(",")
    feats = {}
    for split in ("train", "val"):
        photos = ScanpathTrainingSet(names, split, net.input_size)
        art = PaintingImages(paintings, net.input_size, split)
        feats[split] = (pooled_features(encoder, DataLoader(photos, batch_size=batch_size)),
                        pooled_features(encoder, DataLoader(art, batch_size=batch_size)))
    x_train = torch.cat(feats["train"])
    y_train = torch.cat([torch.zeros(len(feats["train"][0])), torch.ones(len(feats["train"][1]))])
    x_val = torch.cat(feats["val"])
    y_val = torch.cat([torch.zeros(len(feats["val"][0])), torch.ones(len(feats["val"][1]))])
    probe = fit_probe(x_train, y_train)
    trained, by_epoch, batches = None, None, None
    if run:
        import json
        from pathlib import Path
        log = [json.loads(line) for line in (Path(run) / "log.jsonl").read_text().splitlines() if line.strip()]
        trained = next((r["val_domain_acc"] for r in reversed(log) if r.get("best") and "val_domain_acc" in r), None)
        by_epoch = [r["val_domain_acc"] for r in log if "val_domain_acc" in r]        # it oscillates: show it all
        batches = [r["train_domain_acc"] for r in log if "train_domain_acc" in r]    # on the training batches
    return {"task": "domain-probe", "label": label, "weights": weights, "training_classifier_accuracy": trained,
            "training_classifier_by_epoch": by_epoch, "training_batches_by_epoch": batches,
            "photos": data, "paintings": paintings,
            "n_train": [len(feats["train"][0]), len(feats["train"][1])],
            "n_val": [len(feats["val"][0]), len(feats["val"][1])],
            "train_balanced_accuracy": balanced_accuracy(probe, x_train, y_train),
            "heldout_balanced_accuracy": balanced_accuracy(probe, x_val, y_val)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", required=True, help="an SPGEn save_pretrained folder")
    parser.add_argument("--data", default="osie,mit1003")
    parser.add_argument("--paintings", help="default $GAZE_DATA/paintings")
    parser.add_argument("--label", help="the model's name in the scanpath results (for docs/results.md)")
    parser.add_argument("--run", help="its training run folder (reads the training-time classifier's accuracy)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    return run_and_report(lambda: probe_domains(args.weights, args.data, args.paintings, label=args.label,
                                                run=args.run), args.out)


if __name__ == "__main__":
    sys.exit(main())
