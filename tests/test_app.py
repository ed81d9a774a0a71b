"""The app: handlers as plain functions first, then the running server through gradio_client and Chromium."""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import app
from models.studio import rendering as studio
from tests.conftest import draw_image, readme_screenshot, serve_app

REPO = Path(__file__).resolve().parent.parent


# ---------- handlers as functions ----------

def test_saliency_handler_returns_overlay_map_slider_and_files(synthetic_image):
    over, raw, (before, after), files, info, state = app.run_saliency(synthetic_image, "centerbias", "jet", 0.5)
    shapes = {np.asarray(Image.open(p)).shape for p in (over, raw, before, after)}   # images come back as files
    assert shapes == {synthetic_image.shape} and after == over
    def error(path):
        return np.abs(np.asarray(Image.open(path)).astype(int) - synthetic_image).mean()
    assert error(before) < 10 and error(before) < error(over)          # the upload itself (JPEG), not the overlay
    png, npy = files
    assert Path(png).suffix == ".png" and np.isclose(np.load(npy).sum(), 1.0, atol=1e-4)
    assert "centerbias" in info


def test_overlay_keeps_the_image_where_the_map_is_zero():
    image = np.full((10, 10, 3), 100, np.uint8)
    density = np.zeros((10, 10))
    density[5, 5] = 1.0
    out = studio.overlay(image, density, "inferno", 0.8)
    assert (out[0, 0] == 100).all() and not (out[5, 5] == 100).all()


def test_compare_handler_gives_one_panel_per_model(synthetic_image):
    panels, state = app.run_compare(synthetic_image, ["uniform", "centerbias"], "inferno", 0.6)
    assert [name for _, name in panels] == ["uniform", "centerbias"]


