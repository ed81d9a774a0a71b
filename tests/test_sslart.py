"""SSLArtScanpath (models/nets/sslart.py), its sampler (models/runtime/scanpath.py), its style views
(training/style_views.py), the Barlow Twins loss (training/pretrain_barlow.py), the decoder training
(training/train_sslart.py) and its loss. Tiny networks and images: each test takes about a second."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from models.nets.sslart import SSLArt
from models.runtime.scanpath import SSLArtScanpathModel
from training.losses import soft_cell_nll
from training.pretrain_barlow import barlow_twins_loss
from training.run_setup import parse_defaults
from training.style_views import StyleViews, lab_statistics, transfer_colour

ARCH = {"input_height": 64, "input_width": 96, "n_priors": 4, "channels": 16, "max_fixations": 5,
        "map_height": 8, "map_width": 12}


@pytest.fixture(scope="module")
def net() -> SSLArt:
    torch.manual_seed(0)
    return SSLArt(ARCH).eval()


def consecutive_gaps(xy: torch.Tensor) -> torch.Tensor:
    return (xy[:, 1:] - xy[:, :-1]).norm(dim=-1)


def test_shapes_and_ranges(net):
    out = net(torch.rand(2, 3, 64, 96), 1.0, torch.Generator().manual_seed(0), n_fixations=7)
    assert out["xy"].shape == (2, 7, 2) and out["xy"].min() >= 0 and out["xy"].max() <= 1
    assert out["log_duration"].shape == (2, 7)
    assert net.encode(torch.rand(1, 3, 64, 96)).shape[-2:] == (2, 3)      # stride 32
    maps, context = net.read(net.encode(torch.rand(2, 3, 64, 96)))
    assert maps.shape == (2, 5, 8 * 12) and context.shape == (2, 16, 2, 3)


def test_temperature_zero_deterministic_seeds_repeat_and_differ(net):
    x = torch.rand(1, 3, 64, 96).expand(6, -1, -1, -1)
    typical = net(x, 0.0)["xy"]
    assert torch.equal(typical, net(x, 0.0)["xy"]) and torch.equal(typical[0], typical[5])
    a = net(x, 1.0, torch.Generator().manual_seed(3))["xy"]
    assert torch.equal(a, net(x, 1.0, torch.Generator().manual_seed(3))["xy"])
    assert not torch.equal(a, net(x, 1.0, torch.Generator().manual_seed(4))["xy"])
    # one image, six samples: the paths are not copies of one another (a regression read-out gave one path)
    assert len({tuple(p.flatten().tolist()) for p in a}) == 6
    with pytest.raises(ValueError, match="temperature"):
        net(x, -0.1)


def test_profile_is_the_sum_of_gaussians_of_the_distance(net):
    weights = torch.linspace(-1, 1, len(net.config.profile_scales))
    xy = torch.tensor([[0.3, 0.7]])
    h, w = net.input_size
    d = ((net.cells() - xy) * torch.tensor([w, h]) / np.hypot(w, h)).norm(dim=-1)
    expected = sum(wk * torch.exp(-0.5 * (d / s) ** 2) for wk, s in zip(weights, net.config.profile_scales))
    assert torch.allclose(net.profile(weights, xy)[0], expected, atol=1e-5)


def test_teacher_forcing_gives_normalised_densities_that_see_the_path(net):
    torch.manual_seed(1)
    feats = net.encode(torch.rand(2, 3, 64, 96))
    paths = torch.rand(2, 3, 4, 3)
    out = net.teacher_forced(feats, paths)
    assert out["log_p"].shape == (2, 3, 4, 96) and out["log_duration"].shape == (2, 3, 4)
    assert torch.allclose(out["log_p"].logsumexp(-1), torch.zeros(2, 3, 4), atol=1e-5)
    assert (out["log_duration_sd"] > 0).all()
    fresh = SSLArt(ARCH).eval()
    with torch.no_grad():
        fresh.from_previous.fill_(-5.0)
    forced = fresh.teacher_forced(feats, paths)["log_p"]
    # step 0 does not depend on anybody's path; later steps depend on the subject's own earlier fixations
    assert torch.allclose(forced[:, 0, 0], forced[:, 1, 0]) and torch.allclose(forced[:, 0, 0], forced[:, 2, 0])
    assert not torch.allclose(forced[:, 0, 1], forced[:, 1, 1], atol=1e-3)


def test_learned_inhibition_keeps_paths_from_stacking():
    torch.manual_seed(0)
    fresh = SSLArt(ARCH).eval()
    x = torch.rand(1, 3, 64, 96).expand(20, -1, -1, -1)
    with torch.no_grad():
        fresh.step_maps.weight.zero_()
        fresh.step_maps.bias.zero_()                                       # flat densities: anything goes
    free = fresh(x, 1.0, torch.Generator().manual_seed(0), n_fixations=6)["xy"]
    with torch.no_grad():
        fresh.from_previous[:2] = -30.0                                   # nothing within ~0.03 of the last
        fresh.from_earlier[:2] = -30.0                                    # … nor of any earlier fixation
    kept_apart = fresh(x, 1.0, torch.Generator().manual_seed(0), n_fixations=6)["xy"]
    cell = 1 / 12
    assert consecutive_gaps(free).min() < cell                            # without it, some land next door
    assert consecutive_gaps(kept_apart).min() > cell
    assert torch.cdist(kept_apart, kept_apart).add(torch.eye(6)).min() > cell


def test_soft_cell_nll_is_the_cross_entropy_with_a_blurred_fixation():
    h, w = 4, 5
    log_p = torch.randn(2, 3, h * w).log_softmax(-1)
    xy = torch.rand(2, 3, 2)
    mask = torch.tensor([[True, True, False], [True, False, False]])
    gx, gy = (torch.arange(w) + 0.5) / w, (torch.arange(h) + 0.5) / h
    d2 = ((gy[:, None] - xy[..., 1, None, None]) * h) ** 2 + ((gx[None] - xy[..., 0, None, None]) * w) ** 2
    target = (-0.5 * d2 / 0.7 ** 2).flatten(-2).softmax(-1)
    expected = -(target * log_p).sum(-1)[mask].mean()
    assert float(soft_cell_nll(log_p, xy, mask, (h, w), 0.7)) == pytest.approx(float(expected), rel=1e-5)
    assert float(soft_cell_nll(target.log(), xy, mask, (h, w), 0.7)) < float(expected)   # best: the target


def test_sampler_api_pixels_seed_viewing_time_and_length(net):
    model = SSLArtScanpathModel(net)
    img = (np.random.default_rng(0).random((120, 200, 3)) * 255).astype(np.uint8)
    a = model.sample_batch(img, 4, temperature=1.0, seed=7)
    b = model.sample_batch(img, 4, temperature=1.0, seed=7)
    assert len(a) == 4 and all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0][:2], a[1][:2])                        # samples differ from each other
    assert all(p[:, 0].max() < 200 and p[:, 1].max() < 120 and (p[:, 2] > 0).all() for p in a)
    assert model.sample(img, n_fixations=3, temperature=0.0).shape == (3, 3)
    short = model.sample_batch(img, 8, temperature=1.0, seed=1, viewing_time_s=1.0)
    long = model.sample_batch(img, 8, temperature=1.0, seed=1, viewing_time_s=6.0)
    assert np.mean([len(p) for p in long]) > 3 * np.mean([len(p) for p in short])
    with pytest.raises(ValueError, match="temperature"):
        model.sample(img, temperature=1.5)


def test_batchnorm_folding_keeps_the_outputs():
    torch.manual_seed(1)
    fresh = SSLArt(ARCH)
    for m in fresh.modules():                                            # non-trivial running statistics
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    x = torch.rand(1, 3, 64, 96)
    expected = fresh.eval().read(fresh.encode(x))[0]
    folded = SSLArtScanpathModel(fresh).network
    assert torch.allclose(expected, folded.read(folded.encode(x))[0], atol=1e-4)


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
    args = ["--encoder", "scratch", "--data", str(tiny_dataset), "--out", str(out), "--epochs", "25",
            "--batch_size", "4", "--max_fixations", "4", "--threads", "1", "--warmup_steps", "2",
            "--feature_cache", str(tmp_path / "features.pt"), "--export", str(tmp_path / "export")]
    train_sslart.main(args)
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["train_loss"] < log[0]["train_loss"] - 0.3
    assert min(r["val_where"] for r in log) < log[0]["val_where"]
    model = load_sslart(str(tmp_path / "export"))
    assert model.network.config.max_fixations == 4
    frozen = train_sslart.build_model(parse_defaults(train_sslart.DEFAULTS, None, ["--encoder", "scratch"]))
    assert not any(p.requires_grad for p in frozen.encoder.parameters())
    assert any(p.requires_grad for p in frozen.parameters())
    img = (np.random.default_rng(0).random((64, 96, 3)) * 255).astype(np.uint8)
    assert model.sample(img, n_fixations=6, temperature=0.0, seed=0).shape == (6, 3)
    train_sslart.main(args[:4] + ["--out", str(tmp_path / "again")] + args[6:])     # the cache is read back
    assert (tmp_path / "again" / "log.jsonl").is_file()
