"""Per-image latency and peak memory of every saliency model, side by side, on 384×288 RGB inputs.

    python -m bench.bench_saliency                      # all image-only saliency models, 2 threads
    python -m bench.bench_saliency --models effsal-lite0,salnet --repeats 50

Each model runs in its own fresh Python process (so peak memory is its own, not the previous model's):
it is built once, warmed up, then `predict_saliency` (the full path the app uses: resize, network, resize back,
normalise) is timed on the same image `--repeats` times. Results go to results/bench/saliency.json;
`python -m bench.make_performance` turns them into docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench" / "saliency.json"
WIDTH, HEIGHT = 384, 288


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # Linux: KiB


def bench_one(name: str, threads: int, repeats: int, warmup: int) -> dict:
    """Runs inside the worker process."""
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    from models import create_model, predict_saliency

    rng = np.random.default_rng(0)
    image = (rng.uniform(0, 255, (HEIGHT, WIDTH, 3))).astype(np.uint8)
    rss_before = rss_mib()
    start = time.perf_counter()
    model = create_model(name)
    load_s = time.perf_counter() - start
    for _ in range(warmup):
        predict_saliency(model, image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict_saliency(model, image)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    network = getattr(model, "network", None)
    n_params = sum(p.numel() for p in network.parameters()) if network is not None else 0
    return {
        "model": name, "threads": threads, "input": f"{WIDTH}x{HEIGHT}", "repeats": repeats,
        "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
        "min_ms": times[0], "load_s": load_s, "params_m": n_params / 1e6,
        "rss_before_model_mib": rss_before, "peak_rss_mib": peak_rss_mib(),
        "model_peak_mib": peak_rss_mib() - rss_before,
    }


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_models() -> list[str]:
    from models import list_models
    return list_models("saliency", include_gaze_models=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="", help="comma-separated names (default: every image-only model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(bench_one(args.worker, args.threads, args.repeats, args.warmup)))
        return

    names = [n for n in args.models.split(",") if n] or default_models()
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), HF_HUB_OFFLINE="1")
    rows = []
    for name in names:
        cmd = [sys.executable, "-m", "bench.bench_saliency", "--worker", name, "--threads", str(args.threads),
               "--repeats", str(args.repeats), "--warmup", str(args.warmup)]
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{name}: benchmark failed\n{done.stderr[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{name:20s} median {row['median_ms']:8.1f} ms   p90 {row['p90_ms']:8.1f} ms   "
              f"peak RSS {row['peak_rss_mib']:7.0f} MiB (+{row['model_peak_mib']:.0f} for the model)")
    import torch
    report = {"benchmark": "saliency", "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "torch": torch.__version__, "cpu": cpu_name(),
              "cpu_count": os.cpu_count(), "command": "python -m bench.bench_saliency " + " ".join(argv or sys.argv[1:]),
              "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
