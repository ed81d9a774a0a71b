"""Frames per second of 360° video processing, end to end: decode, every stream, overlays, and one MP4 per stream.

    python -m bench.bench_video                       # atsal on a 1024×512 clip of 30 frames, 2 threads
    python -m bench.bench_video --models atsal,equator-bias --frames 60 --rounds 3

The clip is generated here (a panorama slowly turning, written with OpenCV), so nothing is downloaded. Each
model runs in a fresh process per round (rounds interleave the models, as bench.bench_saliency does):
`models.studio.panorama_tab.process_video` runs once untimed (loads the model, fills the projection caches), then
timed `--repeats` times; fps = frames ÷ wall time. The figure is the median over rounds of each round's median.
Results go to results/bench/video.json; `python -m bench.make_performance` puts them in docs/performance.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_saliency import OUT, cpu_name, peak_rss_mib, run_rounds

SIZE = (1024, 512)      # (width, height)


def write_clip(path: Path, frames: int, size=SIZE, fps: float = 30.0) -> Path:
    """A synthetic equirectangular clip: a random-texture panorama rolled a few pixels per frame."""
    import cv2
    import numpy as np
    w, h = size
    rng = np.random.default_rng(0)
    base = cv2.resize((rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise SystemExit("OpenCV cannot write an mp4v clip here")
    for i in range(frames):
        writer.write(np.roll(base, 4 * i, axis=1))
    writer.release()
    return path


def bench_one(name: str, threads: int, frames: int, repeats: int) -> dict:
    import torch
    torch.set_num_threads(threads)
    from models.studio.panorama_tab import process_video, video_codec
    with tempfile.TemporaryDirectory() as tmp:
        clip = write_clip(Path(tmp) / "clip.mp4", frames)
        process_video(clip, name, max_frames=frames, out_dir=Path(tmp) / "warm")
        seconds = []
        for r in range(repeats):
            start = time.perf_counter()
            outputs = process_video(clip, name, max_frames=frames, out_dir=Path(tmp) / f"run{r}")
            seconds.append(time.perf_counter() - start)
    median_s = statistics.median(seconds)
    return {"model": name, "threads": threads, "input": f"{SIZE[0]}x{SIZE[1]}", "frames": frames,
            "repeats": repeats, "streams": sorted(outputs), "codec": video_codec(),
            "median_s": median_s, "fps": frames / median_s, "peak_rss_mib": peak_rss_mib()}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="atsal,equator-bias")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=OUT / "video.json")
    parser.add_argument("--worker", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(bench_one(args.worker, args.threads, args.frames, args.repeats)))
        return

    names = [n for n in args.models.split(",") if n]
    runs = run_rounds("bench.bench_video", names, args.rounds, args.threads,
                      ["--frames", str(args.frames), "--repeats", str(args.repeats)])
    rows = []
    for name in names:
        row = dict(runs[name][0])
        row.update({"rounds": len(runs[name]), "round_fps": [r["fps"] for r in runs[name]],
                    "fps": statistics.median(r["fps"] for r in runs[name]),
                    "peak_rss_mib": max(r["peak_rss_mib"] for r in runs[name])})
        rows.append(row)
        print(f"{name:16s} {row['fps']:6.2f} frames/s   rounds {[round(f, 2) for f in row['round_fps']]}")
    import platform

    import torch
    report = {"benchmark": "video", "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "torch": torch.__version__, "cpu": cpu_name(), "cpu_count": os.cpu_count(),
              "command": "python -m bench.bench_video " + " ".join(argv or sys.argv[1:]), "rows": rows}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
