"""Where weights come from: the bundled copy in assets/weights/<name>/, a local save_pretrained folder, or the
Hugging Face Hub as 'hub:REPO@REVISION' (revision pinned, file hash checked against the bundled manifest, short
timeouts). If the Hub cannot be reached the bundled copy is used and a visible notice says so.
Only safetensors files are ever loaded.

Extra weight folders (fine-tuned models, training/finetune.py) are named in the EXTRA_WEIGHTS environment
setting, separated like PATH (`:`; `;` on Windows): each entry is a weights folder, or a folder whose
subfolders are. A folder's config.json names the registered model it is a copy of under "base_model"; the
registry lists it by its folder name (models/registry.py)."""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "weights"
MANIFEST = ASSETS / "manifest.json"        # {name: {"sha256": ..., "hub_repo": ..., "revision": ...}}
HUB_TIMEOUT_S = 5.0
EXTRA_WEIGHTS_ENV = "EXTRA_WEIGHTS"
BASE_MODEL_KEY = "base_model"              # in a weights folder's config.json: the registered model it loads as


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def manifest() -> dict:
    return json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}


def parse_hub_spec(spec: str) -> tuple[str, str]:
    body = spec[len("hub:"):]
    if "@" not in body or not body.split("@", 1)[1]:
        raise ValueError(f"'{spec}': pin a revision, e.g. hub:user/repo@<commit sha or tag>")
    repo, revision = body.split("@", 1)
    return repo, revision


def expected_sha256(name: str, repo: str, revision: str, endpoint: str | None = None) -> str:
    """The hash model.safetensors must have: the manifest's for our published weights, else the Hub's own
    LFS hash (the file's ETag), so a changed or corrupted file is never loaded silently."""
    entry = manifest().get(name, {})
    if entry.get("sha256") and entry.get("hub_repo") == repo:
        return entry["sha256"]
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    meta = get_hf_file_metadata(hf_hub_url(repo, "model.safetensors", revision=revision, endpoint=endpoint),
                                timeout=HUB_TIMEOUT_S)
    etag = (meta.etag or "").strip('"')
    if len(etag) != 64:
        raise ValueError(f"{repo}@{revision}: the Hub gives no sha256 for model.safetensors, refusing to load it")
    return etag


def download_from_hub(name: str, repo: str, revision: str, endpoint: str | None = None,
                      cache_dir: str | Path | None = None) -> Path:
    """Download model.safetensors + config.json at a pinned revision (cached); check the weight hash."""
    from huggingface_hub import hf_hub_download
    paths = [Path(hf_hub_download(repo, filename, revision=revision, endpoint=endpoint, cache_dir=cache_dir,
                                  etag_timeout=HUB_TIMEOUT_S))
             for filename in ("model.safetensors", "config.json")]
    folder = paths[0].parent                 # one snapshot folder per revision holds both files
    expected, actual = expected_sha256(name, repo, revision, endpoint), sha256_of(paths[0])
    if actual != expected:
        paths[0].unlink(missing_ok=True)     # never leave a bad file in the cache for the next call
        raise ValueError(f"{repo}@{revision}: model.safetensors hash {actual[:12]}… ≠ expected {expected[:12]}…")
    return folder


def resolve_weights(name: str, weights: str | None, endpoint: str | None = None,
                    cache_dir: str | Path | None = None) -> tuple[Path, str]:
    """(folder holding model.safetensors + config.json, notice for the user — empty when all went as asked)."""
    bundled = ASSETS / name
    if weights is None:
        return bundled, ""
    if weights.startswith("hub:"):
        repo, revision = parse_hub_spec(weights)
        try:
            return download_from_hub(name, repo, revision, endpoint, cache_dir), ""
        except Exception as err:                     # offline, missing repo, hash mismatch: fall back, say so
            notice = f"Could not load {weights} ({type(err).__name__}: {str(err)[:200]}); using the bundled weights."
            warnings.warn(notice)
            return bundled, notice
    folder = Path(weights)
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"{folder}: no model.safetensors (only save_pretrained folders with safetensors load)")
    return folder, ""


def sampling_settings(folder: str | Path) -> dict:
    """The sampling defaults stored next to a scanpath model's weights (sampling.json: the temperature and, for
    SPGEn, the read-out sharpness chosen on val scanpaths); {} when there are none."""
    path = Path(folder) / "sampling.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def load_network(network_class, folder: str | Path):
    """A save_pretrained folder (config.json + model.safetensors) → the network in eval mode, loaded strictly.
    Checkpoints written before the backbone came from timm have their keys renamed on the way in."""
    from safetensors.torch import load_file
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    config.pop(BASE_MODEL_KEY, None)                 # says which builder loads the folder, not a network setting
    network = network_class(**config)
    state = load_file(str(folder / "model.safetensors"))
    convert = getattr(network_class, "convert_legacy_keys", None)
    network.load_state_dict(convert(state) if convert else state, strict=True)
    return network.float().eval()


def load_pretrained(network_class, name: str, weights: str | None = None):
    """(network, notice, sampling settings) for the registered model `name`. weights: None = the bundled copy,
    a save_pretrained folder, or 'hub:REPO@REV'; notice says when the Hub failed and the bundled copy was used."""
    folder, notice = resolve_weights(name, weights)
    return load_network(network_class, folder), notice, sampling_settings(folder)


def _is_weights_folder(folder: Path) -> bool:
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def extra_weight_folders(setting: str | None = None) -> tuple[list[tuple[Path, str]], list[str]]:
    """([(folder, base model name)], [problem, ...]) for EXTRA_WEIGHTS (or `setting`). A problem (a missing
    folder, no weights in it, a config.json without "base_model") skips that folder and is reported, never
    raised: the app must start with the folders that are fine."""
    setting = os.environ.get(EXTRA_WEIGHTS_ENV, "") if setting is None else setting
    found, problems = [], []
    for entry in filter(None, (e.strip() for e in setting.split(os.pathsep))):
        root = Path(entry).expanduser()
        if not root.is_dir():
            problems.append(f"{EXTRA_WEIGHTS_ENV}: {root} is not a folder")
            continue
        folders = [root] if _is_weights_folder(root) else sorted(p for p in root.iterdir() if _is_weights_folder(p))
        if not folders:
            problems.append(f"{EXTRA_WEIGHTS_ENV}: {root} holds no weights folder (config.json + model.safetensors)")
        for folder in folders:
            try:
                base = json.loads((folder / "config.json").read_text()).get(BASE_MODEL_KEY)
            except (OSError, ValueError, AttributeError) as err:
                problems.append(f"{EXTRA_WEIGHTS_ENV}: {folder / 'config.json'} is not readable JSON ({err})")
                continue
            if not isinstance(base, str) or not base:
                problems.append(f"{EXTRA_WEIGHTS_ENV}: {folder / 'config.json'} does not name its base model "
                                f'("{BASE_MODEL_KEY}": "effsal-lite0", as training.finetune writes)')
                continue
            found.append((folder.resolve(), base))
    return found, problems
