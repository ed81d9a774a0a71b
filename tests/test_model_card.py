"""The model card and manifest entry are generated from the run's files and the evaluation results."""
import json

import torch

from training import model_card, train_saliency


def test_card_names_command_seed_and_test_metrics(tiny_dataset, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    weights, results, run = tmp_path / "weights", tmp_path / "results", tmp_path / "run"
    train_saliency.main(["--model", "effsal-lite0", "--data", str(tiny_dataset), "--out", str(run), "--epochs", "1",
                         "--batch_size", "2", "--warmup_steps", "1", "--seed", "7",
                         "--export", str(weights / "effsal-lite0")])
    results.mkdir()
    for data in model_card.DATASETS:
        for protocol in model_card.PROTOCOLS:
            for i, name in enumerate(("effsal-lite0", "centerbias")):
                metrics = {key: 0.1 * (j + 1) + 0.01 * i for j, (key, _) in enumerate(model_card.COLUMNS)}
                (results / f"{data}-test-{protocol}-{name}.json").write_text(json.dumps(
                    {"model": name, "dataset": data, "protocol": protocol, "n_images": 3, "metrics": metrics}))
    monkeypatch.setattr(model_card, "WEIGHTS", weights)
    monkeypatch.setattr(model_card, "RESULTS", results)
    monkeypatch.setattr(model_card, "MANIFEST", weights / "manifest.json")
    monkeypatch.setattr(model_card, "load_dataset", lambda name, split: type("D", (), {"images": [1, 2]})())
    card = model_card.write_card("effsal-lite0", run).read_text()
    assert f"python -m training.train_saliency --model effsal-lite0 --data {tiny_dataset}" in card
    assert "Seed 7" in card
    rows = [line for line in card.splitlines() if line.startswith("| mit1003 (3 images) | **effsal-lite0** |")]
    assert len(rows) == 2, "one row per protocol"
    assert rows[0].endswith("| 0.100 | 0.200 | 0.300 | 0.400 | 0.500 | 0.600 | 0.700 |")
    assert "| mit1003 (3 images) | centerbias | 0.110 |" in card
    manifest = json.loads((weights / "manifest.json").read_text())
    assert manifest["effsal-lite0"]["sha256"] == model_card.sha256_of(weights / "effsal-lite0" / "model.safetensors")
