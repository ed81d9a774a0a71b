"""AOI geometry, import/export, suggestions and metrics (training/metrics/aoi.py, training/aoi_suggest.py)."""
import json

import cv2
import numpy as np
import pytest

from training.aoi_suggest import FaceDetectorUnavailable, face_aois, grid_aois, saliency_regions
from training.metrics.aoi import (aoi_metrics, aois_from_csv, aois_from_json, aois_to_csv, aois_to_json,
                                  check_aois, compare, hits, per_viewer, polygon_aoi, rect_aoi, saliency_mass)

SIZE = (200, 100)
AOIS = [rect_aoi("left", 0, 0, 100, 100), rect_aoi("right", 100, 0, 100, 100),
        polygon_aoi("tri", [(20, 20), (80, 20), (50, 80)])]


def path(*fixations):
    return np.array(fixations, dtype=float).reshape(-1, 3)


def test_hits_count_overlapping_aois_each_and_edges_as_inside():
    inside = hits(AOIS, [(50, 40), (150, 50), (100, 50), (0, 0), (250, 50)])
    assert inside.tolist() == [[True, False, True], [False, True, False], [True, True, False],
                               [True, False, False], [False, False, False]]


@pytest.mark.parametrize("aoi, message", [
    (rect_aoi("big", 150, 0, 100, 50), "outside the 200×100 image"),
    (polygon_aoi("flat", [(0, 0), (50, 0), (100, 0)]), "is empty"),
    (polygon_aoi("bowtie", [(0, 0), (50, 50), (50, 0), (0, 50)]), "crosses itself"),
    (polygon_aoi("two", [(0, 0), (50, 50)]), "at least 3 points"),
    (polygon_aoi(" ", [(0, 0), (50, 50), (0, 50)]), "empty name"),
])
def test_bad_aois_are_refused_with_their_name(aoi, message):
    with pytest.raises(ValueError, match=message):
        check_aois([aoi], SIZE)


def test_duplicate_names_nan_points_and_no_aois_are_refused():
    with pytest.raises(ValueError, match="unique"):
        check_aois([AOIS[0], AOIS[0]], SIZE)
    with pytest.raises(ValueError, match="finite"):
        check_aois([polygon_aoi("nan", [(0, 0), (np.nan, 5), (5, 5)])], SIZE)
    with pytest.raises(ValueError, match="at least one"):
        check_aois([], SIZE)


def test_a_rectangle_drawn_a_hair_past_the_edge_is_clipped():
    (aoi,) = check_aois([rect_aoi("edge", 150, 0, 50.5, 100)], SIZE)
    assert max(x for x, _ in aoi.points) == 200


def test_json_and_csv_round_trip_and_relative_units():
    again = aois_from_json(aois_to_json(AOIS, SIZE), SIZE)
    assert [a.to_dict() for a in again] == [a.to_dict() for a in AOIS]
    assert [a.to_dict() for a in aois_from_csv(aois_to_csv(AOIS), SIZE)] == [a.to_dict() for a in AOIS]
    relative = aois_from_json(json.dumps({"units": "relative", "aois": [{"name": "r", "rect": [0.5, 0, 0.5, 1]}]}),
                              SIZE)
    assert relative[0].to_dict()["rect"] == [100, 0, 100, 100]
    with pytest.raises(ValueError, match="give a rect"):
        aois_from_json('{"aois": [{"name": "x"}]}', SIZE)
    with pytest.raises(ValueError, match="not valid JSON"):
        aois_from_json("{nope", SIZE)
    with pytest.raises(ValueError, match="columns name, x, y"):
        aois_from_csv("label,left,top\na,1,2\n", SIZE)


def test_per_viewer_measures_follow_their_definitions():
    # left(50,50) 100 ms → right 200 → right 100 → outside-of-all? no: (100,50) is on both edges
    viewer = path((50, 50, 100), (150, 50, 200), (160, 60, 100), (50, 50, 300), (150, 10, 50))
    m = per_viewer([viewer], AOIS)
    assert m["dwell_ms"][0].tolist() == [400, 350, 400]          # tri contains (50, 50) too
    assert m["dwell_share"][0] == pytest.approx(np.array([400, 350, 400]) / 750)
    assert m["fixation_count"][0].tolist() == [2, 3, 2]
    assert m["ttff_ms"][0].tolist() == [0, 100, 0]
    assert m["first_fixation_ms"][0].tolist() == [100, 200, 100]
    assert m["visit_count"][0].tolist() == [2, 2, 2]
    # the order uses the first listed AOI: left, right, left, right
    assert m["first_entered"][0].tolist() == [1, 0, 0]
    assert m["entry_rank"][0][:2].tolist() == [1, 2] and np.isnan(m["entry_rank"][0][2])
    assert m["transitions"][0].tolist() == [[0, 2, 0], [1, 0, 0], [0, 0, 0]]


