"""The app's 360° tab: handlers as functions, then the running server (with a test model that has ATSal's streams)
through gradio_client and Chromium."""
from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from models.studio import panorama_tab as studio360
from tests.conftest import draw_image, readme_screenshot, serve_app
from tests.fake360 import FakeStreamsModel
from tests.test_app import CHROMIUM, CHROMIUM_ARGS
from tests.test_studio360 import write_video
from training.config import gaze_data_root

REPO = Path(__file__).resolve().parent.parent
# The app as `python app.py` runs it, plus "fake-streams" (a fast model with every ATSal stream) in its registry.
START = "import runpy, tests.fake360 as f; f.register(); runpy.run_path('app.py', run_name='__main__')"


@pytest.fixture(scope="module")
def pano_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pano") / "pano.png"
    Image.fromarray(draw_image(5, (512, 256))[0]).save(path)
    return path


@pytest.fixture(scope="module")
def flat_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("flat") / "flat.png"
    Image.fromarray(draw_image(5, (300, 200))[0]).save(path)
    return path


# ---------- handlers as functions ----------

def _texture(url: str) -> Path:
    return Path(url.split("#")[0].split("=", 1)[1])


def _view(url: str) -> dict:
    """The viewer's instructions after the texture URL's '#' (panorama_tab.viewer_fragment)."""
    return parse_qs(url.split("#", 1)[1], keep_blank_values=True)


def test_panorama_handler_gives_gallery_viewer_url_streams_and_state(monkeypatch):
    monkeypatch.setattr(studio360, "resolve_model", lambda name: FakeStreamsModel())
    monkeypatch.setattr(app.saliency_tab, "describe", lambda name: "test model")
    pano = draw_image(5, (256, 128))[0]
    panels, url, radio, state, info = app.run_panorama(pano, "fake-streams", "attention", "jet", 0.5)
    assert len(panels) == 7 and np.asarray(Image.open(panels[0][0])).shape == pano.shape
    assert url.startswith("gradio_api/file=") and _texture(url).is_file()
    assert radio.value == "attention" and [value for _, value in radio.choices] == list(state["streams"])
    assert dict(radio.choices)["attention stream"] == "attention"               # each stream by what it is
    view = _view(url)                                 # the fake fused map peaks at yaw 60°, a little above the horizon
    assert abs(float(view["yaw"][0]) - 60) < 3 and 0 <= float(view["pitch"][0]) < 10
    assert view["hot"][0].split(";")[0] == f"{view['yaw'][0]},{view['pitch'][0]}" and "yaw 59.8°" in info
    other = app.restyle_viewer(state, "experts", "jet", 0.5)
    assert other != url and _texture(other).is_file()
    assert _view(other) == view                                                 # same panorama: the view stays
    gallery, again, restyled = app.restyle_panorama(state, "experts", "viridis", 0.3)
    assert len(gallery) == 7 and again not in (url, other) and restyled["style"] == ["experts", "viridis", 0.3, "peak"]
    assert _view(app.run_panorama(pano, "fake-streams", "attention", "jet", 0.5)[1])["pano"] != view["pano"]
    assert app.restyle_panorama(restyled, "experts", "viridis", 0.3) == gr.skip()     # already drawn so
    assert Path(gallery[0][0]).name == "panorama-fused.jpg"
    shared, _, evenly = app.restyle_panorama(restyled, "experts", "viridis", 0.3, "even")
    assert evenly["style"][-1] == "even"
    assert not np.array_equal(np.asarray(Image.open(shared[0][0])), np.asarray(Image.open(gallery[0][0])))
    with pytest.raises(gr.Error, match="colour scale"):
        app.restyle_panorama(restyled, "experts", "viridis", 0.3, "loud")


def test_the_even_scale_of_a_panorama_is_an_even_spread_on_the_sphere():
    from models.studio.rendering import EVEN_TOP, _scaled
    uniform = np.full((64, 128), 3.0)                                 # per solid angle: even on the sphere
    np.testing.assert_allclose(_scaled(uniform, "even", studio360.sphere_rows(64)), 1 / EVEN_TOP, rtol=1e-5)
    band = np.full((64, 128), 0.1)
    band[30:34] += 1.0                                                # a band at the equator on a low floor
    weights = np.cos(np.deg2rad(90 - (np.arange(64) + 0.5) * 180 / 64))
    sphere_mean = (band.mean(1) * weights).sum() / weights.sum()      # ≈ 0.2; the pixel mean is ≈ 0.16
    np.testing.assert_allclose(_scaled(band, "even", studio360.sphere_rows(64))[31, 0],
                               1.1 / (sphere_mean * EVEN_TOP), rtol=1e-5)
    assert 1.1 / (sphere_mean * EVEN_TOP) < 1                         # not clipped: the value is checked
    assert _scaled(band, "even")[31, 0] > _scaled(band, "even", studio360.sphere_rows(64))[31, 0]   # pixel mean


