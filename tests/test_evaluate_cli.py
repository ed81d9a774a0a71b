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
