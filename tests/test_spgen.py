"""SPGEn (models/spgen.py), its data (training/scanpath_data.py) and loss (training/train_spgen.py): shapes,
the soft-argmax convention, the gate, temperature noise, seeding, and a few training steps. Tiny random
networks, so each test takes about a second."""
from __future__ import annotations

import argparse

import numpy as np
import pytest
import torch

from models.nets.spgen import SPGEn
from models.runtime.scanpath import SPGEnScanpathModel
from training.scanpath_data import ScanpathTrainingSet, scanpath_tensor
from training.train_spgen import DEFAULTS, frozen_parameters, run_batch, spgen_loss

ARCH = {"input_height": 64, "input_width": 96, "decoder_channels": 16, "n_priors": 4, "max_fixations": 5}


@pytest.fixture(scope="module")
def net() -> SPGEn:
    torch.manual_seed(0)
    return SPGEn(ARCH).eval()


def _cfg(**kw):
    return argparse.Namespace(**{**DEFAULTS, **kw})


def test_outputs_shapes_and_ranges(net):
    out = net(torch.rand(2, 3, 64, 96))
    assert out["log_maps"].shape == (2, 5, 16, 24)
    assert torch.allclose(out["log_maps"].flatten(2).logsumexp(-1), torch.zeros(2, 5), atol=1e-5)
    assert out["xy"].shape == (2, 5, 2) and out["xy"].min() >= 0 and out["xy"].max() <= 1
    assert out["log_duration"].shape == (2, 5)
    exist = out["exist"]
    assert torch.all(exist[:, 1:] <= exist[:, :-1] + 1e-7) and exist.min() >= 0 and exist.max() <= 1


