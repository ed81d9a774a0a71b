"""Weight-space ensembling (WiSE-FT, Wortsman et al., CVPR 2022): blend a fine-tuned model with the model it
was fine-tuned from, parameter by parameter, θ = (1 − t)·θ_base + t·θ_tuned.

    python -m training.interpolate_weights --base assets/weights/effsal-lite0 \
        --tuned runs/effsal-lite0-style/export --t 0.5 --out runs/effsal-lite0-wise

Both folders are save_pretrained folders (config.json + model.safetensors) of the same architecture; the tuned
one must have started from the base one (a blend of two independent trainings is meaningless). Fine-tuning for
robustness to a shift (here: painting styles) tends to cost a little on the original data; the blend keeps most
of the gain at a fraction of that cost. t = 0.5 is the paper's default when nothing is tuned. Writes fp16
safetensors (as every bundled weight file), the base's config.json and interpolation.json (how it was made).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from training.cli import run_and_report


def interpolate(base: str | Path, tuned: str | Path, t: float, out: str | Path) -> dict:
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"t must be between 0 (the base) and 1 (the tuned model); got {t}")
    base, tuned, out = Path(base), Path(tuned), Path(out)
    configs = {}
    for folder in (base, tuned):
        if not (folder / "model.safetensors").is_file() or not (folder / "config.json").is_file():
            raise FileNotFoundError(f"{folder} is not a weights folder (needs config.json and model.safetensors)")
        configs[folder] = json.loads((folder / "config.json").read_text())
    if configs[base].get("arch") != configs[tuned].get("arch"):
        raise ValueError(f"{base} and {tuned} have different architectures: cannot blend them")
    a, b = load_file(str(base / "model.safetensors")), load_file(str(tuned / "model.safetensors"))
    if a.keys() != b.keys() or any(a[k].shape != b[k].shape for k in a):
        raise ValueError(f"{base} and {tuned} hold different tensors: cannot blend them")
    blended = {}
    for k, x in a.items():
        if x.is_floating_point():
            blended[k] = ((1 - t) * x.float() + t * b[k].float()).to(x.dtype)
        else:                                         # counters (BatchNorm's num_batches_tracked): the base's
            blended[k] = x.clone()
    out.mkdir(parents=True, exist_ok=True)
    save_file(blended, str(out / "model.safetensors"))
    (out / "config.json").write_text(json.dumps(configs[base], indent=2) + "\n")
    (out / "interpolation.json").write_text(json.dumps(
        {"base": str(base), "tuned": str(tuned), "t": t,
         "method": "WiSE-FT: (1 - t) * base + t * tuned, per parameter"}, indent=2) + "\n")
    return {"out": str(out), "t": t, "tensors": len(blended)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base", required=True, help="weights folder the tuned model started from")
    parser.add_argument("--tuned", required=True, help="weights folder of the fine-tuned model")
    parser.add_argument("--t", type=float, default=0.5, help="share of the tuned model (0 = base, 1 = tuned)")
    parser.add_argument("--out", required=True, help="weights folder to write")
    args = parser.parse_args(argv)
    return run_and_report(lambda: interpolate(args.base, args.tuned, args.t, args.out), None)


if __name__ == "__main__":
    sys.exit(main())
