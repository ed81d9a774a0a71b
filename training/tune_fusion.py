"""Choose ATSal's fusion exponents (fused ∝ attention^α × experts^γ) on validation panoramas, never on test.

    python -m training.tune_fusion --weights runs/atsal-export --out results/panorama/fusion-val.json
    python -m training.tune_fusion --weights assets/weights/atsal --write    # also store α, γ in its config.json

Panoramas: `training.panorama_data.evaluation_panoramas` with val-split images (osie, mit1003) on the held-out
backgrounds, a seed of their own. The networks run once per panorama; every (α, γ) on the grid then only re-fuses
the attention and experts maps, scored with the same metrics as training.evaluate_panorama. γ = 0, α = 1 is the
attention stream alone and α = γ = 1 ATSal's plain product, so the grid contains both.

Selection: the fused map must improve on the attention stream alone in both latitude-weighted CC and KLD (what
the 360° results are judged by), so the (α, γ) whose smaller relative gain of the two (CC ÷ CC_alone − 1,
KLD_alone ÷ KLD − 1) is largest wins. `--write` puts them in the folder's config.json ("arch" → "fusion_alpha", "fusion_gamma");
`ATSal.from_pretrained` then fuses with them.
"""
from __future__ import annotations

import argparse
import itertools
import json
import sys
from pathlib import Path

import numpy as np
from tqdm import tqdm

from training.cli import run_and_report
from training.evaluate_panorama import load_atsal, score_map

GAMMAS = tuple(round(g, 2) for g in np.arange(0.0, 1.51, 0.05))
ALPHAS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
ATTENTION_ALONE = (1.0, 0.0)                       # (α, γ)


def tune(weights: str | None = None, data: str = "osie,mit1003", n: int = 50, seed: int = 1, size: int = 512,
         gammas=GAMMAS, alphas=ALPHAS, progress: bool = True, layout: str = "horizon") -> dict:
    from models.runtime.panorama import fuse
    from training.panorama_data import evaluation_panoramas
    if 0.0 not in gammas or 1.0 not in alphas:
        raise ValueError("the grid must contain γ = 0 and α = 1 (attention alone): selection is relative to it")
    model, folder = load_atsal(weights)
    panoramas = evaluation_panoramas(data.split(","), "val", n=n, seed=seed, size=(size, 2 * size), layout=layout)
    grid = list(itertools.product(alphas, gammas))
    rows = {ag: [] for ag in grid}
    for i, sample in enumerate(tqdm(panoramas, desc="val panoramas", disable=not progress)):
        out = model.predict_streams(sample.image)
        for a, g in grid:
            rng = np.random.default_rng([seed, i])
            rows[a, g].append(score_map(fuse(out["attention"], out["experts"], g, a), sample.density,
                                        sample.fixations, rng))
    table = {key(a, g): {k: float(np.mean([r[k] for r in rows[a, g] if k in r])) for k in rows[a, g][0]}
             for a, g in grid}
    base = table[key(*ATTENTION_ALONE)]
    score = {k: float(min(t["cc"] / base["cc"], base["kld"] / t["kld"]) - 1.0) for k, t in table.items()}
    best = max(score, key=score.get)
    alpha, gamma = next((a, g) for a, g in grid if key(a, g) == best)
    return {"task": "fusion-tuning", "weights": folder, "dataset": data, "split": "val", "n_panoramas": len(panoramas),
            "seed": seed, "size": [size, 2 * size], "layout": layout,
            "select_by": "the larger smaller relative gain over attention alone (α=1, γ=0) in cc and in 1/kld",
            "grid": table, "score": score, "best_alpha": float(alpha), "best_gamma": float(gamma)}


def key(alpha: float, gamma: float) -> str:
    return f"alpha={alpha:g},gamma={gamma:g}"


def write_fusion(folder: str | Path, alpha: float, gamma: float) -> Path:
    """Store α and γ as arch.fusion_alpha / arch.fusion_gamma in a save_pretrained folder's config.json."""
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text())
    config.setdefault("arch", {}).update(fusion_alpha=float(alpha), fusion_gamma=float(gamma))
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
    parser.add_argument("--write", action="store_true", help="store the best α and γ in the weights folder's config.json")
    parser.add_argument("--out", help="JSON file to write")
    args = parser.parse_args(argv)

    def compute():
        result = tune(args.weights, args.data, args.n, args.seed, args.size, layout=args.layout)
        if args.write:
            result["written_to"] = str(write_fusion(result["weights"], result["best_alpha"], result["best_gamma"]))
        return result
    return run_and_report(compute, args.out)


if __name__ == "__main__":
    sys.exit(main())
