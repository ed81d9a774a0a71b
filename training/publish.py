"""Publish a bundled model to the Hugging Face Hub: a complete model folder (weights, config, model card with
its test metrics, sampling settings where the model has them), uploaded with huggingface_hub, then pinned.

    python -m training.publish --model effsal-lite0 --repo USER/effsal-lite0 --dry-run   # build + check only
    python -m training.publish --model effsal-lite0 --repo USER/effsal-lite0             # HF_TOKEN or login

The folder is checked before anything is sent: model.safetensors loads (safetensors only) and its sha256 is the
one in assets/weights/manifest.json, config.json parses, and the card names the command that produced the
weights and a test-split metrics table (`python -m training.model_card` writes it). After the upload the
manifest records the repository and the commit, so `create_model(NAME, weights="hub:REPO@COMMIT")` downloads
exactly that revision and checks the same hash.
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from safetensors import safe_open

from models.weights import ASSETS
from models.weights import MANIFEST, sha256_of

FILES = ("model.safetensors", "config.json", "README.md")
OPTIONAL = ("sampling.json",)


def build_folder(model: str, out: Path, weights: Path | None = None) -> Path:
    """Copy and check the files of `model` into `out`; returns `out`. ValueError naming what is wrong."""
    source = Path(weights or ASSETS / model)
    missing = [f for f in FILES if not (source / f).is_file()]
    if missing:
        raise ValueError(f"{source}: missing {', '.join(missing)} (train with --export, then "
                         f"python -m training.model_card --model {model} --run RUN)")
    with safe_open(str(source / "model.safetensors"), "pt") as f:
        if not list(f.keys()):
            raise ValueError(f"{source}/model.safetensors holds no tensors")
    json.loads((source / "config.json").read_text())
    card = (source / "README.md").read_text()
    if "python -m training." not in card or "| " not in card:
        raise ValueError(f"{source}/README.md must name the training command and hold a metrics table")
    recorded = json.loads(MANIFEST.read_text()).get(model, {}).get("sha256") if MANIFEST.is_file() else None
    actual = sha256_of(source / "model.safetensors")
    if weights is None and recorded != actual:
        raise ValueError(f"{model}: model.safetensors sha256 {actual[:12]}… is not the manifest's "
                         f"({(recorded or 'none')[:12]}…); regenerate the card and manifest first")
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES + OPTIONAL:
        if (source / name).is_file():
            shutil.copy2(source / name, out / name)
    return out


def publish(model: str, repo: str, weights: Path | None = None, endpoint: str | None = None,
            token: str | None = None, private: bool = False, dry_run: bool = False) -> dict:
    """Build, check and (unless `dry_run`) upload; returns {"repo", "revision", "sha256", "files", "spec"}."""
    with tempfile.TemporaryDirectory(prefix=f"publish-{model}-") as tmp:
        folder = build_folder(model, Path(tmp) / model, weights)
        files = sorted(p.name for p in folder.iterdir())
        sha = sha256_of(folder / "model.safetensors")
        if dry_run:
            return {"repo": repo, "revision": None, "sha256": sha, "files": files, "spec": None}
        from huggingface_hub import HfApi
        api = HfApi(endpoint=endpoint, token=token)
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        commit = api.upload_folder(repo_id=repo, folder_path=str(folder), repo_type="model",
                                   commit_message=f"{model}: weights, config and model card")
    revision = commit.oid
    manifest = json.loads(MANIFEST.read_text()) if MANIFEST.is_file() else {}
    if weights is None:                     # only the bundled weights' entry points at what was uploaded
        manifest.setdefault(model, {}).update({"hub_repo": repo, "revision": revision, "sha256": sha})
        MANIFEST.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return {"repo": repo, "revision": revision, "sha256": sha, "files": files, "spec": f"hub:{repo}@{revision}"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="a bundled model, e.g. effsal-lite0")
    parser.add_argument("--repo", required=True, help="USER/NAME on the Hub")
    parser.add_argument("--weights", type=Path, help="another weights folder (default: assets/weights/MODEL)")
    parser.add_argument("--endpoint", help="Hub endpoint (default: huggingface.co or HF_ENDPOINT)")
    parser.add_argument("--private", action="store_true")
    parser.add_argument("--dry-run", action="store_true", help="build and check the folder, upload nothing")
    args = parser.parse_args(argv)
    try:
        result = publish(args.model, args.repo, args.weights, args.endpoint, private=args.private,
                         dry_run=args.dry_run)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
