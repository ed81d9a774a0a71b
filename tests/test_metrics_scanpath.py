"""Scanpath metrics (training/metrics/scanpath.py): cross-check with multimatch-gaze, hand-worked cases, errors."""
from __future__ import annotations

import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from training.metrics import scanpath as S

W, H = 1280, 720
MM_KEYS = ("vector", "direction", "length", "position", "duration")


def _reflect(v, hi):
    """Fold coordinates back into [0, hi]: keeps paths inside the image without the exact ties clipping makes."""
    v = np.mod(v, 2 * hi)
    return np.where(v > hi, 2 * hi - v, v)


def random_scanpath(rng, n=None, size=(W, H)):
    """5–12 fixations; each saccade is short (~5 px), medium (~40 px) or long (~400 px); durations 80–600 ms."""
    n = int(rng.integers(5, 13)) if n is None else n
    xy = np.empty((n, 2))
    xy[0] = rng.uniform((0, 0), size)
    for i in range(1, n):
        xy[i] = _reflect(xy[i - 1] + rng.choice([5.0, 40.0, 400.0]) * rng.standard_normal(2), np.array(size))
    return np.column_stack([xy, rng.uniform(80, 600, n)])


def _reference(mm, sp1, sp2, size, t_amp=0.0, t_dir=0.0, t_dur_ms=0.0):
    """multimatch-gaze on the same paths: record arrays of start_x, start_y, duration in **seconds**."""
    def rec(sp):
        return np.rec.fromarrays([sp[:, 0], sp[:, 1], sp[:, 2] / 1000.0], names="start_x,start_y,duration")
    grouping = t_amp > 0 or t_dir > 0 or t_dur_ms > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = mm.docomparison(rec(sp1), rec(sp2), screensize=list(size), grouping=grouping,
                              TAmp=t_amp, TDir=t_dir, TDur=t_dur_ms / 1000.0)
    return dict(zip(MM_KEYS, (float(v) for v in out)))


# --- MultiMatch ---------------------------------------------------------------------------------------------------

def test_multimatch_agrees_with_multimatch_gaze_without_simplification():
    mm = pytest.importorskip("multimatch_gaze")
    rng = np.random.default_rng(7)
    for _ in range(25):
        a, b = random_scanpath(rng), random_scanpath(rng)
        ours, ref = S.multimatch(a, b, (W, H)), _reference(mm, a, b, (W, H))
        for k in MM_KEYS:
            assert 0.0 <= ours[k] <= 1.0
            assert abs(ours[k] - ref[k]) <= 1e-3, (k, ours[k], ref[k])


def test_multimatch_agrees_on_other_image_sizes_and_unequal_lengths():
    mm = pytest.importorskip("multimatch_gaze")
    rng = np.random.default_rng(11)
    for size, (n1, n2) in [((640, 480), (3, 12)), ((1920, 1080), (12, 5)), ((300, 900), (4, 4))]:
        a, b = random_scanpath(rng, n1, size), random_scanpath(rng, n2, size)
        ours, ref = S.multimatch(a, b, size), _reference(mm, a, b, size)
        assert max(abs(ours[k] - ref[k]) for k in MM_KEYS) <= 1e-3


def test_direction_simplification_agrees_with_multimatch_gaze():
    # TAmp = 0 exercises only the direction rule; durations are ms here and seconds in the reference.
    mm = pytest.importorskip("multimatch_gaze")
    rng = np.random.default_rng(3)
    merged = 0
    for _ in range(15):
        a, b = random_scanpath(rng), random_scanpath(rng)
        ours = S.multimatch(a, b, (W, H), direction_threshold=45.0, duration_threshold=300.0)
        ref = _reference(mm, a, b, (W, H), t_dir=45.0, t_dur_ms=300.0)
        assert max(abs(ours[k] - ref[k]) for k in MM_KEYS) <= 1e-3
        merged += ours != S.multimatch(a, b, (W, H))
    assert merged > 0                                           # the thresholds did change something


def _isolated_short_saccades(rng):
    """Short (< 50 px) saccades only at odd positions before the last two, each followed by a long (≥ 250 px) one,
    so a length merge never leaves a short saccade behind and the last saccade is never short."""
    n = int(rng.integers(6, 12))
    xy = [rng.uniform((300, 200), (W - 300, H - 200))]
    for i in range(n - 1):
        length = rng.uniform(5, 50) if (i % 2 == 1 and i < n - 3) else rng.uniform(250, 350)
        angle = rng.uniform(0, 2 * np.pi)
        xy.append(_reflect(xy[-1] + length * np.array([np.cos(angle), np.sin(angle)]), np.array([W, H])))
    return np.column_stack([np.array(xy), rng.uniform(80, 600, n)])


