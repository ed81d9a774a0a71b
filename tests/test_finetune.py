"""training.finetune on a small drawn study: k-fold before/after table, an exported folder the registry loads,
resuming, and clear messages for study folders it cannot use."""
import csv
import json
import re

import numpy as np
import pytest

from models import create_model, list_models, predict_saliency
from tests.conftest import draw_image, write_dataset
from training import finetune


def run(study, out, *extra):
    return finetune.main(["--data", str(study), "--out", str(out), "--folds", "3", "--epochs", "1",
                          "--threads", "2", "--device", "cpu", *extra])


@pytest.mark.slow
def test_finetune_writes_the_table_and_a_loadable_folder_and_resumes(tmp_path, monkeypatch):
    study = write_dataset(tmp_path / "study", n_images=6)
    out = tmp_path / "run"
    assert run(study, out, "--name", "effsal-lite0-study") == 0

    summary = json.loads((out / "finetune.json").read_text())
    assert summary["n_images"] == 6 and summary["mode"] == "light" and summary["final_epochs"] == 1
    held_out = [i for fold in summary["per_fold"] for i in fold["test"]]
    assert sorted(held_out) == sorted(f"img{i:02d}.png" for i in range(6))     # each image tested once
    with open(out / "before_after.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["fold"] for r in rows] == ["1", "2", "3", "all"]
    for r in rows:
        assert all(np.isfinite(float(r[f"{m}_{w}"])) for m in finetune.METRICS for w in ("before", "after"))
    assert "before → after" in (out / "before_after.md").read_text()

    folder = out / "effsal-lite0-study"
    config = json.loads((folder / "config.json").read_text())
    assert config["base_model"] == "effsal-lite0"
    image = draw_image(3)[0]
    tuned = predict_saliency(create_model("effsal-lite0", weights=str(folder)), image)
    assert tuned.shape == image.shape[:2] and np.isclose(tuned.sum(), 1.0)
    assert not np.allclose(tuned, predict_saliency(create_model("effsal-lite0"), image))   # it did learn

    monkeypatch.setenv("EXTRA_WEIGHTS", str(out))           # the run folder holds the exported one
    assert "effsal-lite0-study" in list_models("saliency")
    assert np.allclose(predict_saliency(create_model("effsal-lite0-study"), image), tuned)

    fold_results = [out / f"fold-{k}" / "result.json" for k in range(3)]
    stamps = [p.stat().st_mtime_ns for p in fold_results]
    assert run(study, out, "--name", "effsal-lite0-study", "--resume") == 0
    assert [p.stat().st_mtime_ns for p in fold_results] == stamps            # finished folds are not redone
    assert json.loads((out / "finetune.json").read_text())["cross_validation"] == summary["cross_validation"]


def test_missing_images_are_named(tmp_path, capsys):
    study = write_dataset(tmp_path / "study", n_images=6)
    (study / "images" / "img02.png").unlink()
    assert run(study, tmp_path / "run") == 2
    assert "missing from images/" in capsys.readouterr().err


@pytest.mark.parametrize("bad_line, message", [
    ("img00.png,s9,0,not-a-number,5,100", r"fixations.csv:\d+: index, x, y, duration_ms must be numbers"),
    ("img00.png,s9,0,5", r"fixations.csv:\d+: expected 6 fields"),
    ("img00.png,s9,0,9999,5,100", r"outside the 160×120 image"),
])
def test_csv_errors_give_the_line(tmp_path, capsys, bad_line, message):
    study = write_dataset(tmp_path / "study", n_images=6)
    with open(study / "fixations.csv", "a") as f:
        f.write(bad_line + "\n")
    assert run(study, tmp_path / "run") == 2
    assert re.search(message, capsys.readouterr().err)


def test_a_wrong_header_is_reported(tmp_path, capsys):
    study = write_dataset(tmp_path / "study", n_images=6)
    text = (study / "fixations.csv").read_text().replace("duration_ms", "ms", 1)
    (study / "fixations.csv").write_text(text)
    assert run(study, tmp_path / "run") == 2
    assert "header must be image,subject,index,x,y,duration_ms" in capsys.readouterr().err


def test_too_few_images_for_the_folds(tmp_path, capsys):
    study = write_dataset(tmp_path / "study", n_images=6)
    assert finetune.main(["--data", str(study), "--out", str(tmp_path / "run"), "--folds", "8"]) == 2
    assert "6 image(s) with fixations, fewer than --folds 8" in capsys.readouterr().err
    assert finetune.main(["--data", str(study), "--out", str(tmp_path / "run"), "--folds", "2"]) == 2
    assert "at least 3" in capsys.readouterr().err
    assert finetune.main(["--data", str(study), "--out", str(tmp_path / "run"), "--norm_mix", "1.5"]) == 2
    assert "--norm_mix 1.5: give a share between 0" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()                     # refused before anything is written


def test_missing_folder_and_scanpath_models_are_refused(tmp_path, capsys):
    assert finetune.main(["--data", str(tmp_path / "nowhere"), "--out", str(tmp_path / "run")]) == 2
    assert "not found" in capsys.readouterr().err
    assert finetune.main(["--out", str(tmp_path / "run")]) == 2
    assert "--data is required" in capsys.readouterr().err
    study = write_dataset(tmp_path / "study", n_images=6)
    assert finetune.main(["--data", str(study), "--model", "spgen", "--out", str(tmp_path / "run")]) == 2
    assert "scanpath model" in capsys.readouterr().err


def test_the_docs_table_computes_the_targets_from_the_results(tmp_path):
    from training import make_finetune_table
    row = {"fold": "all", "n_test": 4, "best_epoch": "",
           **{f"{m}_{w}": 1.0 for m in finetune.METRICS for w in ("before", "after")}}
    cv = {"name": "tuned", "model": "base", "style": "oil", "study": "/data/gaze/osie", "split": "val",
          "n_images": 4, "mode": "light", "folds": 3, "final_epochs": 2, "command": "python -m training.finetune",
          "cross_validation": [row]}
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "finetune.json").write_text(json.dumps(cv))

    def write(folder, model, style, nss):
        result = {"model": model, "dataset": "osie", "split": "test", "protocol": "mit",
                  "metrics": {"nss": nss, "cc": 0.5, "auc_judd": 0.8, "kld": 1.0}}
        if style:
            result["style"] = style
        (folder / f"{model}-{style}.json").write_text(json.dumps(result))
        return folder / f"{model}-{style}.json"
    write(tmp_path, "base", None, 3.0)
    write(tmp_path, "base", "oil", 2.0)
    tests = [write(tmp_path / "run", "tuned", "oil", 2.6), write(tmp_path / "run", "tuned", None, 2.98)]
    record = ["--results", str(tmp_path), "--record", str(tmp_path / "run" / "finetune.json")]
    assert make_finetune_table.main(record + [str(p) for p in tests]) == 0
    text = make_finetune_table.render(tmp_path)
    assert "60% of the drop recovered — meets" in text
    assert "NSS 3.000 → 2.980 (-0.020) — misses the bundling bar" in text
    assert make_finetune_table.main(record + [str(tmp_path / "base-oil.json")]) == 2      # not the tuned model
    (tmp_path / "finetune" / "cv-tuned.json").unlink()
    assert make_finetune_table.main(["--results", str(tmp_path), "--out", str(tmp_path / "x.md")]) == 2


