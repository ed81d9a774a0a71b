"""Virtual viewers (models/runtime/viewers.py) through the scanpath models that use them."""
import numpy as np
import pytest
import torch

from models import create_model
from models.nets.spgen import SPGEn
from models.runtime.scanpath import SPGEnScanpathModel
from models.runtime.viewers import (InhibitionOfReturn, ViewerTimes, check_viewing_time, noise_for,
                                    viewer_statistics)

ARCH = {"input_height": 64, "input_width": 96, "decoder_channels": 16, "n_priors": 4, "max_fixations": 5,
        "duration_distribution": True}


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return (np.random.default_rng(0).random((150, 200, 3)) * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def spgen() -> SPGEnScanpathModel:
    torch.manual_seed(0)
    return SPGEnScanpathModel(SPGEn(ARCH).eval(), settings={"sharpness": 3.0, "saccade_sigma": 0.15})


def test_fixations_fill_the_share_of_the_viewing_time_and_the_last_is_cut(spgen, image):
    budget = 1000 * 3.0 * viewer_statistics()["fixation_share_mean"]
    for path in spgen.sample_batch(image, 8, temperature=0.3, seed=1, viewing_time_s=3):
        assert path[:, 2].sum() == pytest.approx(budget, abs=1e-3) or budget - path[:, 2].sum() < 50
        assert path[:, 2].min() > 0


@pytest.mark.parametrize("model", ["spgen", "saliency-sampler"])
def test_longer_viewing_gives_proportionally_more_fixations(model, image, spgen):
    m = spgen if model == "spgen" else create_model(model)
    short = np.mean([len(p) for p in m.sample_batch(image, 10, temperature=0.5, seed=2, viewing_time_s=3)])
    long = np.mean([len(p) for p in m.sample_batch(image, 10, temperature=0.5, seed=2, viewing_time_s=30)])
    assert 6 < long / short < 14                                          # 10× the time


def test_spgen_reads_past_its_last_step_and_long_viewing_keeps_exploring(spgen, image):
    def places(model):
        path = model.sample_batch(image, 1, temperature=0.0, seed=0, viewing_time_s=30)[0]
        return len(path), len({(int(x // 20), int(y // 20)) for x, y, _ in path})     # 20 px cells, 80 in all
    n, visited = places(spgen)
    assert n > 5 * 5                                                    # the network has 5 steps
    forgetful = SPGEnScanpathModel(spgen.network, settings={"sharpness": 3.0, "saccade_sigma": 0.15,
                                                            "inhibition_of_return": {"strength": 0.0}})
    assert visited >= 20 and visited >= 2 * places(forgetful)[1]        # inhibition of return keeps it exploring


def test_temperature_zero_is_one_typical_viewer_and_fixations_do_not_stack(spgen, image):
    paths = spgen.sample_batch(image, 4, temperature=0.0, seed=3)
    assert all(np.array_equal(paths[0], p) for p in paths[1:])
    gaps = np.hypot(*np.diff(paths[0][:, :2], axis=0).T)
    assert (gaps > 5).mean() >= 0.9                                     # inhibition of return moves the gaze on


def test_the_same_seed_gives_the_same_viewers(image):
    sampler = create_model("saliency-sampler")
    a = sampler.sample_batch(image, 5, temperature=0.5, seed=9, viewing_time_s=5)
    b = sampler.sample_batch(image, 5, temperature=0.5, seed=9, viewing_time_s=5)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    assert len({len(p) for p in a}) > 1 or not np.array_equal(a[0], a[1])


def test_calibration_curve_maps_the_public_temperature_piecewise():
    curve = {"temperature": [0.0, 0.5, 1.0], "noise": [0.0, 0.3, 0.45]}
    assert noise_for(0.0, curve) == 0.0 and noise_for(0.5, curve) == pytest.approx(0.3)
    assert noise_for(0.75, curve) == pytest.approx(0.375) and noise_for(1.0, curve) == pytest.approx(0.45)
    assert noise_for(0.4, None) == 0.4


@pytest.mark.parametrize("seconds", [0, 0.1, 31, float("nan")])
def test_viewing_time_outside_the_range_is_refused(seconds):
    with pytest.raises(ValueError, match="viewing time"):
        check_viewing_time(seconds)


def test_a_fixed_count_ignores_the_clock():
    times = ViewerTimes(3, None, 4, typical=True, generator=torch.Generator().manual_seed(0))
    steps = 0
    while not times.done:
        kept, _ = times.advance(torch.full((3,), 10_000.0))
        assert kept.all()
        steps += 1
    assert steps == 4


def test_inhibition_of_return_suppresses_around_the_fixation_and_fades():
    ior = InhibitionOfReturn(1, (10, 10), (100, 100), sigma=0.05, strength=0.9, memory=0.5)
    ior.add(torch.tensor([[0.25, 0.75]]), torch.tensor([True]))
    mask = ior.log_mask.view(10, 10).clone()
    assert mask[7, 2] == pytest.approx(np.log(0.1), rel=0.05)             # the fixated cell: × 0.1
    assert mask[2, 7] > -1e-3                                            # far away: untouched
    ior.add(torch.tensor([[0.9, 0.1]]), torch.tensor([False]))           # a viewer that stopped adds nothing
    assert ior.log_mask.view(10, 10)[7, 2] == pytest.approx(0.5 * mask[7, 2].item())
