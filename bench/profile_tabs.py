"""Each tab's whole handler path, timed and profiled: what a user waits for after pressing the button, on a
1024×768 painting (360°: a 2048×1024 panorama), with the default models, in this process, 2 threads.

    python -m bench.profile_tabs           # → results/bench/tabs.json (make_performance adds a section)

For every tab: the median of `--repeats` calls after one warm-up call, and the five functions with the most
cumulative time inside one profiled call (cProfile), so the slow part of each path is named.
"""
from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import statistics
import tempfile
import time
from pathlib import Path

from bench.inputs import write_inputs

OUT = Path(__file__).resolve().parents[1] / "results" / "bench" / "tabs.json"


def handlers(folder: Path) -> dict:
    import app
    files = write_inputs(folder, painting_hw=(768, 1024), pano_hw=(1024, 2048), n_fixations=40)
    p, pano, pred, gt = (str(files[k]) for k in ("painting", "pano", "pred", "gt"))
    return {
        "overview": lambda: app.run_overview(p, 3, 0.3, 0),
        "saliency": lambda: app.run_saliency(p, "effsal-lite0", "inferno", 0.6),
        "compare": lambda: app.run_compare(p, app.saliency_tab.upload_models(), "inferno", 0.6),
        "scanpaths": lambda: app.run_scanpaths(p, "spgen", 3, 0.5, 3.0, 0, False),     # 3 viewers, 3 s
        "panorama": lambda: app.run_panorama(pano, "atsal", "fused", "inferno", 0.6),
        "evaluate": lambda: app.run_evaluate(pred, gt, "mit", 24.0),
    }


def top_functions(profile: cProfile.Profile, n: int = 5) -> list[dict]:
    stats = pstats.Stats(profile)
    rows = []
    for (file, line, name), (_, _, _, cumulative, _) in stats.stats.items():
        if "bench/profile_tabs.py" in file or name in ("<lambda>", "<module>") or file == "~":
            continue
        rows.append({"function": f"{Path(file).name}:{line}({name})", "cumulative_s": cumulative})
    rows.sort(key=lambda r: -r["cumulative_s"])
    return rows[:n]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, call in handlers(Path(tmp)).items():
            call()                                                   # warm-up: models load, grids are built
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                call()
                times.append((time.perf_counter() - t0) * 1000)
            profile = cProfile.Profile()
            profile.enable()
            call()
            profile.disable()
            rows.append({"tab": name, "median_ms": statistics.median(times), "times_ms": times,
                         "top": top_functions(profile, 8)})
            print(f"{name:10s} {rows[-1]['median_ms']:8.0f} ms   " + "; ".join(
                f"{t['function']} {t['cumulative_s'] * 1000:.0f}" for t in rows[-1]["top"][:4]))
    report = {"benchmark": "tabs", "date": time.strftime("%Y-%m-%d"), "threads": args.threads,
              "command": "python -m bench.profile_tabs " + " ".join(argv or []), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
