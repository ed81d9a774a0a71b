"""The Scanpath tab's functions (models/studio/scanpath_tab.py), the handler, the API endpoint and the real browser."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.studio import scanpath_tab as sv
from tests.conftest import draw_image

MODEL = "saliency-sampler"                   # always registered (the trained SPGEn only once bundled)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return draw_image(5, (240, 180))[0]


def test_same_seed_same_scanpaths_and_limits(image):
    a = sv.sample_scanpaths(image, MODEL, n_scanpaths=3, temperature=0.5, viewing_time_s=2, seed=4)
    b = sv.sample_scanpaths(image, MODEL, n_scanpaths=3, temperature=0.5, viewing_time_s=2, seed=4)
    c = sv.sample_scanpaths(image, MODEL, n_scanpaths=3, temperature=0.5, viewing_time_s=2, seed=5)
    assert len(a) == 3 and all(np.array_equal(p, q) for p, q in zip(a, b))
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))
    for p in a:
        assert len(p) >= 1 and p[:, 0].max() < 240 and p[:, 1].max() < 180 and p[:, 2].min() > 0
        assert p[:, 2].sum() <= 2000                                    # fixations fit in the viewing time


@pytest.mark.parametrize("kwargs, message", [({"n_scanpaths": 0}, "number of scanpaths"),
                                             ({"viewing_time_s": 99}, "viewing time"),
                                             ({"temperature": 2.0}, "temperature"),
                                             ({"model_name": "centerbias"}, "unknown scanpath model")])
def test_bad_settings_give_clear_messages(image, kwargs, message):
    args = {"model_name": MODEL, **kwargs}
    with pytest.raises(ValueError, match=message):
        sv.sample_scanpaths(image, **args)


def test_drawing_colours_each_scanpath_and_sizes_circles_by_duration():
    canvas = np.zeros((200, 300, 3), np.uint8)
    short = np.array([[50.0, 50.0, 100.0]])
    long = np.array([[200.0, 120.0, 1200.0]])
    out = sv.draw_scanpaths(canvas, [short, long])
    first = np.all(out == sv.COLOURS[0], axis=-1).sum()
    second = np.all(out == sv.COLOURS[1], axis=-1).sum()
    assert first > 0 and second > 3 * first                                 # longer fixation, bigger circle
    assert sv.draw_scanpaths(canvas, [short, long], upto=0).sum() == 0       # animation frame 0: nothing yet


def test_exports_round_trip(tmp_path, image):
    paths = sv.sample_scanpaths(image, MODEL, 2, 0.3, 1.5, seed=1)
    settings = {"image": "p.png", "model": MODEL, "temperature": 0.3, "viewing_time_s": 1.5, "seed": 1}
    json_path, csv_path = sv.export_scanpaths(paths, image.shape, settings, out_dir=tmp_path)
    doc = json.loads(Path(json_path).read_text())
    assert doc["image_width"] == 240 and len(doc["scanpaths"]) == 2 and doc["settings"] == settings
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["image", "model", "temperature", "viewing_time_s", "seed",
                             "scanpath", "order", "x", "y", "duration_ms"]
    assert {(r["image"], r["model"], r["viewing_time_s"], r["seed"]) for r in rows} == {("p.png", MODEL, "1.5", "1")}
    assert len(rows) == sum(len(p) for p in paths)
    assert float(rows[0]["x"]) == pytest.approx(paths[0][0, 0], abs=0.01)


def test_animation_has_one_frame_per_fixation_step(tmp_path, image):
    paths = sv.sample_scanpaths(image, MODEL, 2, 0.3, 1.0, seed=2)
    gif = Image.open(sv.animate_scanpaths(image, paths, out_dir=tmp_path))
    assert gif.n_frames == max(len(p) for p in paths) + 1


def test_handler_returns_drawing_gif_files_and_table(image):
    import gradio as gr

    import app
    drawing, gif, files, table = app.run_scanpaths(image, MODEL, 2, 0.2, 5, 3, True)
    assert np.asarray(Image.open(drawing)).shape == image.shape and Path(gif).suffix == ".gif" and len(files) == 2
    assert len(table) >= 2 and len(table[0]) == 5
    with pytest.raises(gr.Error, match="Upload an image"):
        app.run_scanpaths(None, MODEL, 2, 0.2, 5, 3, False)


def test_scanpaths_over_the_map_show_the_map_plainly():
    """'Draw over the saliency map' used to make the map a faint haze (a 0.5-opacity overlay of a peaky map):
    now the painting is dimmed to grey under the map, the map's hot region is far brighter than the rest, and
    white lines ring the most-looked-at 10 % and 25 % of the picture."""
    painting = np.full((120, 160, 3), (90, 140, 60), np.uint8)
    yy, xx = np.mgrid[0:120, 0:160]
    density = np.exp(-((xx - 110.0) ** 2 + (yy - 40.0) ** 2) / (2 * 12.0 ** 2)) + 1e-4
    density /= density.sum()
    backdrop = sv.map_backdrop(painting, density).astype(int)
    hot, cold = backdrop[40, 110].sum(), backdrop[100, 20].sum()
    assert hot - cold > 300                                          # unmistakable, not a haze
    assert np.ptp(backdrop[100, 10:40], axis=0).max() < 3            # the cold part: a flat, dim grey
    assert cold < painting[100, 20].astype(int).sum()               # the painting is dimmed under the map
    white = np.all(backdrop >= 250, axis=-1)
    assert white.sum() > 40 and not white[40, 110]                   # contour lines, not a filled blob
    drawing = sv.draw_scanpaths(painting, [np.array([[110.0, 40.0, 300.0]])], density)
    assert np.all(drawing[34:47, 104:117] == sv.COLOURS[0], axis=-1).any()      # the fixation is drawn over it
