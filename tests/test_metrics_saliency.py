"""Saliency metrics: analytic cases, hand-computed MIT values, cross-checks against pysaliency (Tübingen)."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from training.metrics import saliency as m

PROTOCOLS = ("mit", "tuebingen")


# ---------------------------------------------------------------------------------------------------------------
# Fixed random inputs
# ---------------------------------------------------------------------------------------------------------------

def fixation_count_map(fixations, shape):
    counts = np.zeros(shape)
    np.add.at(counts.ravel(), m.fixation_pixels(fixations, shape), 1.0)
    return counts


@pytest.fixture(scope="module")
def case():
    """40×60 map, 25 fixations of which 5 repeat earlier ones exactly and 1 lands in an already fixated pixel
    at other sub-pixel coordinates; 80 'other image' fixations with duplicates; a blurred GT; a baseline."""
    rng = np.random.default_rng(1234)
    h, w = 40, 60
    x, y = rng.uniform(0, w, 25), rng.uniform(0, h, 25)
    x[20:25], y[20:25] = x[:5], y[:5]
    x[19], y[19] = np.floor(x[6]) + 0.01, np.floor(y[6]) + 0.99
    fixations = np.c_[x, y]
    other = np.c_[rng.uniform(0, w, 80), rng.uniform(0, h, 80)]
    other[40:] = other[:40]
    gt = gaussian_filter(fixation_count_map(fixations, (h, w)), 3.0)
    sal = gaussian_filter(gt + 0.002 * rng.random((h, w)), 1.0)  # a decent prediction
    sal[:4, :6] = sal[0, 0]  # a block of exact ties
    baseline = gaussian_filter(rng.random((h, w)), 5.0) + 0.1
    return {"sal": sal, "fix": fixations, "other": other, "gt": gt, "baseline": baseline,
            "random": rng.random((h, w)), "shape": (h, w)}


# ---------------------------------------------------------------------------------------------------------------
# Analytic cases
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_perfect_map_scores_high_and_beats_random(case, protocol):
    peaked = fixation_count_map(case["fix"], case["shape"])  # exactly peaked at the fixations
    for metric in (m.auc_judd, m.auc_borji):
        assert metric(peaked, case["fix"], protocol) > 0.99
        assert metric(case["gt"], case["fix"], protocol) > metric(case["random"], case["fix"], protocol) + 0.2
    assert m.sauc(peaked, case["fix"], case["other"], protocol) > 0.9
    assert m.nss(case["gt"], case["fix"], protocol) > m.nss(case["random"], case["fix"], protocol) + 1.0
    assert m.cc(case["gt"], case["gt"], protocol) > m.cc(case["random"], case["gt"], protocol)
    assert m.kld(case["gt"], case["gt"], protocol) < m.kld(case["random"], case["gt"], protocol)


def test_tuebingen_judd_is_exactly_one_for_a_peaked_map(case):
    # Positives are all > 0, the unfixated negatives all 0: a perfect separation.
    peaked = fixation_count_map(case["fix"], case["shape"])
    assert m.auc_judd(peaked, case["fix"], "tuebingen") == pytest.approx(1.0, abs=1e-12)


def test_constant_map_auc_is_one_half(case):
    const = np.full(case["shape"], 3.0)
    assert m.auc_borji(const, case["fix"], "tuebingen") == 0.5  # exact tie handling
    assert m.auc_judd(const, case["fix"], "tuebingen") == 0.5
    assert m.sauc(const, case["fix"], case["other"], "tuebingen") == 0.5
    assert m.auc_borji(const, case["fix"], "mit") == 0.5  # documented: constant → zeros → one threshold
    # MIT AUC-Judd breaks ties with jitter, so it is only ≈ 0.5; many fixations keep the spread small.
    rng = np.random.default_rng(5)
    many = np.c_[rng.uniform(0, 60, 400), rng.uniform(0, 40, 400)]
    assert m.auc_judd(const, many, "mit") == pytest.approx(0.5, abs=0.05)
    assert m.map_metrics_continuous(const, case["gt"])["auc_weighted"] == 0.5


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_constant_map_nss_is_zero(case, protocol):
    assert m.nss(np.full(case["shape"], 0.7), case["fix"], protocol) == 0.0


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_identities(case, protocol):
    x = case["sal"]
    assert m.cc(x, x, protocol) == pytest.approx(1.0, abs=1e-12)
    assert m.cc(x, -x, protocol) == pytest.approx(-1.0, abs=1e-12)
    assert m.cc(np.ones_like(x), x, protocol) == 0.0  # documented: constant map → 0
    assert m.kld(x, x, protocol) == pytest.approx(0.0, abs=1e-12)
    assert m.sim(x, x, protocol) == pytest.approx(1.0, abs=1e-12)
    assert m.information_gain(x, case["fix"], x, protocol) == pytest.approx(0.0, abs=1e-12)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_scale_and_offset_invariance(case, protocol):
    s, f, g = case["sal"], case["fix"], case["gt"]
    scaled, shifted = 7.3 * s, 7.3 * s + 2.5
    # Jitter (rand/1e7) is added before min-max in MIT AUC-Judd, so invariance there holds to ~1e-6 only.
    tol = 1e-5 if protocol == "mit" else 1e-12
    for t in (scaled, shifted):
        assert m.auc_judd(t, f, protocol) == pytest.approx(m.auc_judd(s, f, protocol), abs=tol)
        assert m.auc_borji(t, f, protocol) == pytest.approx(m.auc_borji(s, f, protocol), abs=1e-12)
        assert m.sauc(t, f, case["other"], protocol) == pytest.approx(m.sauc(s, f, case["other"], protocol),
                                                                      abs=1e-12)
        assert m.nss(t, f, protocol) == pytest.approx(m.nss(s, f, protocol), abs=1e-9)
        assert m.cc(t, g, protocol) == pytest.approx(m.cc(s, g, protocol), abs=1e-12)
    assert m.kld(scaled, g, protocol) == pytest.approx(m.kld(s, g, protocol), abs=1e-9)
    assert m.sim(scaled, g, protocol) == pytest.approx(m.sim(s, g, protocol), abs=1e-12)
    assert m.information_gain(scaled, f, case["baseline"], protocol) == pytest.approx(
        m.information_gain(s, f, case["baseline"], protocol), abs=1e-9)
    if protocol == "mit":  # min-max makes MIT SIM and IG offset-invariant too; Tübingen's are not
        assert m.sim(shifted, g, protocol) == pytest.approx(m.sim(s, g, protocol), abs=1e-12)
        assert m.information_gain(shifted, f, case["baseline"], protocol) == pytest.approx(
            m.information_gain(s, f, case["baseline"], protocol), abs=1e-9)
    else:
        assert m.sim(shifted, g, protocol) != pytest.approx(m.sim(s, g, protocol), abs=1e-3)


# ---------------------------------------------------------------------------------------------------------------
# Hand-computed values on a 3×3 map
# ---------------------------------------------------------------------------------------------------------------
#   S = [[0, 1, 2],      fixations (x, y): (2.5, 2.5) on value 8, (0.2, 2.7) on value 6, and (2.9, 2.1) again on
#        [3, 4, 5],      value 8 — a duplicate pixel at other sub-pixel coordinates.
#        [6, 7, 8]]      After min-max, S = k/8.

S3 = np.arange(9, dtype=float).reshape(3, 3)
FIX3 = np.array([[2.5, 2.5], [0.2, 2.7], [2.9, 2.1]])


def test_pixel_convention_floor_and_clip():
    # row = floor(y), col = floor(x), clipped: x == W lands in the last column, negatives in the first.
    idx = m.fixation_pixels(np.array([[2.9, 0.1], [3.0, 2.0], [-0.5, 1.5], [0.0, 5.0]]), (3, 3))
    assert idx.tolist() == [0 * 3 + 2, 2 * 3 + 2, 1 * 3 + 0, 2 * 3 + 0]


def test_mit_auc_judd_by_hand():
    # Unique fixated values 1, 6/8 (Nfix = 2, Npix = 9). t = 1: #{S≥t} = 1 → TP ½, FP (1−1)/7 = 0.
    # t = ¾: #{S≥t} = 3 (values 6, 7, 8) → TP 1, FP (3−2)/7 = 1/7. Curve (0,0) (0,½) (1/7,1) (1,1):
    # area = 1/7·(½+1)/2 + 6/7 = 3/28 + 24/28 = 27/28.
    assert m.auc_judd(S3, FIX3, "mit") == pytest.approx(27 / 28, abs=1e-5)


def test_tuebingen_auc_judd_by_hand():
    # Positives keep the duplicate: (1, 1, ¾), Npos = 3; negatives = the 7 unfixated pixels.
    # t = 1: TP 2/3, FP 0. t = ¾: TP 1, FP 1/7 (value 7/8). Area = 1/7·(2/3+1)/2 + 6/7 = 5/42 + 36/42 = 41/42.
    assert m.auc_judd(S3, FIX3, "tuebingen") == pytest.approx(41 / 42, abs=1e-12)


def test_mit_step_auc_by_hand():
    # One split: positives {1, ¾}, negatives {7/8, 0}; thresholds 1.0, 0.9, …, 0.
    # t = 1, .9: (FP 0, TP ½); t = .8: (½, ½); t = .7 … .1: (½, 1); t = 0: (1, 1).
    # Area = ½·½ (from (0,½) to (½,½)) + ½·1 (from (½,1) to (1,1)) = 0.75.
    auc = m._step_auc(np.array([1.0, 0.75]), np.array([[0.875, 0.0]]), 0.1)
    assert auc.tolist() == pytest.approx([0.75], abs=1e-12)


def test_sauc_by_hand():
    # Other fixations on values 7 (twice) and 0. MIT: the union collapses them to 2 locations = Nfix, so every
    # split uses both, and the step ROC of the previous test gives 0.75 whatever the permutation.
    other = np.array([[1.5, 2.5], [1.1, 2.9], [0.5, 0.5]])
    assert m.sauc(S3, FIX3, other, "mit") == pytest.approx(0.75, abs=1e-12)
    # Tübingen: positives (8, 6, 8), negatives (7, 7, 0): pairs won = 3 + 1 + 3 = 7 of 9.
    assert m.sauc(S3, FIX3, other, "tuebingen") == pytest.approx(7 / 9, abs=1e-12)


def test_nss_by_hand():
    # MIT: mean 4, std (N−1) = sqrt(60/8); unique fixated values 8, 6 → mean z = 3 / sqrt(7.5).
    assert m.nss(S3, FIX3, "mit") == pytest.approx(3 / np.sqrt(7.5), abs=1e-12)
    # Tübingen: std (N) = sqrt(60/9); every fixation (8, 6, 8) → mean z = (10/3) / sqrt(60/9).
    assert m.nss(S3, FIX3, "tuebingen") == pytest.approx((10 / 3) / np.sqrt(60 / 9), abs=1e-12)


def test_sim_by_hand():
    # S = 1..9 vs a one-hot GT on the last pixel. MIT: min-max → k/8, sum 4.5 → last pixel 8/36.
    # Tübingen: no min-max → 9/45.
    s = S3 + 1
    g = np.zeros((3, 3))
    g[2, 2] = 1.0
    assert m.sim(s, g, "mit") == pytest.approx(8 / 36, abs=1e-12)
    assert m.sim(s, g, "tuebingen") == pytest.approx(9 / 45, abs=1e-12)


def test_kld_and_cc_by_hand():
    # P = (½, 0, 0, ½), Q uniform ¼ → KL = 2 · ½ · log(2 + eps) = log 2 (the eps terms are ~1e-16).
    g = np.array([[1.0, 0.0], [0.0, 1.0]])
    assert m.kld(np.ones((2, 2)), g) == pytest.approx(np.log(2), abs=1e-12)
    # CC of (1, 2, 3, 4) and (0, 0, 0, 1): centred (−1.5, −.5, .5, 1.5)·(−¼, −¼, −¼, ¾) = 1.5;
    # squared norms 5 and ¾ → 1.5 / √3.75 = √0.6. Against (1, 0, 0, 1) the centred vectors are orthogonal → 0.
    s = np.array([[1.0, 2.0], [3.0, 4.0]])
    assert m.cc(s, np.array([[0.0, 0.0], [0.0, 1.0]])) == pytest.approx(np.sqrt(0.6), abs=1e-12)
    assert m.cc(s, g) == pytest.approx(0.0, abs=1e-12)


def test_mit_information_gain_by_hand():
    # S = k/36 after min-max and sum. B = [[1,2,1],[2,3,2],[1,2,1]] → min-max [[0,½,0],[½,1,½],[0,½,0]], sum 3.
    # Fixations on (row 1, col 2): S 5/36, B 1/6 and (row 1, col 1) twice (collapses): S 4/36, B 1/3.
    # IG = mean(log2(5/6), log2(1/3)).
    b = np.array([[1.0, 2, 1], [2, 3, 2], [1, 2, 1]])
    fix = np.array([[2.5, 1.5], [1.2, 1.2], [1.8, 1.9]])
    expected = (np.log2(5 / 6) + np.log2(1 / 3)) / 2
    assert m.information_gain(S3, fix, b, "mit") == pytest.approx(expected, abs=1e-12)
    # Tübingen: densities S/36 vs B/15, all three fixations: mean(log2((5/36)/(2/15)), 2 × log2((4/36)/(3/15))).
    expected_t = (np.log2((5 / 36) / (2 / 15)) + 2 * np.log2((4 / 36) / (3 / 15))) / 3
    assert m.information_gain(S3, fix, b, "tuebingen") == pytest.approx(expected_t, abs=1e-12)


# ---------------------------------------------------------------------------------------------------------------
# Cross-check against pysaliency (Tübingen protocol)
# ---------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def ps():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pysaliency = pytest.importorskip("pysaliency")
    # pysaliency 0.2.22 calls np.trapz, which numpy 2.4 removed; np.trapezoid is the same function.
    with pytest.MonkeyPatch.context() as mp:
        if not hasattr(np, "trapz"):
            mp.setattr(np, "trapz", np.trapezoid, raising=False)
        yield pysaliency


def _ps_inputs(ps, case):
    h, w = case["shape"]
    stimuli = ps.Stimuli([np.zeros((h, w, 3), dtype=np.uint8)])
    fix, other = case["fix"], case["other"]
    fixations = ps.Fixations.create_without_history(fix[:, 0], fix[:, 1], np.zeros(len(fix), dtype=int))
    nonfix = ps.Fixations.create_without_history(other[:, 0], other[:, 1], np.zeros(len(other), dtype=int))

    class ArrayMap(ps.SaliencyMapModel):
        def __init__(self, arr):
            super().__init__(caching=False)
            self.arr = arr

        def _saliency_map(self, stimulus):
            return self.arr

    class ArrayDensity(ps.Model):
        def __init__(self, log_density):
            super().__init__(caching=False)
            self.log_density_ = log_density

        def _log_density(self, stimulus):
            return self.log_density_

    return stimuli, fixations, nonfix, ArrayMap, ArrayDensity


@pytest.mark.parametrize("quantised", [False, True])
def test_fixation_metrics_match_pysaliency(ps, case, quantised):
    stimuli, fixations, nonfix, ArrayMap, _ = _ps_inputs(ps, case)
    sal, fix = case["sal"], case["fix"]
    if quantised:  # 4 grey levels: many ties between fixated and non-fixated pixels
        sal = np.floor(sal / sal.max() * 3.999)
    model = ArrayMap(sal)
    assert m.auc_judd(sal, fix, "tuebingen") == pytest.approx(
        model.AUC_Judd(stimuli, fixations, jitter=False), abs=1e-9)
    assert m.auc_borji(sal, fix, "tuebingen") == pytest.approx(
        model.AUC(stimuli, fixations, nonfixations="uniform"), abs=1e-9)
    assert m.sauc(sal, fix, case["other"], "tuebingen") == pytest.approx(
        model.AUC(stimuli, fixations, nonfixations=nonfix), abs=1e-9)
    assert m.nss(sal, fix, "tuebingen") == pytest.approx(model.NSS(stimuli, fixations), abs=1e-9)
    # The exact AUC also equals the mean of pysaliency's per-fixation ROC scores (no np.trapz involved).
    from pysaliency.roc import general_rocs_per_positive
    per_fix = general_rocs_per_positive(sal[fixations.y_int, fixations.x_int], sal.ravel())
    assert m.auc_borji(sal, fix, "tuebingen") == pytest.approx(per_fix.mean(), abs=1e-9)


@pytest.mark.filterwarnings("ignore:divide by zero:RuntimeWarning")  # pysaliency logs zeros of the GT
@pytest.mark.parametrize("pred", ["sal", "random"])
def test_map_metrics_match_pysaliency(ps, case, pred):
    s, g = case[pred], case["gt"]
    assert m.cc(s, g, "tuebingen") == pytest.approx(ps.metrics.CC(s, g), abs=1e-9)
    assert m.sim(s, g, "tuebingen") == pytest.approx(ps.metrics.SIM(s, g), abs=1e-9)
    for protocol in PROTOCOLS:  # KLD is pysaliency's MIT_KLDiv in both protocols; argument 2 is the GT
        assert m.kld(s, g, protocol) == pytest.approx(ps.metrics.MIT_KLDiv(s, g), abs=1e-9)


def test_information_gain_matches_pysaliency(ps, case):
    stimuli, fixations, _, _, ArrayDensity = _ps_inputs(ps, case)
    p = case["sal"] / case["sal"].sum()
    b = case["baseline"] / case["baseline"].sum()
    expected = ArrayDensity(np.log(p)).information_gain(stimuli, fixations, baseline_model=ArrayDensity(np.log(b)))
    # Unnormalised inputs on purpose: the Tübingen mode normalises them to densities itself.
    assert m.information_gain(3.0 * case["sal"], case["fix"], case["baseline"], "tuebingen") == pytest.approx(
        expected, abs=1e-9)


# ---------------------------------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_compute_all_keys_and_determinism(case, protocol):
    s, f, g = case["sal"], case["fix"], case["gt"]
    full = m.compute_all(s, f, g, other_fixations=case["other"], baseline=case["baseline"], protocol=protocol)
    assert tuple(full) == m.METRICS
    assert full == m.compute_all(s, f, g, other_fixations=case["other"], baseline=case["baseline"],
                                 protocol=protocol)  # rng=None → seed 0
    assert set(m.compute_all(s, f, None, protocol=protocol)) == {"auc_judd", "auc_borji", "nss"}
    assert "sauc" not in m.compute_all(s, f, g, other_fixations=np.zeros((0, 2)), protocol=protocol)
    assert full["nss"] == m.nss(s, f, protocol) and full["cc"] == m.cc(s, g, protocol)


def test_mit_random_parts_follow_rng(case):
    s, f = case["sal"], case["fix"]
    a = m.auc_borji(s, f, "mit", rng=np.random.default_rng(1))
    assert a == m.auc_borji(s, f, "mit", rng=np.random.default_rng(1))
    assert a != m.auc_borji(s, f, "mit", rng=np.random.default_rng(2))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_map_metrics_continuous(case, protocol):
    s, g, f = case["sal"], case["gt"], case["fix"]
    out = m.map_metrics_continuous(s, g, protocol)
    assert set(out) == {"cc", "kld", "sim", "nss", "auc_weighted"}
    assert out["cc"] == m.cc(s, g, protocol)
    assert out["auc_weighted"] > m.map_metrics_continuous(case["random"], g, protocol)["auc_weighted"]
    # With a GT that counts fixations per pixel, auc_weighted is the Tübingen exact AUC.
    counts = fixation_count_map(f, case["shape"])
    assert m.map_metrics_continuous(s, counts, protocol)["auc_weighted"] == pytest.approx(
        m.auc_borji(s, f, "tuebingen"), abs=1e-12)
    # With a binary GT of the fixated pixels, the weighted NSS is MIT NSS (unique pixels, N−1 std).
    binary = (counts > 0).astype(float)
    assert m.map_metrics_continuous(s, binary, "mit")["nss"] == pytest.approx(m.nss(s, f, "mit"), abs=1e-12)


def test_compute_all_is_fast_on_a_large_map():
    rng = np.random.default_rng(0)
    sal = gaussian_filter(rng.random((600, 800)), 8)
    fix = np.c_[rng.uniform(0, 800, 200), rng.uniform(0, 600, 200)]
    other = np.c_[rng.uniform(0, 800, 2000), rng.uniform(0, 600, 2000)]
    for protocol in PROTOCOLS:
        start = time.perf_counter()
        out = m.compute_all(sal, fix, sal, other_fixations=other, baseline=sal + 1, protocol=protocol)
        assert len(out) == len(m.METRICS)
        assert time.perf_counter() - start < 3.0  # loose: shared CPUs; typically well under a second


# ---------------------------------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------------------------------

def test_errors(case):
    s, f, g = case["sal"], case["fix"], case["gt"]
    with pytest.raises(ValueError, match="shape mismatch"):
        m.cc(s, g[:-1], "mit")
    with pytest.raises(ValueError, match="shape mismatch"):
        m.compute_all(s, f, g[:, :-2])
    with pytest.raises(ValueError, match="shape mismatch"):
        m.information_gain(s, f, case["baseline"].T)
    with pytest.raises(ValueError, match="empty"):
        m.nss(s, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="empty"):
        m.sauc(s, f, np.zeros((0, 2)))
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        m.auc_judd(s, np.zeros((3, 3)))
    bad = s.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        m.auc_borji(bad, f)
    with pytest.raises(ValueError, match="NaN"):
        m.kld(s, np.where(g > 0, g, np.inf))
    with pytest.raises(ValueError, match="NaN"):
        m.nss(s, np.array([[1.0, np.nan]]))
    with pytest.raises(ValueError, match="unknown protocol 'matlab'"):
        m.nss(s, f, protocol="matlab")
    with pytest.raises(ValueError, match="unknown protocol"):
        m.compute_all(s, f, g, protocol="MIT")
    with pytest.raises(ValueError, match="non-negative density"):
        m.information_gain(s, f, np.log(case["baseline"]), "tuebingen")
    with pytest.raises(ValueError, match="non-negative"):
        m.map_metrics_continuous(s, g - 1.0)


def test_nss_of_an_exactly_constant_map_with_rounding_mean_is_zero():
    # 1/(600*800) does not survive np.mean exactly; the z-score must not turn rounding noise into -1.
    from training.metrics.saliency import nss
    sal = np.full((600, 800), 1.0 / (600 * 800))
    fix = np.array([[10.0, 20.0], [400.0, 300.0]])
    assert nss(sal, fix, "mit") == 0.0 and nss(sal, fix, "tuebingen") == 0.0
