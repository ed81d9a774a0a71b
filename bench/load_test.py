"""Load test of the running app: `--requests` calls from `--clients` concurrent gradio_client clients, spread
over the endpoints (overview, saliency, compare, scanpaths, evaluate, panorama), against a fresh app on
127.0.0.1 (offline, no examples). Bounded and self-stopping: every call has a timeout and the app is stopped
at the end.

    python -m bench.load_test                       # 3 runs × 600 requests, 16 clients → results/bench/load.json

Reported: errors, p50 / p95 latency per endpoint and overall, and the server's resident memory (VmRSS of the
app process, sampled after every completed request): the median of each window of 100 requests, and the growth
from the second window (the first is warm-up) to the last (the target: < 5 %); also the single samples at
request 50 and at the end. `python -m bench.make_performance` puts it in docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from bench.inputs import write_inputs

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "results" / "bench"


def server_rss_mib(pid: int, field: str = "VmRSS") -> float:
    """VmRSS (all resident memory), or RssAnon (heap, tensors: what a leak grows) or RssFile (pages of the
    libraries' code and data, read in from disk the first time a code path runs)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def start_app(port: int, threads: int, log) -> subprocess.Popen:
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "HF_HUB_OFFLINE": "1", "GALLERY_SOURCE": "off",
           "GRADIO_ANALYTICS_ENABLED": "False", "OMP_NUM_THREADS": str(threads), "NO_PROXY": "127.0.0.1,localhost"}
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("the app did not start within 120 s")


def calls(files: dict):
    from gradio_client import handle_file
    p = lambda: handle_file(str(files["painting"]))   # noqa: E731
    return [
        ("overview", lambda c: c.predict(p(), 3, 0.3, 0, api_name="/overview")),
        ("saliency", lambda c: c.predict(p(), "effsal-lite0", "inferno", 0.6, api_name="/saliency")),
        ("compare", lambda c: c.predict(p(), ["centerbias", "effsal-lite0"], "inferno", 0.6, api_name="/compare")),
        ("scanpaths", lambda c: c.predict(p(), "spgen", 3, 0.3, 10, 1, False, api_name="/scanpaths")),
        ("evaluate", lambda c: c.predict(handle_file(str(files["pred"])), handle_file(str(files["gt"])), "mit", 24,
                                         api_name="/evaluate")),
        ("panorama", lambda c: c.predict(handle_file(str(files["pano"])), "atsal", "fused", "inferno", 0.6,
                                         api_name="/panorama")),
    ]


