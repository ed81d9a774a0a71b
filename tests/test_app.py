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
    over, raw, (before, after), files, info = app.run_saliency(synthetic_image, "centerbias", "jet", 0.5)
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
    panels = app.run_compare(synthetic_image, ["uniform", "centerbias"], "inferno", 0.6)
    assert [name for _, name in panels] == ["uniform", "centerbias"]


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
    table = dict(app.run_evaluate(str(tmp_path / "pred.npy"), str(tmp_path / "gt.csv"), "tuebingen", 5))
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
    env.update(GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SERVER_PORT=str(port), GALLERY_SOURCE="off",
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
    assert "Attention is" in text and "sampled scanpaths" in text


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
    legend = page.locator("#legend .attention-legend > div").first
    inferno = legend.get_attribute("style")
    page.locator("#sal-model input").click()
    page.get_by_role("option", name="salnet").click()
    page.get_by_label("Colormap").first.click()
    page.get_by_role("option", name="viridis").click()
    page.wait_for_function("s => document.querySelector('#legend .attention-legend > div').getAttribute('style') !== s",
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
    page.locator("#pred-file input[type=file]").set_input_files(str(tmp_path / "pred.npy"))
    page.locator("#gt-file input[type=file]").set_input_files(str(tmp_path / "bad.csv"))
    page.get_by_role("button", name="Score").click()
    page.get_by_text("columns x and y").first.wait_for(timeout=30000)
    # the same tab keeps working: a valid CSV, the other protocol and another blur give a metrics table
    pred = np.zeros((20, 20))
    pred[5:9, 5:9] = 1.0
    np.save(tmp_path / "pred2.npy", pred)
    (tmp_path / "good.csv").write_text("x,y\n6,6\n7,7\n15,3\n")
    for box, new in (("#pred-file", "pred2.npy"), ("#gt-file", "good.csv")):
        page.locator(f"{box} button[aria-label='Clear']").click()          # the user removes the file first
        page.locator(f"{box} input[type=file]").set_input_files(str(tmp_path / new))
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
    """Scanpath model, number of scanpaths, maximum fixations, seed, temperature and 'over the saliency map'."""
    page.get_by_role("tab", name="Scanpaths").click()
    page.locator("#sp-image input[type=file]").set_input_files(str(painting))
    page.locator("#sp-model input").click()
    page.get_by_role("option", name="saliency-sampler").click()
    page.locator("#sp-count input[type=number]").fill("2")
    page.locator("#sp-max input[type=number]").fill("4")
    page.locator("#sp-temperature input[type=number]").fill("0.5")
    page.locator("#sp-seed input").fill("7")
    page.locator("#sp-show-saliency input[type=checkbox]").check()
    page.get_by_role("button", name="Sample scanpaths").click()
    cells = "() => (document.querySelector('#sp-table').innerText.split('duration_ms')[1] || '').trim().split(/\\s+/)"
    page.wait_for_function(f"({cells})().length === 40", timeout=60000)          # 2 scanpaths × 4 fixations × 5
    first = page.evaluate(cells)
    assert first[0:2] == ["1", "1"] and first[20:22] == ["2", "1"]                 # scanpath, order
    page.locator("#sp-seed input").fill("8")
    page.get_by_role("button", name="Sample scanpaths").click()
    page.wait_for_function(f"old => {{ const c = ({cells})(); return c.length === 40 && c.join(' ') !== old; }}",
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