def test_fixations_outside_every_aoi_are_skipped_in_transitions_and_empty_viewers_count_zero():
    m = per_viewer([path((150, 50, 100), (250 - 60, 99, 100)), path()], [AOIS[0], rect_aoi("corner", 185, 90, 15, 10)])
    assert m["transitions"][0].tolist() == [[0, 0], [0, 0]]
    assert m["fixated"][0].tolist() == [0, 1] and m["dwell_ms"][1].tolist() == [0, 0]
    assert np.isnan(m["ttff_ms"][1]).all()


def test_summaries_and_bootstrap_intervals():
    viewers = [path((50, 50, 100), (150, 50, 100)), path((150, 50, 100), (50, 50, 300)), path((150, 50, 200))]
    result = aoi_metrics(viewers, AOIS[:2], SIZE, seed=1)
    dwell = result["metrics"]["dwell_ms"]
    assert dwell["value"] == pytest.approx([(100 + 300 + 0) / 3, (100 + 100 + 200) / 3])
    assert result["metrics"]["ttff_ms"]["value"] == pytest.approx([(0 + 100) / 2, (100 + 0 + 0) / 3])
    assert result["metrics"]["fixated"]["value"] == pytest.approx([2 / 3, 1.0])
    for key, m in result["metrics"].items():
        for v, lo, hi in zip(m["value"], m["low"], m["high"]):
            assert lo - 1e-9 <= v <= hi + 1e-9, key
    assert result["transitions"]["counts"] == [[0, 1], [1, 0]]
    assert result["order"] == ["right", "left"]
    assert json.loads(json.dumps(result)) == result                # JSON-friendly


def test_intervals_are_zero_for_identical_viewers_and_narrow_with_more_viewers():
    same = aoi_metrics([path((50, 50, 100), (150, 50, 300))] * 20, AOIS[:2], SIZE)
    assert same["metrics"]["dwell_share"]["low"] == same["metrics"]["dwell_share"]["high"]
    rng = np.random.default_rng(0)

    def crowd(n):
        return [path(*[(x, 50, 200) for x in rng.uniform(0, 200, 6)]) for _ in range(n)]

    def width(result):
        m = result["metrics"]["dwell_share"]
        return np.mean(np.array(m["high"]) - np.array(m["low"]))

    assert width(aoi_metrics(crowd(400), AOIS[:2], SIZE)) < 0.6 * width(aoi_metrics(crowd(25), AOIS[:2], SIZE))
    many = crowd(200)
    assert width(aoi_metrics(many, AOIS[:2], SIZE, resample_size=15)) > 2 * width(aoi_metrics(many, AOIS[:2], SIZE))


def test_compare_reports_difference_and_overlap():
    a = aoi_metrics([path((50, 50, 100))] * 5, AOIS[:2], SIZE)
    b = aoi_metrics([path((150, 50, 100))] * 5, AOIS[:2], SIZE)
    c = compare(a, b)
    assert c["dwell_share"]["difference"] == [1.0, -1.0]
    assert c["dwell_share"]["intervals_overlap"] == [False, False]
    assert compare(a, a)["dwell_share"]["intervals_overlap"] == [True, True]
    assert c["ttff_ms"]["difference"] == [None, None]             # each AOI entered on one side only


def test_saliency_mass_is_the_area_share_for_a_uniform_map():
    mass = saliency_mass(np.ones((100, 200)), AOIS)
    assert mass[:2] == pytest.approx([0.5, 0.5])
    assert mass[2] == pytest.approx(0.5 * 60 * 60 / 20000, rel=0.05)
    with pytest.raises(ValueError, match="no mass"):
        saliency_mass(np.zeros((100, 200)), AOIS)


def test_grid_covers_the_image_once():
    grid = grid_aois((200, 100), 3, 3)
    assert [a.name for a in grid][:2] == ["r1c1", "r1c2"]
    inside = hits(grid, np.random.default_rng(0).uniform([0, 0], [199.9, 99.9], (500, 2)))
    assert (inside.sum(1) >= 1).all()
    with pytest.raises(ValueError, match="1–10"):
        grid_aois((200, 100), 0, 3)


