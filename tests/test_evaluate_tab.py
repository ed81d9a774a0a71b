"""The Evaluate tab's logic without the UI: what it draws (models/studio/evaluate_tab.py), what it scores and says
(training/studio_evaluate.py), and the model cards."""
from __future__ import annotations

import math

import numpy as np
import pytest
from PIL import Image

from models.studio import evaluate_tab
from tests.conftest import draw_image
from training import studio_evaluate
from training.metrics import scanpath as sp_metrics
from training.metrics.scanpath_files import read_scanpaths_csv


def _blob(shape=(60, 80), centre=(20, 30), width=100.0) -> np.ndarray:
    yy, xx = np.mgrid[0:shape[0], 0:shape[1]]
    return np.exp(-((xx - centre[0]) ** 2 + (yy - centre[1]) ** 2) / width)


def _white(drawing: np.ndarray) -> np.ndarray:
    return (drawing > 240).all(axis=2)


def test_fixations_are_drawn_where_they_are_and_nowhere_else():
    pred = np.zeros((40, 60))                                  # a dark map: every white pixel is a dot
    points = np.array([[10.0, 10.0], [50.0, 30.0]])
    drawing = evaluate_tab.fixations_over_map(pred, points)
    scale = evaluate_tab.DRAWING_SIDE / 40
    assert drawing.shape == (480, 720, 3)
    for x, y in points * scale:
        assert _white(drawing)[int(y), int(x)]
    ys, xs = np.nonzero(_white(drawing))
    nearest = np.min(np.hypot(xs[:, None] - points[:, 0] * scale, ys[:, None] - points[:, 1] * scale), axis=1)
    assert nearest.max() <= 10


def test_the_ground_truth_map_is_outlined_around_its_peak():
    gt = _blob((60, 80), (40, 30), 60.0)
    drawing = evaluate_tab.contours_over_map(np.zeros((30, 40)), gt)
    ys, xs = np.nonzero(_white(drawing))
    scale = drawing.shape[0] / 60
    distance = np.hypot(xs / scale - 40, ys / scale - 30)
    # the top 10 % and 25 % of 80×60 px: discs of radius sqrt(0.10·4800/π) ≈ 12.4 and ≈ 19.5 px
    assert len(distance) and distance.min() > 9 and distance.max() < 23
    assert abs(np.median(distance[distance < 16]) - 12.4) < 1.5


def test_scanpath_table_puts_the_model_first_and_marks_undefined_scores():
    scores = {"model": {"mm_vector": 0.9, "mm_direction": 0.7, "mm_length": 0.8, "mm_position": 0.6,
                        "sequence_score": 0.3, "sed": 0.8, "dtw": 120.0},
              "human": {k: math.nan for k in ("mm_vector", "mm_direction", "mm_length", "mm_position",
                                              "sequence_score", "sed", "dtw")}}
    model, human = evaluate_tab.scanpath_table(scores, "spgen", 5, 1)
    columns = list(evaluate_tab.SCANPATH_COLUMNS)
    assert model[0].startswith("spgen (5 sampled") and human[0].startswith("human inter-observer (1 subjects")
    assert model[1 + columns.index("multimatch")] == pytest.approx(0.75)
    assert model[1 + columns.index("mm_duration")] == "—"                       # no durations: undefined
    assert model[1 + columns.index("dtw")] == 120.0
    assert set(human[1:]) == {"—"}


def test_a_model_card_is_the_cards_markdown_without_its_metadata():
    card = evaluate_tab.model_card("spgen")
    assert card.startswith("# spgen") and "license:" not in card and "Test-split metrics" in card
    fallback = evaluate_tab.model_card("uniform")
    assert fallback.startswith("# uniform") and "No model card" in fallback
    assert list(evaluate_tab.model_cards(["spgen", "uniform"])) == ["spgen", "uniform"]


def test_a_fixations_csv_adds_sauc_and_ig_and_the_note_names_their_baseline(tmp_path):
    np.save(tmp_path / "pred.npy", _blob())
    (tmp_path / "gt.csv").write_text("x,y\n20,30\n21,29\n19,31\n")
    result = studio_evaluate.score_maps(tmp_path / "pred.npy", tmp_path / "gt.csv", "mit", 5)
    assert {"sauc", "ig"} <= set(result["scores"]) and result["scores"]["ig"] > 0
    assert "'centerbias' model" in result["note"] and "sAUC" in result["note"]
    assert result["drawing"].shape[:2] == (480, 640)
    Image.fromarray((_blob(centre=(25, 30), width=200) * 255).astype(np.uint8)).save(tmp_path / "gt.png")
    mapped = studio_evaluate.score_maps(tmp_path / "pred.npy", tmp_path / "gt.png", "mit", 5)
    assert not {"sauc", "ig"} & set(mapped["scores"]) and "need fixations" in mapped["note"]


def _humans_csv(path, size=(240, 180), subjects=3, fixations=5, seed=0):
    rng = np.random.default_rng(seed)
    lines = ["subject,x,y,duration_ms"] + [
        f"s{s},{rng.uniform(0, size[0]):.1f},{rng.uniform(0, size[1]):.1f},{int(rng.integers(100, 400))}"
        for s in range(subjects) for _ in range(fixations)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_scanpath_evaluation_scores_the_model_and_the_humans_against_each_other(tmp_path):
    Image.fromarray(draw_image(11, (240, 180))[0]).save(tmp_path / "painting.png")
    humans = _humans_csv(tmp_path / "humans.csv")
    result = studio_evaluate.score_scanpath_upload(tmp_path / "painting.png", humans, "saliency-sampler", 3, 0)
    model, human = result["rows"]
    assert model[0].startswith("saliency-sampler (3 sampled") and human[0].startswith("human inter-observer (3")
    expected = sp_metrics.inter_observer_scores(list(read_scanpaths_csv(humans, (240, 180)).values()), (240, 180))
    columns = list(evaluate_tab.SCANPATH_COLUMNS)
    for key in ("sequence_score", "sed", "dtw", "mm_vector"):
        assert human[1 + columns.index(key)] == pytest.approx(expected[key], abs=1e-4)
    assert result["humans"].shape == result["model"].shape == (180, 240, 3)
    again = studio_evaluate.score_scanpath_upload(tmp_path / "painting.png", humans, "saliency-sampler", 3, 0)
    assert again["rows"] == result["rows"]                                    # the same seed, the same scores


def test_a_bad_scanpaths_csv_is_named_before_the_model_runs(tmp_path, monkeypatch):
    Image.fromarray(draw_image(11, (240, 180))[0]).save(tmp_path / "painting.png")
    (tmp_path / "humans.csv").write_text("subject,x,y\ns1,10,10\ns1,500,10\n")
    monkeypatch.setattr(studio_evaluate.scanpath_tab, "sample_scanpaths", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(ValueError, match=r"humans.csv:3: fixation \(500, 10\) lies outside the 240×180 image"):
        studio_evaluate.score_scanpath_upload(tmp_path / "painting.png", tmp_path / "humans.csv", "spgen", 3, 0)
    with pytest.raises(ValueError, match="unknown scanpath model 'nope'"):
        studio_evaluate.score_scanpath_upload(tmp_path / "painting.png", _humans_csv(tmp_path / "ok.csv"), "nope")
