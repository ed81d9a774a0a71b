"""A real study beside the predicted one (training/study_data.py, training/study.py): raw samples through
pymovements back to the fixations they were made from, bad input, the report and the CLI."""
import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from training.metrics.aoi import aoi_metrics, rect_aoi
from training.study import aoi_report, main as study_main
from training.study_data import (Placement, StudyError, detect_fixations, read_asc, read_fixations_csv,
                                 read_samples_csv)

SIZE = (400, 300)
AOIS = [rect_aoi("face", 50, 50, 100, 100), rect_aoi("hands", 250, 150, 100, 100)]
# per participant: fixations x, y, duration (ms); what comes between them: "saccade" (one sample on the way),
# "blink" (80 ms of lost samples, written as empty cells), "zeros" (lost samples written as 0, 0), "gap" (no rows)
PARTICIPANTS = {
    "p1": [((100, 100, 250), "saccade"), ((300, 200, 300), "blink"), ((320, 180, 200), "saccade"),
           ((100, 110, 400), "saccade"), ((30, 250, 150), None)],
    "p2": [((300, 220, 350), "zeros"), ((200, 40, 220), "gap"), ((80, 90, 300), "saccade"), ((290, 230, 180), None)],
    "p3": [((180, 260, 300), "saccade"), ((120, 70, 500), None)],
}


def synthetic_samples(seed=0, noise_px=0.3):
    """{participant: (time_ms, (N, 2) xy)} at 1000 Hz with small noise, and the true fixations."""
    rng = np.random.default_rng(seed)
    out, truth = {}, {}
    for participant, events in PARTICIPANTS.items():
        t, xy, clock = [], [], 1000
        for i, ((x, y, d), after) in enumerate(events):
            for _ in range(d):
                t.append(clock)
                xy.append((x + rng.normal(0, noise_px), y + rng.normal(0, noise_px)))
                clock += 1
            if after == "saccade":
                nx, ny = events[i + 1][0][:2]
                t.append(clock)
                xy.append(((x + nx) / 2, (y + ny) / 2))
                clock += 1
            elif after in ("blink", "zeros"):
                for _ in range(80):
                    t.append(clock)
                    xy.append((np.nan, np.nan) if after == "blink" else (0.0, 0.0))
                    clock += 1
            elif after == "gap":
                clock += 60
        out[participant] = (np.array(t, float), np.array(xy))
        truth[participant] = np.array([e[0] for e in events], float)
    return out, truth


def samples_csv(samples) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(["participant", "time_ms", "x", "y"])
    for participant, (t, xy) in samples.items():
        for ti, (x, y) in zip(t, xy):
            lost = np.isnan(x) or np.isnan(y)
            writer.writerow([participant, int(ti), "" if lost else f"{x:.2f}", "" if lost else f"{y:.2f}"])
    return buf.getvalue()


def assert_recovered(found: np.ndarray, true: np.ndarray, max_short_ms: float):
    assert found.shape == true.shape
    assert np.abs(found[:, :2] - true[:, :2]).max() < 1.0
    short = true[:, 2] - found[:, 2]
    assert (short >= 0).all() and (short <= max_short_ms).all()


def test_idt_recovers_the_fixations_through_saccades_blinks_zeros_and_gaps():
    samples, truth = synthetic_samples()
    for participant, (t, xy) in samples.items():
        found, notes = detect_fixations(t, xy, "idt")
        # pymovements' I-DT may end a fixation one sample early at lost data or at the end, and the window that
        # follows starts after the sample that broke the previous one: up to two samples short, never longer
        assert_recovered(found, truth[participant], max_short_ms=2)
    assert "missing" in detect_fixations(*samples["p1"], "idt")[1][0]


def test_ivt_recovers_them_too_within_its_smoothing_window():
    samples, truth = synthetic_samples()
    for participant, (t, xy) in samples.items():
        found, _ = detect_fixations(t, xy, "ivt")
        assert_recovered(found, truth[participant], max_short_ms=6)


def test_aoi_metrics_from_the_samples_equal_those_of_the_constructed_fixations():
    samples, truth = synthetic_samples()
    study = read_samples_csv(samples_csv(samples), SIZE)
    assert sorted(study.fixations) == ["p1", "p2", "p3"]
    observed = aoi_metrics(study.paths, AOIS, SIZE, seed=0)
    expected = aoi_metrics([truth[p] for p in study.fixations], AOIS, SIZE, seed=0)
    for key in ("fixation_count", "fixated", "first_entered", "visit_count", "entry_rank"):
        assert observed["metrics"][key] == expected["metrics"][key], key
    assert observed["transitions"]["counts"] == expected["transitions"]["counts"]
    assert observed["order"] == expected["order"] == ["face", "hands"]
    for key in ("dwell_ms", "ttff_ms"):                              # at most 2 samples per fixation shorter
        assert np.allclose(observed["metrics"][key]["value"], expected["metrics"][key]["value"], atol=2 * 5), key
    assert any("pymovements" in n for n in study.notes)


