"""How a scanpath model's quality and the diversity of its samples change with the temperature T.

    python -m training.scanpath_temperature --model spgen --data osie --split val --out results/temperature/osie-val-spgen.json
    python -m training.scanpath_temperature --model spgen --data osie --split val --write   # store the best T

For each T of `--temperatures`, `training.evaluate_scanpaths` draws `--samples` scanpaths per image and scores
them (with `--sharpness`, for each read-out sharpness too); "diversity" is 1 − the mean SequenceScore between the samples of an image, next to the same quantity
between human subjects (the `human` row). Select T on the val split only: `--write` stores the T with the best
SequenceScore in the model's weights folder (sampling.json), which `create_model` then uses by default.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.cli import run_and_report
from training.evaluate_scanpaths import evaluate_scanpaths

TEMPERATURES = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7)
SELECT_BY = "sequence_score"


def sweep(model: str, data: str, split: str, temperatures=TEMPERATURES, samples: int = 5, limit: int | None = None,
          seed: int = 0, progress: bool = True, sharpness=(None,), weights: str | None = None,
          label: str | None = None, with_human: bool = True) -> dict:
    """`weights`/`label`: another weights folder of `model` (e.g. an ablation) and its name in the result;
    `with_human=False` leaves out the (slow) inter-observer row."""
    rows = [evaluate_scanpaths(model, data, split, samples, limit, t, seed, progress, sharpness=k, weights=weights)
            for k in sharpness for t in temperatures]
    human = evaluate_scanpaths("human", data, split, limit=limit, progress=progress) if with_human else None
    best = max(rows, key=lambda r: r["metrics"][SELECT_BY])
    return {"task": "scanpath-temperature", "model": label or model, "weights": weights, "dataset": rows[0]["dataset"], "split": split,
            "n_images": rows[0]["n_images"], "samples_per_image": samples, "seed": seed,
            "rows": [{"temperature": r["temperature"], "sharpness": r["sharpness"], **r["metrics"]} for r in rows],
            "human": human["metrics"] if human else None, "select_by": SELECT_BY, "best_temperature": best["temperature"],
            "best_sharpness": best["sharpness"]}


def write_temperature(model: str, temperature: float, source: str, sharpness: float | None = None,
                      folder: str | None = None) -> Path:
    """Store the chosen settings in sampling.json of the bundled weights (or of `folder`)."""
    from models.weights import ASSETS
    path = Path(folder or ASSETS / model) / "sampling.json"
    settings = {"temperature": temperature, "chosen_by": source}
    if sharpness is not None:
        settings["sharpness"] = sharpness
    path.write_text(json.dumps(settings, indent=2) + "\n")
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", default="osie")
    parser.add_argument("--split", default="val", choices=["val", "test"])
    parser.add_argument("--temperatures", default=",".join(map(str, TEMPERATURES)))
    parser.add_argument("--sharpness", default="", help="comma-separated read-out sharpness values (SPGEn)")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--write", action="store_true", help="store the best T (val split only)")
    parser.add_argument("--weights", help="weights folder of --model (default: the bundled one); --write stores there")
    parser.add_argument("--label", help="model name written into the result (default --model)")
    parser.add_argument("--no_human", action="store_true", help="skip the inter-observer row (slow)")
    parser.add_argument("--out")
    args = parser.parse_args(argv)

    def compute():
        if args.write and args.split != "val":
            raise ValueError("--write chooses the temperature: only on the val split")
        temps = [float(t) for t in args.temperatures.split(",")]
        sharp = [float(k) for k in args.sharpness.split(",") if k] or [None]
        result = sweep(args.model, args.data, args.split, temps, args.samples, args.limit or None, args.seed,
                       sharpness=sharp, weights=args.weights, label=args.label, with_human=not args.no_human)
        if args.write:
            command = "python -m training.scanpath_temperature " + " ".join(argv or sys.argv[1:])
            result["written_to"] = str(write_temperature(args.model, result["best_temperature"], command,
                                                         result["best_sharpness"], args.weights))
        return result
    return run_and_report(compute, args.out)


if __name__ == "__main__":
    sys.exit(main())
