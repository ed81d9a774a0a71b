"""ONNX Runtime inference: same outputs as PyTorch, the fallbacks, and the switch that turns it off."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn as nn

from models import create_model, predict_saliency
from models.runtime import onnx as onnx_runtime
from models.runtime.onnx import RUNTIME_ENV, Accelerated, accelerate
from tests.conftest import draw_image


class TwoOutputs(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, stride=2, padding=1)

    def forward(self, x):
        y = torch.relu(self.conv(x))
        return y, y.mean(dim=(2, 3))


def test_small_module_matches_torch_and_other_shapes_fall_back():
    torch.manual_seed(0)
    module = TwoOutputs().eval()
    fast = accelerate(module, torch.rand(1, 3, 16, 20))
    assert fast.runtime == "onnxruntime"
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        expected = module(x)
    got = fast(x)
    assert isinstance(got, tuple) and len(got) == 2
    for a, b in zip(got, expected):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-5)
    other = torch.rand(1, 3, 10, 12)                    # not the exported shape: PyTorch answers
    with torch.no_grad():
        assert torch.equal(fast(other)[0], module(other)[0])


def test_switch_off_keeps_pytorch(monkeypatch):
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    fast = accelerate(TwoOutputs(), torch.rand(1, 3, 8, 8))
    assert fast.runtime == "torch" and fast.session is None


def test_failed_export_falls_back_with_a_warning(monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("no exporter here")
    monkeypatch.setattr(onnx_runtime, "export_onnx", broken)
    with caplog.at_level(logging.WARNING):
        fast = accelerate(TwoOutputs(), torch.rand(1, 3, 8, 8))
    assert fast.runtime == "torch"
    assert "stays on PyTorch" in caplog.text and "no exporter here" in caplog.text
    x = torch.rand(1, 3, 8, 8)
    assert fast(x)[0].shape == (1, 4, 4, 4)


def test_mismatching_runtime_output_falls_back(monkeypatch, caplog):
    """The load-time check catches an ONNX graph that computes something else."""
    real_export = onnx_runtime.export_onnx

    def export_other(module, example, n_outputs):
        return real_export(TwoOutputs().eval(), example, n_outputs)       # different random weights
    monkeypatch.setattr(onnx_runtime, "export_onnx", export_other)
    with caplog.at_level(logging.WARNING):
        fast = accelerate(TwoOutputs(), torch.rand(1, 3, 8, 8))
    assert fast.runtime == "torch"
    assert "differs from PyTorch" in caplog.text


def test_saliency_model_runs_on_onnx_and_matches_pytorch(monkeypatch):
    image, _ = draw_image(3, size=(320, 240))
    fast = create_model("effsal-lite0")
    assert fast.runtime == "onnxruntime"
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    eager = create_model("effsal-lite0")
    assert eager.runtime == "torch"
    a, b = predict_saliency(fast, image), predict_saliency(eager, image)
    assert a.shape == b.shape == image.shape[:2]
    assert np.abs(a - b).max() <= 1e-3 * b.max()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99999


@pytest.mark.parametrize("name", ["spgen", "sslart"])
def test_scanpath_models_sample_the_same_paths_on_both_runtimes(monkeypatch, name):
    from training.evaluate_scanpaths import draw_samples
    image, _ = draw_image(5, size=(320, 240))
    fast = create_model(name)
    assert fast.runtime == "onnxruntime"
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    eager = create_model(name)
    a = draw_samples(fast, image, 6, None, 7)
    b = draw_samples(eager, image, 6, None, 7)
    assert len(a) == len(b) == 6
    for p, q in zip(a, b):
        assert p.shape == q.shape
        assert np.abs(p[:, :2] - q[:, :2]).max() < 0.5                     # pixels
        assert np.allclose(p[:, 2], q[:, 2], rtol=1e-3)                      # ms


def test_panorama_streams_match_on_both_runtimes(monkeypatch):
    rng = np.random.default_rng(2)
    panorama = np.clip(rng.normal(110, 40, (256, 512, 3)), 0, 255).astype(np.uint8)
    fast = create_model("atsal")
    assert {name: r.runtime for name, r in fast._runners.items()} == dict.fromkeys(
        ("attention", "poles", "equator"), "onnxruntime")
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    eager = create_model("atsal")
    assert eager.runtime == "torch"
    a, b = fast.predict_streams(panorama), eager.predict_streams(panorama)
    for stream in ("attention", "poles", "equator", "fused"):
        assert np.abs(a[stream] - b[stream]).max() <= 1e-3 * b[stream].max(), stream


def test_exports_from_two_threads_at_once_both_succeed(caplog):
    """A server's start-up warm-up and its first request may load models at the same moment: the exporter's global
    state must not let one export break the other (it did: "GLOBALS.in_onnx_export must be True")."""
    import threading
    torch.manual_seed(0)
    modules = [nn.Sequential(*[nn.Conv2d(3, 3, 3, padding=1) for _ in range(12)]).eval() for _ in range(4)]
    results, start = {}, threading.Barrier(len(modules))

    def export(i):
        start.wait()
        results[i] = accelerate(modules[i], torch.rand(1, 3, 24, 32)).runtime

    with caplog.at_level(logging.WARNING):
        threads = [threading.Thread(target=export, args=(i,)) for i in range(len(modules))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert results == {i: "onnxruntime" for i in range(len(modules))}, caplog.text


def _graphs(folder) -> list:
    return sorted(folder.glob("*.onnx"))


def test_second_load_takes_the_cached_graph_without_exporting(monkeypatch, tmp_path):
    monkeypatch.setenv(onnx_runtime.CACHE_ENV, str(tmp_path))
    torch.manual_seed(0)
    module = TwoOutputs().eval()
    assert accelerate(module, torch.rand(1, 3, 16, 20)).runtime == "onnxruntime"
    assert len(_graphs(tmp_path)) == 1

    def no_export(*args, **kwargs):
        raise AssertionError("exported although the graph was cached")
    monkeypatch.setattr(onnx_runtime, "export_onnx", no_export)
    fast = accelerate(module, torch.rand(1, 3, 16, 20))
    assert fast.runtime == "onnxruntime"
    x = torch.rand(1, 3, 16, 20)
    with torch.no_grad():
        assert torch.allclose(fast(x)[0], module(x)[0], atol=1e-5)
    monkeypatch.undo()
    monkeypatch.setenv(onnx_runtime.CACHE_ENV, str(tmp_path))
    accelerate(TwoOutputs().eval(), torch.rand(1, 3, 16, 20))           # other weights: another graph
    accelerate(module, torch.rand(1, 3, 8, 8))                          # another shape: another graph
    assert len(_graphs(tmp_path)) == 3


def test_broken_or_stale_cached_graph_is_exported_again(monkeypatch, tmp_path):
    monkeypatch.setenv(onnx_runtime.CACHE_ENV, str(tmp_path))
    module, example = TwoOutputs().eval(), torch.rand(1, 3, 16, 20)
    accelerate(module, example)
    [graph] = _graphs(tmp_path)
    good = graph.read_bytes()
    graph.write_bytes(good[: len(good) // 2])                           # truncated
    assert accelerate(module, example).runtime == "onnxruntime"
    assert graph.read_bytes() == good
    graph.write_bytes(onnx_runtime.export_onnx(TwoOutputs().eval(), (example,), 2))   # right name, other weights
    fast = accelerate(module, example)
    assert fast.runtime == "onnxruntime"
    with torch.no_grad():
        assert torch.allclose(fast(example)[0], module(example)[0], atol=1e-5)
    assert graph.read_bytes() == good


def test_graph_failing_its_check_is_not_cached(monkeypatch, tmp_path):
    monkeypatch.setenv(onnx_runtime.CACHE_ENV, str(tmp_path))
    real_export = onnx_runtime.export_onnx
    monkeypatch.setattr(onnx_runtime, "export_onnx",
                        lambda module, example, n: real_export(TwoOutputs().eval(), example, n))
    assert accelerate(TwoOutputs(), torch.rand(1, 3, 8, 8)).runtime == "torch"
    assert _graphs(tmp_path) == []


@pytest.mark.parametrize("setting", ["off", "file"])
def test_no_cache_or_unwritable_cache_still_accelerates(monkeypatch, tmp_path, setting):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv(onnx_runtime.CACHE_ENV, "off" if setting == "off" else str(blocker / "onnx"))
    assert accelerate(TwoOutputs(), torch.rand(1, 3, 8, 8)).runtime == "onnxruntime"
    assert list(tmp_path.rglob("*.onnx")) == []


def test_graphs_unused_for_a_month_are_pruned_when_a_new_one_is_written(monkeypatch, tmp_path):
    import os
    import time
    monkeypatch.setenv(onnx_runtime.CACHE_ENV, str(tmp_path))
    module, example = TwoOutputs().eval(), torch.rand(1, 3, 8, 8)
    accelerate(module, example)
    [used] = _graphs(tmp_path)
    old, crashed = tmp_path / ("0" * 40 + ".onnx"), tmp_path / "x.onnx.1.2.partial"
    for path in (old, crashed):
        path.write_bytes(b"old")
    month_ago = time.time() - (onnx_runtime.CACHE_KEEP_DAYS + 1) * 86400
    for path in (used, old, crashed):
        os.utime(path, (month_ago, month_ago))
    accelerate(module, example)                          # a cache hit marks its graph as in use
    accelerate(TwoOutputs().eval(), example)             # a new graph: the pruning runs
    assert used in _graphs(tmp_path) and not old.exists() and not crashed.exists()
    assert len(_graphs(tmp_path)) == 2