def test_soft_argmax_returns_x_over_width_and_y_over_height(net):
    # A map that is sharply peaked at output pixel (row 4, col 18) reads as ((18.5)/24, (4.5)/16).
    maps = torch.full((1, 5, 16, 24), -50.0)
    maps[0, :, 4, 18] = 50.0
    y = torch.zeros(1, net.config.decoder_channels // 2, 16, 24)
    xy = net.read(maps, y)["xy"][0, 0]
    assert xy[0].item() == pytest.approx(18.5 / 24, abs=1e-4) and xy[1].item() == pytest.approx(4.5 / 16, abs=1e-4)


def test_temperature_zero_is_deterministic_and_noise_moves_fixations(net):
    x = torch.rand(1, 3, 64, 96)
    a, b = net(x, 0.0), net(x, 0.0)
    assert torch.equal(a["xy"], b["xy"])
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    n1, n2 = net(x, 0.5, g1), net(x, 0.5, g2)
    assert torch.equal(n1["xy"], n2["xy"])                                  # same seed, same noise
    assert not torch.allclose(n1["xy"], a["xy"])
    with pytest.raises(ValueError, match="temperature"):
        net(x, 1.5)


def test_sampler_api_seed_and_lengths(net):
    model = SPGEnScanpathModel(net, settings={"temperature": 0.3})
    image = (np.random.default_rng(0).random((120, 200, 3)) * 255).astype(np.uint8)
    a = model.sample_batch(image, 4, seed=7)
    b = model.sample_batch(image, 4, seed=7)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not np.array_equal(a[0], a[1])                                   # the samples of one call differ
    for path in a:
        assert path.shape[1] == 3 and len(path) >= 1
        assert path[:, 0].max() < 200 and path[:, 1].max() < 120 and path[:, 2].min() > 0
    assert len(model.sample(image, n_fixations=3, seed=1)) == 3
    assert len(model.sample(image, n_fixations=9, seed=1)) == 9             # beyond the network's 5 steps


def test_scanpath_tensor_pads_masks_and_normalises():
    paths, mask = scanpath_tensor({"b": np.array([[50, 30, 200], [10, 90, 0]]), "a": np.array([[100, 0, 300]])},
                                  (100, 100), max_subjects=3, max_fixations=4)
    assert paths.shape == (3, 4, 3) and mask.tolist() == [[1, 0, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    np.testing.assert_allclose(paths[1, 0], [0.5, 0.3, np.log(200)], rtol=1e-6)
    assert paths[1, 1, 2] == pytest.approx(np.log(20.0))                    # zero durations are clamped
    assert paths[0, 0, 0] == pytest.approx(1.0 - 1e-6)                      # x = width stays inside


def test_loss_prefers_the_closest_subject():
    b, n, h, w = 1, 3, 8, 8
    clean = {"log_maps": torch.full((b, n, h, w), -np.log(h * w)), "exist": torch.full((b, n), 0.5)}
    paths = torch.zeros(1, 2, n, 3)
    paths[0, 0, :, :2], paths[0, 1, :, :2] = 0.2, 0.8
    mask = torch.ones(1, 2, n, dtype=torch.bool)
    near = {"xy": torch.full((1, n, 2), 0.8), "log_duration": torch.zeros(1, n)}
    _, parts = spgen_loss(clean, near, paths, mask, _cfg())
    assert parts["xy"] == pytest.approx(0.0, abs=1e-6)                      # matches subject 1 exactly
    assert parts["nll"] == pytest.approx(np.log(h * w), rel=1e-5)           # uniform maps: log(h·w)


def test_training_steps_lower_the_loss(tiny_dataset):
    torch.manual_seed(0)
    net = SPGEn(ARCH)
    for p in frozen_parameters(net):
        p.requires_grad_(False)
    ds = ScanpathTrainingSet([str(tiny_dataset)], "train", net.input_size, max_fixations=5)
    x, paths, mask = (torch.stack(t) for t in zip(*[ds[i] for i in range(len(ds))]))
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], 3e-3)
    cfg = _cfg()
    net.train()
    first = None
    for _ in range(25):
        loss, _ = run_batch(net, x, paths, mask, cfg, 0.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = float(loss.detach()) if first is None else first
    assert float(loss.detach()) < 0.8 * first
    assert all(not p.requires_grad for p in frozen_parameters(net))


def test_sharper_read_out_moves_towards_the_mode(net):
    # Two peaks, the left one stronger: the plain soft-argmax lies between them, a sharper read-out near the left.
    maps = torch.full((1, 5, 16, 24), 0.0)
    maps[0, :, 8, 4], maps[0, :, 8, 20] = 2.0, 1.8
    y = torch.zeros(1, net.config.decoder_channels // 2, 16, 24)
    with torch.no_grad():
        net.log_beta.fill_(np.log(4.0))
        plain = net.read(maps, y)["xy"][0, 0, 0].item()
        sharp = net.read(maps, y, sharpness=10.0)["xy"][0, 0, 0].item()
        same = net.read(maps, y, sharpness=10.0)["log_maps"]
    assert abs(sharp - 4.5 / 24) < abs(plain - 4.5 / 24) and sharp < 0.3
    assert torch.allclose(same, net.read(maps, y)["log_maps"])             # the distributions are unchanged


# ------------------------------------------------------------------------------------ domain adaptation (GRL)

def test_gradient_reversal_flips_and_scales_the_gradient():
    from training.domain_adaptation import GradientReversal, grl_lambda
    x = torch.ones(3, requires_grad=True)
    (GradientReversal.apply(x, 0.5) * torch.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert torch.allclose(x.grad, torch.tensor([-0.5, -1.0, -1.5]))
    assert grl_lambda(0.0) == 0.0 and 0.99 < grl_lambda(1.0) < 1.0 and grl_lambda(0.3) < grl_lambda(0.6)


def test_domain_term_reaches_the_classifier_and_the_encoder_top(tmp_path, tiny_dataset):
    from PIL import Image

    from training.domain_adaptation import DomainClassifier, PaintingImages
    for i in range(12):
        Image.fromarray(np.full((40, 60, 3), 20 * i, np.uint8)).save(tmp_path / f"p{i:02d}.png")
    assert len(PaintingImages(tmp_path, (64, 96), "train")) == 10 and len(PaintingImages(tmp_path, (64, 96), "val")) == 2
    torch.manual_seed(0)
    net = SPGEn(ARCH)
    clf = DomainClassifier(net.trunk.encoder.feature_channels[-1])
    ds = ScanpathTrainingSet([str(tiny_dataset)], "train", net.input_size, max_fixations=5)
    x, paths, mask = (torch.stack(t) for t in zip(*[ds[i] for i in range(len(ds))]))
    paintings = torch.stack([PaintingImages(tmp_path, (64, 96))[i] for i in range(len(x))])
    loss, parts = run_batch(net, x, paths, mask, _cfg(), 0.0, (clf, paintings, 1.0))
    assert {"domain", "domain_acc"} <= set(parts)
    net.zero_grad()
    clf.zero_grad()
    loss.backward()
    head = clf.net[-1].weight.grad
    top = [p.grad for p in net.trunk.encoder._blocks[-1].parameters() if p.grad is not None]
    assert head is not None and head.abs().sum() > 0 and top and sum(g.abs().sum() for g in top) > 0


def test_noise_upsampling_matrices_equal_bicubic_interpolation():
    import torch.nn.functional as F

    from models.nets.spgen import _bicubic_matrix
    coarse = torch.randn(3, 2, 12, 16)
    fast = _bicubic_matrix(12, 72) @ coarse @ _bicubic_matrix(16, 96).T
    slow = F.interpolate(coarse, size=(72, 96), mode="bicubic", align_corners=False)
    assert torch.allclose(fast, slow, atol=1e-5)


def test_loaded_model_folds_batchnorm_without_changing_samples(net):
    import copy
    image = (np.random.default_rng(1).random((90, 120, 3)) * 255).astype(np.uint8)
    plain = copy.deepcopy(net).eval()
    with torch.no_grad():                                             # unfolded reference of the trunk
        x = torch.from_numpy(__import__("cv2").resize(image, (96, 64), interpolation=3)).permute(2, 0, 1).float()[None] / 255
        ref_maps, ref_y = plain.latent_maps(x)
    model = SPGEnScanpathModel(copy.deepcopy(net))
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.network.modules())
    maps, y = model.trunk(model_input(image, model))
    np.testing.assert_allclose(maps.numpy(), ref_maps.numpy(), atol=1e-4)
    np.testing.assert_allclose(y.numpy(), ref_y.numpy(), atol=1e-4)


def model_input(image, model):
    from models.runtime.images import image_batch
    return image_batch(image, model.network.input_size)


def test_duration_distribution_draws_each_viewers_durations_and_keeps_positions():
    torch.manual_seed(0)
    plain = SPGEn(ARCH).eval()
    torch.manual_seed(0)
    spread = SPGEn({**ARCH, "duration_distribution": True, "duration_log_sd": 0.5}).eval()
    spread.load_state_dict({**spread.state_dict(), **plain.state_dict()})   # same weights, plus the SD head
    image = (np.random.default_rng(0).random((120, 200, 3)) * 255).astype(np.uint8)
    a = SPGEnScanpathModel(plain, settings={"temperature": 0.3}).sample_batch(image, 6, n_fixations=5, seed=3)
    b = SPGEnScanpathModel(spread, settings={"temperature": 0.3}).sample_batch(image, 6, n_fixations=5, seed=3)
    for p, q in zip(a, b):
        np.testing.assert_allclose(p[:, :2], q[:, :2], atol=1e-4)        # positions: the same draws
    log_ratio = np.log(np.concatenate([q[:, 2] for q in b]) / np.concatenate([p[:, 2] for p in a]))
    assert 0.35 < log_ratio.std() < 0.65                                 # durations spread by the SD, 0.5 in log-ms
    typical = SPGEnScanpathModel(spread).sample_batch(image, 3, temperature=0.0, n_fixations=5, seed=3)
    np.testing.assert_allclose(typical[0][:, 2], typical[1][:, 2])         # T = 0: the most typical viewer
    np.testing.assert_allclose(typical[0][:, 2],
                               SPGEnScanpathModel(plain).sample_batch(image, 1, 0.0, 5, 3)[0][:, 2], rtol=1e-4)


def test_log_normal_likelihood_is_best_at_the_recorded_mean_and_spread():
    from training.losses import log_normal_nll
    rng = np.random.default_rng(0)
    log_ms = torch.tensor(rng.normal(5.3, 0.5, (1, 200, 1)), dtype=torch.float32)
    paths = torch.cat([torch.zeros(1, 200, 1, 2), log_ms[..., None]], dim=-1)     # (B, S, N, 3)
    mask = torch.ones(1, 200, 1)

    def nll(mean, sd):
        return float(log_normal_nll(torch.tensor([[mean]]), torch.tensor([[sd]]), paths, mask))

    best = nll(float(log_ms.mean()), float(log_ms.std()))
    assert best < nll(float(log_ms.mean()) + 0.2, float(log_ms.std()))
    assert best < nll(float(log_ms.mean()), 0.1) and best < nll(float(log_ms.mean()), 1.5)


def test_duration_fine_tuning_trains_only_the_duration_heads(tmp_path):
    from training.train_spgen import duration_model
    SPGEn(ARCH).save_pretrained(tmp_path / "spgen")
    model = duration_model(str(tmp_path / "spgen"))
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith(("duration.", "duration_sd.")) for n in trainable)
    assert model.config.duration_distribution
