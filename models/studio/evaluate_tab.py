"""What the app's Evaluate tab draws and says, as plain functions (the scores themselves come from training:
training/studio_evaluate.py calls these with what it read and measured).

    fixations_over_map(pred, points)        # the predicted map in colour, the uploaded fixations as dots on it
    contours_over_map(pred, gt)             # the predicted map, lines around the ground-truth map's peaks
    scanpath_table(scores, "spgen", 5, 8)   # score_scanpaths' result as rows: the model, then the humans
    model_cards()                           # {model: its card as Markdown}, for every model the app offers
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from models import model_entry
from models.studio.rendering import colorize
from models.weights import ASSETS

DRAWING_SIDE = 480            # small maps (e.g. 40×30) are drawn larger, so the dots and lines can be seen
GT_SHARES = (0.10, 0.25)      # contours around the ground-truth map's most-looked-at 10 % and 25 % of the area
TRAINING_DATA_NOTE = ("The bundled models were trained on photographs with eye tracking (OSIE, MIT1003); no "
                      "painting gaze data exists here — see docs/results.md for how they hold up on painterly "
                      "versions of those photos.")
# score_scanpaths' keys → table columns (↑ higher is better, ↓ lower is better)
SCANPATH_COLUMNS = {"multimatch": "MultiMatch (mean) ↑", "mm_vector": "MM vector ↑", "mm_direction": "MM direction ↑",
                    "mm_length": "MM length ↑", "mm_position": "MM position ↑", "mm_duration": "MM duration ↑",
                    "sequence_score": "SequenceScore ↑", "sed": "SED ↓", "dtw": "DTW (px) ↓"}
MULTIMATCH_PARTS = ("mm_vector", "mm_direction", "mm_length", "mm_position", "mm_duration")


def _enlarged(pred: np.ndarray, colormap: str) -> tuple[np.ndarray, float]:
    """The map in colour (each map to its own peak), enlarged so its short side is at least DRAWING_SIDE;
    (drawing, scale from map pixels to drawing pixels)."""
    h, w = pred.shape
    scale = max(1.0, DRAWING_SIDE / min(h, w))
    drawing = colorize(pred, colormap)
    if scale > 1.0:
        drawing = cv2.resize(drawing, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(drawing), scale


def fixations_over_map(pred: np.ndarray, points: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """RGB drawing: the predicted map (H, W) in colour and the fixations ((N, 2) x, y in the map's pixels) as
    white dots outlined in black, readable on dark and bright places alike."""
    drawing, scale = _enlarged(pred, colormap)
    radius = max(3, round(min(drawing.shape[:2]) / 120))
    for x, y in np.asarray(points, dtype=float)[:, :2] * scale:
        centre = (int(round(x)), int(round(y)))
        cv2.circle(drawing, centre, radius + 1, (0, 0, 0), -1, cv2.LINE_AA)
        cv2.circle(drawing, centre, radius, (255, 255, 255), -1, cv2.LINE_AA)
    return drawing


def contours_over_map(pred: np.ndarray, gt: np.ndarray, colormap: str = "inferno") -> np.ndarray:
    """RGB drawing: the predicted map in colour (resized to the ground truth's shape) and white lines around the
    ground-truth map's most-looked-at GT_SHARES of the area (the thicker line: the top 10 %)."""
    gt = np.asarray(gt, dtype=np.float32)
    h, w = gt.shape
    pred = cv2.resize(np.asarray(pred, dtype=np.float32), (w, h), interpolation=cv2.INTER_LINEAR)
    drawing, scale = _enlarged(pred, colormap)
    gt = cv2.resize(gt, (drawing.shape[1], drawing.shape[0]), interpolation=cv2.INTER_LINEAR)
    thick = max(1, round(min(drawing.shape[:2]) / 250))
    ranked = np.sort(gt.ravel())[::-1]
    for k, share in enumerate(GT_SHARES):
        level = ranked[max(0, int(round(share * ranked.size)) - 1)]
        mask = (gt >= level).astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        cv2.drawContours(drawing, contours, -1, (0, 0, 0), thick * (2 if k == 0 else 1) + 2, cv2.LINE_AA)
        cv2.drawContours(drawing, contours, -1, (255, 255, 255), thick * (2 if k == 0 else 1), cv2.LINE_AA)
    return drawing


def _cell(value: float | None) -> float | str:
    return "—" if value is None or math.isnan(value) else round(float(value), 4)


def _multimatch_mean(scores: dict[str, float]) -> float:
    parts = [scores[k] for k in MULTIMATCH_PARTS if k in scores and not math.isnan(scores[k])]
    return float(np.mean(parts)) if parts else math.nan


def scanpath_table(scores: dict[str, dict[str, float]], model_name: str, n_samples: int,
                   n_subjects: int) -> list[list]:
    """Rows of the scanpath table from training.metrics.scanpath_files.score_scanpaths: first the model's
    sampled paths against every human, then the humans against each other (the reference the model is read
    against). One column per SCANPATH_COLUMNS key; "—" where a score is undefined (e.g. MM duration without
    durations, or the humans with a single subject)."""
    labels = {"model": f"{model_name} ({n_samples} sampled scanpaths vs the humans)",
              "human": f"human inter-observer ({n_subjects} subjects, each vs the others)"}
    rows = []
    for who in ("model", "human"):
        measured = scores[who]
        values = {"multimatch": _multimatch_mean(measured), **measured}
        rows.append([labels[who], *(_cell(values.get(key)) for key in SCANPATH_COLUMNS)])
    return rows


def _without_front_matter(text: str) -> str:
    """A model card's Markdown without its YAML header (the Hub's metadata between '---' lines)."""
    if text.startswith("---"):
        end = text.find("\n---", 3)
        if end != -1:
            return text[end + 4:].lstrip("\n")
    return text


def model_card(name: str) -> str:
    """A model's card (assets/weights/<its folder>/README.md) as Markdown; for a model without one (a baseline
    with no trained weights, or none written), its registry description and a line saying so."""
    entry = model_entry(name)
    card = ASSETS / entry.bundled / "README.md" if entry.bundled else None
    if card is not None and card.is_file():
        return _without_front_matter(card.read_text(encoding="utf-8"))
    return (f"# {name}\n\n{entry.description}\n\nNo model card: this is a baseline without trained weights, "
            "or weights fitted by a script rather than trained (see the Train section of the README).")


def model_cards(names: list[str]) -> dict[str, str]:
    """{name: model_card(name)} in the order given."""
    return {name: model_card(name) for name in names}
