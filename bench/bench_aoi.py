"""Speed of a virtual AOI study: N sampled viewers of one painting at a viewing time, then every AOI metric with
its bootstrap interval (training/metrics/aoi.py) for a grid of AOIs. Target (issue 17): 100 viewers × 3 s and
10 AOIs in ≤ 1.5 s on 2 threads.

    python -m bench.bench_aoi [--repeats 7] [--threads 2]     # → results/bench/aoi.json

Timed per repeat, after one untimed warm-up: sampling (the model's sample_batch), the metrics with intervals
(1000 bootstrap rounds), and their sum; medians over repeats. The input is the first painting of the shared
gallery ($GAZE_DATA/gallery; a seeded 1024×768 image without it); the AOIs a 2×5 grid. The saliency map (for
the saliency mass) is not part of the target and is timed on its own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

from bench.bench_saliency import OUT, cpu_name


def painting():
    """(RGB, where it came from)."""
    import numpy as np
    from PIL import Image

    from training.config import gaze_data_root

    gallery = sorted((gaze_data_root() / "gallery").glob("*.jpg"))
    if gallery:
        with Image.open(gallery[0]) as im:
            return np.asarray(im.convert("RGB")), f"gallery/{gallery[0].name}"
    rng = np.random.default_rng(0)
    return (rng.random((768, 1024, 3)) * 255).astype(np.uint8), "seeded noise 1024x768"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None, help="scanpath model (default: the registry's)")
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--viewing_time", type=float, default=3.0)
    parser.add_argument("--aois", type=int, default=10, help="AOIs in a 2-row grid")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--target_s", type=float, default=1.5)
    parser.add_argument("--out", default=str(OUT / "aoi.json"))
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    import numpy as np
    import torch

    torch.set_num_threads(args.threads)
    from models import DEFAULT, create_model
    from training.aoi_suggest import grid_aois
    from training.metrics.aoi import aoi_metrics

    name = args.model or DEFAULT["scanpath"]
    rgb, source = painting()
    size = (rgb.shape[1], rgb.shape[0])
    aois = grid_aois(size, 2, max(1, args.aois // 2))
    model = create_model(name)
    saliency = create_model(DEFAULT["saliency"])
    model.sample_batch(rgb, args.viewers, seed=0, viewing_time_s=args.viewing_time)        # warm-up
    saliency.predict(rgb)
    sampling, metrics, total, maps, fixations = [], [], [], [], []
    for r in range(args.repeats):
        t0 = time.perf_counter()
        paths = model.sample_batch(rgb, args.viewers, seed=r + 1, viewing_time_s=args.viewing_time)
        t1 = time.perf_counter()
        aoi_metrics(paths, aois, size, seed=r)
        t2 = time.perf_counter()
        saliency.predict(rgb)
        t3 = time.perf_counter()
        sampling.append(t1 - t0)
        metrics.append(t2 - t1)
        total.append(t2 - t0)
        maps.append(t3 - t2)
        fixations.append(float(np.mean([len(p) for p in paths])))
    median_total = statistics.median(total)
    result = {"benchmark": "aoi", "date": time.strftime("%Y-%m-%d"), "python": platform.python_version(),
              "torch": torch.__version__, "cpu": cpu_name(), "cpu_count": os.cpu_count(),
              "load_average_1min": os.getloadavg()[0],
              "command": "python -m bench.bench_aoi " + " ".join(sys.argv[1:] if argv is None else argv),
              "model": name, "threads": args.threads, "viewers": args.viewers, "viewing_time_s": args.viewing_time,
              "aois": len(aois), "input": f"{source} ({size[0]}x{size[1]})", "repeats": args.repeats,
              "fixations_per_viewer": statistics.median(fixations),
              "median_sampling_s": statistics.median(sampling), "median_metrics_s": statistics.median(metrics),
              "median_total_s": median_total, "min_total_s": min(total),
              "median_saliency_map_s": statistics.median(maps),
              "target_s": args.target_s, "meets_target": median_total <= args.target_s}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