def test_length_simplification_agrees_with_multimatch_gaze_when_the_last_saccade_is_long():
    # Such paths avoid multimatch-gaze's special case for a short last saccade (see the module docstring).
    mm = pytest.importorskip("multimatch_gaze")
    rng = np.random.default_rng(5)
    merged = 0
    for _ in range(10):
        a, b = _isolated_short_saccades(rng), _isolated_short_saccades(rng)
        ours = S.multimatch(a, b, (W, H), amplitude_threshold=150.0, duration_threshold=300.0)
        ref = _reference(mm, a, b, (W, H), t_amp=150.0, t_dur_ms=300.0)
        assert max(abs(ours[k] - ref[k]) for k in MM_KEYS) <= 1e-3
        merged += ours != S.multimatch(a, b, (W, H))
    assert merged > 0


def test_simplification_merges_a_straight_run_into_one_saccade():
    # Three collinear 100-px steps with short (50 ms) fixations in between, then a turn: the direction rule merges
    # the steps (two passes) into one (300, 0) saccade, leaving exactly the saccades of `straight`.
    run = np.array([[0, 0, 400], [100, 0, 50], [200, 0, 50], [300, 0, 400], [300, 200, 400]], float)
    straight = np.array([[0, 0, 400], [300, 0, 400], [300, 200, 400]], float)
    plain = S.multimatch(run, straight, (W, H))
    simplified = S.multimatch(run, straight, (W, H), direction_threshold=10.0, duration_threshold=100.0)
    assert all(simplified[k] == pytest.approx(1.0) for k in MM_KEYS)
    assert plain["vector"] < 1.0


def test_identical_scanpaths_score_perfectly():
    sp = random_scanpath(np.random.default_rng(1), 9)
    mm = S.multimatch(sp, sp, (W, H))
    assert all(mm[k] == pytest.approx(1.0) for k in MM_KEYS)
    clusters = S.fit_fixation_clusters([sp])
    assert S.sequence_score(sp, [sp], clusters) == 1.0
    assert S.string_edit_distance(sp, sp, (W, H)) == 0.0
    assert S.dtw_distance(sp, sp) == 0.0
    scores = S.score_scanpath(sp, [sp], (W, H), clusters)
    assert tuple(scores) == S.SCANPATH_METRICS
    assert scores["sequence_score"] == 1.0 and scores["sed"] == 0.0 and scores["dtw"] == 0.0
    assert all(scores[f"mm_{k}"] == pytest.approx(1.0) for k in MM_KEYS)


def test_multimatch_hand_worked_case():
    # Saccades of a: (100, 0), (0, 100); of b: (100, 0), (0, -100). Aligned pairwise (diagonal path):
    #   vector diffs 0 and 200 → median 100 → 1 − 100 / (2·√(1000² + 1000²))
    #   angle diffs 0 and π → median π/2 → direction 0.5; lengths equal → 1
    #   start points: (0,0)-(0,0) and (100,0)-(100,0) → position 1
    #   durations of the start fixations: 200 vs 100 (0.5) and 300 vs 300 (0) → median 0.25 → 0.75
    a = np.array([[0, 0, 200], [100, 0, 300], [100, 100, 100]], float)
    b = np.array([[0, 0, 100], [100, 0, 300], [100, -100, 999]], float)
    mm = S.multimatch(a, b, (1000, 1000))
    assert mm["vector"] == pytest.approx(1 - 100 / (2 * math.hypot(1000, 1000)))
    assert mm["direction"] == pytest.approx(0.5)
    assert mm["length"] == pytest.approx(1.0)
    assert mm["position"] == pytest.approx(1.0)
    assert mm["duration"] == pytest.approx(0.75)


def test_multimatch_needs_three_fixations():
    short = np.array([[10, 10, 200], [50, 50, 200]], float)
    long_ = random_scanpath(np.random.default_rng(0), 6)
    assert all(math.isnan(v) for v in S.multimatch(short, long_, (W, H)).values())
    assert all(math.isnan(v) for v in S.multimatch(long_, short, (W, H)).values())
    # score_scanpath skips NaN MultiMatch rows: a 2-fixation prediction leaves MultiMatch NaN, the rest defined.
    scores = S.score_scanpath(short, [long_, long_], (W, H))
    assert math.isnan(scores["mm_vector"]) and not math.isnan(scores["sed"])


