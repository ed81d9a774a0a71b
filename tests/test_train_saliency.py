"""The training loop end to end on a synthetic dataset: one short epoch, resume, export, reload from safetensors."""
import json

import numpy as np
import torch

from models import create_model
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
