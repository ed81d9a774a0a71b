"""Our models side by side with the peer architectures users would otherwise run (bench/peers.py, random
weights, timing only), in one run, as ratios: per-image latency, peak memory, cold start; plus the app's
cold start.

    python -m bench.bench_peers            # → results/bench/peers.json; then python -m bench.make_performance

Pairs (ours vs peer, same input image):
- saliency, a 1024×768 image: effsal-lite0 and salnet (ours) vs SalNet at full width and a DeepGaze IIE-style
  ensemble; each model resizes the image to its own network input and returns a map at image size;
- 360°, a 2048×1024 panorama: atsal (ours: attention, both experts, fusion) vs ATSal's VGG16 attention stream
  alone.
Our models run as the app runs them (ONNX Runtime where it loads, see models/runtime/onnx.py; exported graphs
come from the cache, primed by one untimed start); the peers run in PyTorch eager, as their code does.
`effsal-lite0@torch` is our model on PyTorch eager too, so the ratios show how much of the gap is the
architecture and how much the runtime; `MODEL@export` is a first start ever, exporting its graphs (no cache).
Each model runs in a fresh process per round (rounds interleaved, medians over rounds, 2 threads). "cold start"
is the time from the process's start (Python, imports, building the model) to the end of its first result.
"App cold start" starts `python app.py` offline and waits until a /saliency request through gradio_client
returns; the median of `--app-runs`.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_saliency import OUT, ROOT, cpu_name, peak_rss_mib, run_rounds

OURS = {"effsal-lite0": "saliency", "salnet": "saliency", "atsal": "panorama"}
PEER_TASK = {"salnet-full": "saliency", "deepgaze-iie-like": "saliency", "atsal-vgg-attention": "panorama"}
IMAGE = {"saliency": (1024, 768), "panorama": (2048, 1024)}            # (width, height)
PAIRS = [("effsal-lite0", "salnet-full"), ("effsal-lite0", "deepgaze-iie-like"), ("salnet", "salnet-full"),
         ("atsal", "atsal-vgg-attention"),
         # the runtime's share of the gap: our model on PyTorch eager, like the peers
         ("effsal-lite0@torch", "salnet-full"), ("effsal-lite0@torch", "deepgaze-iie-like"),
         # a first start ever: the ONNX graphs are exported, not yet in the cache
         ("effsal-lite0@export", "salnet-full"), ("atsal@export", "atsal-vgg-attention")]


def process_age_s() -> float:
    """Seconds since this process started (Linux /proc), so cold start includes interpreter and imports."""
    fields = open("/proc/self/stat").read().rsplit(")", 1)[1].split()
    start = int(fields[19]) / os.sysconf("SC_CLK_TCK")
    return float(open("/proc/uptime").read().split()[0]) - start


def bench_one(name: str, threads: int, repeats: int, warmup: int) -> dict:
    import cv2
    import numpy as np
    import torch
    torch.set_num_threads(threads)
    task = OURS.get(name) or PEER_TASK[name]
    runtime = "torch"
    w, h = IMAGE[task]
    image = (np.random.default_rng(0).uniform(0, 255, (h, w, 3))).astype(np.uint8)
    if name in OURS:
        from models import create_model, predict_panorama, predict_saliency
        model = create_model(name)
        predict = (lambda img: predict_panorama(model, img)) if task == "panorama" else (lambda img: predict_saliency(model, img))
        network = getattr(model, "network", None)
        runtime = model.runtime
    else:
        from bench.peers import build
        network, (ih, iw) = build(name)

        @torch.inference_mode()
        def predict(img):
            x = torch.from_numpy(cv2.resize(img, (iw, ih), interpolation=cv2.INTER_AREA)).permute(2, 0, 1)[None]
            y = network(x.contiguous().float() / 255.0).reshape(1, 1, ih, iw)        # contiguous NCHW, like ours
            return _upsample(y, (h, w))
    first = time.perf_counter()
    predict(image)
    first_ms = (time.perf_counter() - first) * 1000
    cold_s = process_age_s()
    for _ in range(warmup):
        predict(image)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        predict(image)
        times.append((time.perf_counter() - t0) * 1000)
    params = sum(p.numel() for p in network.parameters()) / 1e6 if network is not None else 0.0
    return {"model": name, "task": task, "input": f"{w}x{h}", "median_ms": statistics.median(times),
            "first_call_ms": first_ms, "cold_start_s": cold_s, "peak_rss_mib": peak_rss_mib(), "params_m": params,
            "ours": name in OURS, "runtime": runtime}


def _upsample(y, size):
    import torch.nn.functional as F
    return F.interpolate(y, size=size, mode="bilinear", align_corners=False)


def app_cold_start(runs: int, threads: int) -> tuple[list[float], float]:
    """Seconds from `python app.py` to a first /saliency answer: `runs` starts with the ONNX graph cache primed
    (as every start after a server's first), and one first start ever (no cache: every graph exported)."""
    from gradio_client import Client, handle_file
    from PIL import Image
    import numpy as np
    from models.runtime.onnx import CACHE_ENV

    def start(env: dict) -> float:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        env = {**env, "PORT": str(port)}
        t0 = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            while time.perf_counter() - t0 < 120:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.1)
            Client(f"http://127.0.0.1:{port}/", verbose=False).predict(
                handle_file(str(painting)), "effsal-lite0", "inferno", 0.6, api_name="/saliency")
            return time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(10)

    with tempfile.TemporaryDirectory() as tmp:
        painting = Path(tmp) / "p.png"
        Image.fromarray((np.random.default_rng(0).random((300, 400, 3)) * 255).astype(np.uint8)).save(painting)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "GALLERY_SOURCE": "off", "GRADIO_ANALYTICS_ENABLED": "False",
               "OMP_NUM_THREADS": str(threads), CACHE_ENV: str(Path(tmp) / "onnx")}
        subprocess.run([sys.executable, "-c", "import app; from models import studio; "
                        "studio.warm_up(app.app_models())"], cwd=ROOT, env=env, check=True, capture_output=True)
        times = [start(env) for _ in range(runs)]
        first = start({**env, CACHE_ENV: "off"})
    return times, first


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--app-runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT / "peers.json")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(bench_one(args.worker, args.threads, args.repeats, args.warmup)))
        return
    names = list(OURS) + list(PEER_TASK) + sorted({a for a, _ in PAIRS if "@" in a})
    runs = run_rounds("bench.bench_peers", names, args.rounds, args.threads,
                      ["--repeats", str(args.repeats), "--warmup", str(args.warmup)], prime=tuple(OURS))
    rows = {}
    for name in names:
        per = runs[name]
        rows[name] = {**per[0], "model": name, "round_medians_ms": [r["median_ms"] for r in per],
                      "median_ms": statistics.median(r["median_ms"] for r in per),
                      "cold_start_s": statistics.median(r["cold_start_s"] for r in per),
                      "peak_rss_mib": max(r["peak_rss_mib"] for r in per)}
        print(f"{name:22s} {rows[name]['median_ms']:9.1f} ms  cold {rows[name]['cold_start_s']:5.1f} s  "
              f"peak {rows[name]['peak_rss_mib']:6.0f} MiB  {rows[name]['params_m']:5.1f} M params")
    pairs = [{"ours": a, "peer": b, "latency_ratio": rows[b]["median_ms"] / rows[a]["median_ms"],
              "memory_ratio": rows[b]["peak_rss_mib"] / rows[a]["peak_rss_mib"],
              "cold_start_ratio": rows[b]["cold_start_s"] / rows[a]["cold_start_s"]} for a, b in PAIRS]
    app, app_first = app_cold_start(args.app_runs, args.threads)
    import torch
    report = {"benchmark": "peers", "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "torch": torch.__version__, "cpu": cpu_name(), "cpu_count": os.cpu_count(), "threads": args.threads,
              "command": "python -m bench.bench_peers " + " ".join(argv or sys.argv[1:]),
              "rows": list(rows.values()), "pairs": pairs, "app_cold_start_s": app,
              "app_cold_start_median_s": statistics.median(app), "app_first_start_s": app_first}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(json.dumps({"pairs": pairs, "app_cold_start_s": app}, indent=1))


if __name__ == "__main__":
    main()
