"""Salient360! folder reader (training/salient360.py), on files written here in tmp_path."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from training.salient360 import file_key, load_salient360, read_fixation_list, read_saliency_map

W, H = 64, 32
HEADER = "Idx, longitude, latitude, start timestamp, end timestamp"


def write_image(path: Path, size=(W, H), seed: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)


def write_bin(path: Path, sal: np.ndarray, dtype=np.float32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sal.astype(dtype).tofile(path)


def write_fixations(path: Path, rows: list[str], header: str = HEADER) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n")


def smooth_map(height: int = H, width: int = W) -> np.ndarray:
    yy, xx = np.mgrid[0:height, 0:width]
    return np.exp(-((xx - width * 0.6) ** 2 + (yy - height * 0.4) ** 2) / (2 * (width / 10) ** 2)) + 0.01


@pytest.fixture
def good_root(tmp_path) -> Path:
    root = tmp_path / "s360"
    write_image(root / "images" / "P1.jpg", seed=1)
    write_bin(root / "saliency" / "P1_64x32_32b.bin", smooth_map())
    write_fixations(root / "fixations" / "P1.csv", ["0, 0.5, 0.5, 10.0, 300.0", "1, 0.25, 0.75, 320, 600",
                                                    "2, 1.0, 0.0, 610, 900"])
    write_image(root / "images" / "P2.png", (128, 64), seed=2)                    # map at half resolution
    Image.fromarray((255 * smooth_map() / smooth_map().max()).astype(np.uint8)).save(root / "saliency" / "P2.png")
    write_image(root / "images" / "P3.jpg", seed=3)                                # fixations only, two eyes
    write_fixations(root / "fixations" / "L" / "P3.txt", ["0,0.1,0.2,0,1"], header="# Idx,longitude,latitude,ts,te")
    write_fixations(root / "fixations" / "R" / "P3.txt", ["0,0.3,0.4,0,1", "1,0.5,0.6,1,2"])
    write_image(root / "images" / "P4.jpg", seed=4)                                # no ground truth
    return root


def test_good_folder_loads(good_root):
    samples = load_salient360(good_root)
    assert [s.name for s in samples] == ["P1", "P2", "P3", "P4"]
    p1, p2, p3, p4 = samples
    assert p1.size == (W, H) and p1.load_image().shape == (H, W, 3)
    assert p1.saliency.shape == (H, W) and p1.saliency.sum() == pytest.approx(1.0, abs=1e-5)
    expected = smooth_map() / smooth_map().sum()
    assert np.allclose(p1.saliency, expected, rtol=1e-5)                            # row-major (H, W), not transposed
    assert np.allclose(p1.fixations, [[32, 16], [16, 24], [64, 0]])               # lon·W, lat·H
    assert p2.size == (128, 64) and p2.saliency.shape == (H, W) and p2.fixations is None
    assert p2.saliency_at(128, 64).shape == (64, 128) and p2.saliency_at(128, 64).sum() == pytest.approx(1.0)
    assert np.allclose(np.sort(p3.fixations, axis=0), np.sort(np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
                                                               * [W, H], axis=0))
    assert p3.saliency is None and len(p3.fixation_paths) == 2
    assert p4.saliency is None and p4.fixations is None


def test_original_salient360_names(tmp_path):
    """The ICME'18 layout: Stimuli/P7_….jpg, HE/SalMaps/HEsalmap_7_…_32b.bin, HE/Scanpaths/L/HEscanpath_7.txt."""
    root = tmp_path / "icme18"
    write_image(root / "Stimuli" / "P7_64x32.jpg")
    write_bin(root / "HE" / "SalMaps" / "HEsalmap_7_64x32_32b.bin", smooth_map())
    write_fixations(root / "HE" / "Scanpaths" / "L" / "HEscanpath_7.txt", ["0,0.5,0.5,0,1"])
    (sample,) = load_salient360(root)
    assert sample.name == "P7" and sample.saliency is not None and sample.fixations.shape == (1, 2)
    assert file_key("HEsalmap_12_2048x1024_32b") == file_key("P12") == file_key("SHscanpath_12") == "P12"
    assert file_key("living_room") == "living_room"


def test_bin_without_size_in_name_and_float64(tmp_path):
    write_bin(tmp_path / "a.bin", smooth_map())                                   # float32, 2:1 from byte count
    assert read_saliency_map(tmp_path / "a.bin").shape == (H, W)
    write_bin(tmp_path / "b_64x32_64b.bin", smooth_map(), np.float64)
    assert np.allclose(read_saliency_map(tmp_path / "b_64x32_64b.bin"), smooth_map() / smooth_map().sum())