def _big_scan(path: Path, w: int = 6000, h: int = 4880) -> Path:
    """A museum-scan-sized JPEG: a smooth gradient with one bright block (quick to write, like a real scan)."""
    yy, xx = np.mgrid[0:h:8, 0:w:8]
    small = np.stack([xx * 255 // w, yy * 255 // h, np.full_like(xx, 90)], axis=2).astype(np.uint8)
    small[h // 24: h // 12, w // 16: w // 8] = 240
    Image.fromarray(small).resize((w, h), Image.BILINEAR).save(path, quality=85)
    return path


def test_a_museum_scan_is_downscaled_for_the_models_and_kept_whole_for_downloads(tmp_path):
    """Item 3: a 6000×4880 scan (refused before: 'longest side may be at most 4096') is read, the models see a
    4096-px copy, and the overlay shown and the map download are at the original size."""
    from models.studio import painting as paintings
    scan = _big_scan(tmp_path / "Museum Scan 01.jpg")
    loaded = paintings.load_painting(str(scan))
    assert loaded.original_size == (6000, 4880) and max(loaded.rgb.shape[:2]) == paintings.WORK_SIDE
    assert loaded.rgb.shape[:2] == (3331, 4096) and loaded.stem == "Museum-Scan-01"
    assert "6000×4880" in loaded.note() and "original size" in loaded.note()
    assert loaded.original().shape == (4880, 6000, 3)
    over, heat, (before, after), (png, npy), info, state = app.run_saliency(str(scan), "centerbias", "inferno", 0.6)
    assert Image.open(over).size == (6000, 4880)                      # drawn at the original size
    assert Image.open(after).size == Image.open(before).size == (4096, 3331)
    assert Image.open(png).size == (6000, 4880) and np.load(npy).shape == (3331, 4096)
    assert Path(png).name == "Museum-Scan-01-saliency-centerbias.png" and "6000×4880" in info
    restyled, *_ = app.restyle_saliency(state, "jet", 0.6, "peak")
    assert Image.open(restyled).size == (6000, 4880)


def test_paintings_past_the_limits_are_refused_with_the_limit_named(tmp_path):
    from models.studio import painting as paintings
    with pytest.raises(ValueError, match="too thin"):
        paintings.load_painting(np.zeros((10, 100000, 3), np.uint8))
    with pytest.raises(ValueError, match="80 megapixels"):
        paintings.load_painting(np.zeros((9000, 9000), np.uint8))
    assert paintings.file_stem("/tmp/x/Las Meninas (1656).jpg") == "Las-Meninas-1656"
    assert paintings.file_stem(None) == "painting" and paintings.file_stem("/tmp/???.png") == "painting"


def test_restyling_draws_what_predicting_with_those_settings_draws(synthetic_image):
    """Item 2: colormap, opacity and colour scale redraw the kept map (no inference) exactly as a new prediction
    with those settings would."""
    *_, state = app.run_saliency(synthetic_image, "centerbias", "inferno", 0.6)
    restyled = app.restyle_saliency(state, "jet", 0.3, "even")
    fresh = app.run_saliency(synthetic_image, "centerbias", "jet", 0.3, "even")
    for a, b in zip(restyled[:2], fresh[:2]):
        assert np.array_equal(np.asarray(Image.open(a)), np.asarray(Image.open(b)))
    assert restyled[-1]["style"] == ["jet", 0.3, "even"]
    import gradio as gr
    assert app.restyle_saliency(restyled[-1], "jet", 0.3, "even") == gr.skip()        # already drawn so: nothing
    assert app.restyle_saliency(None, "jet", 0.3, "even") == gr.skip()                 # nothing predicted yet
    panels, compare_state = app.run_compare(synthetic_image, ["uniform", "centerbias"], "inferno", 0.6)
    again, _ = app.restyle_compare(compare_state, "viridis", 0.6, "peak")
    assert [m for _, m in again] == ["uniform", "centerbias"] and again[0][0] != panels[0][0]


def test_the_shared_colour_scale_makes_the_uniform_map_dark_not_a_wash():
    """Item 4: on the per-map scale every flat map is its own peak (a full wash); on the shared scale (× an even
    spread) the uniform map is a flat 1×, near the dark end, and a concentrated map reaches the top."""
    flat = np.full((40, 60), 1 / 2400)
    assert studio.colorize(flat, "gray", "peak").min() == 255
    assert studio.colorize(flat, "gray", "even").max() == int(256 / studio.EVEN_TOP)
    blob = np.exp(-((np.mgrid[0:40, 0:60][1] - 30.0) ** 2 + (np.mgrid[0:40, 0:60][0] - 20.0) ** 2) / 20)
    assert studio.colorize(blob / blob.sum(), "gray", "even").max() == 255
    shared, own = studio.legend_html("viridis", "even"), studio.legend_html("viridis")
    assert 'data-scale="even"' in shared and "shared" in shared and "even spread" in shared
    assert "own peak" in own and "not comparable" in own
    with pytest.raises(ValueError, match="colour scale"):
        studio.colorize(flat, "gray", "loudest")


def test_download_names_carry_the_paintings_file_stem(tmp_path):
    """Item 4: every file a tab gives is named after the painting (not saliency-effsal-lite0.png every time)."""
    path = tmp_path / "Starry Night.png"
    Image.fromarray(draw_image(3, (200, 150))[0]).save(path)
    over, heat, (before, after), files, *_ = app.run_saliency(str(path), "centerbias", "inferno", 0.6)
    names = [Path(f).name for f in (over, heat, before, *files)]
    assert names == ["Starry-Night-overlay-centerbias.jpg", "Starry-Night-map-centerbias.jpg",
                     "Starry-Night-painting.jpg", "Starry-Night-saliency-centerbias.png",
                     "Starry-Night-saliency-centerbias.npy"]
    panels, _ = app.run_compare(str(path), ["uniform"], "inferno", 0.6)
    assert Path(panels[0][0]).name == "Starry-Night-compare-uniform.jpg"
    drawing, gif, exports, _ = app.run_scanpaths(str(path), "saliency-sampler", 2, 0.3, 4, 0, False)
    assert sorted(Path(f).name for f in (drawing, gif, *exports)) == [
        "Starry-Night-scanpaths.csv", "Starry-Night-scanpaths.gif", "Starry-Night-scanpaths.jpg",
        "Starry-Night-scanpaths.json"]
    attention, paths, *_ = app.run_overview(str(path), 2, 0.3, 0)
    assert [Path(attention).name, Path(paths).name] == ["Starry-Night-attention.jpg", "Starry-Night-scanpaths.jpg"]


def test_handlers_turn_bad_input_into_messages(synthetic_image, tmp_path):
    import gradio as gr
    with pytest.raises(gr.Error, match="Upload an image"):
        app.run_saliency(None, "centerbias", "jet", 0.5)
    with pytest.raises(gr.Error, match="cannot score an uploaded image"):
        app.run_saliency(synthetic_image, "gold", "jet", 0.5)
    with pytest.raises(gr.Error, match="too small"):
        app.run_saliency(np.zeros((3, 3, 3), np.uint8), "centerbias", "jet", 0.5)
    bad_csv = tmp_path / "gt.csv"
    bad_csv.write_text("col1,col2\n1,2\n")
    pred = tmp_path / "pred.npy"
    np.save(pred, np.ones((20, 20)))
    with pytest.raises(gr.Error, match="columns x and y"):
        app.run_evaluate(str(pred), str(bad_csv), "mit", 24)


def test_evaluate_handler_scores_a_map_against_fixations(tmp_path):
    yy, xx = np.mgrid[0:60, 0:80]
    np.save(tmp_path / "pred.npy", np.exp(-((xx - 20) ** 2 + (yy - 30) ** 2) / 100))
    (tmp_path / "gt.csv").write_text("x,y\n20,30\n21,29\n19,31\n")
    table = dict(app.run_evaluate(str(tmp_path / "pred.npy"), str(tmp_path / "gt.csv"), "tuebingen", 5)[0])
    assert table["NSS ↑"] > 3 and table["AUC-Judd ↑"] > 0.95


def test_image_uploads_reach_the_handler_as_the_raw_file(tmp_path):
    """A bad file gets past Gradio's preprocessing to models.load_image (which says what is wrong with it), and
    the browser still gets Gradio's own Image component."""
    from gradio.data_classes import ImageData
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    upload = app.image_upload(label="Painting")
    assert upload.get_block_name() == "image" and upload.get_block_class() == "image"
    assert upload.preprocess(ImageData(path=str(fake), orig_name="notes.png")) == str(fake)
    assert upload.preprocess(None) is None


def test_launch_address_is_gradios_own_unless_host_or_port_are_given():
    assert app.launch_address({}) == {}
    assert app.launch_address({"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7861"}) == {}
    assert app.launch_address({"HOST": "127.0.0.1", "PORT": "8123"}) == {"server_name": "127.0.0.1",
                                                                        "server_port": 8123}


def _listening(port: int) -> set[str]:
    """Local addresses (hex, as /proc/net/tcp{,6} write them) with a listening TCP socket on `port`."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).is_file():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.rsplit(":", 1)
            if state == "0A" and int(hex_port, 16) == port:                 # 0A: TCP_LISTEN
                found.add(address)
    return found


def test_app_listens_where_gradios_own_variables_say(tmp_path):
    """Started as a Space starts it, with GRADIO_SERVER_NAME=0.0.0.0 and GRADIO_SERVER_PORT and no HOST / PORT:
    the server listens on every interface at that port, and answers on 127.0.0.1."""
    if not Path("/proc/net/tcp").is_file():
        pytest.skip("needs Linux's /proc/net/tcp to see where the server listens")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("HOST", "PORT")}
    env.update(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port), GALLERY_SOURCE="off", PANORAMA_SOURCE="off",
               HF_HUB_OFFLINE="1", GRADIO_ANALYTICS_ENABLED="False", NO_PROXY="127.0.0.1,localhost")
    log = tmp_path / "app.log"              # a file, not a pipe: an unread pipe blocks the app once full
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None, f"app exited early:\n{log.read_text()[-5000:]}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                assert time.time() < deadline, f"app did not start within 120 s:\n{log.read_text()[-5000:]}"
                time.sleep(0.5)
        listening = _listening(port)
        assert "00000000" in listening, listening                       # 0.0.0.0: every IPv4 interface
        from gradio_client import Client, handle_file
        np.save(tmp_path / "pred.npy", np.random.default_rng(0).random((30, 40)))
        (tmp_path / "gt.csv").write_text("x,y\n5,5\n20,10\n")
        table = Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
            handle_file(str(tmp_path / "pred.npy")), handle_file(str(tmp_path / "gt.csv")), "mit", 5,
            api_name="/evaluate")
        assert "NSS ↑" in str(table)
        assert f":{port}" in log.read_text()                              # Gradio's "Running on local URL" line
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------- the running server ----------

@pytest.fixture(scope="module")
def server():
    yield from serve_app(["app.py"])


@pytest.fixture(scope="module")
def painting(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img") / "painting.png"
    Image.fromarray(draw_image(11, (240, 180))[0]).save(path)
    return path


def test_api_saliency(server, painting):
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    over, raw, slider, files, info = client.predict(handle_file(str(painting)), "centerbias", "inferno", 0.6,
                                                    api_name="/saliency")
    assert Image.open(over).size == (240, 180)
    assert "centerbias" in info


def test_api_compare(server, painting):
    from gradio_client import Client, handle_file
    panels = Client(server, verbose=False).predict(handle_file(str(painting)), ["uniform", "spectral-residual"],
                                                   "jet", 0.5, api_name="/compare")
    assert len(panels) == 2


def test_api_evaluate_and_its_error_message(server, tmp_path):
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    np.save(tmp_path / "pred.npy", np.random.default_rng(0).random((30, 40)))
    (tmp_path / "gt.csv").write_text("x,y\n5,5\n20,10\n")
    table = client.predict(handle_file(str(tmp_path / "pred.npy")), handle_file(str(tmp_path / "gt.csv")),
                           "mit", 5, api_name="/evaluate")
    assert "NSS ↑" in str(table)
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(Exception, match="columns x and y"):
        client.predict(handle_file(str(tmp_path / "pred.npy")), handle_file(str(tmp_path / "bad.csv")),
                       "mit", 5, api_name="/evaluate")
    # the server is still up after the error
    assert client.predict(handle_file(str(tmp_path / "pred.npy")), handle_file(str(tmp_path / "gt.csv")),
                          "mit", 5, api_name="/evaluate")


def test_api_non_image_upload_is_refused_and_server_stays_up(server, tmp_path, painting):
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    fake = tmp_path / "notes.png"
    fake.write_text("not an image at all")
    with pytest.raises(Exception):
        client.predict(handle_file(str(fake)), "centerbias", "inferno", 0.6, api_name="/saliency")
    over, *_ = client.predict(handle_file(str(painting)), "centerbias", "inferno", 0.6, api_name="/saliency")
    assert Path(over).is_file()


def test_api_scanpaths_same_seed_same_result(server, painting):
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    args = (handle_file(str(painting)), "saliency-sampler", 3, 0.4, 6, 11, False)
    drawing, gif, files, table = client.predict(*args, api_name="/scanpaths")
    again = client.predict(*args, api_name="/scanpaths")[3]
    assert Image.open(drawing).size == (240, 180) and Path(gif).suffix == ".gif"
    assert sorted(Path(f).suffix for f in files) == [".csv", ".json"]
    assert table == again and len(table["data"]) >= 3


def test_api_overview_reads_the_painting(server, painting):
    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    over, paths, table, text = client.predict(handle_file(str(painting)), 2, 0.3, 5, api_name="/overview")
    assert Image.open(over).size == (240, 180) and Image.open(paths).size == (240, 180)
    assert [row[0] for row in table["data"]][:2] == ["attention on the top 5 % of the area",
                                                     "attention on the top 10 % of the area"]
    assert "Attention is" in text and "virtual viewers looking for 3 s" in text


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def page(server):
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        outside = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
        page.outside_requests = outside
        page.goto(server)
        page.wait_for_selector("text=Visual-attention studio", timeout=60000)
        yield page
        browser.close()


@pytest.mark.browser
def test_browser_upload_gives_an_overlay(page, painting, tmp_path):
    page.get_by_role("tab", name="Saliency").click()
    page.locator("#sal-image input[type=file]").set_input_files(str(painting))
    page.get_by_role("button", name="Predict saliency").click()
    page.locator("#overlay img[src*='file=']").first.wait_for(timeout=60000)
    shot = tmp_path / "saliency.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10000
    readme_screenshot(page, "saliency")
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_saliency_controls_model_colormap_opacity_compare_downloads(page, painting):
    """Every control of the Saliency tab: model choice, colormap (and its legend), opacity, compare, downloads."""
    page.get_by_role("tab", name="Saliency").click()
    page.locator("#sal-image input[type=file]").set_input_files(str(painting))
    legend = page.locator("#legend .legend-bar").first
    inferno = legend.get_attribute("style")
    page.locator("#sal-model input").click()
    page.get_by_role("option", name="salnet").click()
    page.get_by_label("Colormap").first.click()
    page.get_by_role("option", name="viridis").click()
    page.wait_for_function("s => document.querySelector('#legend .legend-bar').getAttribute('style') !== s",
                           arg=inferno, timeout=10000)
    assert "#fde724" in legend.get_attribute("style").lower() or "#fde725" in legend.get_attribute("style").lower()
    slider = page.get_by_label("Overlay opacity").first
    slider.fill("0.3")
    before = page.locator("#overlay img").first.get_attribute("src") if page.locator("#overlay img").count() else None
    page.get_by_role("button", name="Predict saliency").click()
    page.wait_for_function("b => { const i = document.querySelector('#overlay img'); return i && i.src && i.src !== b; }",
                           arg=before or "", timeout=60000)
    assert "salnet" in page.get_by_text("salnet").first.inner_text()
    page.locator("#sal-files a[download]").nth(1).wait_for(timeout=30000)
    names = page.locator("#sal-files").inner_text().replace("\n", "")
    assert "saliency-salnet.png" in names and "saliency-salnet.npy" in names, names
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function("document.querySelectorAll('#compare-gallery img').length >= 3", timeout=60000)
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_overview_reads_an_example_painting(page):
    page.get_by_role("tab", name="Overview").click()
    examples = page.locator("#ov-examples")
    if not examples.count():
        pytest.skip("no example paintings here (the shared gallery is absent)")
    assert "The Starry Night — Vincent van Gogh, 1889" in examples.inner_text()
    examples.locator("img").first.click()
    page.locator("#ov-image img").first.wait_for(timeout=30000)
    page.locator("#ov-go").click()
    page.get_by_text("Attention is").first.wait_for(timeout=60000)
    page.locator("#ov-overlay img[src*='file=']").first.wait_for(timeout=30000)
    page.locator("#ov-scanpaths img[src*='file=']").first.wait_for(timeout=30000)
    assert "centre of mass" in page.locator("#ov-table").inner_text()
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_evaluate_tab_shows_the_error_and_stays_usable(page, tmp_path):
    page.get_by_role("tab", name="Evaluate").click()
    np.save(tmp_path / "pred.npy", np.ones((20, 20)))
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    _upload_file(page, "#pred-file", tmp_path / "pred.npy")
    _upload_file(page, "#gt-file", tmp_path / "bad.csv")
    page.get_by_role("button", name="Score").click()
    page.get_by_text("columns x and y").first.wait_for(timeout=30000)
    # the same tab keeps working: a valid CSV, the other protocol and another blur give a metrics table
    pred = np.zeros((20, 20))
    pred[5:9, 5:9] = 1.0
    np.save(tmp_path / "pred2.npy", pred)
    (tmp_path / "good.csv").write_text("x,y\n6,6\n7,7\n15,3\n")
    for box, new in (("#pred-file", "pred2.npy"), ("#gt-file", "good.csv")):
        page.locator(f"{box} button[aria-label='Clear']").click()          # the user removes the file first
        _upload_file(page, box, tmp_path / new)
    page.locator("#eval-protocol").get_by_label("tuebingen").check()
    page.locator("#eval-sigma input").fill("3")
    page.get_by_role("button", name="Score").click()
    page.wait_for_function("document.querySelector('#metrics').innerText.includes('NSS')", timeout=30000)
    assert "AUC-Judd" in page.locator("#metrics").inner_text()
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_scanpath_tab_draws_and_offers_downloads(page, painting):
    page.get_by_role("tab", name="Scanpaths").click()
    page.locator("#sp-image input[type=file]").set_input_files(str(painting))
    page.get_by_role("button", name="Sample scanpaths").click()
    page.locator("#sp-drawing img").first.wait_for(timeout=60000)
    page.locator("#sp-gif img").first.wait_for(timeout=60000)
    page.locator("#sp-files a[download]").nth(1).wait_for(timeout=30000)      # JSON and CSV download links
    names = page.locator("#sp-files").inner_text()
    assert "scanpaths" in names and ".csv" in names and ".json" in names, names
    readme_screenshot(page, "scanpaths")
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_scanpath_controls_change_what_is_sampled(page, painting):
    """Scanpath model, number of scanpaths, viewing time, seed, temperature and 'over the saliency map'."""
    page.get_by_role("tab", name="Scanpaths").click()
    page.locator("#sp-image input[type=file]").set_input_files(str(painting))
    page.locator("#sp-model input").click()
    page.get_by_role("option", name="saliency-sampler").click()
    page.locator("#sp-count input[type=number]").fill("2")
    page.locator("#sp-viewing-time input[type=number]").fill("1.5")
    page.locator("#sp-temperature input[type=number]").fill("0.5")
    page.locator("#sp-seed input").fill("7")
    page.locator("#sp-show-saliency input[type=checkbox]").check()
    page.get_by_role("button", name="Sample scanpaths").click()
    cells = "() => (document.querySelector('#sp-table').innerText.split('duration_ms')[1] || '').trim().split(/\\s+/)"
    page.wait_for_function(f"({cells})().length >= 10", timeout=60000)          # 5 cells per fixation
    first = page.evaluate(cells)
    rows = [first[i:i + 5] for i in range(0, len(first), 5)]
    assert rows[0][:2] == ["1", "1"] and {r[0] for r in rows} == {"1", "2"}       # scanpath, order
    assert all(sum(float(r[4]) for r in rows if r[0] == k) <= 1500 for k in "12")  # they fit in 1.5 s
    page.locator("#sp-seed input").fill("8")
    page.get_by_role("button", name="Sample scanpaths").click()
    page.wait_for_function(f"old => {{ const c = ({cells})(); return c.length >= 10 && c.join(' ') !== old; }}",
                           arg=" ".join(first), timeout=60000)
    assert page.outside_requests == [], page.outside_requests


def test_warm_up_loads_every_offered_model_and_survives_a_broken_one(caplog):
    import logging

    from models import DEFAULT
    from models.api import load_model, warm_up
    from models.studio.saliency_tab import upload_models
    names = app.app_models()
    assert names[:3] == [DEFAULT["saliency"], DEFAULT["scanpath"], DEFAULT["panorama"]]
    assert set(upload_models()) <= set(names) and len(names) == len(set(names))
    load_model.cache_clear()
    with caplog.at_level(logging.WARNING):
        warm_up(["centerbias", "no-such-model", "equator-bias"])
    assert "warm-up of no-such-model failed" in caplog.text
    loaded = load_model.cache_info().currsize
    assert loaded == 2                                   # the two real models are now cached


# ---------- what is shown always matches the controls (item 2) ----------

WATCH_PROGRESS = """sel => {
    window.__sawProgress = false;
    if (window.__progressObserver) window.__progressObserver.disconnect();
    const look = () => { if (document.querySelector(sel + ' .progress-text')) window.__sawProgress = true; };
    window.__progressObserver = new MutationObserver(look);
    window.__progressObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
NEW_SRC = "([sel, old]) => { const i = document.querySelector(sel + ' img'); return i && i.src && i.src !== old; }"
NO_IMAGE = "sel => !document.querySelector(sel + ' img')"
LEGEND = "([sel, key, value]) => { const l = document.querySelector(sel + ' .attention-legend');" \
         " return l && l.getAttribute(key) === value; }"
DONE = "sel => window.__sawProgress && !document.querySelector(sel + ' .progress-text')"   # after WATCH_PROGRESS


def _upload(page, box: str, path: Path) -> None:
    """Upload an image and wait until it is shown (Gradio drops a click made while an upload is running)."""
    page.locator(f"{box} input[type=file]").set_input_files(str(path))
    page.wait_for_function("([box, name]) => { const i = document.querySelector(box + ' img');"
                           " return i && i.src.endsWith('/' + name); }", arg=[box, path.name], timeout=30000)


def _upload_file(page, box: str, path: Path) -> None:
    """Upload into a File box and wait until its name is listed (a click made during the upload is dropped)."""
    page.locator(f"{box} input[type=file]").set_input_files(str(path))
    page.wait_for_function("([box, name]) => { const b = document.querySelector(box);"
                           " return b && b.innerText.includes(name); }", arg=[box, path.name], timeout=30000)


def _choose(page, box: str, option: str) -> None:
    page.locator(f"{box} input").click()
    page.get_by_role("option", name=option, exact=True).click()


def _image(page, selector: str) -> np.ndarray:
    import io
    src = page.locator(f"{selector} img").first.get_attribute("src")
    return np.asarray(Image.open(io.BytesIO(page.request.get(src).body())).convert("RGB")).astype(int)


def _src(page, selector: str) -> str:
    images = page.locator(f"{selector} img")
    return images.first.get_attribute("src") if images.count() else ""


@pytest.fixture(scope="module")
def second_painting(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("img2") / "second-painting.png"
    Image.fromarray(draw_image(23, (200, 150))[0]).save(path)
    return path


@pytest.mark.browser
def test_browser_saliency_results_always_match_the_controls(page, painting, second_painting):
    """Colormap, opacity and colour scale redraw the shown result at once (the same pixels a new prediction with
    those settings gives), the legend follows; a model change or a new painting clears the result and says
    why; a running request shows progress; downloads are named after the painting."""
    page.get_by_role("tab", name="Saliency").click()
    _upload(page, "#sal-image", painting)
    _choose(page, "#sal-model", "centerbias")
    _choose(page, "#sal-colormap", "inferno")
    page.evaluate(WATCH_PROGRESS, "#overlay")
    page.get_by_role("button", name="Predict saliency").click()
    page.wait_for_function(NEW_SRC, arg=["#overlay", ""], timeout=60000)
    assert page.evaluate("window.__sawProgress"), "no progress shown while the request ran"
    page.locator("#sal-files a[download]").nth(1).wait_for(timeout=30000)
    assert "painting-saliency-centerbias.png" in page.locator("#sal-files").inner_text().replace("\n", "")

    first = _src(page, "#overlay")
    _choose(page, "#sal-colormap", "jet")                                 # the overlay follows the colormap
    page.wait_for_function(NEW_SRC, arg=["#overlay", first], timeout=30000)
    page.wait_for_function(LEGEND, arg=["#legend", "data-colormap", "jet"], timeout=10000)
    restyled, restyled_map = _image(page, "#overlay"), _image(page, "#sal-heatmap")
    page.evaluate(WATCH_PROGRESS, "#overlay")
    page.get_by_role("button", name="Predict saliency").click()           # what a new prediction with jet gives
    page.wait_for_function(DONE, arg="#overlay", timeout=60000)           # (identical files: the same URL)
    assert np.abs(_image(page, "#overlay") - restyled).max() <= 2
    assert np.abs(_image(page, "#sal-heatmap") - restyled_map).max() <= 2

    shown = _src(page, "#overlay")                                        # opacity, on release
    page.locator("#sal-opacity input[type=range]").fill("0.2")
    page.locator("#sal-opacity input[type=range]").dispatch_event("pointerup")
    page.wait_for_function(NEW_SRC, arg=["#overlay", shown], timeout=30000)
    fainter = _image(page, "#overlay")
    assert np.abs(fainter - restyled).mean() > 1

    shown = _src(page, "#overlay")                                        # the shared colour scale
    page.locator("#sal-scale").get_by_label("shared", exact=False).check()
    page.wait_for_function(NEW_SRC, arg=["#overlay", shown], timeout=30000)
    page.wait_for_function(LEGEND, arg=["#legend", "data-scale", "even"], timeout=10000)
    assert "shared" in page.locator("#legend").inner_text()

    _choose(page, "#sal-model", "uniform")                                # another model: the old map goes
    page.wait_for_function(NO_IMAGE, arg="#overlay", timeout=10000)
    assert page.locator("#sal-heatmap img").count() == 0 and page.locator("#sal-files a[download]").count() == 0
    assert "Model changed" in page.locator("#sal-info").inner_text()
    page.get_by_role("button", name="Predict saliency").click()
    page.wait_for_function(NEW_SRC, arg=["#overlay", ""], timeout=60000)
    page.get_by_text("uniform —").first.wait_for(timeout=10000)
    page.wait_for_function(NEW_SRC, arg=["#sal-heatmap", ""], timeout=30000)
    assert _image(page, "#sal-heatmap").mean() < 100        # shared scale: a flat, dark 1×, not a yellow wash

    _upload(page, "#sal-image", second_painting)    # a new painting
    page.wait_for_function(NO_IMAGE, arg="#overlay", timeout=10000)
    assert "press Predict saliency" in page.locator("#sal-info").inner_text()
    assert page.locator("#sal-slider img").count() == 0
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_other_tabs_clear_results_that_no_longer_match(page, painting, second_painting, tmp_path):
    """Scanpaths, Overview and Evaluate: a changed setting or a new input clears the old result at once, with a
    line saying what to press."""
    page.get_by_role("tab", name="Scanpaths").click()
    _upload(page, "#sp-image", painting)
    _choose(page, "#sp-model", "saliency-sampler")
    page.evaluate(WATCH_PROGRESS, "#sp-drawing")
    page.get_by_role("button", name="Sample scanpaths").click()
    page.wait_for_function(NEW_SRC, arg=["#sp-drawing", ""], timeout=60000)
    assert page.evaluate("window.__sawProgress")
    page.locator("#sp-files a[download]").nth(1).wait_for(timeout=30000)
    assert "painting-scanpaths.json" in page.locator("#sp-files").inner_text().replace("\n", "")
    page.locator("#sp-seed input").fill("5")
    page.wait_for_function(NO_IMAGE, arg="#sp-drawing", timeout=10000)
    assert page.locator("#sp-gif img").count() == 0 and "Settings changed" in page.locator("#sp-status").inner_text()
    page.get_by_role("button", name="Sample scanpaths").click()
    page.wait_for_function(NEW_SRC, arg=["#sp-drawing", ""], timeout=60000)
    _upload(page, "#sp-image", second_painting)
    page.wait_for_function(NO_IMAGE, arg="#sp-drawing", timeout=10000)
    assert "press Sample scanpaths" in page.locator("#sp-status").inner_text()

    page.get_by_role("tab", name="Overview").click()
    _upload(page, "#ov-image", painting)
    page.locator("#ov-go").click()
    page.wait_for_function(NEW_SRC, arg=["#ov-overlay", ""], timeout=60000)
    page.locator("#ov-seed input").fill("9")
    page.wait_for_function(NO_IMAGE, arg="#ov-overlay", timeout=10000)
    assert "Settings changed" in page.locator("#ov-reading").inner_text()
    assert "centre of mass" not in page.locator("#ov-table").inner_text()

    page.get_by_role("tab", name="Evaluate").click()
    pred = np.zeros((20, 20))
    pred[5:9, 5:9] = 1.0
    np.save(tmp_path / "pred.npy", pred)
    (tmp_path / "gt.csv").write_text("x,y\n6,6\n7,7\n15,3\n")
    for box, name in (("#pred-file", "pred.npy"), ("#gt-file", "gt.csv")):
        if page.locator(f"{box} button[aria-label='Clear']").count():
            page.locator(f"{box} button[aria-label='Clear']").click()
        page.locator(f"{box} input[type=file]").set_input_files(str(tmp_path / name))
    page.locator("#eval-protocol").get_by_label("mit").check()
    page.get_by_role("button", name="Score").click()
    page.wait_for_function("document.querySelector('#metrics').innerText.includes('NSS')", timeout=30000)
    page.locator("#eval-protocol").get_by_label("tuebingen").check()                 # another protocol
    page.wait_for_function("!document.querySelector('#metrics').innerText.includes('NSS')", timeout=10000)
    assert page.outside_requests == [], page.outside_requests


# ---------- honest pictures (item 4) ----------

@pytest.mark.browser
def test_browser_compare_shows_every_panel_whole_and_follows_the_colours(page, tmp_path):
    """A wide painting (a triptych is twice as wide as high): every compare panel keeps its proportions, all
    five are visible, wrapped in rows; colours and scale redraw them at once; a changed model list clears them."""
    wide = tmp_path / "triptych.png"
    Image.fromarray(draw_image(31, (480, 200))[0]).save(wide)
    page.get_by_role("tab", name="Saliency").click()
    _upload(page, "#sal-image", wide)
    page.get_by_role("button", name="Compare", exact=True).click()
    page.wait_for_function("document.querySelectorAll('#compare-gallery .thumbnail-item img').length === 5",
                           timeout=90000)
    page.wait_for_function("[...document.querySelectorAll('#compare-gallery .thumbnail-item img')]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=30000)
    panels = page.evaluate("""() => {
        const g = document.querySelector('#compare-gallery').getBoundingClientRect();
        return [...document.querySelectorAll('#compare-gallery .thumbnail-item img')].map(i => {
            const b = i.getBoundingClientRect();
            return {ratio: b.width / b.height, natural: i.naturalWidth / i.naturalHeight, top: b.top, left: b.left,
                    inside: b.left >= g.left - 1 && b.right <= g.right + 1 && b.top >= g.top - 1
                            && b.bottom <= g.bottom + 1, visible: i.checkVisibility(), name: i.alt};
        }); }""")
    assert [p["name"] for p in panels] == ["centerbias", "effsal-lite0", "salnet", "spectral-residual", "uniform"]
    for p in panels:
        assert p["visible"] and p["inside"], p
        assert p["natural"] == pytest.approx(2.4, rel=0.02) and p["ratio"] == pytest.approx(p["natural"], rel=0.03), p
    assert len({round(p["top"]) for p in panels}) >= 2                    # wrapped to rows, not cut off
    first = [page.locator("#compare-gallery .thumbnail-item img").nth(i).get_attribute("src") for i in range(5)]
    _choose(page, "#sal-colormap", "viridis")
    page.wait_for_function("old => document.querySelector('#compare-gallery .thumbnail-item img').src !== old",
                           arg=first[0], timeout=30000)
    page.wait_for_function(LEGEND, arg=["#compare-legend", "data-colormap", "viridis"], timeout=10000)
    page.locator("#compare-models").get_by_label("uniform").uncheck()
    page.wait_for_function("!document.querySelector('#compare-gallery .thumbnail-item img')", timeout=10000)
    page.locator("#compare-models").get_by_label("uniform").check()
    assert page.outside_requests == [], page.outside_requests


def test_shared_scale_keeps_the_uniform_map_dark_and_the_draw_over_map_is_readable(painting):
    """The shared colour scale (the Saliency tab's "Colour scale"; API calls keep each map's own peak) draws
    the uniform map as a flat, faint 1× instead of a full wash; 'Draw over the saliency map' shows the map
    clearly (a dimmed painting under it), not as a faint haze."""
    import gradio as gr
    own, _ = app.run_compare(str(painting), ["uniform"], "gray", 1.0)
    shared, _ = app.run_compare(str(painting), ["uniform"], "gray", 1.0, "even")
    own_px, shared_px = (np.asarray(Image.open(p[0][0])).astype(int) for p in (own, shared))
    assert own_px.min() > 240                                                   # every pixel the map's peak
    assert shared_px.mean() < 0.6 * own_px.mean()
    with pytest.raises(gr.Error, match="colour scale"):
        app.run_saliency(str(painting), "uniform", "gray", 1.0, "loudest")
    plain = np.asarray(Image.open(app.run_scanpaths(str(painting), "saliency-sampler", 1, 0.3, 1, 0, False)[0]))
    over = np.asarray(Image.open(app.run_scanpaths(str(painting), "saliency-sampler", 1, 0.3, 1, 0, True)[0]))
    assert np.abs(over.astype(int) - plain).mean() > 25                         # the map is plainly there


def test_api_keeps_its_inputs_and_a_raw_call_with_them_works(server, painting):
    """The colour scale is no new API input: /saliency and /compare take the four inputs they always had."""
    from gradio_client import Client
    info = Client(server, verbose=False).view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert [p["parameter_name"] for p in info["/saliency"]["parameters"]] == ["image", "model_name", "colormap",
                                                                             "opacity"]
    assert [p["parameter_name"] for p in info["/compare"]["parameters"]] == ["image", "model_names", "colormap",
                                                                            "opacity"]


# ---------- layout: examples first, readable captions and names, a phone, the API page (item 6) ----------

STARRY = "The Starry Night — Vincent van Gogh, 1889"


@pytest.mark.browser
def test_browser_examples_come_first_with_whole_captions_and_their_titles_as_names(page):
    """In every tab that starts from a painting the example paintings sit above the upload; each caption shows
    its whole title (not 'The Starry …'), and each button's accessible name is that title."""
    if not page.locator("#ov-examples").count():
        pytest.skip("no example paintings here (the shared gallery is absent)")
    for tab, prefix in (("Overview", "ov"), ("Saliency", "sal"), ("Scanpaths", "sp")):
        page.get_by_role("tab", name=tab).click()
        examples, upload = page.locator(f"#{prefix}-examples"), page.locator(f"#{prefix}-image")
        examples.wait_for(timeout=10000)
        assert examples.bounding_box()["y"] + examples.bounding_box()["height"] <= upload.bounding_box()["y"] + 1
        captions = page.evaluate(f"""() => [...document.querySelectorAll('#{prefix}-examples .example-caption')]
            .map(c => ({{text: c.innerText, cut: c.scrollWidth > c.clientWidth + 1 || c.scrollHeight > c.clientHeight + 1,
              visible: c.checkVisibility()}}))""")
        assert len(captions) == 20 and all(c["visible"] and not c["cut"] for c in captions), captions
        assert STARRY in [c["text"] for c in captions]
        button = examples.get_by_role("button", name=f"Load the example painting {STARRY}")
        assert button.count() == 1
        assert examples.locator("[aria-label^='Thumbnail']").count() == 0
    page.get_by_role("tab", name="Scanpaths").click()
    page.locator("#sp-examples").get_by_role("button", name=f"Load the example painting {STARRY}").click()
    page.wait_for_function("() => { const i = document.querySelector('#sp-image img');"
                           " return i && i.src.includes('01_starry_night'); }", timeout=30000)
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_phone_reaches_every_tab_and_every_value(page, server, painting):
    """At 390×844 every tab is in the tab bar (none behind '•••'), nothing is wider than the screen, and the
    statistics table shows its values."""
    context = page.context.browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                               has_touch=True)
    try:
        phone = context.new_page()
        phone.goto(server)
        phone.wait_for_selector("text=Visual-attention studio", timeout=60000)
        phone.wait_for_timeout(500)
        tabs = phone.evaluate("""() => [...document.querySelectorAll('[role=tab]')].map(t => {
            const b = t.getBoundingClientRect();
            return {name: t.innerText, visible: t.checkVisibility() && b.width > 0, right: b.right}; })""")
        assert [t["name"] for t in tabs] == ["Overview", "Saliency", "Scanpaths", "Study", "360°", "Evaluate",
                                            "Batch"], tabs
        assert all(t["visible"] and t["right"] <= 390 for t in tabs), tabs
        assert not phone.locator(".overflow-menu button").is_visible()
        for name, button in (("Saliency", "Predict saliency"), ("Scanpaths", "Sample scanpaths"),
                             ("Study", "Run the virtual study"), ("360°", "Predict 360° saliency"),
                             ("Evaluate", "Score"), ("Overview", None)):
            phone.get_by_role("tab", name=name).click()
            if button:
                phone.get_by_role("button", name=button).wait_for(timeout=10000)
            assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.locator("#ov-image input[type=file]").set_input_files(str(painting))
        phone.locator("#ov-go").click()
        phone.wait_for_function("document.querySelector('#ov-table').innerText.includes('centre of mass')",
                                timeout=60000)
        phone.locator("#ov-table").scroll_into_view_if_needed()
        values = phone.evaluate("""() => [...document.querySelectorAll('#ov-table [role=gridcell][data-col="1"]')]
            .map(cell => { const text = cell.querySelector('span') || cell; const b = text.getBoundingClientRect();
                           return {text: cell.innerText.trim(), left: b.left, right: b.right,
                                   cut: text.scrollWidth > text.clientWidth + 1}; })""")
        assert len(values) == 7 and all(v["text"] and v["right"] <= 390 and v["left"] >= 0 and not v["cut"]
                                        for v in values), values
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()


def test_api_page_names_every_output_and_shows_local_example_files(server):
    """Every endpoint's outputs have labels (no 'value_13'), and file inputs show a local file of the right
    kind as their example (not a PDF or an image from the internet)."""
    import re

    from gradio_client import Client
    info = Client(server, verbose=False).view_api(return_format="dict", print_info=False)
    endpoints = info["named_endpoints"]
    assert {"/overview", "/saliency", "/compare", "/scanpaths", "/panorama", "/panorama_video",
            "/evaluate", "/study"} <= set(endpoints)
    expected = {"/overview": ["painting.jpg"], "/saliency": ["painting.jpg"], "/compare": ["painting.jpg"],
                "/scanpaths": ["painting.jpg"], "/panorama": ["panorama.jpg"],
                "/panorama_video": ["panorama-video.mp4"], "/evaluate": ["prediction.npy", "fixations.csv"],
                "/evaluate_scanpaths": ["painting.jpg", "scanpaths.csv"], "/batch": ["paintings.zip"],
                "/study": ["painting.jpg", "fixations.csv"]}
    for name, endpoint in endpoints.items():
        for ret in endpoint["returns"]:
            assert not re.fullmatch(r"value_\d+", ret["label"]), (name, ret)
        files = [p["example_input"] for p in endpoint["parameters"] if p["component"] in ("Image", "File", "Video")]
        files = [f for given in files for f in (given if isinstance(given, list) else [given])]   # Batch: a list
        if name in expected:
            assert [f["url"] for f in files] == expected[name], (name, files)
    import urllib.request
    page = urllib.request.urlopen(f"{server}gradio_api/info").read().decode()
    assert "sample_file.pdf" not in page and "bus.png" not in page and "world.mp4" not in page


# ---------- researchers' tools: Evaluate, model cards, Batch (issue 19, item 5) ----------

def _humans_csv(path: Path, size=(240, 180), subjects=3, fixations=6, seed=0) -> Path:
    rng = np.random.default_rng(seed)
    path.write_text("subject,x,y,duration_ms\n" + "".join(
        f"s{s},{rng.uniform(0, size[0]):.1f},{rng.uniform(0, size[1]):.1f},{int(rng.integers(100, 400))}\n"
        for s in range(subjects) for _ in range(fixations)))
    return path


LISTS = "([box, names]) => { const b = document.querySelector(box);" \
        " return b && names.every(n => b.innerText.replace(/\\n/g, '').includes(n)); }"   # name and .ext may wrap


def _clear_and_upload(page, box: str, path: Path) -> None:
    if page.locator(f"{box} button[aria-label='Clear']").count():
        page.locator(f"{box} button[aria-label='Clear']").first.click()
    page.locator(f"{box} input[type=file]").set_input_files(str(path))
    page.wait_for_function(LISTS, arg=[box, [path.name]], timeout=30000)


def test_api_evaluate_gives_the_drawing_and_the_baselines_note(server, tmp_path):
    from gradio_client import Client, handle_file
    yy, xx = np.mgrid[0:60, 0:80]
    np.save(tmp_path / "pred.npy", np.exp(-((xx - 20) ** 2 + (yy - 30) ** 2) / 100))
    (tmp_path / "gt.csv").write_text("x,y\n20,30\n21,29\n60,10\n")
    table, drawing, note = Client(server, verbose=False).predict(
        handle_file(str(tmp_path / "pred.npy")), handle_file(str(tmp_path / "gt.csv")), "mit", 5,
        api_name="/evaluate")
    assert {"sAUC ↑", "IG ↑"} <= {row[0] for row in table["data"]}
    assert Image.open(drawing).size == (640, 480) and "'centerbias' model" in note


def test_api_scanpath_evaluation_and_batch(server, painting, second_painting, tmp_path):
    """/evaluate_scanpaths: a row for the model, one for the humans; /batch: a zip with a map per image and a
    summary that lists them."""
    import csv
    import io
    import zipfile

    from gradio_client import Client, handle_file
    client = Client(server, verbose=False)
    rows, humans, sampled, note = client.predict(handle_file(str(painting)),
                                                 handle_file(str(_humans_csv(tmp_path / "humans.csv"))),
                                                 "saliency-sampler", 3, 0, api_name="/evaluate_scanpaths")
    assert [r[0].split(" (")[0] for r in rows["data"]] == ["saliency-sampler", "human inter-observer"]
    assert Image.open(humans).size == Image.open(sampled).size == (240, 180)
    files, table, status = client.predict([handle_file(str(painting)), handle_file(str(second_painting))],
                                          "centerbias", api_name="/batch")
    archive = zipfile.ZipFile(next(f for f in files if f.endswith(".zip")))
    summary = list(csv.DictReader(io.StringIO(archive.read("summary.csv").decode())))
    assert [r["image"] for r in summary] == ["painting.png", "second-painting.png"]
    assert sorted(n for n in archive.namelist() if n.startswith("maps/")) == [
        "maps/painting-saliency-centerbias.npy", "maps/painting-saliency-centerbias.png",
        "maps/second-painting-saliency-centerbias.npy", "maps/second-painting-saliency-centerbias.png"]
    assert Image.open(io.BytesIO(archive.read("maps/second-painting-saliency-centerbias.png"))).size == (200, 150)
    assert "2 maps" in status and len(table["data"]) == 2


@pytest.mark.browser
def test_browser_evaluate_with_fixations_shows_sauc_ig_the_baseline_and_the_drawing(page, tmp_path):
    page.get_by_role("tab", name="Evaluate").click()
    yy, xx = np.mgrid[0:90, 0:120]
    np.save(tmp_path / "prediction.npy", np.exp(-((xx - 40) ** 2 + (yy - 45) ** 2) / 300))
    (tmp_path / "fixations.csv").write_text("x,y\n40,45\n44,41\n38,50\n90,20\n")
    _clear_and_upload(page, "#pred-file", tmp_path / "prediction.npy")
    _clear_and_upload(page, "#gt-file", tmp_path / "fixations.csv")
    page.get_by_role("button", name="Score", exact=True).click()
    page.wait_for_function("document.querySelector('#metrics').innerText.includes('IG')", timeout=60000)
    metrics = page.locator("#metrics").inner_text()
    assert "sAUC" in metrics and "IG" in metrics and "NSS" in metrics
    page.locator("#eval-drawing img[src*='file=']").first.wait_for(timeout=30000)
    assert "'centerbias' model" in page.locator("#eval-note").inner_text()
    assert "centre-bias model" in page.locator("#eval-baselines").inner_text()
    drawing = _image(page, "#eval-drawing")
    assert drawing.shape[:2] == (480, 640) and ((drawing > 240).all(axis=2)).sum() > 50     # the white dots
    readme_screenshot(page, "evaluate", page.locator("#metrics").locator("xpath=ancestor::div[contains(@class, 'row')][1]"))
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_evaluate_scanpaths_shows_the_model_and_the_humans(page, painting, tmp_path):
    page.get_by_role("tab", name="Evaluate").click()
    _upload(page, "#ev-sp-image", painting)
    (tmp_path / "bad.csv").write_text("who,x,y\na,1,1\n")
    _clear_and_upload(page, "#ev-sp-csv", tmp_path / "bad.csv")
    page.get_by_role("button", name="Compare with the humans").click()
    page.get_by_text("needs columns x, y and a scanpath column").first.wait_for(timeout=60000)
    _clear_and_upload(page, "#ev-sp-csv", _humans_csv(tmp_path / "humans.csv"))
    _choose(page, "#ev-sp-model", "saliency-sampler")
    page.locator("#ev-sp-count input[type=number]").fill("3")
    page.get_by_role("button", name="Compare with the humans").click()
    page.wait_for_function("document.querySelector('#ev-sp-table').innerText.includes('human inter-observer')",
                           timeout=120000)
    table = page.locator("#ev-sp-table").inner_text()
    for column in ("MultiMatch", "SequenceScore", "SED", "DTW"):
        assert column in table, table
    assert "saliency-sampler (3 sampled scanpaths" in table
    page.locator("#ev-sp-humans img[src*='file=']").first.wait_for(timeout=30000)
    page.locator("#ev-sp-model-drawing img[src*='file=']").first.wait_for(timeout=30000)
    readme_screenshot(page, "evaluate-scanpaths", page.locator("#ev-sp-table").locator("xpath=.."))
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_a_model_card_opens_from_the_saliency_and_scanpath_tabs(page):
    for tab, model, text in (("Saliency", "effsal-lite0", "# effsal-lite0"), ("Scanpaths", "spgen", "SPGEn")):
        page.get_by_role("tab", name=tab).click()
        assert "no painting gaze data exists here" in page.locator("#training-data").inner_text()
        cards = page.locator("#model-cards")
        if not page.locator("#card-choice").is_visible():
            cards.get_by_text("Model cards").first.click()
        page.locator("#card-choice").get_by_label(model, exact=True).check()
        page.wait_for_function("t => document.querySelector('#card-text').innerText.includes(t)",
                               arg=text.lstrip("# "), timeout=10000)
        card = page.locator("#card-text").inner_text()
        assert "license:" not in card and "Test-split metrics" in card
    page.locator("#model-cards").get_by_text("Model cards").first.click()                  # closed again
    page.locator("#card-choice").wait_for(state="hidden", timeout=10000)
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_batch_of_two_images_gives_a_zip_of_their_maps(page, painting, second_painting):
    import csv
    import io
    import zipfile
    page.get_by_role("tab", name="Batch").click()
    page.locator("#batch-files input[type=file]").set_input_files([str(painting), str(second_painting)])
    page.wait_for_function(LISTS, arg=["#batch-files", [painting.name, second_painting.name]], timeout=30000)
    _choose(page, "#batch-model", "centerbias")
    page.get_by_role("button", name="Run batch").click()
    page.locator("#batch-out a[download]").nth(1).wait_for(timeout=120000)
    assert "2 maps" in page.locator("#batch-status").inner_text()
    assert "second-painting.png" in page.locator("#batch-summary").inner_text()
    link = page.locator("#batch-out tr").filter(has_text=".zip").locator("a[download]").first
    archive = zipfile.ZipFile(io.BytesIO(page.request.get(link.get_attribute("href")).body()))
    summary = list(csv.DictReader(io.StringIO(archive.read("summary.csv").decode())))
    assert [(r["image"], r["status"], r["width"], r["height"]) for r in summary] == [
        ("painting.png", "ok", "240", "180"), ("second-painting.png", "ok", "200", "150")]
    for row in summary:
        density = np.load(io.BytesIO(archive.read(row["map_npy"])))
        assert abs(float(density.sum()) - 1) < 1e-3
        assert Image.open(io.BytesIO(archive.read(row["map_png"]))).size == (int(row["width"]), int(row["height"]))
    readme_screenshot(page, "batch", page.locator("[role=tabpanel]:visible").first)
    assert page.outside_requests == [], page.outside_requests


# ---------- the Study tab: areas of interest and a virtual eye-tracking study (issue 17) ----------

STUDY_AREAS = [["top left", "rectangle", "0 0; 120 90"], ["centre", "polygon", "90 60; 150 60; 150 120; 90 120"]]


def _people_csv(path: Path) -> Path:
    """Four people who look at the top-left quarter, then the centre of the 240×180 painting."""
    path.write_text("subject,x,y,duration_ms\n" + "".join(
        f"s{s},{x + s},{y - s},{200 + 20 * s}\n" for s in range(4) for x, y in ((40, 30), (60, 50), (120, 90))))
    return path


def test_api_study_gives_the_metrics_the_figures_and_the_comparison(server, painting, tmp_path):
    from gradio_client import Client, handle_file
    from training import study_tab
    client = Client(server, verbose=False)
    aois = {"headers": study_tab.COLUMNS, "data": STUDY_AREAS}
    table, chart, transitions, files, comparison, overlay, scores, note = client.predict(
        handle_file(str(painting)), aois, "saliency-sampler", 10, 2, 0, None, "fixations", "", "",
        api_name="/study")
    assert [row[:3] for row in table["data"]] == [["top left", "predicted", "10"], ["centre", "predicted", "10"]]
    assert Image.open(chart).size[0] > 300 and Image.open(transitions).size[0] > 300
    assert sorted(Path(f).name for f in files) == ["metrics.csv", "metrics.json"]
    assert "10 sampled viewers looking for 2 s" in note
    table, *_, comparison, overlay, scores, note = client.predict(
        handle_file(str(painting)), aois, "saliency-sampler", 10, 2, 0, handle_file(str(_people_csv(tmp_path /
        "people.csv"))), "fixations", "", "", api_name="/study")
    assert [row[1] for row in table["data"]] == ["predicted", "predicted", "observed", "observed"]
    assert {row[0] for row in comparison["data"]} == {"top left", "centre"}
    assert Path(overlay).is_file() and "map: nss" in [row[0] for row in scores["data"]]
    assert "Real study: 4 participants" in note
    bad = {"headers": study_tab.COLUMNS, "data": [["bow tie", "polygon", "0 0; 60 60; 60 0; 0 60"]]}
    with pytest.raises(Exception, match="crosses itself"):
        client.predict(handle_file(str(painting)), bad, "saliency-sampler", 10, 2, 0, None, "fixations", "", "",
                       api_name="/study")


def _study_note_says(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('#st-aoi-note').innerText.includes(t)", arg=text,
                           timeout=20000)


def _study_rows(page) -> int:
    return page.locator("#st-table [role=gridcell][data-col='0']").count()


def _edit_cell(page, table: str, row: int, col: int, text: str) -> None:
    page.locator(f"{table} [data-testid='cell-{row}-{col}']").dblclick()
    page.keyboard.press("Control+A")
    page.keyboard.type(text)
    page.keyboard.press("Enter")


@pytest.mark.browser
def test_browser_study_draw_suggest_and_run(page, painting):
    """Two clicks and a name make a rectangle, a grid adds nine, the run gives a row per area, the bar chart and
    the transition diagram; a changed setting clears them."""
    page.get_by_role("tab", name="Study").click()
    _upload(page, "#st-image", painting)
    surface = page.locator("#st-preview img").first
    surface.wait_for(timeout=30000)
    box = surface.bounding_box()
    surface.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.25})
    _study_note_says(page, "1 point(s) placed")
    surface.click(position={"x": box["width"] * 0.75, "y": box["height"] * 0.75})
    _study_note_says(page, "2 point(s) placed")
    page.locator("#st-name textarea, #st-name input").first.fill("middle")
    page.locator("#st-add").click()
    page.wait_for_function("document.querySelector('#st-aois').innerText.includes('middle')", timeout=20000)
    corners = page.locator("#st-aois [data-testid='cell-0-2']").inner_text()        # in the painting's pixels
    assert np.allclose([float(v) for v in corners.replace(";", " ").split()], [60, 45, 180, 135], atol=1), corners
    page.locator("#st-grid").click()
    page.wait_for_function("document.querySelector('#st-aois').innerText.includes('r3c3')", timeout=20000)
    _study_note_says(page, "10 area(s) of interest")
    _choose(page, "#st-model", "saliency-sampler")
    page.locator("#st-viewers input[type=number]").fill("10")
    page.locator("#st-viewers input[type=number]").press("Enter")
    page.evaluate(WATCH_PROGRESS, "#st-table")
    page.locator("#st-go").click()
    page.wait_for_function(NEW_SRC, arg=["#st-transitions", ""], timeout=120000)
    page.wait_for_function(NEW_SRC, arg=["#st-chart", ""], timeout=30000)
    page.wait_for_function("document.querySelector('#st-table').innerText.includes('r3c3')", timeout=30000)
    assert _study_rows(page) == 10
    assert "10 sampled viewers" in page.locator("#st-note").inner_text()
    page.locator("#st-files a[download]").nth(1).wait_for(timeout=30000)
    page.evaluate("document.querySelector('#st-note').scrollIntoView()")     # the results, then the figures
    readme_screenshot(page, "study")
    page.locator("#st-seed input").fill("4")
    page.locator("#st-seed input").press("Enter")
    page.wait_for_function(NO_IMAGE, arg="#st-chart", timeout=10000)
    assert _study_rows(page) == 0 and "press Run the virtual study" in page.locator("#st-note").inner_text()
    assert page.outside_requests == [], page.outside_requests


@pytest.mark.browser
def test_browser_study_bad_area_is_named_the_others_stay_and_a_real_study_compares(page, painting, tmp_path):
    page.reload()                                                     # an empty AOI table
    page.wait_for_selector("text=Visual-attention studio", timeout=60000)
    page.get_by_role("tab", name="Study").click()
    _upload(page, "#st-image", painting)
    page.locator("#st-grid").click()
    page.wait_for_function("document.querySelector('#st-aois').innerText.includes('r3c3')", timeout=20000)
    _edit_cell(page, "#st-aois", 0, 1, "polygon")
    _edit_cell(page, "#st-aois", 0, 2, "0 0; 60 60; 60 0; 0 60")
    _study_note_says(page, "'r1c1' crosses itself")
    page.locator("#st-go").click()
    page.get_by_text("Fix the areas of interest first").first.wait_for(timeout=30000)
    table = page.locator("#st-aois").inner_text()
    assert "0 0; 60 60; 60 0; 0 60" in table and "r3c3" in table and "r2c2" in table    # nothing lost
    _edit_cell(page, "#st-aois", 0, 2, "0 0; 60 0; 60 60; 0 60")                       # fixed: the run works
    page.wait_for_function("!document.querySelector('#st-aoi-note').innerText.includes('crosses')", timeout=20000)
    page.locator("#st-real").get_by_text("Compare with a real study").click()
    _upload_file(page, "#st-study", _people_csv(tmp_path / "people.csv"))
    _choose(page, "#st-model", "saliency-sampler")
    page.locator("#st-viewers input[type=number]").fill("10")
    page.locator("#st-viewers input[type=number]").press("Enter")
    page.locator("#st-go").click()
    page.wait_for_function(NEW_SRC, arg=["#st-overlay", ""], timeout=120000)
    page.wait_for_function("document.querySelector('#st-comparison').innerText.includes('Percentage fixated')",
                           timeout=30000)
    assert "Real study: 4 participants" in page.locator("#st-note").inner_text()
    assert "map: nss" in page.locator("#st-scores").inner_text()
    assert page.outside_requests == [], page.outside_requests

