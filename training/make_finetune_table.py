"""Regenerate docs/finetune.md from the JSON files of fine-tuning runs (never typed by hand).

    python -m training.make_finetune_table --record runs/mine/finetune.json runs/mine-test-*.json   # then:
    python -m training.make_finetune_table --results results --out docs/finetune.md

`--record` writes results/finetune/cv-NAME.json: a training.finetune run's finetune.json with the
training.evaluate JSON files of its model under "tests" (kept inside it, so that training.make_results does not
add fine-tuned models to the tables of docs/results.md). The table reads those files and, for the base model,
every training.evaluate JSON under --results. For each fine-tuned model NAME it tabulates its test splits
next to its base model's score on the same split, protocol and style, and the issue's targets: on the
fine-tuning style, at least half of the base model's drop from photo to that style recovered; on the photos,
NSS down by no more than 0.01 (the bar for bundling a fine-tuned model).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from training.finetune import LABELS, METRICS

PHOTO = "photo"
RECOVERY_TARGET = 0.5          # share of the base model's photo → style NSS drop that fine-tuning must win back
PHOTO_TOLERANCE = 0.01         # NSS the photos may lose


def evaluations(results: Path) -> dict[tuple, dict]:
    """{(model, dataset, split, protocol, style): metrics} from every training.evaluate JSON under `results`."""
    found = {}
    for path in sorted(results.rglob("*.json")):
        try:
            data = json.loads(path.read_text())
        except ValueError:
            continue
        if not isinstance(data, dict) or not {"model", "dataset", "split", "protocol", "metrics"} <= set(data):
            continue
        key = (data["model"], data["dataset"], data["split"], data["protocol"], data.get("style") or PHOTO)
        found.setdefault(key, data["metrics"])
    return found


def record(finetune_json: Path, tests: list[Path], results: Path) -> Path:
    """results/finetune/cv-NAME.json from a run's finetune.json and the evaluations of its model."""
    cv = json.loads(finetune_json.read_text())
    cv["tests"] = []
    for path in tests:
        result = json.loads(path.read_text())
        if result.get("model") != cv["name"]:
            raise ValueError(f"{path}: scores '{result.get('model')}', not the fine-tuned model '{cv['name']}'")
        cv["tests"].append(result)
    out = results / "finetune" / f"cv-{cv['name']}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(cv, indent=2) + "\n")
    return out


def run_section(cv: dict, scores: dict[tuple, dict]) -> list[str]:
    name, base, style = cv["name"], cv["model"], cv.get("style") or PHOTO
    for t in cv.get("tests", []):
        scores[(t["model"], t["dataset"], t["split"], t["protocol"], t.get("style") or PHOTO)] = t["metrics"]
    lines = [f"## `{name}`: `{base}` fine-tuned on {cv['n_images']} images of {Path(cv['study']).name}"
             f"{'/' + cv['split'] if cv.get('split') not in (None, 'all') else ''} in the `{style}` style, "
             f"{cv['mode']} mode", "",
             f"Command: `{cv['command']}`; {cv['final_epochs']} epoch(s) on every image for the exported weights "
             f"(the median of the folds' early-stopping epochs).", "",
             f"### Cross-validation on the fine-tuning images ({cv['folds']} folds, each held out once)", "",
             "| fold | test images | best epoch | " + " | ".join(f"{LABELS[m]} before → after" for m in METRICS)
             + " |", "|" + "---|" * (3 + len(METRICS))]
    for row in cv["cross_validation"]:
        cells = [f"{row[f'{m}_before']:.3f} → {row[f'{m}_after']:.3f}" for m in METRICS]
        lines.append(f"| {row['fold']} | {row['n_test']} | {row['best_epoch']} | " + " | ".join(cells) + " |")
    tested = sorted(k for k in scores if k[0] == name)
    if not tested:
        return lines + ["", "No test-split evaluation of this model yet.", ""]
    lines += ["", "### Test splits (`training.evaluate`)", "",
              f"Before: `{base}`; after: `{name}`.", "",
              "| data / protocol | style | " + " | ".join(f"{LABELS[m]} before → after" for m in METRICS) + " |",
              "|" + "---|" * (2 + len(METRICS))]
    for _, dataset, split, protocol, test_style in tested:
        before = scores.get((base, dataset, split, protocol, test_style))
        after = scores[(name, dataset, split, protocol, test_style)]
        cells = [f"{before[m]:.3f} → {after[m]:.3f}" if before else f"– → {after[m]:.3f}" for m in METRICS]
        lines.append(f"| {dataset} {split} / {protocol} | {test_style} | " + " | ".join(cells) + " |")
    lines += ["", "### Targets", ""] + targets(name, base, style, tested, scores) + [""]
    return lines