@pytest.mark.parametrize("rows, header, message", [
    (["0,0.5,0.5,0,1"], "Idx, x, y, start, end", r"P1\.csv:1: the header needs longitude and latitude"),
    (["0,0.5,0.5,0,1", "1,nan,0.5,2,3"], HEADER, r"P1\.csv:3: NaN"),
    (["0,0.5,0.5,0,1", "1,0.2,1.5,2,3"], HEADER, r"P1\.csv:3: longitude 0\.2 / latitude 1\.5 outside \[0, 1\]"),
    (["0,-0.1,0.5,0,1"], HEADER, r"P1\.csv:2: .*outside"),
    (["0,0.5,0.5,0"], HEADER, r"P1\.csv:2: expected 5 fields"),
    (["0,0.5,abc,0,1"], HEADER, r"P1\.csv:2: longitude and latitude must be numbers"),
    ([], HEADER, r"P1\.csv: no fixations"),
])
def test_bad_fixation_files(tmp_path, rows, header, message):
    root = tmp_path / "bad"
    write_image(root / "images" / "P1.jpg")
    write_fixations(root / "fixations" / "P1.csv", rows, header=header)
    with pytest.raises(ValueError, match=message):
        load_salient360(root)


def test_blank_lines_keep_line_numbers(tmp_path):
    path = tmp_path / "f.csv"
    path.write_text(f"{HEADER}\n\n0,0.5,0.5,0,1\n\n1,2,0.5,0,1\n")
    with pytest.raises(ValueError, match=r"f\.csv:5:"):
        read_fixation_list(path, (W, H))


@pytest.mark.parametrize("name, data, message", [
    ("P1_64x32_32b.bin", smooth_map(16, 64), r"P1_64x32_32b\.bin: 4096 bytes, but a 64×32 map"),      # wrong size
    ("P1.bin", smooth_map(16, 48), r"P1\.bin: 3072 bytes is not a 2:1 map"),
    ("P1_64x16_32b.bin", smooth_map(16, 64), r"64×16 \(W×H\) is not equirectangular"),
    ("P1_64x32_32b.bin", np.where(smooth_map() > 0.5, np.nan, smooth_map()), r"P1_64x32_32b\.bin: \d+ NaN"),
    ("P1_64x32_32b.bin", smooth_map() - 0.5, r"P1_64x32_32b\.bin: negative values"),
    ("P1_64x32_32b.bin", np.zeros((H, W)), r"all zeros"),
    ("P1_64x32_24b.bin", smooth_map(), r"24-bit floats"),
])
def test_bad_bin_maps(tmp_path, name, data, message):
    root = tmp_path / "bad"
    write_image(root / "images" / "P1.jpg")
    write_bin(root / "saliency" / name, data)
    with pytest.raises(ValueError, match=message):
        load_salient360(root)


def test_bad_image_map_and_folder_problems(tmp_path):
    root = tmp_path / "bad"
    write_image(root / "images" / "P1.jpg")
    Image.fromarray(np.full((40, 40), 9, np.uint8)).save(tmp_path / "square.png")
    (root / "saliency").mkdir()
    (tmp_path / "square.png").rename(root / "saliency" / "P1.png")
    with pytest.raises(ValueError, match=r"P1\.png: saliency map: 40×40"):
        load_salient360(root)
    write_bin(root / "saliency" / "P1_64x32_32b.bin", smooth_map())
    with pytest.raises(ValueError, match="several saliency maps for P1.jpg"):
        load_salient360(root)
    (root / "saliency" / "P1.png").unlink()
    write_bin(root / "saliency" / "P9_64x32_32b.bin", smooth_map())
    with pytest.raises(ValueError, match=r"1 saliency file\(s\) match no image.*P9_64x32_32b\.bin"):
        load_salient360(root)
    with pytest.raises(ValueError, match="no images/"):
        load_salient360(tmp_path / "nothing")
    write_image(tmp_path / "square" / "images" / "P1.jpg", (40, 40))
    with pytest.raises(ValueError, match=r"P1\.jpg: image: 40×40 \(W×H\) is not equirectangular"):
        load_salient360(tmp_path / "square")
    with pytest.raises(ValueError, match="folder does not exist"):
        load_salient360(tmp_path / "square", fixations_dir="missing")


# ----------------------------------------------------------------------------------------------------------------
# training.evaluate_salient360: predictions scored against a Salient360! folder

