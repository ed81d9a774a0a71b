"""Choose ATSal's fusion exponent γ (fused ∝ attention × experts^γ) on validation panoramas, never on test.

    python -m training.tune_fusion --weights runs/atsal-export --out results/panorama/fusion-val.json
    python -m training.tune_fusion --weights assets/weights/atsal --write    # also store γ in its config.json

Panoramas: `training.panorama_data.evaluation_panoramas` with val-split images (osie, mit1003) on the held-out
backgrounds, a seed of their own. The networks run once per panorama; every γ on the grid then only re-fuses
the attention and experts maps, scored with the same metrics as training.evaluate_panorama. γ = 0 is the
attention stream alone and γ = 1 ATSal's plain product, so the grid contains both.

Selection: the γ with the highest mean of the latitude-weighted CC and NSS, each divided by its value at
γ = 0 (attention alone), so neither metric's scale dominates. `--write` puts it in the folder's config.json
("arch" → "fusion_gamma"); `ATSal.from_pretrained` then fuses with it.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.cli import run_and_report
from training.evaluate_panorama import load_atsal, score_map

GAMMAS = tuple(round(g, 2) for g in np.arange(0.0, 1.51, 0.1))
SELECT_BY = ("cc", "nss")


def tune(weights: str | None = None, data: str = "osie,mit1003", n: int = 50, seed: int = 1, size: int = 512,
         gammas=GAMMAS, progress: bool = True, layout: str = "horizon") -> dict:
    from models.runtime.panorama import fuse
    from training.panorama_data import evaluation_panoramas
    if 0.0 not in gammas:
        raise ValueError("the γ grid must contain 0 (attention alone): selection is relative to it")
    model, folder = load_atsal(weights)
    panoramas = evaluation_panoramas(data.split(","), "val", n=n, seed=seed, size=(size, 2 * size), layout=layout)
    rows = {g: [] for g in gammas}
    for i, sample in enumerate(tqdm(panoramas, desc="val panoramas", disable=not progress)):
        out = model.predict_streams(sample.image)
        for g in gammas:
            rng = np.random.default_rng([seed, i])
            rows[g].append(score_map(fuse(out["attention"], out["experts"], g), sample.density, sample.fixations, rng))
    table = {str(g): {k: float(np.mean([r[k] for r in rows[g] if k in r])) for k in rows[g][0]} for g in gammas}
    base = table["0.0"]
    score = {g: float(np.mean([table[g][k] / base[k] for k in SELECT_BY])) for g in table}
    best = max(score, key=score.get)
    return {"task": "fusion-tuning", "weights": folder, "dataset": data, "split": "val", "n_panoramas": len(panoramas),
            "seed": seed, "size": [size, 2 * size], "layout": layout, "select_by": f"mean of {' and '.join(SELECT_BY)} relative to γ=0",
            "gammas": table, "score": score, "best_gamma": float(best)}


def write_gamma(folder: str | Path, gamma: float) -> Path:
    """Store `gamma` as arch.fusion_gamma in a save_pretrained folder's config.json."""
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text())
    config.setdefault("arch", {})["fusion_gamma"] = float(gamma)
    path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", help="ATSal save_pretrained folder (default assets/weights/atsal)")
    parser.add_argument("--data", default="osie,mit1003")
    parser.add_argument("--n", type=int, default=50, help="number of val panoramas")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--size", type=int, default=512, help="panorama height (width = 2 × height)")
    parser.add_argument("--layout", default="horizon", choices=["horizon", "scattered"],
                        help="how the gaze images sit on the panoramas (training.panorama_data.LAYOUTS)")
    parser.add_argument("--write", action="store_true", help="store the best γ in the weights folder's config.json")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args(argv)

    def compute():
        result = tune(args.weights, args.data, args.n, args.seed, args.size, layout=args.layout)
        if args.write:
            result["written_to"] = str(write_gamma(result["weights"], result["best_gamma"]))
        return result
    return run_and_report(compute, args.out)


if __name__ == "__main__":
    sys.exit(main())
