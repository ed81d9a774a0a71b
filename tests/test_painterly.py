"""Painterly test splits (training/painterly.py): the styles keep size and geometry, are seeded, change the image;
no test style is a training transform; the painterly dataset keeps the gaze; `--style` works end to end."""
from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.conftest import draw_image
from training import evaluate, evaluate_scanpaths, make_results, painterly
from training.datasets import load_dataset


def scene(seed: int = 0, size=(240, 180)) -> np.ndarray:
    """Flat shapes on a gradient with some texture: edges at known places (what geometry means here)."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([40 + 80 * xx / w, 60 + 60 * yy / h, 120 - 40 * xx / w], axis=2)
    img += 6 * rng.standard_normal((h, w, 3))
    for _ in range(6):
        colour = [int(c) for c in rng.integers(0, 256, 3)]
        x0, y0 = int(rng.integers(0, w - 50)), int(rng.integers(0, h - 40))
        if rng.random() < 0.5:
            cv2.rectangle(img, (x0, y0), (x0 + int(rng.integers(20, 50)), y0 + int(rng.integers(15, 40))), colour, -1)
        else:
            cv2.circle(img, (x0 + 20, y0 + 20), int(rng.integers(8, 20)), colour, -1)
    return np.clip(img, 0, 255).astype(np.uint8)


def coarse_edges(rgb: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
    magnitude = np.hypot(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))
    return cv2.GaussianBlur(magnitude, (0, 0), 4.0)


def geometry_correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(coarse_edges(a).ravel(), coarse_edges(b).ravel())[0, 1])


GEOMETRY_MIN = 0.6


@pytest.fixture
def paintings(tmp_path, monkeypatch):
    """20 synthetic paintings: the held-out ones (every 10th by name) are red, the training ones blue."""
    folder = tmp_path / "paintings" / "images"
    folder.mkdir(parents=True)
    for i in range(20):
        held_out = i % 10 == 0
        base = draw_image(100 + i, (64, 48))[0].astype(np.float32)
        tint = np.array([1.6, 0.5, 0.4]) if held_out else np.array([0.4, 0.6, 1.6])
        Image.fromarray(np.clip(base * tint, 0, 255).astype(np.uint8)).save(folder / f"p{i:02d}.png")
    monkeypatch.setattr(painterly, "PAINTINGS_FOLDER", str(folder.parent))
    painterly._painting_quantiles.cache_clear()
    yield folder
    painterly._painting_quantiles.cache_clear()


@pytest.fixture(autouse=True)
def cache_in_tmp(tmp_path, monkeypatch):
    monkeypatch.setenv("PAINTERLY_CACHE", str(tmp_path / "painterly-cache"))


@pytest.mark.parametrize("style", list(painterly.TEST_STYLES))
def test_each_style_keeps_size_and_geometry_changes_the_image_and_is_seeded(style, paintings):
    img = scene(1)
    out = painterly.apply_style(img, style, seed=3)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(out, painterly.apply_style(img.copy(), style, seed=3))       # deterministic per seed
    assert np.abs(out.astype(float) - img).mean() > 4.0, "the style must visibly change the image"
    assert geometry_correlation(img, out) > GEOMETRY_MIN, "coarse edges must stay where they were"
    odd = scene(2, size=(151, 97))                                                      # odd sizes too
    assert painterly.apply_style(odd, style, seed=0).shape == odd.shape


def test_the_geometry_check_catches_a_moved_image():
    img = scene(1)
    moved = np.ascontiguousarray(img[::-1])                                              # same pixels, other places
    assert geometry_correlation(img, moved) < GEOMETRY_MIN


@pytest.mark.parametrize("style", ["oil", "watercolour", "colour-match"])
def test_seeded_styles_vary_with_the_seed(style, paintings):
    img = scene(4)
    outs = [painterly.apply_style(img, style, seed=s) for s in range(4)]
    assert any(not np.array_equal(outs[0], o) for o in outs[1:])


def test_colour_match_takes_its_colours_from_held_out_paintings_only(paintings):
    held_out = painterly.held_out_paintings(paintings.parent)
    assert [p.name for p in held_out] == ["p00.png", "p10.png"]
    from training.domain_adaptation import PaintingImages
    train = PaintingImages(paintings.parent, (8, 8), split="train").files
    assert not set(held_out) & set(train)
    grey = np.full((60, 80, 3), 128, np.uint8) + scene(5, (80, 60)) // 4
    for seed in range(6):
        out = painterly.apply_style(grey, "colour-match", seed).reshape(-1, 3).mean(0)
        assert out[0] > out[2] + 20, f"seed {seed}: took a (blue) training painting's colours: {out}"


def test_no_test_style_is_a_training_transform():
    declared = painterly.training_transforms()
    assert set(declared) == {"training.saliency_data", "training.scanpath_data", "training.style_views"}
    for module, names in declared.items():
        assert names and all(isinstance(n, str) for n in names), module
    assert painterly.TRAINING_TRANSFORMS == {n for names in declared.values() for n in names}
    overlap = set(painterly.TEST_STYLES) & painterly.TRAINING_TRANSFORMS
    assert not overlap, f"test styles also used in training: {overlap}"
    # The Barlow views' colour transfer and posterisation are declared, so a test style of that name would fail.
    assert {"reinhard-colour-transfer", "posterise"} <= painterly.TRAINING_TRANSFORMS
    from training import style_views
    assert not {style_views.transfer_colour, style_views.photometric_and_texture} & set(painterly.TEST_STYLES.values())


def test_painterly_dataset_keeps_the_gaze_and_caches_outside(tiny_dataset, tmp_path):
    ds = load_dataset(str(tiny_dataset), "train")
    styled = painterly.painterly_dataset(ds, "oil", seed=1)
    assert styled.images == ds.images and styled.sizes == ds.sizes and styled.sigma_px == ds.sigma_px
    for image in ds.images:
        assert np.array_equal(styled.fixations(image), ds.fixations(image))
        assert styled.scanpaths(image).keys() == ds.scanpaths(image).keys()
        assert np.array_equal(styled.saliency_map(image), ds.saliency_map(image))
        photo, painted = ds.load_image(image), styled.load_image(image)
        assert painted.shape == photo.shape and not np.array_equal(painted, photo)
    assert styled.cache.is_relative_to(tmp_path / "painterly-cache")
    cached = sorted(styled.cache.glob("*.png"))
    assert len(cached) == len(ds.images)
    again = painterly.painterly_dataset(ds, "oil", seed=1)
    assert np.array_equal(again.load_image(ds.images[0]), styled.load_image(ds.images[0]))
    other = painterly.painterly_dataset(ds, "oil", seed=2)
    assert other.cache != styled.cache
    assert not np.array_equal(other.load_image(ds.images[0]), styled.load_image(ds.images[0]))
    with pytest.raises(ValueError, match="unknown painterly style"):
        painterly.painterly_dataset(ds, "posterise")


def test_cli_writes_styled_images_and_refuses_the_repository(tiny_dataset, tmp_path):
    out = tmp_path / "look"
    assert painterly.main(["--data", str(tiny_dataset), "--split", "train", "--style", "palette",
                           "--out", str(out), "--limit", "2"]) == 0
    written = sorted((out / "palette").glob("*.png"))
    assert len(written) == 2
    with Image.open(written[0]) as im:
        assert im.size == (160, 120)
    repo = painterly.Path(painterly.__file__).resolve().parent.parent
    assert painterly.main(["--data", str(tiny_dataset), "--style", "oil", "--out", str(repo / "look")]) == 2
    assert not (repo / "look").exists()


def test_style_option_end_to_end(tiny_dataset, tmp_path):
    photo, styled = tmp_path / "photo.json", tmp_path / "styled.json"
    args = ["--model", "spectral-residual", "--data", str(tiny_dataset), "--split", "train"]
    assert evaluate.main(args + ["--out", str(photo)]) == 0
    assert evaluate.main(args + ["--style", "stylize", "--out", str(styled)]) == 0
    p, s = json.loads(photo.read_text()), json.loads(styled.read_text())
    assert "style" not in p and s["style"] == "stylize" and s["style_seed"] == 0
    assert s["n_images"] == p["n_images"] and set(s["metrics"]) == set(p["metrics"])
    assert s["metrics"] != p["metrics"], "the model must have seen the styled images"
    scan = tmp_path / "scan.json"
    assert evaluate_scanpaths.main(["--model", "saliency-sampler", "--data", str(tiny_dataset), "--split", "train",
                                    "--samples", "2", "--style", "watercolour", "--out", str(scan)]) == 0
    r = json.loads(scan.read_text())
    assert r["style"] == "watercolour" and "sequence_score" in r["metrics"]
    assert evaluate_scanpaths.main(["--model", "human", "--data", str(tiny_dataset), "--split", "train",
                                    "--style", "oil"]) == 2
    with pytest.raises(SystemExit):                                                # not a test style
        evaluate.main(args + ["--style", "posterise"])


def _result(model, style, nss, n=10, **extra):
    r = {"model": model, "dataset": "osie", "split": "test", "protocol": "mit", "n_images": n,
         "metrics": {k: 0.5 for k, _ in make_results.SALIENCY_COLUMNS} | {"nss": nss}, **extra}
    return r | ({"style": style} if style else {})


def test_make_results_painterly_tables(tmp_path):
    (tmp_path / "saliency").mkdir()
    (tmp_path / "painterly").mkdir()
    for model in ("uniform", "centerbias", "gold"):
        (tmp_path / "saliency" / f"{model}.json").write_text(json.dumps(_result(model, None, 1.0)))
    (tmp_path / "saliency" / "effsal.json").write_text(json.dumps(_result("effsal-lite0", None, 2.0)))
    (tmp_path / "painterly" / "a.json").write_text(json.dumps(_result("effsal-lite0", "oil", 1.7)))
    (tmp_path / "painterly" / "b.json").write_text(json.dumps(_result("effsal-lite0", "colour-match", 1.9)))
    saliency, scanpath = make_results.load(tmp_path)
    assert saliency[("osie", "test", "mit")]["effsal-lite0"]["metrics"]["nss"] == 2.0     # styled runs kept apart
    text = "\n".join(make_results.painterly_tables(tmp_path, saliency, scanpath))
    assert "| effsal-lite0 | 2.000 | 1.700 (−15.0 %) | 1.900 (−5.0 %) |" in text
    assert "| osie test / mit | oil | 2.000 | 1.700 | 0.850 | misses |" in text
    assert "| osie test / mit | colour-match | 2.000 | 1.900 | 0.950 | meets |" in text
    assert "oil −15.0 %, colour-match −5.0 %" in text


def test_colour_match_curve_is_monotone_and_does_not_blow_up_flat_areas():
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.uniform(50, 50.5, 5000), rng.uniform(0, 100, 5000)])      # half of it a flat sky
    target = np.quantile(rng.uniform(-20, 80, 4000), painterly.QUANTILES)
    knots, curve = painterly.matching_curve(values, target, max_gain=3.0)
    slopes = np.diff(curve) / np.diff(knots)
    assert np.all(slopes >= 0)
    assert curve[0] == pytest.approx(target[0]) and curve[-1] == pytest.approx(target[-1], abs=1e-6)
    linear = (target[-1] - target[0]) / (values.max() - values.min())
    assert slopes.max() <= 3.0 * linear * 1.001
    sky = np.interp(values[:5000], knots, curve)
    assert np.ptp(sky) < 3.0 * linear * 0.5 * 1.01                   # the flat half stays (nearly) flat