def test_norm_mix_moves_batchnorm_statistics_part_way_and_full_mode_trains_the_stem(tmp_path):
    import torch
    from types import SimpleNamespace
    study_dir = write_dataset(tmp_path / "study", n_images=4)
    cfg = SimpleNamespace(model="effsal-lite0", init="", lr=1e-3, encoder_lr=1e-4)
    network, _ = finetune.load_start(cfg)
    ds = finetune.load_painterly(str(study_dir), finetune.ALL, None)
    study = finetune.Study(ds, network.input_size, network.output_stride)
    bn = network.encoder._bn0
    trained = bn.running_mean.clone()
    finetune.mix_norm_statistics(network, study, ds.images, 0.0, torch.device("cpu"))
    assert torch.equal(bn.running_mean, trained)                                # 0: as trained
    finetune.mix_norm_statistics(network, study, ds.images, 0.5, torch.device("cpu"))
    half = bn.running_mean.clone()
    network2, _ = finetune.load_start(cfg)
    finetune.mix_norm_statistics(network2, study, ds.images, 1.0, torch.device("cpu"))
    own = network2.encoder._bn0.running_mean
    assert torch.allclose(half, 0.5 * trained + 0.5 * own, atol=1e-5) and not torch.allclose(own, trained)
    assert not network.training and bn.momentum == network2.encoder._bn0.momentum    # left as it was

    finetune.set_trainable(network, "full", cfg)
    assert all(p.requires_grad for p in network.parameters())
    finetune.set_trainable(network, "deep", cfg)
    assert not network.encoder._conv_stem.weight.requires_grad
