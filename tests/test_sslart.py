"""SSLArtScanpath (models/sslart.py), its style views (training/style_views.py), the Barlow Twins loss
(training/pretrain_barlow.py), the decoder training (training/train_sslart.py) and the shared scanpath
regression loss. Tiny networks and images: each test takes about a second."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from models.nets.sslart import SSLArt, positional_encoding
from models.runtime.scanpath import SSLArtScanpathModel
from training.losses import closest_subject_l1
from training.pretrain_barlow import barlow_twins_loss
from training.run_setup import parse_defaults
from training.style_views import StyleViews, lab_statistics, transfer_colour

ARCH = {"input_height": 64, "input_width": 96, "n_priors": 4, "channels": 16, "n_fixations": 5}


@pytest.fixture(scope="module")
def net() -> SSLArt:
    torch.manual_seed(0)
    return SSLArt(ARCH).eval()


def test_fixed_length_outputs_in_range(net):
    out = net(torch.rand(2, 3, 64, 96))
    assert out["xy"].shape == (2, 5, 2) and out["xy"].min() >= 0 and out["xy"].max() <= 1
    assert out["log_duration"].shape == (2, 5)
    assert net.encode(torch.rand(1, 3, 64, 96)).shape[-2:] == (2, 3)      # stride 32


def test_temperature_zero_deterministic_seeded_noise_moves(net):
    x = torch.rand(1, 3, 64, 96)
    assert torch.equal(net(x)["xy"], net(x)["xy"])
    a = net(x, 0.5, torch.Generator().manual_seed(3))["xy"]
    b = net(x, 0.5, torch.Generator().manual_seed(3))["xy"]
    assert torch.equal(a, b) and not torch.allclose(a, net(x)["xy"])
    with pytest.raises(ValueError, match="temperature"):
        net(x, -0.1)


def test_positional_encoding_tells_every_position_apart():
    pe = positional_encoding(16, 4, 5)
    assert pe.shape == (16, 20)
    distances = torch.cdist(pe.T, pe.T) + torch.eye(20) * 1e3
    assert distances.min() > 0.05


def test_sampler_api_pixels_seed_and_length(net):
    model = SSLArtScanpathModel(net)
    img = (np.random.default_rng(0).random((120, 200, 3)) * 255).astype(np.uint8)
    a = model.sample_batch(img, 4, temperature=0.4, seed=7)
    b = model.sample_batch(img, 4, temperature=0.4, seed=7)
    assert len(a) == 4 and all(p.shape == (5, 3) for p in a)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.allclose(a[0], a[1])                                      # samples differ from each other
    assert a[0][:, 0].max() < 200 and a[0][:, 1].max() < 120 and (a[0][:, 2] > 0).all()
    assert model.sample(img, n_fixations=3, temperature=0.0).shape == (3, 3)


def test_batchnorm_folding_keeps_the_outputs(net):
    torch.manual_seed(1)
    fresh = SSLArt(ARCH)
    for m in fresh.modules():                                            # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.rand(1, 3, 64, 96)
    expected = fresh.eval()(x)["xy"]
    folded = SSLArtScanpathModel(fresh).network(x)["xy"]
    assert torch.allclose(expected, folded, atol=1e-4)


def test_closest_subject_target_and_the_random_ablation():
    paths = torch.zeros(1, 2, 3, 3)
    paths[0, 0, :, :2], paths[0, 1, :, :2] = 0.2, 0.8
    mask = torch.ones(1, 2, 3, dtype=torch.bool)
    xy = torch.full((1, 3, 2), 0.8)
    closest, _ = closest_subject_l1(xy, torch.zeros(1, 3), paths, mask)
    assert float(closest) == pytest.approx(0.0, abs=1e-6)
    torch.manual_seed(0)
    drawn = {round(float(closest_subject_l1(xy, torch.zeros(1, 3), paths, mask, "random")[0]), 4) for _ in range(40)}
    assert drawn == {0.0, 1.2}                                             # either subject, |0.8 − 0.2| · 2
    mask[0, 1] = False                                                     # an absent subject is never drawn
    assert all(float(closest_subject_l1(xy, torch.zeros(1, 3), paths, mask, "random")[0]) == pytest.approx(1.2)
               for _ in range(10))
    with pytest.raises(ValueError):
        closest_subject_l1(xy, torch.zeros(1, 3), paths, mask, "mean")


def test_barlow_twins_loss_is_zero_for_identical_decorrelated_views_and_large_otherwise():
    torch.manual_seed(0)
    z = torch.linalg.qr(torch.randn(256, 16))[0] * 16                       # orthogonal columns
    assert float(barlow_twins_loss(z, z)) < 0.1
    independent = float(barlow_twins_loss(z, torch.randn(256, 16)))
    assert independent > 10                                                # the diagonal is far from 1
    assert float(barlow_twins_loss(z, 3 * z + 1)) < 0.1                    # per-dimension normalisation


def test_colour_transfer_takes_the_other_paintings_statistics():
    rng = np.random.default_rng(0)
    warm = np.clip(rng.normal([200, 120, 60], 20, (64, 64, 3)), 0, 255).astype(np.uint8)
    cold = np.clip(rng.normal([40, 80, 170], 30, (64, 64, 3)), 0, 255).astype(np.uint8)
    moved = transfer_colour(warm, *lab_statistics(cold))
    mean_moved, std_moved = lab_statistics(moved)
    mean_cold, std_cold = lab_statistics(cold)
    mean_warm, _ = lab_statistics(warm)
    # near the target (RGB gamut clipping moves it a little), far from where it started
    assert np.abs(mean_moved - mean_cold).max() < 5 < np.abs(mean_warm - mean_cold).max() / 5
    assert np.allclose(std_moved, std_cold, rtol=0.25)
    unchanged = transfer_colour(warm, *lab_statistics(cold), strength=0.0)
    assert np.abs(unchanged.astype(int) - warm).max() <= 1                 # only Lab round-trip rounding


def test_style_views_keep_layout_but_change_appearance():
    paintings = []
    for k in range(4):
        img = np.full((120, 160, 3), 40 * k + 30, np.uint8)
        cv2.circle(img, (40 + 20 * k, 60), 25, (250, 30, 30), -1)
        paintings.append(img)
    views = StyleViews(paintings, size=48, seed=0)
    a, b = views.pair(0, np.random.default_rng(1))
    assert a.shape == b.shape == (3, 48, 48) and 0 <= float(a.min()) and float(a.max()) <= 1
    assert not torch.allclose(a, b)
    c, d = views.pair(0, np.random.default_rng(1))                            # seeded: the same pair
    assert torch.equal(a, c) and torch.equal(b, d)


def test_decoder_training_lowers_the_loss_and_exports(tmp_path, tiny_dataset, monkeypatch):
    from models.runtime.scanpath import sslart as load_sslart
    from training import train_sslart
    monkeypatch.setattr("models.nets.sslart.SSLArtConfig.input_height", 64)
    monkeypatch.setattr("models.nets.sslart.SSLArtConfig.input_width", 96)
    out = tmp_path / "run"
    train_sslart.main(["--encoder", "scratch", "--data", str(tiny_dataset), "--out", str(out), "--epochs", "25",
                       "--batch_size", "4", "--n_fixations", "4", "--threads", "1", "--warmup_steps", "2",
                       "--export", str(tmp_path / "export")])
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["train_loss"] < 0.8 * log[0]["train_loss"]
    model = load_sslart(str(tmp_path / "export"))
    assert model.network.config.n_fixations == 4
    frozen = train_sslart.build_model(parse_defaults(train_sslart.DEFAULTS, None, ["--encoder", "scratch"]))
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert any(p.requires_grad for p in frozen.parameters())
    img = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    assert model.sample(img, temperature=0.0, seed=0).shape == (4, 3)