def test_eyelink_asc_goes_through_pymovements_reader(tmp_path):
    samples, truth = synthetic_samples()
    t, xy = samples["p1"]
    lines = ["** CONVERTED FROM test.edf", "MSG\t1000 DISPLAY_COORDS 0 0 399 299",
             "START\t1000 \tLEFT\tSAMPLES\tEVENTS", "SAMPLES\tGAZE\tLEFT\tRATE\t1000.00\tTRACKING\tCR\tFILTER\t2"]
    for ti, (x, y) in zip(t, xy):
        lost = f"{int(ti)}\t   .\t   .\t    0.0\t..."
        lines.append(lost if np.isnan(x) else f"{int(ti)}\t{x:7.1f}\t{y:7.1f}\t 1000.0\t...")
    lines.append(f"END\t{int(t[-1]) + 1} \tSAMPLES\tEVENTS\tRES\t  38.00\t  35.00")
    (tmp_path / "p1.asc").write_text("\n".join(lines) + "\n")
    study = read_asc([tmp_path / "p1.asc"], SIZE)
    assert_recovered(study.fixations["p1"], truth["p1"], max_short_ms=2)
    (tmp_path / "bad.asc").write_text("nothing here\n")
    with pytest.raises(StudyError, match="bad.asc"):
        read_asc([tmp_path / "bad.asc"], SIZE)


def fixations_csv(rows, header="image,subject,index,x,y,duration_ms"):
    return header + "\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n"


def test_screen_coordinates_are_refused_unless_placed_or_scaled():
    rows = [("a.jpg", "s1", i, 500 + 300 * (i % 2), 400 + 200 * (i % 2), 200) for i in range(6)]
    with pytest.raises(StudyError, match="screen coordinates.*placement"):
        read_fixations_csv(fixations_csv(rows), SIZE)
    placed = read_fixations_csv(fixations_csv(rows), SIZE, placement=Placement(400, 300, 800, 600))
    assert placed.fixations["s1"][:2, :2].tolist() == [[50, 50], [200, 150]]
    assert "mapped into the image" in placed.notes[0]
    scaled = read_fixations_csv(fixations_csv(rows), SIZE, scale_from=(1600, 1200))
    assert scaled.fixations["s1"][0, :2].tolist() == [125, 100] and "scaled" in scaled.notes[0]


def test_fixations_off_the_image_and_participants_without_fixations_are_noted():
    rows = [("a.jpg", "s1", i, 50 + 10 * i, 50, 200) for i in range(20)] + [("a.jpg", "s1", 20, 410, 50, 200),
                                                                          ("a.jpg", "s2", 0, "nan", 5, 100)]
    study = read_fixations_csv(fixations_csv(rows), SIZE)
    assert list(study.fixations) == ["s1"]
    assert any("1 fixation(s)" in n for n in study.notes) and any("s2" in n for n in study.notes)
    with pytest.raises(StudyError, match="no participant has a fixation"):
        read_fixations_csv(fixations_csv([("a.jpg", "s2", 0, "nan", 5, 100)]), SIZE)


def test_unknown_columns_get_a_mapping_hint_and_a_mapping_reads_them():
    text = "Participant name,Fixation point X,Fixation point Y,Gaze event duration\nP1,10,20,180\nP1,100,120,220\n"
    with pytest.raises(StudyError, match="no column 'subject'.*mapping"):
        read_fixations_csv(text, SIZE)
    study = read_fixations_csv(text, SIZE, columns={"participant": "Participant name", "x": "Fixation point X",
                                                    "y": "Fixation point Y", "duration_ms": "Gaze event duration"})
    assert study.fixations["P1"].tolist() == [[10, 20, 180], [100, 120, 220]]


def test_bad_samples_get_clear_messages():
    with pytest.raises(StudyError, match="repeated time"):
        detect_fixations([0, 1, 1, 2], np.zeros((4, 2)) + 5)
    with pytest.raises(StudyError, match="too few"):
        detect_fixations([0, 1], np.ones((2, 2)))
    with pytest.raises(StudyError, match="finite"):
        detect_fixations([0, np.nan, 2], np.ones((3, 2)))
    with pytest.raises(StudyError, match="unknown fixation detector"):
        detect_fixations(np.arange(300.0), np.ones((300, 2)) * 5, "hmm")
    with pytest.raises(StudyError, match="must be a number"):
        read_samples_csv("participant,time_ms,x,y\np,0,abc,1\n", SIZE)
    lost = np.full((300, 2), np.nan)
    assert detect_fixations(np.arange(300.0), lost)[0].shape == (0, 3)
    samples, _ = synthetic_samples()
    only_blinks = samples_csv({"p9": (np.arange(300.0), lost), "p1": samples["p1"]})
    study = read_samples_csv(only_blinks, SIZE)
    assert list(study.fixations) == ["p1"] and any("p9" in n for n in study.notes)


