"""Synthetic 360° training data (training/panorama_data.py): shapes, determinism, where fixations land, face
targets and the held-out evaluation builder. Tiny panoramas drawn in code; the gaze data is the conftest
tiny dataset (train img00, img01, img05; val img02; test img03, img04)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from models.runtime.projections import FACES
from training.datasets import load_dataset
from training.panorama_data import (SyntheticPanoramaSet, evaluation_panoramas, face_targets, load_backgrounds)

SIZE = (64, 128)


def _backgrounds(n: int = 3, value: int | None = None) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    if value is not None:
        return [np.full((*SIZE, 3), value, np.uint8) for _ in range(n)]
    return [(rng.random((*SIZE, 3)) * 60).astype(np.uint8) for _ in range(n)]


def _set(root, split="train", seed=0, **kw) -> SyntheticPanoramaSet:
    kw.setdefault("backgrounds", _backgrounds())
    return SyntheticPanoramaSet([str(root)], split, input_size=SIZE, length=8, seed=seed, **kw)


def test_item_shapes_and_normalisation(tiny_dataset):
    x, target, fixations = _set(tiny_dataset)[0]
    assert x.shape == (3, *SIZE) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert target.shape == (SIZE[0] // 4, SIZE[1] // 4) and fixations.shape == target.shape
    assert float(target.sum()) == pytest.approx(1.0, abs=1e-5) and target.min() >= 0
    assert fixations.sum() > 0


def test_items_are_deterministic_per_seed_and_index(tiny_dataset):
    a, b = _set(tiny_dataset, seed=3), _set(tiny_dataset, seed=3)
    b[5]                                                      # access order must not matter
    for i in (2, 0):
        for u, v in zip(a[i], b[i]):
            assert torch.equal(u, v)
    assert not torch.equal(a[0][0], a[1][0])                  # another index, another panorama
    assert not torch.equal(a[0][0], _set(tiny_dataset, seed=4)[0][0])   # another seed, too
    with pytest.raises(IndexError):
        a[8]


def test_render_size_is_resized_to_the_input(tiny_dataset):
    ds = _set(tiny_dataset, render_size=(128, 256))
    assert ds.render(0).image.shape == (128, 256, 3)
    x, target, fixations = ds[0]
    assert x.shape == (3, *SIZE) and target.shape == fixations.shape == (16, 32)
    assert float(fixations.sum()) == len(ds.render(0).fixations)


def test_fixations_land_on_the_pasted_image(tiny_dataset):
    # Black background, one image per panorama: conftest images are bright where their observers look.
    ds = _set(tiny_dataset, backgrounds=_backgrounds(1, value=0), items_per_panorama=(1, 1))
    for i in range(3):
        sample = ds.render(i)
        (name, image), = sample.sources
        assert len(sample.fixations) == len(load_dataset(str(tiny_dataset), "train").fixations(image))
        brightness = sample.image.astype(float).mean(axis=2)
        cols = np.floor(sample.fixations[:, 0]).astype(int)
        rows = np.floor(sample.fixations[:, 1]).astype(int)
        footprint = brightness > 0
        assert footprint[rows, cols].all()                                  # every fixation on the image
        assert brightness[rows, cols].mean() > brightness[footprint].mean() + 20   # and on its bright spot
        _, target, counts = ds[i]
        assert float(counts.sum()) == len(sample.fixations)
        on_fixations = float((target * counts).sum() / counts.sum())
        assert on_fixations > 3 * float(target.mean())                      # the target peaks there too


def test_face_targets_shapes_and_mass():
    equi = (np.random.default_rng(0).random((64, 128, 3)) * 255).astype(np.uint8)
    yy, xx = np.mgrid[0:64, 0:128]
    density = np.exp(-((xx - 64) ** 2 + (yy - 32) ** 2) / (2 * 4.0 ** 2))   # a blob at lon 0, lat 0: face F
    faces = face_targets(equi, density / density.sum(), face_w=32)
    assert faces["images"].shape == (6, 3, 32, 32) and faces["images"].max() <= 1
    assert faces["density"].shape == (6, 8, 8)
    assert float(faces["weight"].sum()) == pytest.approx(1.0)
    assert int(faces["weight"].argmax()) == FACES.index("F") and faces["weight"][FACES.index("F")] > 0.99
    sums = faces["density"].sum(dim=(1, 2))
    for k in range(6):
        assert float(sums[k]) == pytest.approx(1.0 if faces["weight"][k] > 0 else 0.0, abs=1e-5)
    peak = np.unravel_index(int(faces["density"][0].argmax()), (8, 8))
    assert peak in {(3, 3), (3, 4), (4, 3), (4, 4)}                        # at the centre of face F


def test_evaluation_panoramas_use_test_images_only(tiny_dataset):
    test_images = set(load_dataset(str(tiny_dataset), "test").images)
    samples = evaluation_panoramas([str(tiny_dataset)], n=4, seed=0, backgrounds=_backgrounds(), size=SIZE)
    assert len(samples) == 4
    used = {image for s in samples for _, image in s.sources}
    assert used and used <= test_images
    for s in samples:
        assert s.image.shape == (*SIZE, 3) and s.density.sum() == pytest.approx(1.0)
    again = evaluation_panoramas([str(tiny_dataset)], n=4, seed=0, backgrounds=_backgrounds(), size=SIZE)
    assert all(np.array_equal(a.image, b.image) for a, b in zip(samples, again))
    with pytest.raises(ValueError, match="held-out"):
        evaluation_panoramas([str(tiny_dataset)], split="train", n=1, backgrounds=_backgrounds(), size=SIZE)


def test_load_backgrounds_holds_out_every_fourth(tmp_path):
    for i in range(8):
        Image.fromarray(np.full((20, 40, 3), 10 * i, np.uint8)).save(tmp_path / f"pano{i}.png")
    train = load_backgrounds("train", size=(16, 32), root=tmp_path)
    test = load_backgrounds("test", size=(16, 32), root=tmp_path)
    assert len(train) == 6 and len(test) == 2 and train[0].shape == (16, 32, 3)
    assert {int(b[0, 0, 0]) for b in test} == {30, 70}
    assert not {int(b[0, 0, 0]) for b in train} & {30, 70}
    with pytest.raises(ValueError, match="no"):
        load_backgrounds("train", root=tmp_path / "missing")


def test_horizon_layout_fades_images_in_and_spreads_them_around_the_horizon():
    from training.panorama_synthesis import make_horizon_panorama, make_synthetic_panorama
    white = np.full((48, 64, 3), 255, np.uint8)
    fixations = np.array([[32.0, 24.0], [10.0, 10.0], [50.0, 40.0]])
    black = np.zeros((64, 128, 3), np.uint8)
    pano, density, points = make_horizon_panorama(black, [(white, fixations)] * 4, np.random.default_rng(0),
                                                  sigma_px=6.0)
    footprint = pano[..., 0] > 0
    blended = footprint & (pano[..., 0] < 245)
    assert blended.sum() > 0.15 * footprint.sum()                   # a soft edge, not a hard paste
    hard, _, _ = make_synthetic_panorama(black, [(white, fixations)], np.random.default_rng(0), sigma_px=6.0)
    assert ((hard[..., 0] > 0) & (hard[..., 0] < 245)).sum() < 0.1 * (hard[..., 0] > 0).sum()
    quarters = density.reshape(64, 4, 32).sum(axis=(0, 2))
    assert (quarters > 0.05).sum() >= 3                               # gaze at most longitudes, not in one spot
    assert density.sum() == pytest.approx(1.0) and 8 <= len(points) <= 12     # a few covered where images overlap
    again, _, _ = make_horizon_panorama(black, [(white, fixations)] * 4, np.random.default_rng(0), sigma_px=6.0)
    assert np.array_equal(pano, again)


def test_layout_is_checked(tiny_dataset):
    with pytest.raises(ValueError, match="layout"):
        _set(tiny_dataset, layout="spiral")
    assert _set(tiny_dataset, layout="scattered").items_per_panorama == (1, 3)