def test_panorama_handler_draws_the_first_view_from_the_streams_in_memory(monkeypatch):
    """The saved state is for restyling only: predicting never reads it back."""
    def unread(*_):
        raise AssertionError("the first view read the saved state")
    monkeypatch.setattr(studio360, "state_image", unread)
    monkeypatch.setattr(studio360, "state_streams", unread)
    panels, url, radio, state, info = app.run_panorama(draw_image(5, (256, 128))[0], "equator-bias", "prior",
                                                       "inferno", 0.6)
    assert len(panels) == 1 and _texture(url).is_file() and state["streams"] == ["prior"]
    assert _view(url)["hot"] == [""] and _view(url)["yaw"] == ["0"]     # a prior uniform in yaw: straight ahead


def test_panorama_handler_falls_back_to_the_models_first_stream_and_refuses_bad_input():
    pano = draw_image(5, (256, 128))[0]
    panels, url, radio, state, info = app.run_panorama(pano, "equator-bias", "attention", "inferno", 0.6)
    assert len(panels) == 1 and radio.value == "prior" and "equator-bias" in info
    with pytest.raises(gr.Error, match="Upload an equirectangular panorama"):
        app.run_panorama(None, "equator-bias", "fused", "inferno", 0.6)
    with pytest.raises(gr.Error, match="twice as wide as high"):
        app.run_panorama(draw_image(5, (300, 200))[0], "equator-bias", "fused", "inferno", 0.6)
    assert app.restyle_viewer(None, "fused", "inferno", 0.6) is not None        # nothing predicted yet: skip


