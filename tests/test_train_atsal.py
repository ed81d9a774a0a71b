"""ATSal training (training/train_atsal.py) and panorama evaluation (training/evaluate_panorama.py) end to end on
the conftest tiny dataset and backgrounds drawn here: tiny input sizes, one short epoch, export, reload from
safetensors, resume, stages, and an evaluation JSON with every stream."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from models.nets.atsal import ATSal
from models.nets.effsal import EffSal
from models.runtime.panorama import ATSalPanoramaModel
from tests.conftest import write_dataset
from training import evaluate_panorama, train_atsal

TINY = ["--input_height", "64", "--input_width", "128", "--face_size", "32", "--render_height", "64",
        "--length", "4", "--val_length", "2", "--batch_size", "2", "--warmup_steps", "1", "--threads", "1"]
STREAMS = {"attention", "prior", "poles", "equator", "experts", "fused", "equator-bias"}


def write_backgrounds(folder, n: int = 4):
    """n small 2:1 ERP PNGs. Every 4th file is held out, so 4 give 3 train and 1 val/test background."""
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray((rng.random((32, 64, 3)) * 120).astype(np.uint8)).save(folder / f"bg{i}.png")
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One epoch of --stage all from a tiny EffSal (--init_experts) with export: (paths, args)."""
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("atsal")
    data, backgrounds = write_dataset(root / "tiny"), write_backgrounds(root / "backgrounds")
    torch.manual_seed(0)
    effsal = root / "effsal"
    EffSal({"decoder_channels": 16, "n_priors": 4}).half().save_pretrained(effsal)   # fp16 like --export
    run, export = root / "run", root / "export"
    args = ["--data", str(data), "--backgrounds", str(backgrounds), "--out", str(run), "--epochs", "1",
            "--init_experts", str(effsal), *TINY]
    train_atsal.main(args + ["--export", str(export)])
    return {"root": root, "data": data, "backgrounds": backgrounds, "run": run, "export": export,
            "effsal": effsal}, args


def test_one_epoch_export_reload_and_resume(trained, capsys):
    paths, args = trained
    run = paths["run"]
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert len(log) == 1 and log[0]["best"] and np.isfinite(log[0]["val_loss"])
    assert {"val_attention", "val_poles", "val_equator", "seconds_per_step"} <= set(log[0])
    config = json.loads((run / "config.json").read_text())
    assert config["stage"] == "all" and config["command"].startswith("python -m training.train_atsal")

    export = paths["export"]
    assert (export / "model.safetensors").is_file() and (export / "config.json").is_file()
    model = ATSal.from_pretrained(str(export), strict=True).float()
    arch = model.config_dict()
    assert arch["attention"]["input_height"] == 64 and arch["expert"]["face_size"] == 32
    assert arch["expert"]["decoder_channels"] == 16 and arch["expert"]["n_priors"] == 4   # from --init_experts
    equi = (np.random.default_rng(1).random((64, 128, 3)) * 255).astype(np.uint8)
    maps = ATSalPanoramaModel(model, onnx=False).predict_streams(equi)
    for key in ("attention", "poles", "equator", "experts", "fused"):
        assert maps[key].shape == (64, 128) and maps[key].sum() == pytest.approx(1.0), key

    capsys.readouterr()
    train_atsal.main(args + ["--epochs", "2", "--resume"])                 # continues at epoch 2
    assert "resumed from" in capsys.readouterr().out
    assert [json.loads(line)["epoch"] for line in (run / "log.jsonl").read_text().splitlines()] == [1, 2]


def test_experts_start_from_the_effsal_weights(trained):
    paths, _ = trained
    cfg = train_atsal.parse_args(["--init_experts", str(paths["effsal"]), *TINY])
    model = train_atsal.build_model(cfg)
    reference = EffSal.from_pretrained(str(paths["effsal"])).float().state_dict()
    for expert in (model.poles, model.equator):
        for key, value in expert.net.state_dict().items():
            assert torch.equal(value, reference[key]), key


def test_experts_can_carry_over_to_a_larger_face_size(trained):
    paths, _ = trained
    cfg = train_atsal.parse_args(["--init_from", str(paths["export"]), "--expert_face_size", "64", *TINY])
    model = train_atsal.build_model(cfg)
    source = ATSal.from_pretrained(str(paths["export"]))
    assert model.poles.face_size == 64 and source.poles.face_size == 32
    for key, value in source.equator.state_dict().items():
        assert torch.equal(model.equator.state_dict()[key], value.float()), key


