"""The app's Evaluate tab as plain functions: uploaded files read and scored by training.metrics, and drawn by
models.studio.evaluate_tab (the app only wires these to widgets).

    result = score_maps("pred.npy", "fixations.csv", "mit", 24.0)
    result["scores"], result["drawing"], result["note"]       # {metric: value}, RGB, the baselines in words
    result = score_scanpath_upload("painting.jpg", "humans.csv", "spgen", n_samples=5, seed=0)
    result["rows"], result["humans"], result["model"], result["note"]
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from models.studio import evaluate_tab, scanpath_tab
from models.studio.painting import load_painting
from training.metrics.files import describe_baselines, load_fixations_csv, load_map, score_pair
from training.metrics.scanpath_files import read_scanpaths_csv, score_scanpaths

MAP_GT_NOTE = ("A ground-truth map gives CC, KLD, SIM and the GT-weighted NSS / AUC. sAUC and IG need fixations: "
               "upload a fixations CSV (columns x, y) for them. The drawing: the prediction in colour, white lines "
               "around the ground truth's most-looked-at 10 % (thick) and 25 % of the area.")


def score_maps(pred_file, gt_file, protocol: str = "mit", sigma: float = 24.0) -> dict:
    """A predicted map scored against a ground truth (a map, or a fixations CSV: then sAUC and IG too), with a
    drawing of the two and a note naming the baselines. ValueError saying what is wrong with a file."""
    scores = score_pair(pred_file, gt_file, protocol, float(sigma))
    pred = load_map(pred_file)
    if Path(gt_file).suffix.lower() == ".csv":
        height, width = pred.shape
        points = load_fixations_csv(gt_file, (width, height))
        baselines = describe_baselines()
        note = (f"IG (bits per fixation) is measured over {baselines['ig']}. sAUC's negatives: {baselines['sauc']}. "
                f"The drawing: the prediction in colour, the {len(points)} uploaded fixations as white dots.")
        drawing = evaluate_tab.fixations_over_map(pred, points)
    else:
        note = MAP_GT_NOTE
        drawing = evaluate_tab.contours_over_map(pred, load_map(gt_file))
    return {"scores": scores, "drawing": drawing, "note": note}


def score_scanpath_upload(image, humans_csv, model_name: str, n_samples: int = 5, seed: int = 0) -> dict:
    """A scanpath model's sampled paths on an uploaded painting, scored against the human scanpaths of a CSV
    (training.metrics.scanpath_files: columns subject, x, y in the original image's pixels, optional
    duration_ms and order) next to the humans' inter-observer score.

    Returns {"rows": evaluate_tab.scanpath_table rows, "humans": RGB drawing of the human scanpaths,
    "model": RGB drawing of the sampled ones, "note": how they were sampled}. The CSV is read before the model
    runs, so a bad file fails at once with a ValueError naming it (and the line)."""
    painting = load_painting(image)
    humans = read_scanpaths_csv(humans_csv, painting.original_size)
    if model_name not in scanpath_tab.scanpath_models():
        raise ValueError(f"unknown scanpath model '{model_name}'; choose one of "
                         f"{', '.join(scanpath_tab.scanpath_models())}")
    temperature = scanpath_tab.default_temperature(model_name)
    paths = scanpath_tab.sample_scanpaths(painting.rgb, model_name, n_scanpaths=int(n_samples),
                                          temperature=temperature, seed=int(seed))   # the tab's default length
    f = painting.scale                                   # working-copy pixels → the original image's pixels
    scored = [np.column_stack([p[:, :2] * f, p[:, 2]]) for p in paths]
    scores = score_scanpaths(scored, humans, painting.original_size)
    shown = [np.column_stack([h[:, :2] / f, h[:, 2]]) for h in humans.values()]
    note = (f"{model_name} sampled {len(paths)} scanpaths at its default temperature {temperature:g} (seed {seed}); "
            f"{len(humans)} human scanpaths from {Path(humans_csv).name}. MultiMatch needs 3 fixations or more per "
            "path; \"—\" marks a score that is undefined here (e.g. MM duration without durations in the CSV, or "
            "the humans' score with a single subject).")
    return {"rows": evaluate_tab.scanpath_table(scores, model_name, len(paths), len(humans)),
            "humans": scanpath_tab.draw_scanpaths(painting.rgb, shown),
            "model": scanpath_tab.draw_scanpaths(painting.rgb, paths), "note": note}
