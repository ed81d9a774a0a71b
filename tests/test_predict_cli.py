"""Batch CLI: every image gets its outputs, a bad file is reported in the summary and does not stop the run."""
import csv

import numpy as np
from PIL import Image

from models import predict
from tests.conftest import draw_image


def make_folder(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(draw_image(i)[0]).save(folder / f"img{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    return folder


def test_saliency_batch(tmp_path):
    out = tmp_path / "out"
    assert predict.main([str(make_folder(tmp_path)), "--task", "saliency", "--model", "centerbias",
                         "--out", str(out), "--overlay"]) == 0
    density = np.load(out / "img0.npy")
    assert density.shape == (120, 160) and np.isclose(density.sum(), 1, atol=1e-4)
    assert (out / "img1_overlay.jpg").is_file() and (out / "img1.png").is_file()
    rows = {r["file"]: r for r in csv.DictReader(open(out / "summary.csv"))}
    assert rows["img0.png"]["status"] == "ok" and 0 < float(rows["img0.png"]["top10pct_share"]) <= 1
    assert rows["broken.jpg"]["status"].startswith("UnidentifiedImageError")


def test_scanpath_batch_is_reproducible(tmp_path):
    folder = make_folder(tmp_path)
    for run in ("a", "b"):
        assert predict.main([str(folder), "--task", "scanpath", "--out", str(tmp_path / run), "--samples", "2",
                             "--seed", "3"]) == 0
    a, b = (tmp_path / "a" / "img0.csv").read_text(), (tmp_path / "b" / "img0.csv").read_text()
    assert a == b and len(a.splitlines()) > 3


def test_missing_folder_is_a_clear_error(tmp_path, capsys):
    assert predict.main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "not a folder" in capsys.readouterr().err
