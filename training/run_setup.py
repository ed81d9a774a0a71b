"""What every training entry point does first: pick the device, join DDP under torchrun, fix seeds and threads,
and record the run's config and command in its folder (config.json, commands.txt). The epochs themselves run in
training/loop.py."""
from __future__ import annotations

import json
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


def parse_defaults(defaults: dict, doc: str | None, argv=None, choices: dict | None = None):
    """argparse from a {name: default} dict: `--name VALUE` typed like its default; booleans are flags;
    `choices` {name: allowed values} restricts some."""
    import argparse
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for key, value in defaults.items():
        if isinstance(value, bool):
            parser.add_argument(f"--{key}", action="store_true", default=value)
        else:
            parser.add_argument(f"--{key}", type=type(value), default=value, choices=(choices or {}).get(key))
    return parser.parse_args(argv)
