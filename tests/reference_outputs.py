"""Fixed inputs and what every bundled model answers to them, so a refactor can prove it changed no number.

    python -m tests.reference_outputs --write     # records tests/data/reference_outputs.npz (done once, on the
                                                  # code before a redesign; tests/test_reference_outputs.py checks)
    python -m tests.reference_outputs --update scanpath/spgen   # re-records only these keys, after a deliberate
                                                  # change to that model (say which and why in the commit)
Only the public API is used, so the same script reads the old and the new layout.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np

FILE = Path(__file__).resolve().parent / "data" / "reference_outputs.npz"
SCANPATH_SEEDS = (0, 1, 2)


def smooth_image(height: int, width: int, seed: int) -> np.ndarray:
    """A seeded picture with structure at several scales (blobs and edges), not white noise."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(0, 256, (height // 16 + 1, width // 16 + 1, 3)).astype(np.uint8)
    image = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    fine = rng.integers(-25, 26, (height, width, 3))
    return np.clip(image.astype(int) + fine, 0, 255).astype(np.uint8)


def compute() -> dict[str, np.ndarray]:
    from models import create_model, list_models, predict_saliency, predict_scanpath
    out: dict[str, np.ndarray] = {}
    image = smooth_image(192, 256, 0)
    for name in list_models("saliency", include_gaze_models=False):
        out[f"saliency/{name}"] = np.log(predict_saliency(name, image))[::2, ::2].astype(np.float32)
    for name in list_models("scanpath"):
        model = create_model(name)
        for seed in SCANPATH_SEEDS:
            path = np.asarray(predict_scanpath(model, image, seed=seed), dtype=np.float64)
            out[f"scanpath/{name}/{seed}"] = (path / np.array([256, 192, 1000.0])).astype(np.float32)
    panorama = smooth_image(256, 512, 1)
    for name in list_models("panorama"):
        model = create_model(name)
        streams = model.predict_streams(panorama) if hasattr(model, "predict_streams") else \
            {"fused": model.predict(panorama)}
        for stream, density in streams.items():
            values = density if stream == "attention_map" else np.log(np.maximum(density, 1e-30))
            out[f"panorama/{name}/{stream}"] = values[::4, ::4].astype(np.float32)
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--write", action="store_true")
    parser.add_argument("--update", default="", help="key prefix to re-record, the other keys kept as recorded")
    args = parser.parse_args(argv)
    outputs = compute()
    if args.update:
        recorded = dict(np.load(FILE))
        changed = sorted(k for k in outputs if k.startswith(args.update))
        if not changed:
            raise SystemExit(f"no output key starts with {args.update!r}")
        np.savez_compressed(FILE, **{**recorded, **{k: outputs[k] for k in changed}})
        print(f"re-recorded {len(changed)} arrays: {', '.join(changed)}")
    elif args.write:
        FILE.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(FILE, **outputs)
        print(f"wrote {len(outputs)} arrays to {FILE} ({FILE.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
