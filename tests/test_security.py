"""Security review, as tests: only safetensors / weights_only loading anywhere; no pickle; user input never names
a server path (uploads outside Gradio's cache and static-file escapes are refused); the upload size limit is
enforced. (The Hub loader's pinned revisions and hash checks are tested in test_hub.py.)"""
from __future__ import annotations

import ast
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
CODE = sorted(p for folder in ("models", "training", "bench") for p in (REPO / folder).rglob("*.py")) + [REPO / "app.py"]


def _calls(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            yield node


def _name(func) -> str:
    parts = []
    while isinstance(func, ast.Attribute):
        parts.append(func.attr)
        func = func.value
    if isinstance(func, ast.Name):
        parts.append(func.id)
    return ".".join(reversed(parts))


def test_every_torch_load_is_weights_only_and_every_np_load_refuses_pickles():
    seen = []
    for path in CODE:
        for call in _calls(path):
            name = _name(call.func)
            keywords = {k.arg: k.value for k in call.keywords}
            if name == "torch.load":
                seen.append(path.name)
                assert isinstance(keywords.get("weights_only"), ast.Constant) and keywords["weights_only"].value is True, \
                    f"{path}:{call.lineno}: torch.load without weights_only=True"
            if name == "np.load":
                assert isinstance(keywords.get("allow_pickle"), ast.Constant) and keywords["allow_pickle"].value is False, \
                    f"{path}:{call.lineno}: np.load without allow_pickle=False"
    assert seen, "the scan found no torch.load at all; is it reading the code?"


def test_no_pickle_or_eval_in_the_code():
    for path in CODE:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + ([node.module] if isinstance(node, ast.ImportFrom) else [])
                assert not {"pickle", "dill", "joblib", "marshal"} & set(names), f"{path}: imports {names}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("eval", "exec"):
                raise AssertionError(f"{path}:{node.lineno}: {node.func.id}()")       # (module.eval() is fine)


def test_bundled_weights_are_safetensors_only():
    weights = REPO / "assets" / "weights"
    suffixes = {p.suffix for p in weights.rglob("*") if p.is_file()}
    assert suffixes <= {".safetensors", ".json", ".md"}, suffixes


@pytest.fixture(scope="module")
def small_limit_server():
    """The app with a 1 MB upload limit (MAX_UPLOAD), to test the limit without a 200 MB file."""
    from tests.conftest import serve_app
    old = os.environ.get("MAX_UPLOAD")
    os.environ["MAX_UPLOAD"] = "1mb"
    try:
        gen = serve_app(["app.py"])
        url = next(gen)
    finally:
        os.environ.pop("MAX_UPLOAD") if old is None else os.environ.__setitem__("MAX_UPLOAD", old)
    yield url
    next(gen, None)


def test_upload_over_the_limit_is_refused_and_a_small_one_works(small_limit_server, tmp_path):
    from gradio_client import Client, handle_file
    client = Client(small_limit_server, verbose=False)
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (1200, 1200, 3), dtype=np.uint8)).save(big)
    assert big.stat().st_size > 2_000_000
    with pytest.raises(Exception, match="(?i)(too large|exceeds|maximum|size)"):
        client.predict(handle_file(str(big)), "centerbias", "inferno", 0.6, api_name="/saliency")
    small = tmp_path / "small.png"
    Image.fromarray(np.full((60, 80, 3), 120, np.uint8)).save(small)
    over, *_ = client.predict(handle_file(str(small)), "centerbias", "inferno", 0.6, api_name="/saliency")
    assert Path(over).is_file()


def _raw_call(url: str, path: str) -> str:
    """POST /gradio_api/call/saliency with a hand-made FileData naming `path`; the event stream as text."""
    body = json.dumps({"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}, "centerbias", "inferno",
                                0.6]}).encode()
    request = urllib.request.Request(url + "gradio_api/call/saliency", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        event_id = json.loads(response.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/saliency/{event_id}", timeout=60) as response:
        return response.read().decode()


def test_a_server_path_in_a_request_is_refused(small_limit_server, tmp_path):
    """A hand-made request naming a file on the server (not an upload) must not be read; the same request
    naming a real upload works (so the refusal is about the path, not the request's shape)."""
    stream = _raw_call(small_limit_server, str(REPO / "assets" / "weights" / "centerbias" / "config.json"))
    assert "event: error" in stream and "event: complete" not in stream, stream
    image = tmp_path / "p.png"
    Image.fromarray(np.full((60, 80, 3), 120, np.uint8)).save(image)
    boundary = "----studio-test"
    payload = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"p.png\"\r\n"
               "Content-Type: image/png\r\n\r\n").encode() + image.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    upload = urllib.request.Request(small_limit_server + "gradio_api/upload", data=payload,
                                    headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(upload, timeout=30) as response:
        uploaded = json.loads(response.read())[0]
    assert "event: complete" in _raw_call(small_limit_server, uploaded)


@pytest.mark.parametrize("path", ["/etc/passwd", str(REPO / "requirements.txt"), "../../../../etc/passwd"])
def test_static_file_route_does_not_escape(small_limit_server, path):
    try:
        with urllib.request.urlopen(f"{small_limit_server}gradio_api/file={path}", timeout=10) as response:
            body = response.read().decode(errors="replace")
            assert "root:" not in body and "torch==" not in body
            pytest.fail(f"served {path} with status {response.status}")
    except urllib.error.HTTPError as err:
        assert err.code in (403, 404)
