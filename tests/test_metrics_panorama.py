"""Latitude-weighted 360° metrics (Salient360! convention, docs/anchors.md §4)."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from training.metrics import panorama as pano
from training.metrics import saliency as flat_metrics

H, W = 40, 80


@pytest.fixture(scope="module")
def erp():
    rng = np.random.default_rng(360)
    gt = gaussian_filter(rng.random((H, W)), 3, mode="wrap") + 0.05
    pred = gaussian_filter(rng.random((H, W)), 3, mode="wrap") + 0.05
    return gt, pred


def test_latitude_weights():
    w = pano.latitude_weights(H, W)
    assert w.shape == (H, W)
    assert np.all(w == w[:, :1])  # the same weight along each row
    assert w[0, 0] == pytest.approx(0.0, abs=1e-12) and w[-1, 0] == pytest.approx(0.0, abs=1e-12)  # poles
    assert w.max() == pytest.approx(1.0, abs=2e-3)  # sin at the row nearest the equator
    assert np.argmax(w[:, 0]) in (H // 2 - 1, H // 2)
    assert np.allclose(w[:, 0], w[::-1, 0])  # north/south symmetric
    assert np.allclose(pano.latitude_weights(5, 10)[:, 0], [0, np.sqrt(0.5), 1, np.sqrt(0.5), 0])


def test_identities(erp):
    gt, pred = erp
    assert pano.weighted_cc(gt, gt) == pytest.approx(1.0, abs=1e-12)
    assert pano.weighted_cc(gt, -gt) == pytest.approx(-1.0, abs=1e-12)
    assert pano.weighted_kld(gt, gt) == pytest.approx(0.0, abs=1e-12)
    assert pano.weighted_sim(gt, gt) == pytest.approx(1.0, abs=1e-12)
    scores = pano.compute_all_panorama(pred, gt)
    assert set(scores) == {"kld", "cc", "sim"}
    assert scores["kld"] > 0 and scores["cc"] < 1 and scores["sim"] < 1
    # Positive scaling does not change any of them.
    assert pano.compute_all_panorama(4.2 * pred, gt) == pytest.approx(scores, abs=1e-12)


def test_weighted_kld_by_hand():
    # 3×6 map: weights per row sin(0), sin(π/2), sin(π) = 0, 1, 0, so only the equator row counts, and the
    # wildly different pole rows are ignored. Equator: GT (1,1,1,1,1,1) → p = 1/6; prediction (2,2,1,1,1,1)
    # → q = (¼, ¼, ⅛, ⅛, ⅛, ⅛). KL = 2·(1/6)·log((1/6)/(1/4)) + 4·(1/6)·log((1/6)/(1/8))
    #                               = (1/3)·log(2/3) + (2/3)·log(4/3) ≈ 0.05663.
    gt = np.array([[9.0] * 6, [1.0] * 6, [0.0] * 6])
    pred = np.array([[0.0] * 6, [2, 2, 1, 1, 1, 1], [5.0] * 6])
    expected = np.log(2 / 3) / 3 + 2 * np.log(4 / 3) / 3
    assert pano.weighted_kld(pred, gt) == pytest.approx(expected, abs=1e-9)


def test_error_at_the_poles_costs_less_than_at_the_equator():
    # GT varies with longitude only, so moving a bump between latitudes leaves the unweighted metrics unchanged.
    lon = np.linspace(0, 2 * np.pi, W, endpoint=False)
    gt = np.repeat((1.0 + 0.5 * np.cos(lon))[None, :], H, axis=0)
    bump = np.zeros((H, W))
    bump[:, 30:36] = 3.0

    def erroneous(row):
        pred = gt.copy()
        pred[row] += bump[row]
        return pred

    near_pole, equator = erroneous(2), erroneous(H // 2)
    assert flat_metrics.kld(near_pole, gt) == pytest.approx(flat_metrics.kld(equator, gt), abs=1e-12)
    assert pano.weighted_kld(near_pole, gt) < pano.weighted_kld(equator, gt)
    assert pano.weighted_cc(near_pole, gt) > pano.weighted_cc(equator, gt)
    assert pano.weighted_sim(near_pole, gt) > pano.weighted_sim(equator, gt)


def test_errors(erp):
    gt, pred = erp
    with pytest.raises(ValueError, match="shape mismatch"):
        pano.weighted_cc(pred[:-2], gt)
    with pytest.raises(ValueError, match="twice as wide"):
        pano.weighted_sim(np.ones((40, 40)), np.ones((40, 40)))
    bad = pred.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        pano.compute_all_panorama(bad, gt)
    with pytest.raises(ValueError, match="all zeros"):
        pano.weighted_kld(pred, np.zeros_like(gt))


# --------------------------------------------------------------------------------------------- 360° map properties

def test_latitude_marginal_of_a_uniform_sphere_is_the_band_areas():
    marginal = pano.latitude_marginal(np.ones((180, 360)), bins=18)
    edges = np.deg2rad(np.linspace(90, -90, 19))
    areas = (np.sin(edges[:-1]) - np.sin(edges[1:])) / 2               # share of the sphere of each 10° band
    np.testing.assert_allclose(marginal, areas, atol=2e-4)
    top = np.zeros((180, 360))
    top[:10] = 1.0
    assert pano.latitude_marginal(top)[0] == pytest.approx(1.0)         # north pole first
    with pytest.raises(ValueError, match="no mass"):
        pano.latitude_marginal(np.zeros((36, 72)))


def test_seam_ratio_sees_face_borders_and_not_smooth_maps():
    from models.runtime.projections import equirect_face_index
    rng = np.random.default_rng(6)
    smooth = gaussian_filter(rng.random((128, 256)), 6, mode="wrap") + 0.1
    assert 0.7 < pano.seam_ratio(smooth) < 1.3
    faces = rng.uniform(0.5, 1.5, 6)[equirect_face_index(128, 256)]   # one level per cube face
    assert pano.seam_ratio(smooth * faces) > 3
    assert pano.seam_ratio(np.ones((64, 128))) == 1.0                  # flat: nothing to see anywhere
    with pytest.raises(ValueError, match="NaN"):
        pano.seam_ratio(np.full((64, 128), np.nan))


def test_turned_seam_ratio_keeps_a_models_seam_and_averages_out_a_peak_on_a_border():
    from models.runtime.projections import equirect_face_index
    h, w = 128, 256
    levels = np.random.default_rng(7).uniform(0.5, 1.5, 6)[equirect_face_index(h, w)]

    def content(equi):                                   # a map that follows the scene and knows nothing of faces
        return gaussian_filter(equi[..., 0].astype(float), 4, mode="wrap") + 1.0

    scene = np.zeros((h, w, 3))
    scene[h // 2 - 20:h // 2 + 20, w // 8 - 3:w // 8 + 3] = 400.0     # a bright bar on the F/R face border
    assert pano.seam_ratio(content(scene)) > 1.5                      # one map: the bar looks like a seam
    assert pano.turned_seam_ratio(content, scene) < 1.2                # the scene turns away from the border
    assert pano.turned_seam_ratio(lambda e: content(e) * levels, scene) > 2.5  # a model's face levels stay
    with pytest.raises(ValueError, match="at least one turn"):
        pano.turned_seam_ratio(content, scene, ())
    both = pano.turned_seam_ratio(lambda e: {"content": content(e), "faces": content(e) * levels}, scene)
    assert both["content"] == pytest.approx(pano.turned_seam_ratio(content, scene)) and both["faces"] > 2.5