def targets(name: str, base: str, style: str, tested: list[tuple], scores: dict) -> list[str]:
    lines = []
    for _, dataset, split, protocol, test_style in tested:
        if test_style != style or style == PHOTO:
            continue
        photo = scores.get((base, dataset, split, protocol, PHOTO))
        styled = scores.get((base, dataset, split, protocol, style))
        if not (photo and styled):
            lines.append(f"- {dataset} {split} / {protocol}: the base model's photo and `{style}` scores are missing")
            continue
        drop = photo["nss"] - styled["nss"]
        gained = scores[(name, dataset, split, protocol, style)]["nss"] - styled["nss"]
        share = gained / drop if drop > 0 else float("nan")
        verdict = "meets" if share >= RECOVERY_TARGET else "misses"
        lines.append(f"- {dataset} {split} / {protocol}, `{style}`: base NSS photo {photo['nss']:.3f}, `{style}` "
                     f"{styled['nss']:.3f} (drop {drop:.3f}); fine-tuned {styled['nss'] + gained:.3f}, "
                     f"{share:.0%} of the drop recovered — {verdict} the target ≥ {RECOVERY_TARGET:.0%}.")
        tuned_photo = scores.get((name, dataset, split, protocol, PHOTO))
        if tuned_photo:
            change = tuned_photo["nss"] - photo["nss"]
            verdict = "meets" if change >= -PHOTO_TOLERANCE else "misses"
            lines.append(f"- {dataset} {split} / {protocol}, photos: NSS {photo['nss']:.3f} → "
                         f"{tuned_photo['nss']:.3f} ({change:+.3f}) — {verdict} the bundling bar (no drop "
                         f"> {PHOTO_TOLERANCE}).")
    return lines


def render(results: Path) -> str:
    scores = evaluations(results)
    runs = [json.loads(p.read_text()) for p in sorted((results / "finetune").glob("cv-*.json"))]
    if not runs:
        raise ValueError(f"{results / 'finetune'}: no cv-*.json (copy a training.finetune run's finetune.json there)")
    lines = ["# Fine-tuning on a small gaze study", "",
             "Generated by `python -m training.make_finetune_table` from results/finetune/ and the evaluation "
             "JSON files under results/. Do not edit by hand.", "",
             "`python -m training.finetune` adapts a saliency model to a folder of 10–100 images with fixations "
             "(README, “Fine-tune on your own gaze data”). Here the study is images of a val split (the base "
             "model was not fitted on them; its training only stopped on them) rendered in one painterly test "
             "style, and the test is that style's test split, which fine-tuning never sees. Cross-validation "
             "scores are per-image means over the held-out fold (MIT protocol); “all” pools every held-out image.",
             ""]
    for cv in runs:
        lines += run_section(cv, scores)
    return "\n".join(lines).rstrip() + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--results", default="results")
    parser.add_argument("--out", default="docs/finetune.md")
    parser.add_argument("--record", nargs="+", metavar=("FINETUNE_JSON", "EVALUATE_JSON"),
                        help="store a run's finetune.json with its model's evaluations in RESULTS/finetune/")
    args = parser.parse_args(argv)
    try:
        if args.record:
            print(f"wrote {record(Path(args.record[0]), [Path(p) for p in args.record[1:]], Path(args.results))}")
            return 0
        text = render(Path(args.results))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    Path(args.out).write_text(text)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
