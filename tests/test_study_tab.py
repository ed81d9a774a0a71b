"""The Study tab's logic (training/study_tab.py) as plain functions: the AOI table, drawing, suggestions, import
and export, reading a real study, and the run."""
from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from models.studio import files as studio_files
from tests.conftest import draw_image
from training import study_tab
from training.study import COLUMNS as METRIC_COLUMNS
from training.study_data import StudyError

SIZE = (240, 180)


@pytest.fixture(scope="module")
def painting(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("study") / "painting.png"
    Image.fromarray(draw_image(11, SIZE)[0]).save(path)
    return str(path)


def _fixations_csv(path: Path, subjects: int = 4, offset=(0.0, 0.0)) -> Path:
    """People who look at the top-left quarter first, then the centre."""
    rng = np.random.default_rng(0)
    lines = ["subject,x,y,duration_ms"]
    for s in range(subjects):
        for x, y in ((40, 30), (60, 50), (120, 90), (130, 95)):
            lines.append(f"s{s},{x + rng.uniform(-5, 5) + offset[0]:.1f},{y + rng.uniform(-5, 5) + offset[1]:.1f},"
                         f"{int(rng.integers(150, 350))}")
    path.write_text("\n".join(lines) + "\n")
    return path


# ---------- the table ----------

def test_two_clicks_span_a_rectangle_and_three_make_a_polygon():
    rows = study_tab.add_area([], [[120, 90], [10.04, 10]], "face", SIZE)
    assert rows == [["face", "rectangle", "10 10; 120 90"]]                 # corners sorted, rounded to 0.1 px
    rows = study_tab.add_area(rows, [[150, 20], [230, 30], [200, 100]], "", SIZE)
    assert rows[1] == ["area 2", "polygon", "150 20; 230 30; 200 100"]      # an empty name gets one
    aois, problems = study_tab.read_table(rows, SIZE)
    assert problems == [] and [a.shape for a in aois] == ["rect", "polygon"]
    assert aois[0].points == ((10.0, 10.0), (120.0, 10.0), (120.0, 90.0), (10.0, 90.0))


@pytest.mark.parametrize("points, name, message", [
    ([[10, 10]], "x", "Click on the painting"),
    ([[10, 10], [10, 80]], "x", "on one line"),
    ([[10, 10], [50, 50], [90, 90]], "x", "empty"),
    ([[0, 0], [60, 60], [60, 0], [0, 60]], "x", "crosses itself"),
    ([[10, 10], [50, 50]], "face", "already named 'face'"),
])
def test_an_area_that_is_not_one_is_refused_and_the_table_kept(points, name, message):
    rows = [["face", "rectangle", "1 1; 5 5"]]
    with pytest.raises(ValueError, match=message):
        study_tab.add_area(rows, points, name, SIZE)
    assert rows == [["face", "rectangle", "1 1; 5 5"]]


def test_bad_rows_are_named_and_the_good_ones_still_read():
    rows = [["face", "rectangle", "10 10; 120 90"],
            ["bow tie", "polygon", "0 0; 60 60; 60 0; 0 60"],
            ["off", "rectangle", "200 100; 300 170"],
            ["words", "polygon", "a b; 1 2; 3 4"],
            ["shape", "circle", "1 1; 5 5; 9 1"],
            ["face", "rectangle", "1 1; 5 5"],
            ["", "", ""]]                                                   # a blank row is no row
    aois, problems = study_tab.read_table(rows, SIZE)
    assert [a.name for a in aois] == ["face"]
    assert len(problems) == 5
    for fragment in ("'bow tie' crosses itself", "'off': point (300, 100) lies outside the 240×180 image",
                     "'words': points are 'x y; x y; …'", "kind must be rectangle or polygon",
                     "two areas of interest are named 'face'"):
        assert any(fragment in p for p in problems), (fragment, problems)
    with pytest.raises(ValueError, match="Fix the areas of interest first: .*crosses itself"):
        study_tab.checked_aois(rows, SIZE)
    with pytest.raises(ValueError, match="no areas of interest"):
        study_tab.checked_aois([["", "", ""]], SIZE)


def test_the_table_reads_what_gradio_and_api_clients_send():
    rows = [["a", "rectangle", "1 1; 9 9"], ["b", "polygon", "1 1; 9 1; 5 9"]]
    frame = pd.DataFrame(rows + [[None, np.nan, ""]], columns=study_tab.COLUMNS)
    assert study_tab.table_rows(frame) == rows
    assert study_tab.table_rows({"headers": study_tab.COLUMNS, "data": rows}) == rows
    assert study_tab.table_rows(None) == []


# ---------- drawing ----------

def test_a_click_on_the_enlarged_surface_lands_on_the_paintings_pixel(painting):
    f = study_tab.PREVIEW_SIDE / SIZE[0]
    points = study_tab.click_point(painting, [], [120 * f, 90 * f])
    points = study_tab.click_point(painting, points, [-3, 5000])             # past the edge: onto the edge
    assert points == [[120.0, 90.0], [0.0, 180.0]]


def test_the_preview_outlines_each_area_and_the_points_being_placed(painting):
    rows = [["face", "rectangle", "20 20; 120 90"], ["bow tie", "polygon", "0 0; 60 60; 60 0; 0 60"]]
    plain, _ = study_tab.draw_preview(painting, [])
    drawn, problems = study_tab.draw_preview(painting, rows, [[200, 150]])
    f = study_tab.PREVIEW_SIDE / SIZE[0]
    assert drawn.shape == plain.shape == (round(SIZE[1] * f), study_tab.PREVIEW_SIDE, 3)
    changed = np.abs(drawn.astype(int) - plain).sum(2) > 30
    assert changed[round(55 * f), round(120 * f)]                          # the rectangle's right edge
    assert not changed[round(55 * f), round(70 * f)]                       # its inside is left as it is
    assert tuple(drawn[round(150 * f), round(200 * f)]) == study_tab.PENDING
    assert len(problems) == 1 and "bow tie" in problems[0]                 # not drawn, but said


# ---------- suggestions, import, export ----------

def test_a_grid_suggested_twice_gets_unique_names(painting):
    rows = study_tab.suggest("grid", painting, [["r1c1", "rectangle", "1 1; 5 5"]])
    assert len(rows) == 10 and rows[1][0] == "r1c1 (2)" and rows[-1] == ["r3c3", "rectangle", "160 120; 240 180"]
    assert study_tab.read_table(rows, SIZE)[1] == []


def test_salient_regions_sit_on_the_bright_blob(painting):
    rows = study_tab.suggest("salient", painting, [])
    aois, problems = study_tab.read_table(rows, SIZE)
    assert not problems and 1 <= len(aois) <= 3 and aois[0].name == "region 1"
    _, (cx, cy) = draw_image(11, SIZE)
    (x0, y0), (x1, y1) = aois[0].points[0], aois[0].points[2]
    assert x0 <= cx <= x1 and y0 <= cy <= y1


def test_faces_say_why_when_this_opencv_has_no_detector(painting):
    if hasattr(cv2, "CascadeClassifier"):
        try:
            study_tab.suggest("faces", painting, [])
        except ValueError as err:
            assert "No face" in str(err)
        return
    with pytest.raises(ValueError, match="No face suggestions here: .*OpenCV"):
        study_tab.suggest("faces", painting, [])


def test_export_then_import_gives_the_same_table(painting, tmp_path):
    rows = [["face", "rectangle", "10 10; 120 90"], ["hands", "polygon", "150 20; 230 30; 200 100"]]
    json_path, csv_path = study_tab.export_files(rows, painting)
    assert Path(json_path).name == "painting-aois.json" and Path(csv_path).name == "painting-aois.csv"
    assert study_tab.import_file(json_path, painting, []) == rows
    assert study_tab.import_file(csv_path, painting, []) == rows
    assert study_tab.import_file(json_path, painting, rows[:1])[1] == ["face (2)", "rectangle", "10 10; 120 90"]


def test_an_imported_json_keeps_a_bad_area_for_the_user_to_fix(painting, tmp_path):
    path = tmp_path / "aois.json"
    path.write_text(json.dumps({"units": "relative", "aois": [
        {"name": "left half", "rect": [0, 0, 0.5, 1]}, {"name": "too far", "rect": [0.8, 0.5, 0.5, 0.2]}]}))
    rows = study_tab.import_file(path, painting, [])
    assert rows == [["left half", "rectangle", "0 0; 120 180"], ["too far", "rectangle", "192 90; 312 126"]]
    assert "'too far': point (312, 90) lies outside" in study_tab.read_table(rows, SIZE)[1][0]
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        study_tab.import_file(path, painting, rows)
    bad_csv = tmp_path / "aois.csv"
    bad_csv.write_text("label,left,top\nface,1,2\n")
    with pytest.raises(ValueError, match="needs columns name, x, y"):
        study_tab.import_file(bad_csv, painting, rows)


# ---------- a real study ----------

def test_column_mappings_and_screen_placements_are_read_or_refused_clearly():
    assert study_tab.parse_mapping("participant=Participant name, x=Fixation X\ny: Fixation Y") == {
        "participant": "Participant name", "x": "Fixation X", "y": "Fixation Y"}
    assert study_tab.parse_mapping('{"duration_ms": "Gaze event duration"}') == {"duration_ms": "Gaze event duration"}
    assert study_tab.parse_mapping("  ") is None
    with pytest.raises(ValueError, match="names colour; it maps participant"):
        study_tab.parse_mapping("colour=Red")
    with pytest.raises(ValueError, match="ours=theirs"):
        study_tab.parse_mapping("participant")
    placement, scale = study_tab.parse_screen("840, 450, 240, 180")
    assert (placement.left, placement.top, placement.width, placement.height, scale) == (840, 450, 240, 180, None)
    assert study_tab.parse_screen("1920 1080") == (None, (1920.0, 1080.0))
    with pytest.raises(ValueError, match="left, top, width, height"):
        study_tab.parse_screen("840, 450, 240")


def test_screen_coordinates_need_the_images_place_on_the_screen(tmp_path):
    path = _fixations_csv(tmp_path / "screen.csv", offset=(840, 450))
    with pytest.raises(StudyError, match="look like screen coordinates. Give the image's position"):
        study_tab.read_study(path, "fixations", SIZE)
    study = study_tab.read_study(path, "fixations", SIZE, screen="840, 450, 240, 180")
    assert len(study.paths) == 4 and study.paths[0][0, 0] < 50
    with pytest.raises(StudyError, match="no column 'subject' for participant.*column mapping"):
        study_tab.read_study(_csv(tmp_path, "who,where\n1,2\n"), "fixations", SIZE)
    generic = _csv(tmp_path, "Participant name,X,Y,Duration\np1,40,30,200\np1,120,90,300\n")
    study = study_tab.read_study(generic, "fixations", SIZE,
                                 "participant=Participant name, x=X, y=Y, duration_ms=Duration")
    assert study.paths[0].tolist() == [[40, 30, 200], [120, 90, 300]]


def _csv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / f"study-{abs(hash(text))}.csv"
    path.write_text(text)
    return path


# ---------- the run ----------

AREAS = [["top left", "rectangle", "0 0; 120 90"], ["centre", "polygon", "90 60; 150 60; 150 120; 90 120"]]


def test_the_virtual_study_gives_a_row_per_area_the_figures_and_the_files(painting):
    report = study_tab.run_study(painting, AREAS, "saliency-sampler", 20, 2.0, 3)
    assert [r[:3] for r in report["rows"]] == [["top left", "predicted", "20"], ["centre", "predicted", "20"]]
    assert all(Path(report[k]).suffix == ".png" and Path(report[k]).stat().st_size > 1000
               for k in ("chart", "transitions"))
    assert [Path(f).name for f in report["files"]] == ["metrics.csv", "metrics.json"]
    assert report["comparison"] == [] and report["overlay"] is None and report["scores"] == []
    assert "20 sampled viewers looking for 2 s (seed 3)" in report["note"]
    share = float(report["rows"][1][3].split(" [")[0])
    low, high = (float(v) for v in report["rows"][1][3].split(" [")[1].rstrip("]").split(", "))
    assert 0 <= low <= share <= high <= 100


def test_a_real_study_is_compared_area_by_area(painting, tmp_path):
    report = study_tab.run_study(painting, AREAS, "saliency-sampler", 20, 2.0, 0,
                                 _fixations_csv(tmp_path / "people.csv"), "fixations")
    assert [r[1] for r in report["rows"]] == ["predicted", "predicted", "observed", "observed"]
    assert len(report["comparison"]) == 2 * len(METRIC_COLUMNS)
    first = dict(zip(study_tab.COMPARISON_COLUMNS, report["comparison"][0]))
    assert first["AOI"] == "top left" and first["Intervals overlap"] in ("yes", "no")
    predicted, observed, difference = (float(first[k]) for k in ("Predicted", "Observed", "Difference"))
    # each cell shows 4 significant digits of the exact value (the difference is of the exact values)
    assert abs(predicted - observed - difference) <= 5e-4 * (abs(predicted) + abs(observed) + abs(difference))
    assert Path(report["overlay"]).is_file() and "Real study: 4 participants" in report["note"]
    names = [row[0] for row in report["scores"]]
    assert "map: nss" in names and any(n.startswith("scanpaths (sampled vs people)") for n in names)


def test_bad_input_stops_the_run_before_any_output_is_written(painting, tmp_path):
    before = set(studio_files.ROOT.iterdir()) if studio_files.ROOT.is_dir() else set()
    bad = [(["bow tie", "polygon", "0 0; 60 60; 60 0; 0 60"], "saliency-sampler", 20, 3, None, "crosses itself"),
           (AREAS[0], "no-such-model", 20, 3, None, "unknown scanpath model"),
           (AREAS[0], "saliency-sampler", 5, 3, None, "between 10 and 300"),
           (AREAS[0], "saliency-sampler", 20, 31, None, "between 1 and 30 s"),
           (AREAS[0], "saliency-sampler", 20, 3, _csv(tmp_path, "who,where\n1,2\n"), "no column 'subject'")]
    for row, model, viewers, seconds, study, message in bad:
        with pytest.raises(ValueError, match=message):
            study_tab.run_study(painting, [row], model, viewers, seconds, 0, study, "fixations")
    after = set(studio_files.ROOT.iterdir()) if studio_files.ROOT.is_dir() else set()
    assert not [p for p in after - before if "study" in p.name]


def test_a_large_scan_keeps_its_own_pixels_for_the_areas_and_the_study(tmp_path):
    """AOIs and fixations are in the scan's pixels; the run scales both to the copy the models see, so people who
    only look at the left half (x 2200–2900 of 6000, which would be the right half of the 4096-px copy if they
    were not scaled) fixate 'left' and never 'right'."""
    scan = tmp_path / "scan.png"
    Image.fromarray(np.tile(np.linspace(0, 255, 6000).astype(np.uint8), (1200, 1))).convert("RGB").save(scan)
    people = tmp_path / "people.csv"
    people.write_text("subject,x,y,duration_ms\n" + "".join(f"s{s},{2200 + 350 * k},{300 + 200 * k},250\n"
                                                           for s in range(3) for k in range(3)))
    areas = [["left", "rectangle", "0 0; 3000 1200"], ["right", "rectangle", "3000 0; 6000 1200"]]
    report = study_tab.run_study(str(scan), areas, "saliency-sampler", 10, 1.0, 0, people, "fixations")
    observed = {r[0]: r for r in report["rows"] if r[1] == "observed"}
    fixated = study_tab.SHOWN.index("Percentage fixated (%)")
    assert observed["left"][fixated].startswith("100 ") and observed["right"][fixated].startswith("0 ")
    assert "4096×819 copy the models see" in report["note"]

