"""The Overview tab's statistics and reading (models/studio/overview_tab.py) and the example paintings
(models/studio/gallery.py): offline behaviour, a local folder as the source, and the download path against a fake
Wikipedia on 127.0.0.1."""
from __future__ import annotations

import http.server
import io
import json
import threading
import time

import numpy as np
import pytest
from PIL import Image

from models.studio import gallery, overview_tab as overview


def _blob(h=60, w=90, cx=0.2, cy=0.25, sigma=0.05):
    yy, xx = np.mgrid[0:h, 0:w]
    d = np.exp(-(((xx + 0.5) / w - cx) ** 2 + ((yy + 0.5) / h - cy) ** 2) / (2 * sigma ** 2))
    return d / d.sum()


def test_uniform_map_statistics_are_the_even_spread():
    stats = overview.attention_statistics(np.ones((40, 50)))
    assert stats["top_10"] == pytest.approx(0.10, abs=0.005) and stats["top_25"] == pytest.approx(0.25, abs=0.005)
    assert stats["entropy"] == pytest.approx(1.0)
    assert stats["centre_x"] == pytest.approx(0.5) and stats["centre_y"] == pytest.approx(0.5)


def test_a_concentrated_blob_is_read_as_concentrated_and_located():
    stats = overview.attention_statistics(_blob())
    assert stats["top_10"] > 0.5 and stats["entropy"] < 0.8
    assert stats["centre_x"] == pytest.approx(0.2, abs=0.02) and stats["centre_y"] == pytest.approx(0.25, abs=0.02)
    assert stats["peak_x"] == pytest.approx(0.2, abs=0.02)
    text = overview.reading(stats)
    assert "strongly concentrated" in text and "upper left" in text
    spread = overview.reading(overview.attention_statistics(np.ones((40, 50))))
    assert "spread out" in spread and "the centre" in spread


def test_reading_describes_the_scanpaths_from_their_numbers():
    density = _blob()
    paths = [np.array([[18.0, 15.0, 200.0], [60.0, 40.0, 300.0]]), np.array([[17.0, 14.0, 250.0]])]
    text = overview.reading(overview.attention_statistics(density), paths, density.shape, density)
    assert "2 virtual viewers looking for 3 s make 1.5 fixations each" in text
    assert "a fixation lasts 250 ms typically" in text and "100% of them begin in the upper left" in text
    assert "67% of their fixations land" in text                             # 2 of 3 fixations on the blob


@pytest.mark.parametrize("bad", [np.zeros((5, 5)), -np.ones((5, 5)), np.full((5, 5), np.nan), np.ones(5)])
def test_statistics_refuse_maps_without_mass(bad):
    with pytest.raises(ValueError, match="attention statistics"):
        overview.attention_statistics(bad)


def test_painting_overview_runs_the_default_models(synthetic_image):
    result = overview.painting_overview(synthetic_image, n_scanpaths=2, seed=3)
    assert result["overlay"].shape == synthetic_image.shape and result["scanpaths"].shape == synthetic_image.shape
    assert len(result["paths"]) == 2 and len(result["rows"]) == 7
    again = overview.painting_overview(synthetic_image, n_scanpaths=2, seed=3)
    assert all(np.array_equal(a, b) for a, b in zip(result["paths"], again["paths"]))
    assert "Attention is" in result["reading"]


def test_gallery_catalogue_has_twenty_labelled_paintings():
    catalogue = gallery.load_catalogue()
    assert len(catalogue) == 20 and len({e["file"] for e in catalogue}) == 20
    assert all(e["title"] and e["artist"] and e["year"] and e["wikipedia"] for e in catalogue)
    assert gallery.label(catalogue[0]) == "The Starry Night — Vincent van Gogh, 1889"


def test_local_folder_source_and_the_off_switch(tmp_path):
    first = gallery.load_catalogue()[0]
    Image.new("RGB", (30, 20), (200, 10, 10)).save(tmp_path / first["file"])
    examples, message = gallery.fetch_examples(str(tmp_path))
    assert [e["title"] for e in examples] == [first["title"]] and "1 of 20" in message
    assert gallery.fetch_examples("off") == ([], "Examples are turned off (GALLERY_SOURCE=off).")
    none, why = gallery.fetch_examples(str(tmp_path / "missing"))
    assert none == [] and "unavailable" in why


def test_offline_gives_a_message_quickly(tmp_path, monkeypatch):
    monkeypatch.setattr(gallery, "SUMMARY_API", "http://127.0.0.1:9/summary/")       # nothing listens on port 9
    start = time.time()
    examples, message = gallery.fetch_examples("wikipedia", cache=tmp_path, timeout=2.0)
    assert examples == [] and "unavailable" in message
    assert time.time() - start < 10
    assert not any(tmp_path.iterdir())                                           # nothing half-written


@pytest.fixture
def fake_wikipedia():
    """A tiny server answering the REST summary (lead image as a thumb URL) and the image itself."""
    png = io.BytesIO()
    Image.new("RGB", (64, 40), (10, 120, 200)).save(png, "PNG")
    requests = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            requests.append(self.path)
            port = self.server.server_address[1]
            if self.path.startswith("/summary/"):
                name = self.path.rsplit("/", 1)[1]
                body = json.dumps({"title": name, "thumbnail": {
                    "source": f"http://127.0.0.1:{port}/thumb/a/ab/{name}.png/330px-{name}.png", "width": 330},
                    "originalimage": {"source": f"http://127.0.0.1:{port}/full/{name}.png", "width": 4000}}).encode()
            elif self.path.startswith("/thumb/") and "/1280px-" in self.path:
                body = png.getvalue()
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, requests
    server.shutdown()


def test_download_path_fetches_1280px_renderings_into_the_cache(fake_wikipedia, tmp_path, monkeypatch):
    server, requests = fake_wikipedia
    monkeypatch.setattr(gallery, "SUMMARY_API", f"http://127.0.0.1:{server.server_address[1]}/summary/")
    examples, message = gallery.fetch_examples("wikipedia", cache=tmp_path, timeout=5.0)
    assert len(examples) == 20 and message == ""
    assert all(Image.open(e["path"]).size == (64, 40) for e in examples)
    assert sum(r.startswith("/thumb/") for r in requests) == 20
    before = len(requests)
    again, _ = gallery.fetch_examples("wikipedia", cache=tmp_path)
    assert len(again) == 20 and len(requests) == before                         # served from the cache


def test_a_download_that_is_not_an_image_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(gallery, "_get", lambda url, timeout, limit: b'{"thumbnail": {"source": "x"}}'
                        if "summary" in url else b"<html>not an image</html>")
    with pytest.raises(ValueError, match="not an image"):
        gallery.download_painting(gallery.load_catalogue()[0], tmp_path)
    assert not any(tmp_path.iterdir())
