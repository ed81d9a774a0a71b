"""Shared ending of the evaluation CLIs: run, turn bad input into one readable line (exit 2), write the JSON."""
from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Callable

from training.datasets import DatasetError


def run_and_report(compute: Callable[[], dict], out: str | None) -> int:
    try:
        result = compute()
    except (DatasetError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    text = json.dumps(result, indent=2)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(text + "\n")
    print(text)
    return 0
