"""The training loop end to end on a synthetic dataset: one short epoch, resume, export, reload from safetensors."""
import json

import numpy as np
import torch

from models.trainable import TorchSaliencyModel, load_trainable
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
    model = load_trainable("effsal-lite0", str(export))
    assert isinstance(model, TorchSaliencyModel)
    density = model.predict(synthetic_image)
    assert density.shape == synthetic_image.shape[:2] and np.isclose(density.sum(), 1.0)


def test_salnet_is_240_by_320_in_and_out():
    from models.salnet import SalNet
    net = SalNet()
    out = net(torch.rand(1, 3, 240, 320))
    assert out.shape == (1, 240, 320)
    assert torch.isclose(out.exp().sum(), torch.tensor(1.0), atol=1e-4)