def test_saliency_regions_find_the_blobs_densest_first():
    yy, xx = np.mgrid[0:100, 0:200]
    density = 2 * np.exp(-((xx - 40) ** 2 + (yy - 30) ** 2) / 50) + np.exp(-((xx - 150) ** 2 + (yy - 70) ** 2) / 50)
    first, second = saliency_regions(density, 2)
    assert hits([first], [(40, 30)])[0, 0] and not hits([first], [(150, 70)])[0, 0]
    assert hits([second], [(150, 70)])[0, 0]
    assert saliency_regions(np.zeros((10, 10)), 3) == []


def test_face_suggestions_run_or_say_why_not():
    image = np.full((120, 160, 3), 128, np.uint8)
    if not hasattr(cv2, "CascadeClassifier"):
        with pytest.raises(FaceDetectorUnavailable, match="OpenCV"):
            face_aois(image)
    else:
        assert face_aois(image) == []                            # a grey image has no face


def test_results_table_checks_the_targets_against_the_floor(tmp_path):
    from training.make_results import aoi_tables

    def row(r, rho):
        return {"dwell_share_r": r, "ttff_rho": rho, **{f"coverage_{i}_{k}": 0.5 for i in ("mean", "study")
                                                       for k in ("dwell_share", "ttff_ms", "fixated")}}

    (tmp_path / "aoi").mkdir()
    (tmp_path / "aoi" / "osie-test.json").write_text(json.dumps({
        "data": "osie", "split": "test", "images": 40, "of_images": 140,
        "results": {"spgen": {"grid 3x3": row(0.85, 0.60), "human top-3": row(0.85, 0.50)},
                    "centre-bias floor": {"grid 3x3": row(0.70, 0.40), "human top-3": row(0.50, 0.40)}}}))
    text = "\n".join(aoi_tables(tmp_path))
    assert "| osie-test | 40 of 140 | grid 3x3 | spgen | 0.850 | 0.600 |" in text
    assert "r ✓, ρ ✓" in text                                    # grid: 0.85 ≥ 0.80 and ≥ 0.70 + 0.10
    assert "r ✓, ρ ✗" in text                                    # top-3: ρ 0.50 < 0.40 + 0.15
    assert aoi_tables(tmp_path / "none") == []


# ------------------------------------------------------------------------------------ calibrated intervals

def test_conformal_factor_fitted_on_one_half_covers_95_percent_of_the_other():
    from training.metrics.aoi import calibrated_bounds, conformity_scores, fit_calibration
    rng = np.random.default_rng(0)
    n = 4000
    value = rng.uniform(0.2, 0.8, n)
    low, high = value - 0.03, value + 0.05                      # a bootstrap interval far narrower than the error
    observed = value + rng.normal(0, 0.08, n)
    raw = np.mean((low <= observed) & (observed <= high))
    factor = fit_calibration(conformity_scores(value[:2000], low[:2000], high[:2000], observed[:2000], "dwell_share"))
    lo, hi = calibrated_bounds(value[2000:], low[2000:], high[2000:], "dwell_share", factor)
    covered = np.mean((lo <= observed[2000:]) & (observed[2000:] <= hi))
    assert raw < 0.6 and 0.93 <= covered <= 0.97 and factor > 1


def test_calibrate_widens_keeps_missing_values_and_the_range_of_a_share():
    from training.metrics.aoi import calibrate
    result = {"aois": ["a", "b"], "metrics": {
        "fixated": {"value": [0.95, None], "low": [0.9, None], "high": [1.0, None]},
        "ttff_ms": {"value": [300.0, 100.0], "low": [250.0, 100.0], "high": [350.0, 100.0]}}}
    out = calibrate(result, {"fixated": 3.0, "ttff_ms": 2.0})
    assert out["metrics"]["fixated"]["high"] == [1.0, None] and out["metrics"]["fixated"]["low"][0] == pytest.approx(0.77)
    assert out["metrics"]["ttff_ms"]["low"] == pytest.approx([180.0, 80.0])      # a zero-width interval widens too
    assert result["metrics"]["ttff_ms"]["low"] == [250.0, 100.0]                   # the input is left as it was


def test_calibration_refuses_test_runs(tmp_path):
    from training.aoi_validation import fit
    path = tmp_path / "osie-test-pairs.npz"
    np.savez(path, **{"spgen|grid 3x3|pairs_dwell_share": np.zeros((3, 4))})
    with pytest.raises(SystemExit, match="val"):
        fit([path], out=tmp_path / "cal.json")