class FakeScanpaths:
    """Viewers that look at the face then the hands: enough to check the report without a network."""
    def sample_batch(self, image, count, seed=0, viewing_time_s=3.0, temperature=None):
        rng = np.random.default_rng(seed)
        return [np.array([[100 + rng.normal(0, 5), 100, 250], [300, 200, 300], [30, 250, 200]]) for _ in range(count)]


class FakeSaliency:
    def predict(self, image):
        return np.ones(image.shape[:2])


def test_report_writes_table_chart_diagram_and_exports(tmp_path):
    samples, _ = synthetic_samples()
    study = read_samples_csv(samples_csv(samples), SIZE)
    rgb = np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)
    report = aoi_report(rgb, AOIS, "fake", n_viewers=30, out_dir=tmp_path, study=study,
                        scanpath_model=FakeScanpaths(), saliency_model=FakeSaliency())
    for key in ("chart_png_path", "transitions_png_path", "overlay_png_path", "csv_path", "json_path"):
        assert (tmp_path / report[key].split("/")[-1]).stat().st_size > 0
    header = open(report["csv_path"]).readline()
    for column in ("Total duration of fixations (ms)", "Time to first fixation (ms)", "Number of visits",
                   "Percentage fixated (%)", "95% CI low", "Saliency mass (%)"):
        assert column in header
    face = next(r for r in report["table_rows"] if r["AOI"] == "face" and r["Source"] == "predicted")
    assert face["Percentage fixated (%)"] == "100" and face["Time to first fixation (ms)"] == "0"
    result = json.loads(open(report["json_path"]).read())
    assert set(result) >= {"predicted", "observed", "comparison", "scores", "study_notes"}
    assert "auc_judd" in result["scores"]["saliency"] and "model" in result["scores"]["scanpath"]
    assert {r["Intervals overlap"] for r in report["comparison_rows"]} <= {"yes", "no", ""}
    with pytest.raises(ValueError, match="outside"):
        aoi_report(rgb, [rect_aoi("off", 350, 0, 100, 50)], "fake", out_dir=tmp_path,
                   scanpath_model=FakeScanpaths(), saliency_model=FakeSaliency())
    with pytest.raises(ValueError, match="between 1 and"):
        aoi_report(rgb, AOIS, "fake", n_viewers=0, out_dir=tmp_path, scanpath_model=FakeScanpaths(),
                   saliency_model=FakeSaliency())


def test_cli_reports_every_painting_and_the_bad_one_with_its_message(tmp_path, monkeypatch):
    import models

    # the light stand-ins keep this a test of the CLI; bench/bench_aoi.py and training/aoi_validation.py run
    # the real models through the same calls
    monkeypatch.setattr(models, "create_model",
                        lambda name, **kw: FakeSaliency() if name == models.DEFAULT["saliency"] else FakeScanpaths())
    study_dir = tmp_path / "study"
    (study_dir / "images").mkdir(parents=True)
    rng = np.random.default_rng(0)
    for name in ("a.png", "b.png"):
        Image.fromarray((rng.random((SIZE[1], SIZE[0], 3)) * 255).astype(np.uint8)).save(study_dir / "images" / name)
    samples, _ = synthetic_samples()
    text = samples_csv(samples).splitlines()
    rows = [text[0] + ",image"] + [f"{line},a.png" for line in text[1:]] + [f"{line},b.png" for line in text[1:]]
    (study_dir / "samples.csv").write_text("\n".join(rows) + "\n")
    spec = {"paintings": {"a.png": {"aois": [a.to_dict() for a in AOIS]},
                          "b.png": {"aois": [{"name": "off", "rect": [350, 0, 100, 50]}]}}}
    (tmp_path / "aois.json").write_text(json.dumps(spec))
    code = study_main([str(study_dir), "--aoi", str(tmp_path / "aois.json"), "--out", str(tmp_path / "report"),
                       "--viewers", "8"])
    assert code == 0
    summary = json.loads((tmp_path / "report" / "summary.json").read_text())
    assert summary[0]["image"] == "a.png" and summary[0]["participants"] == 3 and "error" not in summary[0]
    assert "outside" in summary[1]["error"]
    assert (tmp_path / "report" / "a" / "metrics.csv").exists()
