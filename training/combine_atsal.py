"""One ATSal from two runs: the attention stream of one, both experts (and their video smoothing) of another.

    python -m training.combine_atsal --attention runs/atsal-att512/best.pt --experts runs/atsal-horizon/export \\
        --out runs/atsal-combined
    python -m training.tune_fusion --weights runs/atsal-combined --write      # then choose α, γ on val again

For streams trained apart, e.g. `train_atsal --stage attention` at a larger input while the experts stay as an
earlier run trained them. The streams share no weights, so each keeps exactly what its run learned. Sources are
run checkpoints (best.pt / ckpt.pt) or save_pretrained folders. The fusion exponents go back to ATSal's plain
product (α = γ = 1): they were chosen for other streams. Writes an fp16 save_pretrained folder, like `--export`.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from models.nets.atsal import ATSal
from training.train_atsal import load_state

ATTENTION_PREFIX = "attention."


def combine(attention_source: str, experts_source: str) -> ATSal:
    attention_arch, attention_state = load_state(attention_source)
    experts_arch, experts_state = load_state(experts_source)
    arch = {**experts_arch, "attention": attention_arch["attention"], "fusion_alpha": 1.0, "fusion_gamma": 1.0}
    state = {**{k: v for k, v in experts_state.items() if not k.startswith(ATTENTION_PREFIX)},
             **{k: v for k, v in attention_state.items() if k.startswith(ATTENTION_PREFIX)}}
    model = ATSal(arch, pretrained_encoder=False)
    model.load_state_dict(state, strict=True)
    return model


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attention", required=True, help="run or folder whose attention stream is kept")
    parser.add_argument("--experts", required=True, help="run or folder whose poles and equator experts are kept")
    parser.add_argument("--out", required=True, help="save_pretrained folder to write")
    args = parser.parse_args(argv)
    for source in (args.attention, args.experts):
        if not Path(source).exists():
            parser.error(f"{source}: no such run checkpoint or weights folder")
    combine(args.attention, args.experts).half().save_pretrained(args.out)
    print(f"attention of {args.attention} + experts of {args.experts} → {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
