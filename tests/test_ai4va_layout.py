"""training.evaluate_maps on a folder laid out as the AI4VA saliency challenge's data (images/<split>/ and
maps/<split>/, grey maps), built here with drawn images and maps."""
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import draw_image
from training import evaluate_maps


def blob_map(cx: float, cy: float, size=(160, 120), spread=12.0) -> np.ndarray:
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    m = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * spread ** 2))
    return (255 * m / m.max()).astype(np.uint8)


def write_ai4va(root, splits=("train", "val"), n=3):
    """root/data/images/<split>/page_i.jpg and root/data/maps/<split>/page_i.png; returns {stem: blob centre}."""
    centres = {}
    for split in splits:
        (root / "data" / "images" / split).mkdir(parents=True)
        (root / "data" / "maps" / split).mkdir(parents=True)
        for i in range(n):
            stem = f"Vaillant_{split}_{i:02d}"
            img, centre = draw_image(100 + i)
            Image.fromarray(img).save(root / "data" / "images" / split / f"{stem}.jpg")
            Image.fromarray(blob_map(*centre)).save(root / "data" / "maps" / split / f"{stem}.png")
            centres[stem] = centre
    return centres


def write_predictions(folder, centres, shift=0.0):
    folder.mkdir(parents=True)
    for stem, (cx, cy) in centres.items():
        Image.fromarray(blob_map(cx + shift, cy, spread=15.0)).save(folder / f"{stem}.png")


def test_scores_the_val_split_of_an_ai4va_folder(tmp_path):
    centres = write_ai4va(tmp_path / "ai4va")
    val = {s: c for s, c in centres.items() if "_val_" in s}
    write_predictions(tmp_path / "near", val)
    write_predictions(tmp_path / "far", val, shift=60.0)
    out = tmp_path / "r.json"
    assert evaluate_maps.main([str(tmp_path / "near"), str(tmp_path / "ai4va"), "--out", str(out)]) == 0
    near = json.loads(out.read_text())
    assert near["layout"] == "ai4va" and near["split"] == "val" and near["n_images"] == 3
    assert set(near["per_image"]) == set(val)
    far = evaluate_maps.evaluate_folders(tmp_path / "far", tmp_path / "ai4va" / "data", split="val")
    assert near["metrics"]["cc"] > 0.9 > far["metrics"]["cc"]
    assert near["metrics"]["kld"] < far["metrics"]["kld"]


def test_predictions_may_sit_in_a_split_subfolder(tmp_path):
    centres = write_ai4va(tmp_path / "ai4va")
    write_predictions(tmp_path / "preds" / "train", {s: c for s, c in centres.items() if "_train_" in s})
    result = evaluate_maps.evaluate_folders(tmp_path / "preds", tmp_path / "ai4va", split="train")
    assert result["split"] == "train" and result["n_images"] == 3


def test_missing_split_and_orphan_maps_are_named(tmp_path, capsys):
    centres = write_ai4va(tmp_path / "ai4va", splits=("val",))
    write_predictions(tmp_path / "preds", centres)
    assert evaluate_maps.main([str(tmp_path / "preds"), str(tmp_path / "ai4va"), "--split", "train"]) == 2
    assert "without maps/train/" in capsys.readouterr().err
    next((tmp_path / "ai4va" / "data" / "images" / "val").glob("*_01.jpg")).unlink()
    with pytest.raises(ValueError, match="without an image of the same name.*_01.png"):
        evaluate_maps.evaluate_folders(tmp_path / "preds", tmp_path / "ai4va")


def test_a_flat_folder_refuses_split(tmp_path):
    centres = write_ai4va(tmp_path / "ai4va", splits=("val",))
    write_predictions(tmp_path / "preds", centres)
    flat = tmp_path / "ai4va" / "data" / "maps" / "val"
    assert evaluate_maps.evaluate_folders(tmp_path / "preds", flat)["layout"] == "flat"
    with pytest.raises(ValueError, match="flat folder"):
        evaluate_maps.evaluate_folders(tmp_path / "preds", flat, split="val")
