"""The evaluation CLIs on a synthetic dataset folder (and on the shared data when present)."""
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import shared_data_or_skip
from training import evaluate, evaluate_maps, evaluate_scanpaths, make_results


@pytest.mark.parametrize("protocol", ["mit", "tuebingen"])
def test_evaluate_writes_the_documented_json(tiny_dataset, tmp_path, protocol):
    out = tmp_path / "r.json"
    rc = evaluate.main(["--model", "centerbias", "--data", str(tiny_dataset), "--split", "train",
                        "--protocol", protocol, "--out", str(out)])
    assert rc == 0
    result = json.loads(out.read_text())
    assert {"model", "dataset", "split", "protocol", "n_images", "metrics"} <= set(result)
    assert result["protocol"] == protocol and result["n_images"] == 3
    assert set(result["metrics"]) == {"auc_judd", "auc_borji", "sauc", "nss", "cc", "kld", "sim", "ig"}
    assert abs(result["metrics"]["ig"]) < 1e-9          # centre bias against itself


def test_gold_beats_centre_bias_on_synthetic_gaze(tiny_dataset):
    gold = evaluate.evaluate("gold", str(tiny_dataset), "train", "tuebingen", progress=False)["metrics"]
    center = evaluate.evaluate("centerbias", str(tiny_dataset), "train", "tuebingen", progress=False)["metrics"]
    for metric in ("auc_judd", "nss", "cc", "sim", "ig"):
        assert gold[metric] > center[metric], metric
    assert gold["kld"] < center["kld"]


def test_evaluate_reports_bad_input_without_a_traceback(tmp_path, capsys):
    assert evaluate.main(["--model", "centerbias", "--data", str(tmp_path / "missing")]) == 2
    assert "not found" in capsys.readouterr().err
    assert evaluate.main(["--model", "saliency-sampler", "--data", str(tmp_path)]) == 2


