"""The training loop end to end on a synthetic dataset: one short epoch, resume, export, reload from safetensors."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

from models import create_model
from models.weights import ASSETS
from models.runtime.saliency import NetworkSaliencyModel as TorchSaliencyModel
from training import train_saliency


def test_one_epoch_resume_and_export(tiny_dataset, tmp_path, synthetic_image):
    torch.set_num_threads(1)
    run, export = tmp_path / "run", tmp_path / "export"
    args = ["--model", "effsal-lite0", "--data", str(tiny_dataset), "--out", str(run), "--epochs", "1",
            "--batch_size", "2", "--warmup_steps", "1", "--export", str(export)]
    train_saliency.main(args)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and np.isfinite(log[0]["val_loss"])
    assert json.loads((run / "config.json").read_text())["model"] == "effsal-lite0"
    train_saliency.main(args[:-2] + ["--epochs", "2", "--resume"])            # continues at epoch 2
    assert len((run / "log.jsonl").read_text().splitlines()) == 2
    assert (export / "model.safetensors").is_file() and (export / "config.json").is_file()
    model = create_model("effsal-lite0", weights=str(export))
    assert isinstance(model, TorchSaliencyModel)
    density = model.predict(synthetic_image)
    assert density.shape == synthetic_image.shape[:2] and np.isclose(density.sum(), 1.0)


def test_salnet_is_240_by_320_in_and_out():
    from models.nets.salnet import SalNet
    net = SalNet()
    out = net(torch.rand(1, 3, 240, 320))
    assert out.shape == (1, 240, 320)
    assert torch.isclose(out.exp().sum(), torch.tensor(1.0), atol=1e-4)


def test_torchrun_ddp_two_processes_on_gloo(tiny_dataset, tmp_path):
    """DDP with the gloo backend and 2 CPU processes; patience 0 makes rank 0 stop after epoch 1, and the other
    rank must stop with it (a hang here fails by timeout)."""
    import os
    import subprocess
    import sys
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train_saliency", "--model", "effsal-lite0", "--data", str(tiny_dataset),
           "--out", str(run), "--epochs", "3", "--batch_size", "2", "--warmup_steps", "1", "--patience", "0",
           "--threads", "1", "--backend", "gloo"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((run / "config.json").read_text())
    assert config["world_size"] == 2 and config["command"].startswith("python -m training.train_saliency")
    assert len((run / "log.jsonl").read_text().splitlines()) == 1
    assert "early stop" in done.stdout


def test_euclidean_loss_is_zero_only_for_the_target_map():
    from types import SimpleNamespace
    cfg = SimpleNamespace(loss="euclidean")
    yy, xx = torch.meshgrid(torch.arange(30.0), torch.arange(40.0), indexing="ij")
    target = torch.exp(-((xx - 25) ** 2 + (yy - 10) ** 2) / 50)[None]                  # (1, 30, 40)
    fix = torch.zeros_like(target)
    fix[0, 10, 25] = 1
    exact = (target / target.sum()).log()
    flat = torch.full_like(target, -torch.log(torch.tensor(1200.0)))
    loss_exact, _ = train_saliency.compute_loss(None, exact, target, fix, cfg)
    loss_flat, _ = train_saliency.compute_loss(None, flat, target, fix, cfg)
    assert float(loss_exact) < 1e-8 < float(loss_flat)


@pytest.fixture
def blue_and_red_paintings(tmp_path, monkeypatch):
    """20 synthetic paintings: the held-out ones (every 10th by name) red, the training ones blue."""
    from tests.conftest import draw_image
    from training import painterly
    folder = tmp_path / "paintings" / "images"
    folder.mkdir(parents=True)
    for i in range(20):
        tint = np.array([1.6, 0.5, 0.4]) if i % 10 == 0 else np.array([0.4, 0.6, 1.6])
        base = draw_image(100 + i, (64, 48))[0].astype(np.float32)
        Image.fromarray(np.clip(base * tint, 0, 255).astype(np.uint8)).save(folder / f"p{i:02d}.png")
    monkeypatch.setattr(painterly, "PAINTINGS_FOLDER", str(folder.parent))      # colour-match, for --style_val
    monkeypatch.setenv("PAINTERLY_CACHE", str(tmp_path / "painterly-cache"))
    painterly._painting_quantiles.cache_clear()
    yield folder.parent
    painterly._painting_quantiles.cache_clear()


def test_painting_look_takes_colours_from_training_paintings_only(blue_and_red_paintings, synthetic_image):
    from training.saliency_data import PaintingLook, SaliencyTrainingSet
    look = PaintingLook(blue_and_red_paintings)
    assert len(look.stats) == 18                                  # the 2 held-out paintings are not used
    assert all(mean[2] < -10 for mean, _ in look.stats)           # Lab b* of the blue training paintings
    rng = np.random.default_rng(0)
    painted = [look(synthetic_image, rng) for _ in range(20)]
    assert all(p.shape == synthetic_image.shape and p.dtype == np.uint8 for p in painted)
    blue_minus_red = [float(p[..., 2].mean()) - float(p[..., 0].mean()) for p in painted]
    before = float(synthetic_image[..., 2].mean()) - float(synthetic_image[..., 0].mean())
    assert np.median(blue_minus_red) > before + 10
    with pytest.raises(ValueError, match="PaintingLook"):
        SaliencyTrainingSet(["osie"], "train", (96, 128), style_p=0.5)


def test_init_style_augmentation_and_painterly_val(tiny_dataset, blue_and_red_paintings, tmp_path):
    """--init starts from the bundled weights (lr 0 keeps them), --style_p paints, --style_val scores both."""
    from safetensors.torch import load_file
    torch.set_num_threads(1)
    run, export = tmp_path / "run", tmp_path / "export"
    bundled_folder = ASSETS / "effsal-lite0"
    train_saliency.main(["--init", str(bundled_folder), "--data", str(tiny_dataset), "--out", str(run),
                         "--epochs", "1", "--batch_size", "2", "--warmup_steps", "1", "--lr", "0",
                         "--encoder_lr", "0", "--weight_decay", "0", "--style_p", "1", "--paintings",
                         str(blue_and_red_paintings), "--style_val", "--export", str(export)])
    log = json.loads((run / "log.jsonl").read_text().splitlines()[0])
    assert np.isfinite([log["val_photo_nss"], log["val_painterly_nss"]]).all()
    assert np.isclose(log["val_loss"], (log["val_photo_loss"] + log["val_painterly_loss"]) / 2)
    bundled = load_file(bundled_folder / "model.safetensors")
    exported = load_file(export / "model.safetensors")
    weights = [k for k in bundled if k.endswith(".weight") and bundled[k].dim() == 4]     # conv kernels
    assert weights and all(torch.equal(bundled[k], exported[k]) for k in weights)