def _write_predictions(folder: Path, maps: dict[str, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, array in maps.items():
        if name.endswith(".npy"):
            np.save(folder / name, array)
        elif name.endswith(".bin"):
            write_bin(folder / name, array)
        else:
            Image.fromarray((255 * array / array.max()).astype(np.uint8)).save(folder / name)
    return folder


def test_evaluate_salient360_scores_each_metric_where_its_ground_truth_exists(good_root, tmp_path):
    import csv
    import json

    from training import evaluate_salient360
    truth = smooth_map()
    preds = _write_predictions(tmp_path / "pred", {"P1.npy": truth, "P2.png": truth,
                                                   "P3.npy": smooth_map(16, 32)})     # resized to the frame
    out, table = tmp_path / "r.json", tmp_path / "per_image.csv"
    assert evaluate_salient360.main([str(preds), str(good_root), "--out", str(out), "--per_image", str(table)]) == 0
    result = json.loads(out.read_text())
    assert result["task"] == "salient360" and "protocol" not in result    # not mistaken for a 2D result file
    assert result["n_images"] == 3 and result["skipped"] == ["P4"]
    assert result["n_with_map"] == 2 and result["n_with_fixations"] == 2
    assert result["n_per_metric"] == {"cc": 2, "kld": 2, "sim": 2, "nss": 2, "auc_judd": 2}
    assert result["metrics"]["cc"] > 0.99 and result["metrics"]["kld"] < 0.01       # P1, P2: the map itself
    rows = {r["image"]: r for r in csv.DictReader(open(table))}
    assert sorted(rows) == ["P1", "P2", "P3"]
    assert rows["P3"]["cc"] == "" and rows["P2"]["nss"] == "" and float(rows["P1"]["nss"]) != 0
    assert np.mean([float(rows[k]["nss"]) for k in ("P1", "P3")]) == pytest.approx(result["metrics"]["nss"])


def test_evaluate_salient360_uses_the_latitude_weighted_metrics(good_root, tmp_path):
    from training import evaluate_salient360
    from training.metrics.panorama import compute_all_panorama
    pred = smooth_map() ** 0.5
    preds = _write_predictions(tmp_path / "pred", {"P1.npy": pred, "P2.npy": pred, "P3.npy": pred})
    result = evaluate_salient360.evaluate(str(preds), str(good_root), progress=False)
    expected = compute_all_panorama(pred, smooth_map() / smooth_map().sum())
    samples = {s.name: s for s in load_salient360(good_root)}
    expected_p2 = compute_all_panorama(pred, samples["P2"].saliency.astype(np.float64))
    for metric in ("cc", "kld", "sim"):
        assert result["metrics"][metric] == pytest.approx((expected[metric] + expected_p2[metric]) / 2, rel=1e-4)


def test_evaluate_salient360_reads_salient360_style_prediction_names(good_root, tmp_path):
    from training import evaluate_salient360
    preds = _write_predictions(tmp_path / "pred", {"SHsalmap_1_64x32_32b.bin": smooth_map(), "P2.npy": smooth_map(),
                                                   "P3.npy": smooth_map()})
    assert evaluate_salient360.evaluate(str(preds), str(good_root), progress=False)["n_images"] == 3


@pytest.mark.parametrize("files, message", [
    ({"P1.npy": smooth_map(), "P1.png": smooth_map(), "P2.npy": smooth_map(), "P3.npy": smooth_map()},
     r"several predictions for one image.*P1\.npy and P1\.png"),
    ({"P1.npy": smooth_map(), "P2.npy": smooth_map()}, r"ground truth but no prediction.*P3\.jpg"),
    ({"P1.npy": smooth_map(), "P2.npy": smooth_map(), "P3.npy": smooth_map(), "P9.npy": smooth_map()},
     r"match no image.*P9\.npy"),
    ({"P1.npy": smooth_map(32, 32), "P2.npy": smooth_map(), "P3.npy": smooth_map()}, r"P1\.npy.*not equirectangular"),
    ({"P1.npy": np.zeros((H, W)), "P2.npy": smooth_map(), "P3.npy": smooth_map()}, r"P1\.npy.*all zeros"),
])
def test_evaluate_salient360_bad_predictions(good_root, tmp_path, capsys, files, message):
    from training import evaluate_salient360
    preds = _write_predictions(tmp_path / "pred", {})
    for name, array in files.items():
        if name.endswith(".npy"):
            np.save(preds / name, array)
        else:
            _write_predictions(preds, {name: array})
    assert evaluate_salient360.main([str(preds), str(good_root)]) == 2
    import re
    assert re.search(message, capsys.readouterr().err)


def test_evaluate_salient360_with_a_registered_panorama_model(good_root, tmp_path, capsys):
    from training import evaluate_salient360
    out = tmp_path / "m.json"
    assert evaluate_salient360.main(["--model", "equator-bias", str(good_root), "--out", str(out)]) == 0
    import json
    result = json.loads(out.read_text())
    assert result["model"] == "equator-bias" and result["predictions"] is None and result["n_images"] == 3
    assert set(result["metrics"]) == {"cc", "kld", "sim", "nss", "auc_judd"}
    assert evaluate_salient360.main(["--model", "centerbias", str(good_root)]) == 2
    assert "needs a panorama model" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate_salient360.main(["--model", "equator-bias", str(tmp_path), str(good_root)])
    with pytest.raises(SystemExit):
        evaluate_salient360.main([str(good_root)])


def test_evaluate_salient360_without_ground_truth_is_an_error(tmp_path, capsys):
    from training import evaluate_salient360
    write_image(tmp_path / "root" / "images" / "P1.jpg")
    preds = _write_predictions(tmp_path / "pred", {"P1.npy": smooth_map()})
    assert evaluate_salient360.main([str(preds), str(tmp_path / "root")]) == 2
    assert "no ground truth" in capsys.readouterr().err
