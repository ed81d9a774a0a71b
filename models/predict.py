"""Batch prediction over a folder of images, with progress and a summary CSV.

    python -m models.predict INPUT_DIR --task saliency --out DIR [--model NAME] [--overlay]
    python -m models.predict INPUT_DIR --task scanpath --out DIR [--model NAME] [--samples 3 --temperature T --seed 0]

saliency: DIR/<stem>.npy (float32 density, sums to 1), DIR/<stem>.png (16-bit map), optional
DIR/<stem>_overlay.jpg; scanpath: DIR/<stem>.csv (sample, order, x, y, duration_ms in image pixels).
DIR/summary.csv has one row per input: file, status (ok / the error), size, and per task a short summary
(saliency: entropy in bits and the share of attention on the top 10 % of pixels; scanpath: fixation count).
Unreadable files are reported in the summary and skipped; the run continues.
"""
from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def attention_summary(density: np.ndarray) -> dict:
    p = density.ravel() / density.sum()
    top = np.sort(p)[::-1][: max(1, p.size // 10)].sum()
    entropy = float(-(p[p > 0] * np.log2(p[p > 0])).sum())
    return {"entropy_bits": round(entropy, 3), "top10pct_share": round(float(top), 4)}


def main(argv=None) -> int:
    from models import DEFAULT, as_rgb, create_model, predict_saliency, predict_scanpath
    from models.studio.rendering import overlay          # same colours as the app

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input_dir", type=Path)
    parser.add_argument("--task", choices=("saliency", "scanpath"), default="saliency")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--model", default="", help="registry name (default: the task's default model)")
    parser.add_argument("--overlay", action="store_true", help="also write the map blended over the image")
    parser.add_argument("--samples", type=int, default=3)
    parser.add_argument("--temperature", type=float, default=None, help="default: the model's own")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if not args.input_dir.is_dir():
        print(f"error: {args.input_dir} is not a folder", file=sys.stderr)
        return 2
    files = sorted(p for p in args.input_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        print(f"error: no images ({', '.join(sorted(IMAGE_SUFFIXES))}) in {args.input_dir}", file=sys.stderr)
        return 2
    name = args.model or DEFAULT[args.task]
    model = create_model(name)
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for path in tqdm(files, desc=f"{args.task} ({name})"):
        row = {"file": path.name, "status": "ok"}
        try:
            with Image.open(path) as img:
                image = as_rgb(img)
            row["size"] = f"{image.shape[1]}x{image.shape[0]}"
            if args.task == "saliency":
                density = predict_saliency(model, image)
                np.save(args.out / f"{path.stem}.npy", density.astype(np.float32))
                Image.fromarray((density / density.max() * 65535).astype(np.uint16)).save(args.out / f"{path.stem}.png")
                if args.overlay:
                    Image.fromarray(overlay(image, density)).save(args.out / f"{path.stem}_overlay.jpg", quality=90)
                row.update(attention_summary(density))
            else:
                with open(args.out / f"{path.stem}.csv", "w", newline="") as f:
                    writer = csv.writer(f)
                    writer.writerow(["sample", "order", "x", "y", "duration_ms"])
                    n = 0
                    for s in range(args.samples):
                        fixations = predict_scanpath(model, image, temperature=args.temperature, seed=args.seed + s)
                        n += len(fixations)
                        for order, (x, y, d) in enumerate(fixations):
                            writer.writerow([s, order, f"{x:.1f}", f"{y:.1f}", f"{d:.0f}"])
                row["fixations"] = n
        except Exception as err:                 # one bad file must not stop the batch: record it and go on
            row["status"] = f"{type(err).__name__}: {err}"
        rows.append(row)
    keys = list(dict.fromkeys(k for row in rows for k in row))
    with open(args.out / "summary.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=keys)
        writer.writeheader()
        writer.writerows(rows)
    failed = sum(row["status"] != "ok" for row in rows)
    print(f"{len(rows) - failed} of {len(rows)} images done; summary in {args.out / 'summary.csv'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