def run(requests: int, clients: int, threads: int, timeout_s: float) -> dict:
    from gradio_client import Client
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = tempfile.TemporaryFile("w+")
    proc = start_app(port, threads, log)
    results, rss, anon, lock = [], [], [], threading.Lock()
    try:
        url = f"http://127.0.0.1:{port}/"
        with tempfile.TemporaryDirectory() as tmp:
            files = write_inputs(Path(tmp))
            plan = calls(files)
            rss_start = server_rss_mib(proc.pid)
            per_client = [Client(url, verbose=False) for _ in range(clients)]

            def one(k: int):
                name, call = plan[k % len(plan)]
                t0 = time.perf_counter()
                error = None
                try:
                    call(per_client[k % clients])
                except Exception as err:                           # counted, never raised
                    error = f"{type(err).__name__}: {str(err)[:200]}"
                elapsed = time.perf_counter() - t0
                with lock:
                    results.append({"k": k, "endpoint": name, "seconds": elapsed, "error": error})
                    rss.append(server_rss_mib(proc.pid))
                    anon.append(server_rss_mib(proc.pid, "RssAnon"))

            started = time.perf_counter()
            with ThreadPoolExecutor(clients) as pool:
                futures = [pool.submit(one, k) for k in range(requests)]
                for f in futures:
                    f.result(timeout=timeout_s)
            wall = time.perf_counter() - started
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    log.seek(0)
    # models left on PyTorch (models/runtime/onnx.py): then these numbers are not the app's usual ones
    fallbacks = [line.strip() for line in log if "stays on PyTorch" in line]
    log.close()

    def pct(values, q):
        return float(np.percentile(values, q)) if values else float("nan")
    by_endpoint = {}
    for name in sorted({r["endpoint"] for r in results}):
        secs = [r["seconds"] for r in results if r["endpoint"] == name and not r["error"]]
        by_endpoint[name] = {"n": sum(r["endpoint"] == name for r in results), "p50_s": pct(secs, 50),
                             "p95_s": pct(secs, 95)}
    ok = [r["seconds"] for r in results if not r["error"]]
    warm = rss[49] if len(rss) >= 50 else float("nan")
    return {"task": "load", "requests": requests, "clients": clients, "server_threads": threads,
            "errors": sum(1 for r in results if r["error"]), "runtime_fallbacks": fallbacks,
            "error_examples": [r["error"] for r in results if r["error"]][:5],
            "wall_s": wall, "p50_s": pct(ok, 50), "p95_s": pct(ok, 95), "by_endpoint": by_endpoint,
            "rss_mib_start": rss_start, "rss_mib_at_50": warm, "rss_mib_end": rss[-1], "rss_mib_max": max(rss),
            "rss_growth_50_to_end": (rss[-1] - warm) / warm if warm == warm else float("nan"),
            "rss_trace_mib": [round(v, 1) for v in rss], **window_growth(rss),
            "anon_trace_mib": [round(v, 1) for v in anon],
            **{f"anon_{k.removeprefix('rss_')}": v for k, v in window_growth(anon).items()},
            **growth_50_to_200(rss, anon),
            "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}


RSS_WINDOW = 100      # requests per window


def window_growth(rss: list[float], window: int = RSS_WINDOW) -> dict:
    """Medians of the RSS samples per `window` requests, and the growth from the second window (the first is
    warm-up) to the last. One sample swings by ±100 MiB with the requests in flight at that moment, so single
    samples cannot tell growth from noise; window medians can."""
    medians = [float(np.median(rss[i:i + window])) for i in range(0, len(rss) - window + 1, window)]
    growth = (medians[-1] - medians[1]) / medians[1] if len(medians) >= 3 else float("nan")
    return {"rss_window": window, "rss_window_medians_mib": [round(m, 1) for m in medians],
            "rss_growth_windows": growth}


def growth_50_to_200(rss: list[float], anon: list[float], half: int = 25) -> dict:
    """The issue's window, request 50 to request 200, each point the median of the samples within ±`half`
    requests (one sample swings with the requests in flight), for all resident memory and for the anonymous
    part alone."""
    if len(rss) < 200 + half:
        return {}

    def growth(trace):
        a, b = np.median(trace[50 - half:50 + half]), np.median(trace[200 - half:200 + half])
        return float((b - a) / a)
    return {"rss_growth_50_to_200": growth(rss), "anon_growth_50_to_200": growth(anon)}


GROWTH_KEYS = ("rss_growth_50_to_200", "anon_growth_50_to_200", "rss_growth_windows", "rss_growth_50_to_end")


def combine(runs: list[dict]) -> dict:
    """One report from several runs: every run's summary, errors summed, and the median over runs of each
    memory-growth figure (one run's figure moves by a few per cent with the order requests happen to finish);
    traces and latencies are the last run's."""
    result = dict(runs[-1])
    result["runs"] = [{k: v for k, v in r.items() if not k.endswith("_trace_mib")} for r in runs]
    result["errors"] = sum(r["errors"] for r in runs)
    result["runtime_fallbacks"] = [line for r in runs for line in r.get("runtime_fallbacks", [])]
    result["requests_all_runs"] = sum(r["requests"] for r in runs)
    for key in GROWTH_KEYS:
        values = [r[key] for r in runs if key in r]
        if values:
            result[key + "_runs"] = values
            result[key] = float(np.median(values))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the app")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--runs", type=int, default=3, help="whole runs, each against a fresh app")
    parser.add_argument("--out", default=str(OUT / "load.json"))
    args = parser.parse_args(argv)
    runs = [run(args.requests, args.clients, args.threads, args.timeout) for _ in range(args.runs)]
    result = combine(runs)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    summary = {k: v for k, v in result.items() if not k.endswith("_trace_mib")}
    print(json.dumps(summary, indent=2))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
