"""Per-image latency and peak memory of every model of a task, side by side: saliency on 384×288 RGB images,
panorama on 2048×1024 equirectangular images (all streams and the fusion: `predict_panorama`), scanpath: 20
scanpaths of one 1024×768 image at the model's default temperature and viewing time (3 s; `draw_samples`, as
the evaluation does), viewers: 100 virtual viewers of one 1024×768 image looking for 30 s.

    python -m bench.bench_saliency                      # all image-only saliency models, 2 threads
    python -m bench.bench_saliency --models effsal-lite0,salnet --repeats 50
    python -m bench.bench_saliency --task panorama --repeats 5

Each model runs in its own fresh Python process (so peak memory is its own, not the previous model's):
it is built once, warmed up, then `predict_saliency` (the full path the app uses: resize, network, resize back,
normalise) is timed on the same image `--repeats` times. Models are run in interleaved rounds (each
model's figure is the median over rounds), because a shared CPU's speed drifts. Results go to
results/bench/saliency.json;
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
import tempfile
import time
from pathlib import Path

from models.runtime.onnx import CACHE_ENV, RUNTIME_ENV

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"
INPUT_SIZE = {"saliency": (384, 288), "panorama": (2048, 1024), "scanpath": (1024, 768),
              "viewers": (1024, 768)}                                                  # (width, height)
TORCH_SUFFIX = "@torch"              # "effsal-lite0@torch": the same model on PyTorch eager, for the ratio
EXPORT_SUFFIX = "@export"            # "atsal@export": a first start, exporting its ONNX graphs (no cache)
VARIANT_ENV = {TORCH_SUFFIX: {RUNTIME_ENV: "torch"}, EXPORT_SUFFIX: {CACHE_ENV: "off"}}


def split_variant(name: str) -> tuple[str, str]:
    """"atsal@export" → ("atsal", "@export"); "atsal" → ("atsal", "")."""
    model, at, variant = name.partition("@")
    return model, at + variant
SCANPATH_SAMPLES = 20                # scanpath task: one call draws this many scanpaths of one image
VIEWERS, VIEWING_TIME_S = 100, 30.0  # viewers task: a population looking for as long as a museum visitor


def rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024      # Linux: KiB


def bench_one(name: str, threads: int, repeats: int, warmup: int, task: str = "saliency") -> dict:
    """Runs inside the worker process."""
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    from models import create_model, predict_panorama, predict_saliency
    if task == "scanpath":
        from training.evaluate_scanpaths import draw_samples

        def predict(model, image):
            return draw_samples(model, image, SCANPATH_SAMPLES, None, 0)
    elif task == "viewers":
        def predict(model, image):
            return model.sample_batch(image, VIEWERS, seed=0, viewing_time_s=VIEWING_TIME_S)
    else:
        predict = predict_panorama if task == "panorama" else predict_saliency
    WIDTH, HEIGHT = INPUT_SIZE[task]

    rng = np.random.default_rng(0)
    image = (rng.uniform(0, 255, (HEIGHT, WIDTH, 3))).astype(np.uint8)
    rss_before = rss_mib()
    start = time.perf_counter()
    model = create_model(name)
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    predict(model, image)                       # the first call pays one-off costs (e.g. projection grids)
    first_ms = (time.perf_counter() - start) * 1000
    for _ in range(warmup):
        predict(model, image)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        predict(model, image)
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    network = getattr(model, "network", None)
    n_params = sum(p.numel() for p in network.parameters()) if network is not None else 0
    return {
        "model": name, "threads": threads, "input": f"{WIDTH}x{HEIGHT}", "repeats": repeats,
        "median_ms": statistics.median(times), "p90_ms": times[int(0.9 * (len(times) - 1))],
        "min_ms": times[0], "first_call_ms": first_ms, "load_s": load_s, "params_m": n_params / 1e6,
        "rss_before_model_mib": rss_before, "peak_rss_mib": peak_rss_mib(),
        "model_peak_mib": peak_rss_mib() - rss_before, "runtime": model.runtime,
    }


def run_rounds(module: str, names: list[str], rounds: int, threads: int, worker_args: list[str],
               prime: tuple[str, ...] = ()) -> dict[str, list[dict]]:
    """{name: [worker result per round]}: each model in a fresh `python -m module --worker NAME` process per round.
    Rounds interleave the models (A B C, A B C, ...) so slow drifts of a shared CPU hit every model alike.
    A name ending in a VARIANT_ENV suffix runs that model in that setting: TORCH_SUFFIX with ONNX Runtime off
    (PyTorch eager throughout), EXPORT_SUFFIX without the ONNX graph cache (a first start).
    The ONNX graph cache is a fresh folder of this run; the models in `prime` run once untimed before the rounds
    so that every round starts them as a server does after its first start."""
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as cache:
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE="1", **{CACHE_ENV: cache})

        def run(name: str) -> dict:
            model, variant = split_variant(name)
            cmd = [sys.executable, "-m", module, "--worker", model, "--threads", str(threads), *worker_args]
            done = subprocess.run(cmd, cwd=ROOT, env=dict(env, **VARIANT_ENV.get(variant, {})),
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{name}: benchmark failed\n{done.stderr[-2000:]}")
            return json.loads(done.stdout.strip().splitlines()[-1])

        for name in prime:
            run(name)
        runs: dict[str, list[dict]] = {name: [] for name in names}
        for _ in range(rounds):
            for name in names:
                runs[name].append(run(name))
    return runs


def cpu_name() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def default_models(task: str) -> list[str]:
    from models import list_models
    return list_models("scanpath" if task == "viewers" else task, include_gaze_models=False)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="", help="comma-separated names (default: every image-only model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over all models")
    parser.add_argument("--task", choices=tuple(INPUT_SIZE), default="saliency")
    parser.add_argument("--with_torch", action="store_true",
                        help=f"also run every model with ONNX Runtime off (rows named MODEL{TORCH_SUFFIX})")
    parser.add_argument("--out", type=Path, default=None, help="default: results/bench/<task>.json")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        print(json.dumps(bench_one(args.worker, args.threads, args.repeats, args.warmup, args.task)))
        return

    names = [n for n in args.models.split(",") if n] or default_models(args.task)
    if args.with_torch:
        names += [n + TORCH_SUFFIX for n in names if not n.endswith(TORCH_SUFFIX)]
    runs = run_rounds("bench.bench_saliency", names, args.rounds, args.threads,
                      ["--repeats", str(args.repeats), "--warmup", str(args.warmup), "--task", args.task],
                      prime=tuple(n for n in names if not split_variant(n)[1]))
    runtime = {name: runs[name][0]["runtime"] for name in names}
    rows = []
    for name in names:
        if name.endswith(TORCH_SUFFIX) and runtime[name.removesuffix(TORCH_SUFFIX)] == "torch":
            continue                                   # that model never uses ONNX Runtime: nothing to compare
        per_round = runs[name]
        row = dict(per_round[0])
        row.update({
            "model": name, "rounds": len(per_round), "round_medians_ms": [r["median_ms"] for r in per_round],
            "median_ms": statistics.median(r["median_ms"] for r in per_round),
            "p90_ms": statistics.median(r["p90_ms"] for r in per_round),
            "min_ms": min(r["min_ms"] for r in per_round),
            "peak_rss_mib": max(r["peak_rss_mib"] for r in per_round),
            "model_peak_mib": max(r["model_peak_mib"] for r in per_round),
            "load_s": statistics.median(r["load_s"] for r in per_round),
            "first_call_ms": statistics.median(r["first_call_ms"] for r in per_round),
        })
        rows.append(row)
        print(f"{name:20s} median {row['median_ms']:8.1f} ms   rounds {[round(m, 1) for m in row['round_medians_ms']]}   "
              f"peak RSS {row['peak_rss_mib']:7.0f} MiB (+{row['model_peak_mib']:.0f} for the model)")
    import torch
    out = args.out or OUT / f"{args.task}.json"
    report = {"benchmark": args.task, "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "torch": torch.__version__, "cpu": cpu_name(),
              "cpu_count": os.cpu_count(), "command": "python -m bench.bench_saliency " + " ".join(argv or sys.argv[1:]),
              "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