# --- SequenceScore, SED, DTW ----------------------------------------------------------------------------------------

def _letters(word, centres):
    return np.array([[*centres[ch], 200.0] for ch in word])


def test_sequence_score_needleman_wunsch_hand_case():
    # Clusters A, B, C at fixed centres. "ABCA" vs "ACBA" with match 1, mismatch 0, gap 0:
    # the best alignment keeps A?A plus one of B / C (e.g. A-BCA / ACB-A) → 3 matches; / max(4, 4) = 0.75.
    # "ABCA" vs "CC": one C matches → 1 / max(4, 2) = 0.25. Mean over the two humans = 0.5, max = 0.75.
    centres = {"A": (100, 100), "B": (600, 100), "C": (350, 500)}
    clusters = SimpleNamespace(cluster_centers_=np.array([centres["A"], centres["B"], centres["C"]], float))
    pred = _letters("ABCA", centres) + [5, -3, 0]                    # near, not on, the centres
    humans = [_letters("ACBA", centres), _letters("CC", centres)]
    assert S.sequence_score(pred, humans[:1], clusters) == pytest.approx(0.75)
    assert S.sequence_score(pred, humans, clusters) == pytest.approx(0.5)
    assert S.sequence_score(pred, humans, clusters, reduce="max") == pytest.approx(0.75)
    # Truncated to 2: "AB" vs "AC" → 1/2 and "AB" vs "CC" → 0 → mean 0.25.
    assert S.sequence_score(pred, humans, clusters, max_len=2) == pytest.approx(0.25)


def test_meanshift_clusters_label_like_predict():
    from sklearn.cluster import estimate_bandwidth
    rng = np.random.default_rng(4)
    humans = [np.column_stack([rng.normal(c, 15, (4, 2)), np.full(4, 200.0)])
              for c in ([200, 200], [900, 300], [500, 600])]
    clusters = S.fit_fixation_clusters(humans)                        # bandwidth None → sklearn's estimate
    xy = np.concatenate([h[:, :2] for h in humans])
    assert clusters.bandwidth == pytest.approx(estimate_bandwidth(xy))
    probe = random_scanpath(rng, 12)
    assert S._cluster_labels(clusters, probe) == clusters.predict(probe[:, :2]).tolist()
    wide = S.fit_fixation_clusters(humans, bandwidth=150.0)          # one cluster per well-separated blob
    assert len(wide.cluster_centers_) == 3
    same_spot = np.array([[50, 50, 100]] * 4, float)                 # estimate is 0 → 1 px fallback
    assert S.fit_fixation_clusters([same_spot]).bandwidth == 1.0


def test_string_edit_distance_hand_case():
    # 100×100 image, 5×5 grid of 20-px cells, cell = row·5 + col.
    # a: (10,10)→0, (50,10)→2, (90,90)→24, (100,100) on the border→24; b: (10,10)→0, (90,90)→24, (30,70)→16.
    # "0 2 24 24" → "0 24 16": delete 2, substitute the last 24 by 16 → 2 edits; / max(4, 3) = 0.5.
    a = np.array([[10, 10, 1], [50, 10, 1], [90, 90, 1], [100, 100, 1]], float)
    b = np.array([[10, 10, 1], [90, 90, 1], [30, 70, 1]], float)
    assert S.string_edit_distance(a, b, (100, 100), normalise=False) == 2.0
    assert S.string_edit_distance(a, b, (100, 100)) == pytest.approx(0.5)
    # A 1×1 grid puts everything in one cell: only the length difference is left.
    assert S.string_edit_distance(a, b, (100, 100), grid=(1, 1), normalise=False) == 1.0


def test_levenshtein_classic():
    assert S._levenshtein("kitten", "sitting") == 3
    assert S._levenshtein("", "abc") == 3


