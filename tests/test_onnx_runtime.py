"""ONNX Runtime inference: same outputs as PyTorch, the fallbacks, and the switch that turns it off."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import torch
import torch.nn as nn

from models import create_model, predict_saliency
from models import onnx_runtime
from models.onnx_runtime import RUNTIME_ENV, Accelerated, accelerate, runtime_of
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
    assert runtime_of(fast) == "onnxruntime"
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    eager = create_model("effsal-lite0")
    assert runtime_of(eager) == "torch"
    a, b = predict_saliency(fast, image), predict_saliency(eager, image)
    assert a.shape == b.shape == image.shape[:2]
    assert np.abs(a - b).max() <= 1e-3 * b.max()
    assert np.corrcoef(a.ravel(), b.ravel())[0, 1] > 0.99999


@pytest.mark.parametrize("name", ["spgen", "sslart"])
def test_scanpath_models_sample_the_same_paths_on_both_runtimes(monkeypatch, name):
    from training.evaluate_scanpaths import draw_samples
    image, _ = draw_image(5, size=(320, 240))
    fast = create_model(name)
    assert runtime_of(fast) == "onnxruntime"
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    eager = create_model(name)
    a = draw_samples(fast, image, 6, None, 7)
    b = draw_samples(eager, image, 6, None, 7)
    assert len(a) == len(b) == 6
    for p, q in zip(a, b):
        assert p.shape == q.shape
        assert np.abs(p[:, :2] - q[:, :2]).max() < 0.5                     # pixels
        assert np.allclose(p[:, 2], q[:, 2], rtol=1e-3)                      # ms


def test_runtime_of_reads_every_accelerated_part():
    class Holder:
        pass
    holder = Holder()
    holder.a = Accelerated(nn.Identity())
    assert runtime_of(holder) == "torch"
    holder.b = Accelerated(nn.Identity(), session=object(), shapes=((1,),))
    assert runtime_of(holder) == "onnxruntime"


def test_panorama_streams_match_on_both_runtimes(monkeypatch):
    rng = np.random.default_rng(2)
    panorama = np.clip(rng.normal(110, 40, (256, 512, 3)), 0, 255).astype(np.uint8)
    fast = create_model("atsal")
    assert {name: r.runtime for name, r in fast.runners.items()} == dict.fromkeys(
        ("attention", "poles", "equator"), "onnxruntime")
    monkeypatch.setenv(RUNTIME_ENV, "torch")
    eager = create_model("atsal")
    assert runtime_of(eager) == "torch"
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
