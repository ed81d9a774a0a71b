"""WiSE-FT weight blending (training/interpolate_weights.py)."""
from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from training.interpolate_weights import interpolate, main


def _folder(path, weight: float, arch=None):
    path.mkdir()
    save_file({"w": torch.full((2, 3), weight, dtype=torch.float16),
               "bn.num_batches_tracked": torch.tensor(7 if weight else 3)}, str(path / "model.safetensors"))
    (path / "config.json").write_text(json.dumps({"arch": arch or {"encoder": "lite0"}}))
    return path


def test_blend_is_the_weighted_mean_and_keeps_the_base_config(tmp_path):
    base, tuned = _folder(tmp_path / "base", 0.0), _folder(tmp_path / "tuned", 1.0)
    interpolate(base, tuned, 0.25, tmp_path / "out")
    blended = load_file(str(tmp_path / "out" / "model.safetensors"))
    assert blended["w"].dtype == torch.float16 and torch.allclose(blended["w"].float(), torch.full((2, 3), 0.25))
    assert int(blended["bn.num_batches_tracked"]) == 3                       # counters: the base's
    assert json.loads((tmp_path / "out" / "config.json").read_text()) == {"arch": {"encoder": "lite0"}}
    assert json.loads((tmp_path / "out" / "interpolation.json").read_text())["t"] == 0.25
    interpolate(base, tuned, 1.0, tmp_path / "all")
    assert torch.equal(load_file(str(tmp_path / "all" / "model.safetensors"))["w"], torch.ones(2, 3, dtype=torch.float16))


def test_bad_blends_get_clear_messages(tmp_path, capsys):
    base, tuned = _folder(tmp_path / "base", 0.0), _folder(tmp_path / "tuned", 1.0, arch={"encoder": "lite2"})
    with pytest.raises(ValueError, match="different architectures"):
        interpolate(base, tuned, 0.5, tmp_path / "out")
    with pytest.raises(ValueError, match="between 0"):
        interpolate(base, base, 1.5, tmp_path / "out")
    assert main(["--base", str(base), "--tuned", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "not a weights folder" in capsys.readouterr().err