def test_experts_stage_keeps_the_attention_stream(trained):
    """--stage experts from the stage-all run: only the experts change; the run's best.pt keeps the stage."""
    paths, _ = trained
    run = paths["root"] / "experts"
    start = torch.load(paths["run"] / "best.pt", map_location="cpu", weights_only=True)["model"]
    train_atsal.main(["--data", str(paths["data"]), "--backgrounds", str(paths["backgrounds"]), "--out", str(run),
                      "--epochs", "1", "--stage", "experts", "--init_from", str(paths["run"] / "best.pt"), *TINY])
    best = torch.load(run / "best.pt", map_location="cpu", weights_only=True)
    assert best["stage"] == "experts"
    for key, value in best["model"].items():
        same = torch.equal(value, start[key])
        if key.startswith("attention.") or key.startswith("ema_"):
            assert same, key
    assert any(not torch.equal(v, start[k]) for k, v in best["model"].items() if k.startswith("equator.net.head"))
    log = json.loads((run / "log.jsonl").read_text())
    assert "val_attention" not in log and np.isfinite(log["val_equator"])


def test_too_few_backgrounds_is_a_clear_error(tmp_path):
    folder = write_backgrounds(tmp_path / "two", n=2)
    with pytest.raises(SystemExit, match="at least 4"):
        train_atsal.resolve_backgrounds(str(folder), "val", (32, 64))


def test_evaluate_panorama_writes_every_stream(trained, tmp_path):
    paths, _ = trained
    out = tmp_path / "results" / "panorama" / "atsal.json"
    rc = evaluate_panorama.main(["--model", "atsal", "--weights", str(paths["export"]), "--data", str(paths["data"]),
                                 "--n", "2", "--size", "64", "--backgrounds", str(paths["backgrounds"]),
                                 "--out", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    assert result["task"] == "panorama" and result["model"] == "atsal" and result["n_panoramas"] == 2
    assert "protocol" not in result and "samples" not in result           # make_results must not pick it up
    assert set(result["streams"]) == STREAMS
    for stream, metrics in result["streams"].items():
        assert set(metrics) == {"cc", "kld", "sim", "nss", "auc_judd"}, stream
        assert all(np.isfinite(v) for v in metrics.values()), stream

    baseline = tmp_path / "results" / "panorama" / "equator-bias.json"
    assert evaluate_panorama.main(["--model", "equator-bias", "--data", str(paths["data"]), "--n", "2",
                                   "--size", "64", "--backgrounds", str(paths["backgrounds"]),
                                   "--out", str(baseline)]) == 0
    assert set(json.loads(baseline.read_text())["streams"]) == {"equator-bias"}
    lines = evaluate_panorama.panorama_table(tmp_path / "results")
    rows = [line for line in lines if line.startswith("| atsal") or line.startswith("| equator-bias")]
    assert len(rows) == 7 and sum(r.startswith("| equator-bias") for r in rows) == 1
    assert any("fused" in r for r in rows)


def test_evaluate_panorama_bad_input_exits_2(trained, tmp_path, capsys):
    paths, _ = trained
    assert evaluate_panorama.main(["--model", "atsal", "--weights", str(tmp_path), "--data", str(paths["data"]),
                                   "--n", "1", "--size", "64"]) == 2
    assert "model.safetensors" in capsys.readouterr().err


def test_torchrun_ddp_two_processes_on_gloo(trained):
    """DDP with gloo and 2 CPU processes (the loss module is what DDP wraps); patience 0 stops rank 0 after
    epoch 1 and the other rank must stop with it (a hang here fails by timeout)."""
    import os
    import subprocess
    import sys
    paths, _ = trained
    run = paths["root"] / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "training.train_atsal", "--data", str(paths["data"]), "--backgrounds", str(paths["backgrounds"]),
           "--out", str(run), "--epochs", "3", "--patience", "0", "--backend", "gloo", *TINY]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads((run / "config.json").read_text())["world_size"] == 2
    assert len((run / "log.jsonl").read_text().splitlines()) == 1
    assert "early stop" in done.stdout


def test_latitude_check_reports_every_layout_and_stream(tiny_dataset):
    from training.config import gaze_data_root
    if len(list((gaze_data_root() / "panoramas").glob("*.jpg"))) < 4:
        pytest.skip("needs the example panoramas in $GAZE_DATA/panoramas")
    result = evaluate_panorama.latitude_check(None, data=str(tiny_dataset), n=2, size=64, progress=False)
    assert set(result["ground_truth"]) == {"horizon", "scattered"} and result["reference"]["tv"] == 0
    assert {"fused", "attention", "prior", "experts"} <= set(result["examples"])
    for summary in result["examples"].values():
        assert 0 <= summary["tv"] <= 1 and len(summary["marginal"]) == 18
        assert summary["seam_min"] <= summary["seam_max"]