def test_evaluate_scanpaths_model_and_human_ceiling(tiny_dataset, tmp_path):
    out = tmp_path / "s.json"
    assert evaluate_scanpaths.main(["--model", "saliency-sampler", "--data", str(tiny_dataset), "--split", "train",
                                    "--samples", "2", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["samples"] == 2 and "sequence_score" in result["metrics"]
    human = evaluate_scanpaths.evaluate_scanpaths("human", str(tiny_dataset), "train", progress=False)
    assert human["metrics"]["mm_position"] > 0.5


def _write_map(path, array):
    Image.fromarray(array.astype(np.uint8)).save(path)


def test_evaluate_maps_pairs_by_name_and_resizes(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    yy, xx = np.mgrid[0:60, 0:80]
    blob = 255 * np.exp(-((xx - 20) ** 2 + (yy - 30) ** 2) / 200)
    _write_map(gt / "a.png", blob)
    _write_map(pred / "a.png", blob[::2, ::2])                     # half size: must be resized, not rejected
    np.save(pred / "b.npy", np.ones((60, 80)))
    (gt / "b.csv").write_text("x,y\n20,30\n22,31\n70,10\n")
    result = evaluate_maps.evaluate_folders(pred, gt)
    assert result["n_images"] == 2
    assert result["per_image"]["a"]["cc"] > 0.99
    assert abs(result["per_image"]["b"]["auc_borji"] - 0.5) < 0.05    # a flat map is at chance


def test_evaluate_maps_names_unpaired_files(tmp_path, capsys):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    _write_map(pred / "only_pred.png", np.ones((8, 8)))
    _write_map(gt / "only_gt.png", np.ones((8, 8)))
    assert evaluate_maps.main([str(pred), str(gt)]) == 2
    err = capsys.readouterr().err
    assert "only_pred.png" in err and "only_gt.png" in err


@pytest.mark.parametrize("content, message", [
    ("a,b\n1,2\n", "columns x and y"),
    ("x,y\n1,abc\n", "must be numbers"),
    ("x,y\n500,2\n", "outside"),
])
def test_fixation_csv_errors(tmp_path, content, message):
    np.save(tmp_path / "p.npy", np.ones((20, 30)))
    (tmp_path / "g.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.csv")


def test_non_image_prediction_is_a_clear_error(tmp_path):
    (tmp_path / "p.png").write_text("this is not an image")
    np.save(tmp_path / "g.npy", np.ones((20, 30)))
    with pytest.raises(ValueError, match="not a readable saliency map"):
        evaluate_maps.score_pair(tmp_path / "p.png", tmp_path / "g.npy")


def test_results_table_requires_baselines_and_ceiling(tmp_path):
    (tmp_path / "r").mkdir()
    for model in ("uniform", "centerbias"):
        (tmp_path / "r" / f"{model}.json").write_text(json.dumps(
            {"model": model, "dataset": "d", "split": "test", "protocol": "mit", "n_images": 3,
             "metrics": {"nss": 0.5}}))
    with pytest.raises(SystemExit, match="gold"):
        make_results.main(["--results", str(tmp_path / "r"), "--out", str(tmp_path / "out.md")])


def test_shared_data_gold_beats_centre_bias_on_mit1003():
    shared_data_or_skip("gaze", "mit1003")
    gold = evaluate.evaluate("gold", "mit1003", "val", "mit", limit=3, progress=False)["metrics"]
    center = evaluate.evaluate("centerbias", "mit1003", "val", "mit", limit=3, progress=False)["metrics"]
    assert gold["nss"] > center["nss"] and gold["auc_judd"] > center["auc_judd"]


def test_scanpath_checks_compare_with_human_and_baseline():
    def r(model, seq, vec, dirn, t=0.3):
        return {"model": model, "temperature": t, "metrics": {"sequence_score": seq, "mm_vector": vec, "mm_direction": dirn}}
    rows = {("osie", "test"): {"spgen": r("spgen", 0.55, 0.95, 0.70), "human": r("human", 0.60, 0.94, 0.70, None),
                                 "saliency-sampler": r("saliency-sampler", 0.52, 0.91, 0.66, 1.0)}}
    lines = "\n".join(make_results.scanpath_checks(rows))
    assert "0.92 (meets ≥ 0.9)" in lines and "| yes |" in lines
    rows[("osie", "test")]["spgen"] = r("spgen", 0.50, 0.95, 0.60)
    lines = "\n".join(make_results.scanpath_checks(rows))
    assert "misses" in lines and "| no |" in lines


# ----------------------------------------------------------------------------------------------------------------
# training.evaluate on other eye-tracking sets: σ, --split all, splits.csv naming, --per_image

def _copy_without_splits(src, dst):
    import shutil
    shutil.copytree(src, dst)
    (dst / "splits.csv").unlink()
    return dst


def test_evaluate_records_the_default_sigma_and_warns_for_an_unknown_dataset(tiny_dataset, capsys):
    result = evaluate.evaluate("centerbias", str(tiny_dataset), "train", progress=False)
    assert result["sigma_px"] == 24.0 and result["sigma"]["px"] == 24.0
    assert "unknown" in result["sigma"]["source"] and "--ppd" in result["sigma"]["source"]
    assert "σ=24.0 px" in result["gt"]
    assert "warning" in capsys.readouterr().err


def test_shared_datasets_keep_their_own_sigma():
    from training.config import resolve_sigma
    assert resolve_sigma("osie")["px"] == 24.0 and resolve_sigma("mit1003")["px"] == 23.99
    assert "SIGMA_PX['mit1003']" in resolve_sigma("mit1003")["source"]


@pytest.mark.parametrize("args, px, deg", [
    (["--sigma", "10"], 10.0, None),
    (["--sigma", "10px", "--ppd", "20"], 10.0, 0.5),
    (["--sigma", "0.5deg", "--ppd", "30"], 15.0, 0.5),
    (["--ppd", "12"], 12.0, 1.0),
])
def test_evaluate_sigma_flags_change_the_empirical_map(tiny_dataset, tmp_path, args, px, deg):
    out = tmp_path / "r.json"
    assert evaluate.main(["--model", "centerbias", "--data", str(tiny_dataset), "--split", "train",
                          "--out", str(out), *args]) == 0
    result = json.loads(out.read_text())
    assert result["sigma_px"] == pytest.approx(px) and result["sigma"]["deg"] == (pytest.approx(deg) if deg else None)
    default = evaluate.evaluate("centerbias", str(tiny_dataset), "train", progress=False)["metrics"]
    assert result["metrics"]["cc"] != pytest.approx(default["cc"])          # the blur really changed
    assert result["metrics"]["nss"] == pytest.approx(default["nss"])        # fixation metrics did not


@pytest.mark.parametrize("args, message", [
    (["--sigma", "1deg"], "also give --ppd"),
    (["--sigma", "-3"], "positive number"),
    (["--sigma", "wide"], "positive number"),
    (["--ppd", "0"], "--ppd"),
])
def test_evaluate_bad_sigma_is_a_clear_error(tiny_dataset, capsys, args, message):
    assert evaluate.main(["--model", "centerbias", "--data", str(tiny_dataset), "--split", "train", *args]) == 2
    assert message in capsys.readouterr().err


def test_split_all_scores_a_folder_without_splits_csv(tiny_dataset, tmp_path, capsys):
    folder = _copy_without_splits(tiny_dataset, tmp_path / "mine")
    assert evaluate.main(["--model", "centerbias", "--data", str(folder), "--split", "test"]) == 2
    assert "--split all" in capsys.readouterr().err
    result = evaluate.evaluate("centerbias", str(folder), "all", progress=False)
    assert result["split"] == "all" and result["n_images"] == 6


def test_splits_csv_that_does_not_name_the_folder_says_so(tiny_dataset, tmp_path, capsys):
    import shutil
    renamed = tmp_path / "renamed"
    shutil.copytree(tiny_dataset, renamed)                   # splits.csv still says dataset = "tiny"
    assert evaluate.main(["--model", "centerbias", "--data", str(renamed), "--split", "train"]) == 2
    err = capsys.readouterr().err
    assert "dataset column names 'tiny' but not 'renamed'" in err and "--split all" in err


def test_per_image_csv_has_one_row_per_image_with_every_metric(tiny_dataset, tmp_path):
    import csv
    out, table = tmp_path / "r.json", tmp_path / "sub" / "per_image.csv"
    assert evaluate.main(["--model", "centerbias", "--data", str(tiny_dataset), "--split", "train",
                          "--out", str(out), "--per_image", str(table)]) == 0
    result = json.loads(out.read_text())
    rows = list(csv.DictReader(open(table)))
    assert [r["image"] for r in rows] == ["img00.png", "img01.png", "img05.png"]
    assert set(rows[0]) == {"image"} | set(result["metrics"])
    for metric, mean in result["metrics"].items():
        assert np.mean([float(r[metric]) for r in rows]) == pytest.approx(mean)
    assert result["per_image"] == str(table)


# ----------------------------------------------------------------------------------------------------------------
# training.evaluate_maps and score_pair: duplicate names, every metric for the ground truth given

@pytest.mark.parametrize("side", ["pred", "gt"])
def test_evaluate_maps_refuses_two_files_with_one_name(tmp_path, capsys, side):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    np.save(pred / "x.npy", np.ones((20, 30)))
    _write_map(gt / "x.png", np.full((20, 30), 9))
    if side == "pred":
        _write_map(pred / "x.png", np.full((20, 30), 5))
    else:
        (gt / "x.csv").write_text("x,y\n3,4\n")
    assert evaluate_maps.main([str(pred), str(gt)]) == 2
    err = capsys.readouterr().err
    names = ("x.npy", "x.png") if side == "pred" else ("x.csv", "x.png")
    assert all(n in err for n in names) and "same name" in err


def _blob(w=80, h=60, cx=20, cy=30):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / 200) + 1e-3


@pytest.mark.parametrize("protocol", ["mit", "tuebingen"])
def test_score_pair_gives_sauc_and_ig_for_fixations_only(tmp_path, protocol):
    from training.metrics.files import describe_baselines
    np.save(tmp_path / "p.npy", _blob())
    (tmp_path / "g.csv").write_text("x,y\n20,30\n22,31\n18,29\n")
    _write_map(tmp_path / "g.png", 255 * _blob() / _blob().max())
    with_fix = evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.csv", protocol)
    assert set(with_fix) == {"auc_judd", "auc_borji", "sauc", "nss", "cc", "kld", "sim", "ig"}
    assert with_fix["ig"] > 0.5 and with_fix["sauc"] > 0.7            # a sharp blob on the fixations beats centre bias
    with_map = evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.png", protocol)
    assert set(with_map) == {"cc", "kld", "sim", "nss", "auc_weighted"}
    assert set(describe_baselines()) == {"ig", "sauc"} and "centre-bias" in describe_baselines()["sauc"]


def test_score_pair_map_ground_truth_is_unchanged(tmp_path):
    from training.metrics import saliency as sal
    np.save(tmp_path / "p.npy", _blob())
    np.save(tmp_path / "g.npy", _blob(cx=30))
    assert evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.npy") == \
        sal.map_metrics_continuous(_blob(), _blob(cx=30))


def test_sauc_uses_the_other_fixations_when_given(tmp_path):
    """The centre-bias map scored on fixations drawn from the centre bias: sAUC is at chance against the default
    negatives (centre-bias samples) and high against fixations in the corners — so the negatives really come
    from `other_fixations` when given, and from the centre bias otherwise."""
    from training.metrics.files import centerbias_density, centerbias_samples
    np.save(tmp_path / "p.npy", centerbias_density((80, 60)))
    fixations = centerbias_samples((80, 60), n=60, seed=1)
    (tmp_path / "g.csv").write_text("x,y\n" + "".join(f"{x:.3f},{y:.3f}\n" for x, y in fixations))
    default = evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.csv", "tuebingen")
    assert abs(default["sauc"] - 0.5) < 0.1 and default["auc_borji"] > 0.6        # centre bias cancels only in sAUC
    corners = np.array([[1.0, 1.0], [78.0, 2.0], [2.0, 58.0], [77.0, 57.0]])
    far = evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.csv", "tuebingen", other_fixations=corners)
    assert far["sauc"] > 0.9
    assert abs(evaluate_maps.score_pair(tmp_path / "p.npy", tmp_path / "g.csv", "tuebingen")["ig"]) < 1e-9


def test_evaluate_maps_takes_sauc_negatives_from_the_other_images(tmp_path):
    from training.metrics.files import centerbias_density
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    for name, pts in (("a", "40,30\n38,28\n"), ("b", "1,1\n78,2\n"), ("c", "2,58\n77,57\n")):
        np.save(pred / f"{name}.npy", centerbias_density((80, 60)))
        (gt / f"{name}.csv").write_text("x,y\n" + pts)
    table = tmp_path / "per.csv"
    result = evaluate_maps.evaluate_folders(pred, gt, "tuebingen", per_image=str(table))
    assert "other images" in result["baselines"]["sauc"] and "centerbias" in result["baselines"]["ig"]
    assert result["per_image"]["a"]["sauc"] == pytest.approx(1.0)       # negatives = b's and c's corners
    alone = evaluate_maps.score_pair(pred / "a.npy", gt / "a.csv", "tuebingen")
    assert {k: v for k, v in alone.items() if k != "sauc"} == \
        {k: v for k, v in result["per_image"]["a"].items() if k != "sauc"}
    assert table.read_text().splitlines()[0].startswith("image,auc_judd")
    assert len(table.read_text().splitlines()) == 4


def test_evaluate_maps_sigma_in_degrees(tmp_path):
    pred, gt = tmp_path / "pred", tmp_path / "gt"
    pred.mkdir(), gt.mkdir()
    np.save(pred / "a.npy", _blob())
    (gt / "a.csv").write_text("x,y\n20,30\n")
    out = tmp_path / "r.json"
    assert evaluate_maps.main([str(pred), str(gt), "--sigma", "0.5deg", "--ppd", "8", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["sigma_px"] == 4.0 and result["sigma"]["deg"] == 0.5
    assert result["metrics"]["cc"] != evaluate_maps.evaluate_folders(pred, gt)["metrics"]["cc"]


# ----------------------------------------------------------------------------------------------------------------
# Scanpaths from CSV files (training/metrics/scanpath_files.py)

def test_read_scanpaths_csv_groups_orders_and_reads_durations(tmp_path):
    from training.metrics.scanpath_files import read_scanpaths_csv
    path = tmp_path / "h.csv"
    path.write_text("participant,index,x,y,duration\n"
                    "p1,1,50,60,200\np1,0,10,20,100\np2,0,30,30,150\np1,2,70,80,300\n")
    paths = read_scanpaths_csv(path, (100, 100))
    assert list(paths) == ["p1", "p2"]
    assert paths["p1"].tolist() == [[10, 20, 100], [50, 60, 200], [70, 80, 300]]        # sorted by index
    assert paths["p2"].shape == (1, 3)


def test_read_scanpaths_csv_reads_the_apps_export_and_one_image_of_a_dataset(tmp_path):
    from training.metrics.scanpath_files import read_scanpaths_csv
    export = tmp_path / "scanpaths.csv"
    export.write_text("scanpath,order,x,y,duration_ms\n1,1,5,5,100\n1,2,6,6,120\n2,1,9,9,80\n")
    assert {k: len(v) for k, v in read_scanpaths_csv(export, (10, 10)).items()} == {"1": 2, "2": 1}
    shared = tmp_path / "fixations.csv"
    shared.write_text("image,subject,index,x,y,duration_ms\na.png,s0,0,1,1,100\nb.png,s0,0,2,2,100\n"
                      "a.png,s1,0,3,3,100\n")
    with pytest.raises(ValueError, match="rows of 2 images"):
        read_scanpaths_csv(shared, (10, 10))
    assert sorted(read_scanpaths_csv(shared, (10, 10), image="a.png")) == ["s0", "s1"]


def test_read_scanpaths_csv_without_durations_gives_zeros(tmp_path):
    from training.metrics.scanpath_files import read_scanpaths_csv
    (tmp_path / "h.csv").write_text("subject,x,y\na,1,2\na,3,4\n")
    assert read_scanpaths_csv(tmp_path / "h.csv", (10, 10))["a"].tolist() == [[1, 2, 0], [3, 4, 0]]


@pytest.mark.parametrize("content, message", [
    ("subject,x\na,1\n", "missing y"),
    ("x,y,duration_ms\n1,2,3\n", "missing subject"),
    ("subject,x,y\na,1,abc\n", r"h\.csv:2: y must be a number"),
    ("subject,x,y\na,1,2\na,nan,2\n", r"h\.csv:3: x must be a finite number"),
    ("subject,x,y\na,1,2\na,11,2\n", r"h\.csv:3: fixation \(11, 2\) lies outside the 10×10 image"),
    ("subject,x,y\na,-1,2\n", "outside"),
    ("subject,x,y,duration_ms\na,1,2,-5\n", "must not be negative"),
    ("subject,order,x,y\na,0,1,2\na,0,3,4\n", r"order 0 twice \(lines 2, 3\)"),
    ("subject,x,y\n,1,2\n", "empty subject"),
    ("subject,x,y\n", "no fixations"),
    ("", "found no header"),
])
def test_read_scanpaths_csv_errors(tmp_path, content, message):
    from training.metrics.scanpath_files import read_scanpaths_csv
    (tmp_path / "h.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        read_scanpaths_csv(tmp_path / "h.csv", (10, 10))


def test_read_scanpaths_csv_rejects_binary_and_too_many_paths(tmp_path):
    from training.metrics import scanpath_files
    (tmp_path / "b.csv").write_bytes(b"subject,x,y\n\x00\x01")
    with pytest.raises(ValueError, match="binary"):
        scanpath_files.read_scanpaths_csv(tmp_path / "b.csv", (10, 10))
    rows = "".join(f"s{k},1,1\n" for k in range(scanpath_files.MAX_SCANPATHS + 1))
    (tmp_path / "many.csv").write_text("subject,x,y\n" + rows)
    with pytest.raises(ValueError, match="at most"):
        scanpath_files.read_scanpaths_csv(tmp_path / "many.csv", (10, 10))


def _human_paths(n_subjects=4, seed=0):
    rng = np.random.default_rng(seed)
    base = np.array([[20, 20], [80, 20], [80, 60], [20, 60], [50, 40]], float)
    return {f"s{k}": np.column_stack([base + rng.normal(0, 3, base.shape), rng.uniform(150, 300, 5)])
            for k in range(n_subjects)}


def test_score_scanpaths_model_and_human_reference(tmp_path):
    from training.metrics import scanpath as sp
    from training.metrics.scanpath_files import read_scanpaths_csv, score_scanpaths
    humans = _human_paths()
    lines = ["subject,order,x,y,duration_ms"] + [f"{s},{i},{x:.3f},{y:.3f},{d:.3f}" for s, p in humans.items()
                                                 for i, (x, y, d) in enumerate(p)]
    (tmp_path / "h.csv").write_text("\n".join(lines) + "\n")
    read = read_scanpaths_csv(tmp_path / "h.csv", (100, 80))
    good = [humans["s0"][:, :] + [1, -1, 0]]
    bad = [np.array([[50, 40, 200], [10, 70, 200], [90, 10, 200], [50, 75, 200], [5, 5, 200]], float)]
    good_scores = score_scanpaths(good, read, (100, 80))
    bad_scores = score_scanpaths(bad, read, (100, 80))
    assert set(good_scores) == {"model", "human"} and set(good_scores["model"]) == set(sp.SCANPATH_METRICS)
    assert good_scores["model"]["mm_vector"] > bad_scores["model"]["mm_vector"]
    assert good_scores["model"]["sequence_score"] > bad_scores["model"]["sequence_score"]
    assert good_scores["model"]["dtw"] < bad_scores["model"]["dtw"]
    assert good_scores["human"] == pytest.approx(sp.inter_observer_scores(list(read.values()), (100, 80)))
    assert good_scores["human"]["mm_position"] > 0.9


def test_score_scanpaths_without_durations_leaves_duration_out():
    from training.metrics.scanpath_files import score_scanpaths
    humans = {k: np.column_stack([p[:, :2], np.zeros(len(p))]) for k, p in _human_paths().items()}
    scores = score_scanpaths([humans["s1"]], humans, (100, 80))
    assert "mm_duration" not in scores["model"] and "mm_duration" not in scores["human"]
    with pytest.raises(ValueError, match="no model scanpaths"):
        score_scanpaths([], humans, (100, 80))
    with pytest.raises(ValueError, match="no human scanpaths"):
        score_scanpaths([humans["s1"]], {}, (100, 80))