def test_video_handler_returns_players_and_refuses_bad_videos(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", n_frames=6)
    attention, experts, fused, info = app.run_panorama_video(str(clip), "equator-bias", "inferno", 0.6, 60, 30,
                                                             progress=lambda *a, **k: None)
    assert Path(fused).is_file() and attention is None and experts is None      # the prior, in the last player
    assert "prior" in info and "6 frames" in info
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(gr.Error, match="could not read"):
        app.run_panorama_video(str(junk), "equator-bias", "inferno", 0.6, 60, 6, progress=lambda *a, **k: None)
    with pytest.raises(gr.Error, match="Upload an equirectangular video"):
        app.run_panorama_video(None, "equator-bias", "inferno", 0.6, 60, 6)


# ---------- the running server ----------

@pytest.fixture(scope="module")
def server():
    yield from serve_app(["-c", START])


def test_api_panorama_and_its_error_message(server, pano_file, flat_file):
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    gallery, url, stream, info = client.predict(handle_file(str(pano_file)), "fake-streams", "attention", "jet", 0.5,
                                                api_name="/panorama")
    stream = stream["value"] if isinstance(stream, dict) else stream      # a Radio update (its choices change)
    assert len(gallery) == 7 and stream == "attention" and url.startswith("gradio_api/file=")
    assert abs(float(_view(url)["yaw"][0]) - 60) < 3                         # API callers get the view to open too
    with pytest.raises(Exception, match="twice as wide as high"):
        client.predict(handle_file(str(flat_file)), "equator-bias", "fused", "jet", 0.5, api_name="/panorama")
    gallery, *_ = client.predict(handle_file(str(pano_file)), "equator-bias", "fused", "jet", 0.5,
                                 api_name="/panorama")                 # still up; "fused" falls back to "prior"
    assert len(gallery) == 1


def test_api_panorama_video(server, tmp_path):
    from gradio_client import Client, handle_file
    clip = write_video(tmp_path / "clip.mp4", n_frames=6)
    attention, experts, fused, info = Client(server, verbose=False).predict(
        handle_file(str(clip)), "fake-streams", "inferno", 0.6, 4, 30, api_name="/panorama_video")
    for path in (attention, experts, fused):
        assert studio360.probe_video(path)["frames"] == 4                    # the frame cap
    assert "4 frames" in info


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        outside = []
        page.on("request", lambda r: outside.append(r.url)
                if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        page.outside_requests = outside
        page.goto(server)
        page.wait_for_selector("text=Visual-attention studio", timeout=60000)
        page.get_by_role("tab", name="360°").click()
        yield page
        browser.close()


VIEWER_READY = """(previous) => {
    const host = document.querySelector('#pano-viewer .pano-host');
    return host && host.dataset.loaded && host.dataset.loaded === host.dataset.texture
        && host.dataset.texture !== previous && host.querySelector('canvas') !== null;
}"""


PREVIEW_PLAYS = """() => {
    const v = document.querySelector('#pano-video-preview video');
    return v && v.readyState >= 2 && !v.error ? {width: v.videoWidth, src: v.currentSrc} : null; }"""


def _viewer_pixels(page, tmp_path, name) -> np.ndarray:
    shot = tmp_path / f"{name}.png"
    page.wait_for_timeout(300)                      # one animation frame after the load event
    page.locator("#pano-viewer .pano-host").screenshot(path=str(shot))
    return np.asarray(Image.open(shot).convert("RGB")).astype(int)


def _predict_with_fake_streams(page, pano_file) -> None:
    """Upload the panorama, pick the six-stream test model, predict, wait for the panels and the viewer."""
    page.locator("#pano-image input[type=file]").set_input_files(str(pano_file))
    page.locator("#pano-model input").click()
    page.get_by_role("option", name="fake-streams").click()
    page.get_by_role("button", name="Predict 360° saliency").click()
    page.wait_for_function("document.querySelectorAll('#pano-streams img').length >= 6", timeout=60000)
    page.wait_for_function(VIEWER_READY, arg="", timeout=30000)


@pytest.mark.browser
def test_browser_panorama_fills_the_gallery_and_the_360_viewer(page, pano_file, tmp_path):
    _predict_with_fake_streams(page, pano_file)
    host = page.locator("#pano-viewer .pano-host")
    first = host.get_attribute("data-texture")
    assert first.startswith("gradio_api/file=")
    before = _viewer_pixels(page, tmp_path, "fused")
    assert before.std() > 5                                           # the WebGL canvas drew the panorama

    page.locator("#pano-stream").get_by_label("attention stream", exact=True).check()
    page.wait_for_function(VIEWER_READY, arg=first, timeout=30000)    # a new texture, loaded by Pannellum
    assert host.get_attribute("data-texture") != first
    after = _viewer_pixels(page, tmp_path, "attention")
    assert np.abs(after - before).mean() > 1                          # and the view shows it
    assert page.outside_requests == [], page.outside_requests
    readme_screenshot(page, "panorama")


@pytest.mark.browser
def test_browser_video_players_play_the_stream_videos(page, tmp_path):
    clip = write_video(tmp_path / "clip.mp4", n_frames=6)
    page.locator("#pano-video-in input[type=file]").set_input_files(str(clip))
    # Gradio drops a click made while an input is still uploading ("please retry"): wait for the preview
    page.wait_for_function(PREVIEW_PLAYS, timeout=60000)
    page.get_by_role("button", name="Process video").click()
    page.locator("#pano-video-fused video").wait_for(timeout=60000)
    state = page.wait_for_function("""() => {
        const v = document.querySelector('#pano-video-fused video');
        return v && (v.readyState >= 2 || v.error) ? {ready: v.readyState, error: v.error && v.error.message,
                                                      width: v.videoWidth} : null; }""", timeout=30000).json_value()
    if not studio360.browser_playable():
        pytest.skip(f"this OpenCV build writes {studio360.video_codec()}, which browsers do not play")
    assert state["error"] is None and state["width"] == 128, state
    assert "fused (attention × experts)" in page.locator("#pano-video-fused").inner_text()
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_non_equirectangular_upload_shows_the_error_and_stays_usable(page, flat_file, pano_file):
    page.locator("#pano-image input[type=file]").set_input_files(str(flat_file))
    page.get_by_role("button", name="Predict 360° saliency").click()
    page.get_by_text("twice as wide as high").first.wait_for(timeout=30000)
    previous = page.locator("#pano-viewer .pano-host").get_attribute("data-texture")
    page.locator("#pano-image input[type=file]").set_input_files(str(pano_file))
    page.get_by_role("button", name="Predict 360° saliency").click()
    page.wait_for_function(VIEWER_READY, arg=previous, timeout=60000)   # the server is still up
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_colormap_and_opacity_restyle_the_streams_and_the_viewer(page, pano_file):
    _predict_with_fake_streams(page, pano_file)
    host = page.locator("#pano-viewer .pano-host")
    first = host.get_attribute("data-texture")
    panels = page.locator("#pano-streams img").first.get_attribute("src")
    page.locator("#pano-colormap input").click()
    page.get_by_role("option", name="jet").click()
    page.wait_for_function(VIEWER_READY, arg=first, timeout=30000)       # a recoloured texture in the viewer
    page.wait_for_function("s => document.querySelector('#pano-streams img').getAttribute('src') !== s", arg=panels,
                           timeout=30000)                                 # and recoloured panels
    assert "#00007f" in page.locator("#pano-legend").inner_html().lower()  # jet's dark blue starts the legend
    second = host.get_attribute("data-texture")
    page.locator("#pano-opacity input[type=range]").fill("0.2")
    page.locator("#pano-opacity input[type=range]").dispatch_event("pointerup")
    page.wait_for_function(VIEWER_READY, arg=second, timeout=30000)      # opacity applies on release
    assert page.outside_requests == [], page.outside_requests


VIEWER_LOOKS = """() => { const v = document.querySelector('#pano-viewer .pano-host').panoViewer;
    return v ? [v.getYaw(), v.getPitch()] : null; }"""


@pytest.mark.browser
def test_browser_viewer_opens_at_the_peak_keeps_the_view_on_restyle_and_hotspots_turn_it(page, pano_file):
    _predict_with_fake_streams(page, pano_file)
    host = page.locator("#pano-viewer .pano-host")
    yaw, pitch = page.evaluate(VIEWER_LOOKS)
    assert abs(yaw - 60) < 3 and 0 <= pitch < 10                   # the fake fused map's peak, not the image centre
    spots = page.locator("#pano-viewer .pano-peak")
    assert spots.count() == 2                                       # its two distinct peaks (the hill, the pole)
    page.evaluate("() => document.querySelector('#pano-viewer .pano-host').panoViewer.setYaw(-100, false)")
    first = host.get_attribute("data-texture")
    other = next(label for label in ("attention stream", "poles expert (up, down)")   # a stream not shown now
                 if not page.locator("#pano-stream").get_by_label(label, exact=True).is_checked())
    page.locator("#pano-stream").get_by_label(other, exact=True).check()
    page.wait_for_function(VIEWER_READY, arg=first, timeout=30000)
    assert abs(page.evaluate(VIEWER_LOOKS)[0] + 100) < 1           # same panorama, new stream: the view stays
    spots.first.wait_for(state="attached", timeout=10000)
    spots.first.dispatch_event("click")                           # behind the visitor: no pointer reaches it
    page.wait_for_function(f"() => Math.abs(({VIEWER_LOOKS})()[0] - 60) < 3", timeout=10000)   # turned to it
    page.evaluate("() => document.querySelector('#pano-viewer .pano-host').panoViewer.setYaw(-100, false)")
    second = host.get_attribute("data-texture")
    page.get_by_role("button", name="Predict 360° saliency").click()          # a new prediction opens at its peak
    page.wait_for_function(VIEWER_READY, arg=second, timeout=60000)
    assert abs(page.evaluate(VIEWER_LOOKS)[0] - 60) < 3
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_an_example_panorama_loads_with_a_click(page):
    if not (gaze_data_root() / "panoramas").is_dir():
        pytest.skip("needs $GAZE_DATA/panoramas")
    examples = page.locator("#pano-examples button.example")
    assert examples.count() == 8
    assert "CC BY-SA 3.0" in page.locator("#pano-examples").inner_text()       # each credit and licence shown
    examples.first.click()
    page.locator("#pano-image img").wait_for(timeout=30000)
    page.get_by_role("button", name="Predict 360° saliency").click()
    page.wait_for_function(VIEWER_READY, arg="", timeout=120000)
    assert page.outside_requests == [], page.outside_requests


def test_panorama_state_is_small_and_restyles_like_the_full_streams(monkeypatch):
    """The per-visitor state holds only file paths (1 MiB per stream on disk whatever the upload's size), and
    what it redraws matches the full-size streams; once its files are purged, restyling says so."""
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 255, (2048, 4096, 3), dtype=np.uint8)
    yy, xx = np.mgrid[0:2048, 0:4096]
    streams = {name: np.exp(-((xx - cx) ** 2 + (yy - 1024) ** 2) / (2 * 300.0 ** 2))
               for name, cx in (("attention", 1000), ("fused", 3000))}
    streams = {k: v / v.sum() for k, v in streams.items()}
    state = studio360.compact_state(rgb, streams)
    assert state["streams"] == ["attention", "fused"]
    assert all(isinstance(v, (str, list)) for v in state.values())           # paths and names: no arrays held
    assert Path(state["streams_file"]).stat().st_size <= 2 * 1024 * 512 * 2 + 4096   # float16, 1024 wide
    assert np.array_equal(studio360.state_image(state), rgb)
    back = studio360.state_streams(state, rgb.shape[:2])
    for name, full in streams.items():
        assert back[name].shape == full.shape
        assert np.abs(back[name] - full / full.max()).max() < 0.01
    Path(state["image"]).unlink()
    with pytest.raises(gr.Error, match="expired"):
        app.restyle_viewer(state, "fused", "inferno", 0.5)


@pytest.mark.browser
def test_browser_model_change_or_new_panorama_clears_the_streams(page, pano_file, flat_file):
    """Item 2 in the 360° tab: streams and viewer of one model never stay under another model's name, nor
    under a new panorama."""
    _predict_with_fake_streams(page, pano_file)
    page.locator("#pano-model input").click()
    page.get_by_role("option", name="equator-bias").click()
    page.wait_for_function("!document.querySelector('#pano-streams img')", timeout=10000)
    host = page.locator("#pano-viewer .pano-host")
    assert host.get_attribute("data-texture") == "" and "Model changed" in page.locator("#pano-info").inner_text()
    page.get_by_role("button", name="Predict 360° saliency").click()
    page.wait_for_function(VIEWER_READY, arg="", timeout=60000)
    page.wait_for_function("document.querySelectorAll('#pano-streams img').length === 1", timeout=10000)  # prior
    page.locator("#pano-image input[type=file]").set_input_files(str(flat_file))
    page.wait_for_function("!document.querySelector('#pano-streams img')", timeout=10000)
    assert host.get_attribute("data-texture") == ""
    assert "press Predict 360° saliency" in page.locator("#pano-info").inner_text()    # says why and what to do
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_an_mp4v_upload_plays_in_the_preview(page, tmp_path):
    """Item 4: an MPEG-4 Part 2 ("mp4v") upload, which browsers refuse ("Error: Video not playable"), is previewed
    through an H.264 copy, with no error shown; processing then works, and changing a setting clears the
    processed videos."""
    clip = write_video(tmp_path / "drift.mp4", n_frames=6)
    assert not studio360.browser_plays(clip)
    page.evaluate("""() => { window.__notPlayable = false;
        new MutationObserver(() => {
            if (document.body.innerText.includes('not playable')) window.__notPlayable = true;
        }).observe(document.body, {subtree: true, childList: true, characterData: true}); }""")
    clear = page.locator("#pano-video-in button[aria-label='Clear']")
    if clear.count():                                          # a video from an earlier test: remove it first
        clear.first.click()
    page.locator("#pano-video-in input[type=file]").set_input_files(str(clip))
    try:
        state = page.wait_for_function(PREVIEW_PLAYS, timeout=60000).json_value()
    except Exception:
        video = page.evaluate("() => { const v = document.querySelector('#pano-video-preview video');"
                              " return v && {ready: v.readyState, error: v.error && v.error.message}; }")
        pytest.fail(f"the uploaded video never became playable: {video}")
    assert state["width"] == 128 and state["src"].endswith("/drift.mp4"), state
    page.get_by_role("button", name="Process video").click()
    page.locator("#pano-video-fused video").wait_for(timeout=60000)
    page.get_by_text("frames at").first.wait_for(timeout=30000)
    assert not page.evaluate("window.__notPlayable"), "an error said the video is not playable"
    page.locator("#pano-colormap input").click()
    page.get_by_role("option", name="magma").click()
    page.wait_for_function("!document.querySelector('#pano-video-fused video')", timeout=10000)
    assert "Settings changed" in page.locator("#pano-video-info").inner_text()
    assert page.outside_requests == [], page.outside_requests