def test_dtw_hand_case():
    # a = (0,0), (3,4), (10,0);  b = (0,0), (10,0), (10,0). Distances d[i][j]:
    #   a0: 0, 10, 10      a1: 5, √(7²+4²)=8.06, 8.06      a2: 10, 0, 0
    # Lock-step (diagonal) costs 0 + 8.06 + 0; warping (0,0)→(1,0)→(2,1)→(2,2) costs 0 + 5 + 0 + 0 = 5.
    a = np.array([[0, 0, 100], [3, 4, 100], [10, 0, 100]], float)
    b = np.array([[0, 0, 100], [10, 0, 100], [10, 0, 100]], float)
    assert S.dtw_distance(a, b) == pytest.approx(5.0)
    assert S.dtw_distance(b, a) == pytest.approx(5.0)
    # A single fixation against a path: sum of its distances to every point (0 + 5 + 10).
    assert S.dtw_distance(a[:1], a) == pytest.approx(15.0)


# --- Human ceiling ------------------------------------------------------------------------------------------------

def test_inter_observer_beats_random_scanpaths():
    rng = np.random.default_rng(0)
    size = (800, 600)
    route = rng.uniform((60, 60), (740, 540), (8, 2))
    humans = [np.column_stack([route + rng.normal(0, 12, route.shape), rng.uniform(150, 400, 8)])
              for _ in range(7)]
    ceiling = S.inter_observer_scores(humans, size)
    assert tuple(ceiling) == S.SCANPATH_METRICS
    clusters = S.fit_fixation_clusters(humans)
    randoms = [S.score_scanpath(np.column_stack([rng.uniform((0, 0), size, (8, 2)), rng.uniform(150, 400, 8)]),
                                humans, size, clusters) for _ in range(6)]
    chance = {k: float(np.mean([r[k] for r in randoms])) for k in S.SCANPATH_METRICS}
    assert ceiling["sequence_score"] > chance["sequence_score"] + 0.2
    assert ceiling["mm_position"] > chance["mm_position"] + 0.1
    assert ceiling["sed"] < chance["sed"] and ceiling["dtw"] < chance["dtw"]


def test_inter_observer_with_one_subject_is_nan():
    sp = random_scanpath(np.random.default_rng(2), 5)
    assert all(math.isnan(v) for v in S.inter_observer_scores([sp], (W, H)).values())


# --- Errors ---------------------------------------------------------------------------------------------------------

GOOD = np.array([[10, 10, 200], [50, 60, 150], [90, 20, 300]], float)


@pytest.mark.parametrize("bad, match", [
    (GOOD[:, :2], "shape"),
    (GOOD.ravel(), "shape"),
    (np.zeros((0, 3)), "no fixations"),
    (np.where(np.eye(3, dtype=bool), np.nan, GOOD), "NaN"),
    (GOOD * [1, 1, -1], "negative"),
    ("not a path", "N, 3"),
])
def test_malformed_scanpaths_raise(bad, match):
    for call in (lambda: S.multimatch(bad, GOOD, (100, 100)),
                 lambda: S.string_edit_distance(GOOD, bad, (100, 100)),
                 lambda: S.dtw_distance(bad, GOOD),
                 lambda: S.score_scanpath(bad, [GOOD], (100, 100)),
                 lambda: S.score_scanpath(GOOD, [GOOD, bad], (100, 100))):
        with pytest.raises(ValueError, match=match):
            call()


@pytest.mark.parametrize("size", [(0, 100), (100, -5), (np.nan, 100), (100,), "big"])
def test_bad_image_size_raises(size):
    with pytest.raises(ValueError, match="image_size"):
        S.multimatch(GOOD, GOOD, size)
    with pytest.raises(ValueError, match="image_size"):
        S.inter_observer_scores([GOOD, GOOD], size)


def test_other_bad_arguments_raise():
    clusters = S.fit_fixation_clusters([GOOD])
    with pytest.raises(ValueError, match="reduce"):
        S.sequence_score(GOOD, [GOOD], clusters, reduce="median")
    with pytest.raises(ValueError, match="max_len"):
        S.sequence_score(GOOD, [GOOD], clusters, max_len=0)
    with pytest.raises(ValueError, match="at least 1"):
        S.score_scanpath(GOOD, [], (100, 100))
    with pytest.raises(ValueError, match="list of"):
        S.score_scanpath(GOOD, GOOD, (100, 100))
    with pytest.raises(ValueError, match="grid"):
        S.string_edit_distance(GOOD, GOOD, (100, 100), grid=(0, 5))
    with pytest.raises(ValueError, match="bandwidth"):
        S.fit_fixation_clusters([GOOD], bandwidth=-1.0)
    with pytest.raises(ValueError, match="threshold"):
        S.multimatch(GOOD, GOOD, (100, 100), direction_threshold=-1.0)
