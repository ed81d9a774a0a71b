"""The real Hub download path (huggingface_hub → HTTP), run against a small Hub-compatible server on 127.0.0.1,
and the fallback to bundled weights with a visible notice when the Hub cannot be used."""
from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from huggingface_hub import constants

from models import weights as hub
from models.nets.effsal import EffSal

COMMIT = "a" * 40


class FakeHub:
    """Answers HEAD/GET /{repo}/resolve/{revision}/{filename} like the Hub: X-Repo-Commit and ETag headers
    (the sha256 for weight files, as the Hub does for LFS files), 404s with X-Error-Code."""

    def __init__(self, files: dict[str, dict[str, bytes]], revision: str = "v1"):
        self.files, self.revision, self.requests = files, revision, []
        self.etag_override: dict[str, str] = {}
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                self.answer(send_body=False)

            def do_GET(self):
                self.answer(send_body=True)

            def answer(self, send_body: bool):
                owner.requests.append((self.command, self.path))
                parts = self.path.split("?")[0].strip("/").split("/")
                # owner/name/resolve/revision/filename
                if len(parts) != 5 or parts[2] != "resolve":
                    return self.not_found("RepoNotFound")
                repo, revision, filename = "/".join(parts[:2]), parts[3], parts[4]
                if repo not in owner.files:
                    return self.not_found("RepoNotFound")
                if revision not in (owner.revision, COMMIT) or filename not in owner.files[repo]:
                    return self.not_found("EntryNotFound")
                body = owner.files[repo][filename]
                etag = owner.etag_override.get(filename) or (
                    hashlib.sha256(body).hexdigest() if filename.endswith(".safetensors")
                    else hashlib.sha1(body).hexdigest())
                self.send_response(200)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if send_body:
                    self.wfile.write(body)

            def not_found(self, code: str):
                self.send_response(404)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    """A small randomly initialised EffSal saved the way our weights are published."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("published")
    EffSal({"encoder": "lite0", "decoder_channels": 16, "n_priors": 4}, pretrained_encoder=False).save_pretrained(folder)
    return folder


@pytest.fixture()
def fake_hub(published, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)      # the suite runs offline; this test talks HTTP
    monkeypatch.setattr(hub, "manifest", lambda: {})               # trust the server's own sha256 (its ETag)
    server = FakeHub({"studio/effsal-test": {name: (published / name).read_bytes()
                                             for name in ("model.safetensors", "config.json")}})
    yield server
    server.close()


def test_pinned_download_loads_the_published_weights(fake_hub, published, tmp_path):
    folder, notice = hub.resolve_weights("effsal-lite0", "hub:studio/effsal-test@v1", endpoint=fake_hub.endpoint,
                                         cache_dir=tmp_path / "cache")
    assert notice == ""
    assert hub.sha256_of(folder / "model.safetensors") == hub.sha256_of(published / "model.safetensors")
    loaded, original = EffSal.from_pretrained(str(folder)), EffSal.from_pretrained(str(published))
    for (key, a), (_, b) in zip(loaded.state_dict().items(), original.state_dict().items()):
        assert torch.equal(a, b), key
    assert all(path.startswith("/studio/effsal-test/resolve/v1/") for _, path in fake_hub.requests)


def test_hash_mismatch_falls_back_to_bundled_with_notice(fake_hub, tmp_path):
    fake_hub.etag_override["model.safetensors"] = "0" * 64          # the file no longer matches its hash
    with pytest.warns(UserWarning):
        folder, notice = hub.resolve_weights("effsal-lite0", "hub:studio/effsal-test@v1",
                                             endpoint=fake_hub.endpoint, cache_dir=tmp_path / "cache")
    assert folder == hub.ASSETS / "effsal-lite0"
    assert "hash" in notice and "bundled" in notice
    assert not list((tmp_path / "cache").rglob("model.safetensors")), "a file with a bad hash stays in the cache"


def test_manifest_hash_is_enforced(fake_hub, tmp_path, monkeypatch):
    monkeypatch.setattr(hub, "manifest", lambda: {"effsal-lite0": {"sha256": "1" * 64,
                                                                   "hub_repo": "studio/effsal-test"}})
    with pytest.warns(UserWarning):
        folder, notice = hub.resolve_weights("effsal-lite0", "hub:studio/effsal-test@v1",
                                             endpoint=fake_hub.endpoint, cache_dir=tmp_path / "cache")
    assert folder == hub.ASSETS / "effsal-lite0" and "hash" in notice


@pytest.mark.parametrize("spec", ["hub:studio/missing@v1", "hub:studio/effsal-test@v2"])
def test_missing_repo_or_revision_falls_back(fake_hub, tmp_path, spec):
    with pytest.warns(UserWarning):
        folder, notice = hub.resolve_weights("effsal-lite0", spec, endpoint=fake_hub.endpoint,
                                             cache_dir=tmp_path / "cache")
    assert folder == hub.ASSETS / "effsal-lite0"
    assert spec in notice and "bundled" in notice


def test_offline_falls_back_quickly(tmp_path):
    import time
    assert constants.HF_HUB_OFFLINE, "the test suite sets HF_HUB_OFFLINE=1"
    start = time.perf_counter()
    with pytest.warns(UserWarning):
        folder, notice = hub.resolve_weights("effsal-lite0", "hub:studio/effsal-test@v1",
                                             cache_dir=tmp_path / "cache")
    assert time.perf_counter() - start < 5
    assert folder == hub.ASSETS / "effsal-lite0" and "bundled" in notice


def test_unpinned_revision_is_refused():
    with pytest.raises(ValueError, match="pin a revision"):
        hub.resolve_weights("effsal-lite0", "hub:studio/effsal-test")


def test_only_safetensors_folders_load(tmp_path):
    (tmp_path / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(FileNotFoundError, match="safetensors"):
        hub.resolve_weights("effsal-lite0", str(tmp_path))


def test_publish_builds_a_checked_folder_and_the_app_loads_the_pinned_upload(tmp_path, monkeypatch):
    """training.publish end to end: the bundled effsal-lite0 folder is checked, 'uploaded' (a stand-in HfApi
    puts the files on the fake Hub), the manifest pins the commit, and hub:REPO@COMMIT downloads and verifies."""
    import json
    import shutil
    from types import SimpleNamespace

    import huggingface_hub
    from models.weights import ASSETS
    from training import publish

    manifest = tmp_path / "manifest.json"
    shutil.copy(ASSETS / "manifest.json", manifest)
    monkeypatch.setattr(publish, "MANIFEST", manifest)
    monkeypatch.setattr(hub, "MANIFEST", manifest)
    dry = publish.publish("effsal-lite0", "studio/effsal-lite0", dry_run=True)
    assert dry["files"] == ["README.md", "config.json", "model.safetensors"] and dry["revision"] is None

    server = FakeHub({}, revision=COMMIT)
    calls = []

    class StandInApi:
        def __init__(self, endpoint=None, token=None):
            calls.append(("init", endpoint))

        def create_repo(self, repo, **kwargs):
            calls.append(("create_repo", repo, kwargs.get("exist_ok")))

        def upload_folder(self, repo_id, folder_path, **kwargs):
            server.files[repo_id] = {p.name: p.read_bytes() for p in Path(folder_path).iterdir()}
            return SimpleNamespace(oid=COMMIT)

    monkeypatch.setattr(huggingface_hub, "HfApi", StandInApi)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    try:
        result = publish.publish("effsal-lite0", "studio/effsal-lite0", endpoint=server.endpoint)
        assert result["spec"] == f"hub:studio/effsal-lite0@{COMMIT}"
        entry = json.loads(manifest.read_text())["effsal-lite0"]
        assert entry["hub_repo"] == "studio/effsal-lite0" and entry["revision"] == COMMIT
        assert "README.md" in server.files["studio/effsal-lite0"]
        folder, notice = hub.resolve_weights("effsal-lite0", result["spec"], endpoint=server.endpoint,
                                             cache_dir=tmp_path / "cache")
        assert notice == "" and hub.sha256_of(folder / "model.safetensors") == entry["sha256"]
    finally:
        server.close()


def test_publish_refuses_incomplete_or_changed_folders(tmp_path, monkeypatch):
    import shutil

    from models.weights import ASSETS
    from training import publish
    folder = tmp_path / "w"
    shutil.copytree(ASSETS / "effsal-lite0", folder)
    (folder / "README.md").unlink()
    with pytest.raises(ValueError, match="missing README.md"):
        publish.build_folder("effsal-lite0", tmp_path / "out", folder)
    (folder / "README.md").write_text("a card without the command or metrics")
    with pytest.raises(ValueError, match="training command"):
        publish.build_folder("effsal-lite0", tmp_path / "out", folder)
    monkeypatch.setattr(publish, "MANIFEST", tmp_path / "empty.json")
    (tmp_path / "empty.json").write_text("{}")
    with pytest.raises(ValueError, match="not the manifest"):
        publish.build_folder("effsal-lite0", tmp_path / "out")
    assert publish.main(["--model", "effsal-lite0", "--repo", "x/y", "--dry-run", "--weights", str(folder)]) == 1
