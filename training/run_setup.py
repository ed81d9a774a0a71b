"""What every training entry point does first: pick the device, join DDP under torchrun, fix seeds and threads,
and record the run's config and command in its folder (config.json, commands.txt)."""
from __future__ import annotations

import json
import math
import os
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist


@dataclass
class Run:
    rank: int
    world: int
    device: torch.device
    out: Path
    distributed: bool

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def start_run(cfg, argv, module: str) -> Run:
    """`cfg` needs device, backend, threads, seed, out; `module` is e.g. 'training.train_saliency'."""
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if cfg.device == "auto":
        cfg.device = "cuda" if torch.cuda.is_available() else "cpu"
    rank, world = 0, 1
    if distributed:
        backend = cfg.backend or ("nccl" if cfg.device == "cuda" else "gloo")
        dist.init_process_group(backend)
        rank, world = dist.get_rank(), dist.get_world_size()
        if cfg.device == "cuda":
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    out = Path(cfg.out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
        command = f"python -m {module} " + " ".join(sys.argv[1:] if argv is None else argv)
        (out / "config.json").write_text(json.dumps({**vars(cfg), "world_size": world, "command": command},
                                                    indent=2) + "\n")
        with open(out / "commands.txt", "a") as f:           # every invocation, e.g. a run and its --resume
            f.write(command + "\n")
    return Run(rank, world, torch.device(cfg.device), out, distributed)


def parse_defaults(defaults: dict, doc: str | None, argv=None):
    """argparse from a {name: default} dict: `--name VALUE` typed like its default; booleans are flags."""
    import argparse
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for key, value in defaults.items():
        if isinstance(value, bool):
            parser.add_argument(f"--{key}", action="store_true", default=value)
        else:
            parser.add_argument(f"--{key}", type=type(value), default=value)
    return parser.parse_args(argv)


def lr_scale(step: int, warmup_steps: int, total_steps: int) -> float:
    """Linear warm-up, then cosine decay to 5 % of the base rate."""
    return min(1.0, (step + 1) / warmup_steps) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / max(1, total_steps))))


def resume_checkpoint(path: Path, model, optimizer, extra: dict | None = None) -> tuple[int, float, int, int]:
    """Load ckpt.pt (weights only) into `model`, `optimizer` and the `extra` {key: module} it holds; restore the
    torch RNG. Returns (start_epoch, best_loss, bad_epochs, step)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(ckpt["model"])
    for key, module in (extra or {}).items():
        module.load_state_dict(ckpt[key])
    optimizer.load_state_dict(ckpt["optimizer"])
    torch.set_rng_state(ckpt["torch_rng"])
    return ckpt["epoch"] + 1, ckpt["best_loss"], ckpt["bad_epochs"], ckpt["step"]


def end_epoch(out: Path, record: dict, model, optimizer, epoch: int, best_loss: float, bad_epochs: int, step: int,
              extra: dict | None = None) -> None:
    """Append `record` to log.jsonl (and print it), then write ckpt.pt for `resume_checkpoint`."""
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
    print(json.dumps(record), flush=True)
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
                **{key: module.state_dict() for key, module in (extra or {}).items()},
                "best_loss": best_loss, "bad_epochs": bad_epochs, "step": step,
                "torch_rng": torch.get_rng_state()}, out / "ckpt.pt")


def export_best(best_path: Path, folder: Path, build) -> None:
    """Write the best checkpoint (`{"model": state_dict, "epoch": ...}`, loaded weights-only) as an fp16
    save_pretrained folder; `build(state_dict)` returns the empty network with the right architecture."""
    ckpt = torch.load(best_path, map_location="cpu", weights_only=True)
    model = build(ckpt["model"])
    model.load_state_dict(ckpt["model"])
    model.half().save_pretrained(folder)
    print(f"exported {best_path} (epoch {ckpt['epoch'] + 1}) → {folder}")
