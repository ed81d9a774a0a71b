"""The Batch tab's logic (models/studio/batch.py): images and zips in, one zip of maps and a summary out; unsafe,
odd and oversized zips refused or skipped with the reason, and nothing left behind when a batch fails."""
from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models import load_model, predict_saliency
from models.studio import batch, files
from tests.conftest import draw_image


@pytest.fixture(autouse=True)
def outputs(tmp_path, monkeypatch) -> Path:
    """Every output folder of these tests under tmp_path/outputs (so a test can see what a batch left)."""
    root = tmp_path / "outputs"
    monkeypatch.setattr(files, "ROOT", root)
    return root


def _image(folder: Path, name: str, seed: int, size=(160, 120)) -> Path:
    path = folder / name
    Image.fromarray(draw_image(seed, size)[0]).save(path)
    return path


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _summary(zip_path: str) -> list[dict]:
    with zipfile.ZipFile(zip_path) as archive:
        return list(csv.DictReader(io.StringIO(archive.read("summary.csv").decode())))


def test_two_images_give_a_zip_with_their_maps_and_a_summary_that_describes_them(tmp_path):
    a, b = _image(tmp_path, "a.png", 1, (160, 120)), _image(tmp_path, "b.jpg", 2, (90, 200))
    calls = []
    result = batch.run_batch([str(a), str(b)], "centerbias", progress=lambda *c: calls.append(c))
    assert calls[0][:2] == (0, 2) and calls[-1][:2] == (2, 2)
    rows = _summary(result["zip"])
    assert [r["image"] for r in rows] == ["a.png", "b.jpg"] and {r["status"] for r in rows} == {"ok"}
    with zipfile.ZipFile(result["zip"]) as archive:
        for row, path in zip(rows, (a, b)):
            w, h = Image.open(path).size
            assert (int(row["width"]), int(row["height"])) == (w, h)
            png = Image.open(io.BytesIO(archive.read(row["map_png"])))
            assert png.size == (w, h) and png.mode.startswith("I")               # 16-bit, at the image's size
            density = np.load(io.BytesIO(archive.read(row["map_npy"])))
            expected = predict_saliency(load_model("centerbias"), np.asarray(Image.open(path).convert("RGB")))
            assert np.allclose(density, expected, atol=1e-6)
            iy, ix = np.unravel_index(np.argmax(expected), expected.shape)
            assert abs(float(row["peak_x"]) - (ix + 0.5)) <= 0.5 and abs(float(row["peak_y"]) - (iy + 0.5)) <= 0.5
            assert 0 < float(row["entropy"]) <= 1 and 0.1 <= float(row["top_10"]) <= 1
            assert float(row["runtime_ms"]) > 0 and row["model"] == "centerbias"
    assert Path(result["summary"]).read_bytes() == zipfile.ZipFile(result["zip"]).read("summary.csv")


def test_a_zip_is_read_without_unpacking_by_name_and_odd_members_are_listed(tmp_path):
    good = _image(tmp_path, "good.png", 3).read_bytes()
    archive = _zip(tmp_path / "set.zip", {"paintings/one.png": good, "other/one.png": good, "../escape.png": good,
                                         "/abs.png": good, "notes.txt": b"hello", "__MACOSX/._one.png": b"junk",
                                         "inner.zip": b"PK", "broken.png": b"not pixels"})
    result = batch.run_batch([str(archive)], "uniform")
    rows = {r["image"]: r for r in _summary(result["zip"])}
    assert [n for n, r in rows.items() if r["status"] == "ok"] == ["set.zip:paintings/one.png", "set.zip:other/one.png"]
    assert rows["set.zip:paintings/one.png"]["map_png"] != rows["set.zip:other/one.png"]["map_png"]   # both kept
    reasons = {n: r["note"] for n, r in rows.items() if r["status"] == "skipped"}
    assert "unsafe path" in reasons["set.zip:../escape.png"] and "unsafe path" in reasons["set.zip:/abs.png"]
    assert "not an image" in reasons["set.zip:notes.txt"] and "inside the zip" in reasons["set.zip:inner.zip"]
    assert "hidden" in reasons["set.zip:__MACOSX/._one.png"] and "not an image" in reasons["set.zip:broken.png"]
    assert not (tmp_path.parent / "escape.png").exists() and not Path("/abs.png").exists()


@pytest.mark.parametrize("make, message", [
    (lambda t: [_zip(t / "text.zip", {"a.txt": b"x", "b.csv": b"y"})], "no images to process"),
    (lambda t: [_zip(t / "evil.zip", {"../../x.png": b"x"})], "unsafe path"),
    (lambda t: [t / "fake.zip"], "not a readable zip"),
    (lambda t: [_zip(t / "bad.zip", {"a.png": b"nope", "b.jpg": b""})], "none of the 2 images could be read"),
    (lambda t: [], "no images to process"),
])
def test_a_batch_with_nothing_to_do_says_why_and_leaves_no_output(tmp_path, outputs, make, message):
    (tmp_path / "fake.zip").write_bytes(b"this is no zip")
    with pytest.raises(ValueError, match=message):
        batch.run_batch([str(p) for p in make(tmp_path)], "uniform")
    assert not outputs.exists() or list(outputs.iterdir()) == []


def test_too_many_images_and_a_zip_bomb_are_refused_with_the_limit_named(tmp_path, monkeypatch, outputs):
    monkeypatch.setattr(batch, "MAX_IMAGES", 3)
    many = _zip(tmp_path / "many.zip", {f"{k}.png": b"x" for k in range(4)})
    with pytest.raises(ValueError, match="4 images; a batch takes at most 3"):
        batch.run_batch([str(many)], "uniform")
    monkeypatch.setattr(batch, "MAX_UNPACKED_BYTES", 10 * 1024 ** 2)
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.png", bytes(11 * 1024 ** 2))           # 11 MB of zeros in a few kB
    assert bomb.stat().st_size < 100_000
    with pytest.raises(ValueError, match="unpacks to 11 MB; a batch may unpack to at most 10 MB"):
        batch.run_batch([str(bomb)], "uniform")
    assert not outputs.exists() or list(outputs.iterdir()) == []


def test_an_unknown_model_is_named_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="'gold' cannot score an uploaded image"):
        batch.run_batch([str(_image(tmp_path, "a.png", 1))], "gold")
