"""docs/performance.md from the benchmark results in results/bench/*.json (generated, never typed).

    python -m bench.make_performance
"""
from __future__ import annotations

import json
from pathlib import Path

from bench.bench_saliency import TORCH_SUFFIX
from models.runtime.onnx import RUNTIME_ENV
from models.registry import DEFAULT

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "bench"
DOC = ROOT / "docs" / "performance.md"
RUNTIME_NAMES = {"onnxruntime": "ONNX Runtime", "torch": "PyTorch", "numpy": "NumPy"}
TARGET_MS = {"saliency": 40.0, "panorama": 500.0, "scanpath": 80.0, "viewers": 1000.0}
TITLES = {"saliency": "Saliency: one 384×288 image",
          "panorama": "360°: one 2048×1024 panorama, all streams and the fusion",
          "scanpath": "Scanpaths: 20 sampled scanpaths of one 1024×768 image, 3 s of viewing",
          "viewers": "Virtual viewers: 100 viewers of one 1024×768 image, 30 s of viewing"}
CALLS = {"scanpath": "`draw_samples(model, image, 20)` call at the default viewing time of 3 s (resize, network "
                     "once, 20 viewers' fixations read one step at a time, back to image pixels)",
         "viewers": "`model.sample_batch(image, 100, viewing_time_s=30)` call (resize, network once, 100 viewers' "
                    "fixations read one step at a time until each viewer's time is used up)"}


def section(report: dict) -> list[str]:
    task = report["benchmark"]
    # a NumPy model's "@torch" row is the same code run twice: the runtime switch does not apply to it
    rows = [r for r in report["rows"] if not (r["model"].endswith(TORCH_SUFFIX) and r.get("runtime") == "numpy")]
    main = DEFAULT["scanpath" if task == "viewers" else task]
    ref = next((r for r in rows if r["model"] == main), rows[0])
    lines = [
        f"## {TITLES[task]}",
        "",
        f"Measured by `{report['command'].strip()}` on {report['date']}: {report['cpu']} "
        f"({report['cpu_count']} cores), torch {report['torch']}, {ref['threads']} threads, "
        f"{ref.get('rounds', 1)} interleaved rounds of {ref['repeats']} timed runs after warm-up (the median of the "
        "round medians), each model in a fresh process per round. Latency is the whole "
        + CALLS.get(task, f"`predict_{task}` call (resize, network, resize back, normalise)")
        + ". Ratios are relative to the default "
        f"model `{ref['model']}`.",
        "",
        "| model | runtime | params (M) | median (ms) | p90 (ms) | round medians (ms) | × default | peak RSS (MiB) | "
        "RSS added by model (MiB) | load (s) | first call (ms) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(rows, key=lambda r: r["median_ms"]):
        lines.append(
            f"| {r['model'].removesuffix(TORCH_SUFFIX)}{' (default)' if r['model'] == main else ''} | "
            f"{RUNTIME_NAMES[r.get('runtime', 'torch')]} | {r['params_m']:.2f} | "
            f"{r['median_ms']:.1f} | {r['p90_ms']:.1f} | "
            f"{', '.join(f'{m:.1f}' for m in r.get('round_medians_ms', [r['median_ms']]))} | "
            f"{r['median_ms'] / ref['median_ms']:.2f} | "
            f"{r['peak_rss_mib']:.0f} | {r['model_peak_mib']:.0f} | {r['load_s']:.2f} | "
            + (f"{r['first_call_ms']:.0f} |" if "first_call_ms" in r else "– |"))
    verdict = "meets" if ref["median_ms"] <= TARGET_MS[task] else "misses"
    lines += ["", f"Target for the default {task} model: ≤ {TARGET_MS[task]:.0f} ms median on 2 threads; "
              f"measured {ref['median_ms']:.1f} ms ({verdict} it)."]
    eager = next((r for r in rows if r["model"] == main + TORCH_SUFFIX), None)
    if eager:
        lines.append(f"The same model on PyTorch eager (`{RUNTIME_ENV}=torch`, same round interleaving): "
                     f"{eager['median_ms']:.1f} ms, {eager['median_ms'] / ref['median_ms']:.2f}× the default runtime's "
                     "time.")
    lines.append("")
    return lines


VIDEO_TARGET_FPS = 5.0


def video_section(report: dict) -> list[str]:
    rows = report["rows"]
    ref = next((r for r in rows if r["model"] == DEFAULT["panorama"]), rows[0])
    lines = [f"## 360° video: {ref['input']} frames, every stream to its own MP4", "",
             f"Measured by `{report['command'].strip()}` on {report['date']}: {report['cpu']} ({report['cpu_count']} "
             f"cores), torch {report['torch']}, {ref['threads']} threads. Each model runs `process_video` end to end "
             f"(decode, streams, heatmap overlays, {ref['codec']} encoding of every stream) on a {ref['frames']}-frame "
             f"clip, {ref['repeats']} timed runs after one untimed run, in {ref['rounds']} interleaved rounds, each in a "
             "fresh process; frames/s is the median of the round medians.", "",
             "| model | streams written | frames/s | round frames/s | peak RSS (MiB) |", "|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: -r["fps"]):
        lines.append(f"| {r['model']}{' (default)' if r is ref else ''} | {', '.join(r['streams'])} | {r['fps']:.2f} | "
                     f"{', '.join(f'{f:.2f}' for f in r['round_fps'])} | {r['peak_rss_mib']:.0f} |")
    verdict = "meets" if ref["fps"] >= VIDEO_TARGET_FPS else "misses"
    lines += ["", f"Target for the default panorama model: ≥ {VIDEO_TARGET_FPS:.0f} frames/s at 1024×512 on 2 threads; "
              f"measured {ref['fps']:.2f} ({verdict} it).", ""]
    return lines


def peers_section(report: dict) -> list[str]:
    rows = {r["model"]: r for r in report["rows"]}
    lines = [f"## Our models against the peers users would otherwise run ({report['threads']} threads)", "",
             f"`{report['command']}` on {report['date']}, {report['cpu']} ({report['cpu_count']} cores), torch "
             f"{report['torch']}. Peers are the published architectures with random weights (timing only, "
             "`bench/peers.py`). Each model gets the same image (1024×768; 360°: 2048×1024) and returns a map at "
             "image size; medians over interleaved rounds, each round in a fresh process. Cold start = process "
             "start (interpreter, imports, model build) to the end of the first result. Our models load their ONNX "
             "graphs from the cache, as every start after a server's first does (`models/runtime/onnx.py`); "
             "`MODEL@export` rows are a first start ever, exporting the graphs; `MODEL@torch` rows run on "
             "PyTorch eager like the peers.", "",
             "| model | ours | runtime | task | parameters (M) | latency, median (ms) | first call (ms) | "
             "cold start (s) | peak RSS (MiB) |", "|---|---|---|---|---|---|---|---|---|"]
    for r in rows.values():
        lines.append(f"| {r['model']} | {'yes' if r['ours'] else 'peer'} | {RUNTIME_NAMES[r.get('runtime', 'torch')]} | "
                     f"{r['task']} | {r['params_m']:.1f} | "
                     f"{r['median_ms']:.0f} | {r['first_call_ms']:.0f} | {r['cold_start_s']:.1f} | "
                     f"{r['peak_rss_mib']:.0f} |")
    lines += ["", "Ratios (peer ÷ ours; above 1 means ours is faster or smaller):", "",
              "| ours | peer | latency | peak memory | cold start |", "|---|---|---|---|---|"]
    for p in report["pairs"]:
        lines.append(f"| {p['ours']} | {p['peer']} | {p['latency_ratio']:.1f}× | {p['memory_ratio']:.2f}× | "
                     f"{p['cold_start_ratio']:.2f}× |")
    app = report["app_cold_start_s"]
    lines += ["", f"**App cold start** (`python app.py` offline until a first /saliency answer through "
              f"gradio_client): median {report['app_cold_start_median_s']:.1f} s over {len(app)} runs "
              f"({', '.join(f'{t:.1f}' for t in app)} s) with the ONNX graphs cached; target ≤ 10 s."
              + (f" A first start ever, exporting every graph: {report['app_first_start_s']:.1f} s."
                 if "app_first_start_s" in report else ""), ""]
    return lines


def tabs_section(report: dict) -> list[str]:
    lines = [f"## Each tab's whole path ({report['threads']} threads)", "",
             f"`{report['command']}` on {report['date']}: the app's handler for each tab, what a user waits for after "
             "pressing the button (1024×768 painting; 360°: 2048×1024 panorama; default models; loading, inference, "
             "drawing, file export), median of the timed calls after a warm-up, and the functions with the most "
             "cumulative time in one profiled call (cProfile).", "",
             "| tab | median (ms) | where the time goes (cumulative ms) |", "|---|---|---|"]
    for r in report["rows"]:
        top = "; ".join(f"`{t['function']}` {t['cumulative_s'] * 1000:.0f}" for t in r["top"][1:5])
        lines.append(f"| {r['tab']} | {r['median_ms']:.0f} | {top} |")
    return lines + [""]


def load_section(report: dict) -> list[str]:
    runs = report.get("runs", [report])

    def each(key):
        return f" (runs: {', '.join(f'{v:+.1%}' for v in report[key + '_runs'])})" if key + "_runs" in report else ""
    lines = [f"## Load: {len(runs)} × {report['requests']} requests from {report['clients']} concurrent clients", "",
             "`python -m bench.load_test`: a fresh app on 127.0.0.1 (queue concurrency 2, "
             f"{report['server_threads']} torch threads), gradio_client clients calling overview, saliency, "
             "compare, scanpaths, evaluate and panorama in turn. Latency includes waiting in the queue.", "",
             f"- errors: **{report['errors']}** of {report.get('requests_all_runs', report['requests'])}; "
             f"each run against a fresh app; memory figures are medians over the runs, latency and traces are the "
             f"last run's (wall time {report['wall_s']:.0f} s)",
             *([f"- models on their usual runtime: "
                f"{'all' if not report['runtime_fallbacks'] else 'no: ' + '; '.join(report['runtime_fallbacks'])}"]
               if "runtime_fallbacks" in report else []),
             f"- latency p50 {report['p50_s']:.2f} s, p95 {report['p95_s']:.2f} s",
             f"- server resident memory: {report['rss_mib_start']:.0f} MiB idle, max {report['rss_mib_max']:.0f} MiB",
             *([f"- median RSS per {report['rss_window']} requests: "
                f"{', '.join(f'{m:.0f}' for m in report['rss_window_medians_mib'])} MiB; growth from the second "
                f"window (the first is warm-up) to the last **{report['rss_growth_windows']:+.1%}**"
                f"{each('rss_growth_windows')}"]
               if "rss_window_medians_mib" in report else []),
             *([f"- request 50 → request 200 (the issue's window; each point the median of ±25 requests): RSS "
                f"**{report['rss_growth_50_to_200']:+.1%}**{each('rss_growth_50_to_200')} (target < 5 %), "
                f"anonymous memory alone {report['anon_growth_50_to_200']:+.1%}"]
               if "rss_growth_50_to_200" in report else []),
             f"- single samples (each swings with the requests in flight), request 50 to the end: "
             f"{report['rss_growth_50_to_end']:+.1%}{each('rss_growth_50_to_end')}; last run {report['rss_mib_at_50']:.0f}"
             f" → {report['rss_mib_end']:.0f} MiB", "",
             "| endpoint | requests | p50 (s) | p95 (s) |", "|---|---|---|---|"]
    for name, e in report["by_endpoint"].items():
        lines.append(f"| {name} | {e['n']} | {e['p50_s']:.2f} | {e['p95_s']:.2f} |")
    return lines + [""]


def main() -> None:
    lines = ["# Performance", "", "Generated by `python -m bench.make_performance` from `results/bench/*.json`; "
             "rerun the benchmarks named in each section to refresh it. Do not edit by hand.", ""]
    for task in TITLES:
        path = RESULTS / f"{task}.json"
        if path.is_file():
            lines += section(json.loads(path.read_text()))
    if (RESULTS / "video.json").is_file():
        lines += video_section(json.loads((RESULTS / "video.json").read_text()))
    if (RESULTS / "peers.json").is_file():
        lines += peers_section(json.loads((RESULTS / "peers.json").read_text()))
    if (RESULTS / "tabs.json").is_file():
        lines += tabs_section(json.loads((RESULTS / "tabs.json").read_text()))
    if (RESULTS / "load.json").is_file():
        lines += load_section(json.loads((RESULTS / "load.json").read_text()))
    DOC.write_text("\n".join(lines))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
