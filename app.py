"""Visual-attention studio: Gradio wiring only. Each tab is built by its own function (`build_overview_tab`, ...,
put together by `build_demo`); each handler calls functions of models/studio/ or training/, and the `handler`
decorator gives them all the same checks, error messages and memory release.

    python app.py            # http://127.0.0.1:7860, or where GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say
"""
from __future__ import annotations

import functools
import html
import inspect
import os
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from models import DEFAULT
from models.api import warm_up
from models.runtime.memory import limit_malloc_arenas, releases_memory
from models.studio import batch, evaluate_tab, gallery, overview_tab, panorama_tab, rendering, saliency_tab, scanpath_tab
from models.studio.files import image_files
from models.studio.painting import LIMITS, file_stem, load_painting
from training import studio_evaluate, study_tab
from training.metrics.files import BASELINES_NOTE

VIEWER_DIR = Path(__file__).resolve().parent / "assets" / "viewer"   # vendored Pannellum 2.5.7 + glue, no CDN
CSS = """
#pano-streams .thumbnail-item { aspect-ratio: 2 / 1; }  /* equirectangular thumbnails */
/* Example paintings: thumbnails with their whole caption, wrapped in rows (one scrolling row on a phone). */
.examples-strip { display: grid; grid-template-columns: repeat(auto-fill, minmax(104px, 1fr)); gap: 6px; }
.examples-strip button.example { display: flex; flex-direction: column; gap: 4px; padding: 4px; cursor: pointer;
    background: var(--block-background-fill); border: 1px solid var(--border-color-primary); border-radius: 6px;
    text-align: left; color: var(--body-text-color); }
.examples-strip button.example:hover, .examples-strip button.example:focus-visible {
    border-color: var(--color-accent); outline: 2px solid var(--color-accent); outline-offset: 1px; }
.examples-strip img { width: 100%; height: 72px; object-fit: cover; border-radius: 4px; }
.examples-strip .example-caption { font-size: 0.78rem; font-weight: normal; line-height: 1.25; white-space: normal;
    overflow-wrap: anywhere; }
/* Compare: every panel whole, in its painting's proportions, wrapped in rows. */
#compare-gallery .grid-wrap { height: auto !important; max-height: none !important; overflow: visible !important;
    padding-top: 28px; }
#compare-gallery .grid-container { grid-template-columns: repeat(auto-fill, minmax(260px, 1fr)) !important;
    grid-auto-rows: auto !important; height: auto !important; }
#compare-gallery .thumbnail-item { aspect-ratio: auto !important; height: auto !important; }
#compare-gallery .thumbnail-item img { width: 100%; height: auto !important; object-fit: contain !important; }
#compare-gallery .caption-label { position: static !important; max-width: none !important; white-space: normal; }
@media (max-width: 640px) {
    /* every tab in the bar, none behind "•••" */
    .tab-wrapper .tab-container button { padding-left: 7px !important; padding-right: 7px !important;
        font-size: 0.9rem !important; min-width: 0 !important; }
    .examples-strip { display: flex; overflow-x: auto; scroll-snap-type: x mandatory; }
    .examples-strip button.example { flex: 0 0 120px; scroll-snap-align: start; }
}
"""
MAX_UPLOAD = os.environ.get("MAX_UPLOAD", "200mb")          # refused above this (tests lower it)
METRIC_LABELS = {"auc_judd": "AUC-Judd ↑", "auc_borji": "AUC-Borji ↑", "sauc": "sAUC ↑", "nss": "NSS ↑",
                 "cc": "CC ↑", "kld": "KLD ↓", "sim": "SIM ↑", "ig": "IG ↑", "auc_weighted": "AUC (GT-weighted) ↑"}
UPLOAD_IMAGE = "Upload an image first."


# ------------------------------------------------------------------------------------------------ handlers

def image_upload(**kwargs) -> gr.Image:
    """An image upload handed to its handler as the uploaded file's path, not decoded by Gradio: the handler reads
    it with models.load_image, which says clearly what is wrong with a bad file. Gradio's own preprocessing opens
    the file with PIL even for type="filepath", so a non-image or a decompression bomb would fail there, before the
    handler, with a bare "Error". This instance's preprocess is replaced rather than the class subclassed: Gradio
    writes a copy of the defining module as a .pyi stub next to every component subclass when it is imported (a
    duplicate of app.py, and a crash where the app's folder is read-only)."""
    component = gr.Image(type="filepath", sources=["upload", "clipboard"], **kwargs)
    decode = component.preprocess

    def preprocess(payload):
        if payload is not None and payload.path is None and (payload.url or "").startswith("data:"):
            return decode(payload)                     # a base64 data URL (API clients): Gradio writes the file
        return None if payload is None else payload.path

    component.preprocess = preprocess
    return component


def _missing(value) -> bool:
    """No input given: nothing uploaded (None) or an empty selection. An array is an upload, whatever it holds."""
    return value is None or (isinstance(value, (str, list, tuple, dict)) and not value)


def handler(needs: dict[str, str] | None = None, skip_without: str | None = None,
            errors: tuple[type[Exception], ...] = (ValueError,)):
    """Decorator for every event handler.

    needs: {parameter: message}; a missing input (`_missing`) stops the call with that message.
    skip_without: a parameter whose absence leaves the outputs as they are (gr.skip()), e.g. a restyle before any
        prediction.
    errors: exceptions that carry a message for the user (the studio functions raise ValueError saying what is
        wrong with an input); they become gr.Error without a traceback in the log. Anything else is a bug and
        reaches Gradio as it is.
    Freed memory goes back to the system after every call (models.runtime.memory.releases_memory)."""
    needs = needs or {}

    def wrap(fn):
        signature = inspect.signature(fn)
        unknown = (set(needs) | {skip_without} - {None}) - set(signature.parameters)
        if unknown:
            raise TypeError(f"{fn.__name__} has no parameter {', '.join(sorted(unknown))}")

        @releases_memory
        @functools.wraps(fn)              # Gradio reads the signature (gr.Progress) through __wrapped__
        def run(*args, **kwargs):
            given = signature.bind_partial(*args, **kwargs).arguments
            if skip_without is not None and _missing(given.get(skip_without)):
                return gr.skip()
            for name, message in needs.items():
                if _missing(given.get(name)):
                    raise gr.Error(message, print_exception=False)
            try:
                return fn(*args, **kwargs)
            except errors as err:
                raise gr.Error(str(err), print_exception=False) from err
        return run
    return wrap


def _same_style(state: dict, *style) -> bool:
    """Whether a tab's state is already drawn with these settings (colormap, opacity, ...)."""
    return list(state.get("style") or []) == [float(v) if isinstance(v, (int, float)) else v for v in style]


def _saliency_views(state: dict, colormap: str, opacity: float, scale: str, painting=None):
    """(overlay, heatmap, (painting, overlay)) files of the Saliency tab's state. The overlay shown (and its
    download) is at the original painting's size when that was downscaled for the model; the slider shows the
    working copy."""
    model, stem = state["model"], state["stem"]
    over, heat = saliency_tab.render(state, colormap, opacity, scale, [model])[model]
    names = {"overlay": f"{stem}-overlay-{model}", "map": f"{stem}-map-{model}"}
    images = {names["overlay"]: over, names["map"]: heat}
    full = saliency_tab.full_size_overlay(state, model, colormap, opacity, scale, painting)
    if full is not None:
        names["full"] = f"{stem}-overlay-{model}-{full.shape[1]}x{full.shape[0]}"
        images[names["full"]] = full
    files = image_files("saliency-", images)
    shown = files[names.get("full", names["overlay"])]
    return shown, files[names["map"]], (state["painting_file"], files[names["overlay"]])


def _saliency_info(model_name: str, note: str = "") -> str:
    notice = saliency_tab.model_notice(model_name)
    return (f"**{model_name}** — {saliency_tab.describe(model_name)}" + (f"\n\n⚠️ {notice}" if notice else "")
            + (f"\n\n<small>{note}</small>" if note else ""))


@handler(needs={"image": UPLOAD_IMAGE})
def run_saliency(image, model_name, colormap, opacity, scale=None):
    scale = scale or "peak"                     # the colour scale (rendering.SCALES); API calls get "peak"
    rendering.check_style(colormap, opacity, scale)
    painting = load_painting(image)                                  # decode the upload once (downscaled if huge)
    density = saliency_tab.predict(painting, model_name)
    state = saliency_tab.save_state(painting, {model_name: density}, preview=True)
    state.update(model=model_name, style=[colormap, float(opacity), scale])
    over, heat, slider = _saliency_views(state, colormap, opacity, scale, painting)
    png, npy = saliency_tab.save_map_files(density, f"{painting.stem}-saliency-{model_name}", painting.output_size)
    return over, heat, slider, [png, npy], _saliency_info(model_name, painting.note()), state


@handler(skip_without="state")
def restyle_saliency(state, colormap, opacity, scale):
    """The last result redrawn in new colours (no inference); nothing when it is already drawn so."""
    if _same_style(state, colormap, opacity, scale):
        return gr.skip()
    rendering.check_style(colormap, opacity, scale)
    return *_saliency_views(state, colormap, opacity, scale), {**state, "style": [colormap, float(opacity), scale]}


def _compare_panels(state: dict, colormap: str, opacity: float, scale: str) -> list[tuple[str, str]]:
    views = saliency_tab.render(state, colormap, opacity, scale)
    stem = state["stem"]
    paths = image_files("compare-", {f"{stem}-compare-{m}": over for m, (over, _) in views.items()})
    return [(paths[f"{stem}-compare-{m}"], m) for m in views]


@handler(needs={"image": UPLOAD_IMAGE, "model_names": "Pick at least one model to compare."})
def run_compare(image, model_names, colormap, opacity, scale=None):
    scale = scale or "peak"
    rendering.check_style(colormap, opacity, scale)
    painting = load_painting(image)
    maps = {m: saliency_tab.predict(painting, m) for m in model_names}
    state = saliency_tab.save_state(painting, maps)
    state.update(style=[colormap, float(opacity), scale])
    return _compare_panels(state, colormap, opacity, scale), state


@handler(skip_without="state")
def restyle_compare(state, colormap, opacity, scale):
    if _same_style(state, colormap, opacity, scale):
        return gr.skip()
    rendering.check_style(colormap, opacity, scale)
    return _compare_panels(state, colormap, opacity, scale), {**state, "style": [colormap, float(opacity), scale]}


@handler(needs={"image": "Upload an image first (or click one of the example paintings)."})
def run_overview(image, n_scanpaths, temperature, seed):
    result = overview_tab.painting_overview(image, temperature=float(temperature), n_scanpaths=int(n_scanpaths),
                                            seed=int(seed))
    m, stem = result["models"], result["stem"]
    files = image_files("overview-", {f"{stem}-attention": result["overlay"], f"{stem}-scanpaths": result["scanpaths"]})
    note = (f"\n\n<small>Saliency: **{m['saliency']}**; scanpaths: **{m['scanpath']}** at temperature "
            f"{m['temperature']:g}.{' ' + result['note'] if result['note'] else ''}</small>")
    return files[f"{stem}-attention"], files[f"{stem}-scanpaths"], result["rows"], result["reading"] + note


BATCH_TABLE = ("image", "status", "note", "width", "height", "runtime_ms", "peak_x", "peak_y", "entropy", "top_10")
BOTH_FILES = "Upload both a predicted map and a ground truth (a map or a fixations CSV)."


@handler(needs={"pred_file": BOTH_FILES, "gt_file": BOTH_FILES}, errors=(ValueError, OSError))
def run_evaluate(pred_file, gt_file, protocol, sigma):
    result = studio_evaluate.score_maps(pred_file, gt_file, protocol, float(sigma))
    table = [[METRIC_LABELS.get(k, k), round(v, 4)] for k, v in result["scores"].items()]
    name = f"{file_stem(pred_file, 'prediction')}-vs-{file_stem(gt_file, 'ground-truth')}"
    return table, image_files("evaluate-", {name: result["drawing"]})[name], result["note"]


HUMAN_SCANPATHS = "Upload a painting and a CSV of human scanpaths (columns subject, x, y; optional duration_ms, order)."


@handler(needs={"image": HUMAN_SCANPATHS, "humans_csv": HUMAN_SCANPATHS}, errors=(ValueError, OSError))
def run_evaluate_scanpaths(image, humans_csv, model_name, n_samples, seed):
    result = studio_evaluate.score_scanpath_upload(image, humans_csv, model_name, int(n_samples), int(seed))
    stem = file_stem(image)
    files = image_files("evaluate-scanpaths-", {f"{stem}-human-scanpaths": result["humans"],
                                                f"{stem}-{model_name}-scanpaths": result["model"]})
    return result["rows"], files[f"{stem}-human-scanpaths"], files[f"{stem}-{model_name}-scanpaths"], result["note"]


@handler(needs={"files": f"Upload images or a .zip of them ({batch.LIMITS})."}, errors=(ValueError, OSError))
def run_batch(files, model_name, progress=gr.Progress()):
    paths = [str(f) for f in (files if isinstance(files, list) else [files])]
    result = batch.run_batch(paths, model_name,
                             progress=lambda done, total, name: progress((done, total), desc=f"images ({name})"))
    done = sum(row["status"] == "ok" for row in result["rows"])
    skipped = len(result["rows"]) - done
    table = [[row.get(c, "") for c in BATCH_TABLE] for row in result["rows"]]
    note = f"**{model_name}**: {done} maps" + (f"; {skipped} files skipped (listed in the summary)" if skipped else "")
    return [result["zip"], result["summary"]], table, note


@handler(needs={"image": UPLOAD_IMAGE})
def run_scanpaths(image, model_name, n_scanpaths, temperature, viewing_time_s, seed, show_saliency):
    painting = load_painting(image)
    drawing, gif, json_path, csv_path, rows = scanpath_tab.scanpath_view(
        painting, model_name, int(n_scanpaths), float(temperature), float(viewing_time_s), int(seed),
        bool(show_saliency))
    table = [[r["scanpath"], r["order"], r["x"], r["y"], r["duration_ms"]] for r in rows]
    name = f"{painting.stem}-scanpaths"
    return image_files("scanpaths-", {name: drawing})[name], gif, [json_path, csv_path], table


def _file_url(path) -> str:
    """URL of a file under a static path; relative, so it also works behind a proxy's root path."""
    return f"gradio_api/file={Path(path).resolve()}"


def _panorama_views(rgb: np.ndarray, streams: dict[str, np.ndarray], stream: str, colormap: str, opacity: float,
                    scale: str = "peak", with_panels: bool = True, stem: str = "panorama", view: str = ""):
    """(gallery panels as (file, label) or None, viewer texture URL) of a panorama and its streams. `view`
    (panorama_tab.viewer_fragment) follows the URL's '#': where the viewer opens and its hotspots."""
    panels = None
    if with_panels:
        images = panorama_tab.stream_images(rgb, streams, colormap, opacity, scale=scale)
        names = [f"{stem}-{name}" for name in streams]
        paths = image_files("panorama-", {n: image for n, (image, _) in zip(names, images)})
        panels = [(paths[n], label) for n, (_, label) in zip(names, images)]
    density = streams[panorama_tab.chosen_stream(streams, stream)]
    url = _file_url(panorama_tab.viewer_texture(rgb, density, opacity, colormap, scale=scale))
    return panels, f"{url}#{view}" if view else url


def _saved_panorama_views(state: dict, stream: str, colormap: str, opacity: float, scale: str = "peak",
                          with_panels: bool = True):
    """`_panorama_views` of a 360° tab state (panorama_tab.compact_state); ValueError once it has expired."""
    rgb = panorama_tab.state_image(state)
    return _panorama_views(rgb, panorama_tab.state_streams(state, rgb.shape[:2]), stream, colormap, opacity, scale,
                           with_panels, state.get("stem", "panorama"), state.get("view", ""))


@handler(needs={"image": "Upload an equirectangular panorama (2:1) first."})
def run_panorama(image, model_name, stream, colormap, opacity, scale=None):
    scale = scale or "peak"                     # the colour scale (rendering.SCALES); API calls get "peak"
    rendering.check_style(colormap, opacity, scale)
    rgb = panorama_tab.prepare_panorama(image)
    streams = panorama_tab.panorama_streams(rgb, model_name)
    stream = panorama_tab.chosen_stream(streams, stream)
    stem = file_stem(image, "panorama")
    # The viewer opens at the overall map's strongest peak (the model's first stream) and marks its top 3; a new
    # id per prediction, so a new panorama (or a new model) opens there, while restyles keep the visitor's view.
    peaks = panorama_tab.map_peaks(next(iter(streams.values())))
    view = panorama_tab.viewer_fragment(peaks)
    panels, viewer = _panorama_views(rgb, streams, stream, colormap, opacity, scale, stem=stem, view=view)  # in memory
    state = panorama_tab.compact_state(rgb, streams)                                # kept for restyling only
    state.update(stem=stem, model=model_name, style=[stream, colormap, float(opacity), scale], view=view)
    h, w = rgb.shape[:2]
    looks = "; ".join(f"yaw {y:g}°, pitch {p:g}°" for y, p in peaks) or "none (the map does not vary with yaw)"
    info = (f"**{model_name}** — {saliency_tab.describe(model_name)}\n\nStreams: "
            f"{', '.join(panorama_tab.stream_label(s) for s in streams)} ({w}×{h}). "
            f"Strongest peaks (viewer hotspots): {looks}.")
    return panels, viewer, gr.Radio(choices=panorama_tab.stream_choices(streams), value=stream), state, info


@handler(skip_without="state")
def restyle_viewer(state, stream, colormap, opacity, scale="peak"):
    return _saved_panorama_views(state, stream, colormap, opacity, scale, with_panels=False)[1]


@handler(skip_without="state")
def restyle_panorama(state, stream, colormap, opacity, scale="peak"):
    """Panels, viewer and state redrawn in new colours (no inference); nothing when already drawn so."""
    stream = panorama_tab.chosen_stream(dict.fromkeys(state["streams"]), stream)
    if _same_style(state, stream, colormap, opacity, scale):
        return gr.skip()
    rendering.check_style(colormap, opacity, scale)
    panels, viewer = _saved_panorama_views(state, stream, colormap, opacity, scale)
    return panels, viewer, {**state, "style": [stream, colormap, float(opacity), scale]}


@handler(needs={"video": "Upload an equirectangular video (2:1) first."}, errors=(ValueError, RuntimeError))
def run_panorama_video(video, model_name, colormap, opacity, max_frames, fps, progress=gr.Progress()):
    videos = panorama_tab.process_video(video, model_name, max_frames=int(max_frames), fps=float(fps),
                                        colormap=colormap, opacity=opacity,
                                        progress=lambda done, total: progress((done, total), desc="frames"))
    clip = panorama_tab.probe_video(next(iter(videos.values())))
    note = ("" if panorama_tab.browser_playable()
            else " — this OpenCV build writes mp4v: download the videos to play them")
    return *panorama_tab.video_players(videos), (
        f"**{model_name}**: {', '.join(videos)} — {clip['frames']} frames at {clip['fps']:g} fps, "
        f"{clip['width']}×{clip['height']}{note}")


@handler(skip_without="video", errors=(ValueError, RuntimeError))
def preview_video(video, progress=gr.Progress()):
    """The uploaded video as browsers play it: the file itself, or an H.264 copy when its codec is one they
    refuse (processing reads the upload itself)."""
    return panorama_tab.playable_upload(
        video, progress=lambda done, total: progress((done, total), desc="preparing the preview"))


# ------------------------------------------------------------------------------------------------ study (AOIs)

@handler()
def study_show(image, aois, points):
    """The drawing surface (the painting, its AOIs, the points being placed) and what is wrong in the table."""
    if _missing(image):
        return None, "Upload a painting (or click an example), then click on it to draw areas of interest."
    preview, problems = study_tab.draw_preview(image, aois, points)
    count = len(study_tab.table_rows(aois))
    placing = f" · {len(points)} point(s) placed: name the area and press **Add area**." if points else ""
    lines = [f"{count} area(s) of interest{placing}"] + [f"⚠️ {p}" for p in problems]
    return preview, "\n\n".join(lines)


@handler(needs={"image": UPLOAD_IMAGE})
def study_click(image, points, evt: gr.SelectData):
    return study_tab.click_point(image, points, evt.index)


@handler(needs={"image": UPLOAD_IMAGE})
def study_add(image, aois, points, name):
    size = study_tab.painting_of(image).original_size
    return study_tab.add_area(aois, points, name, size), [], ""


def study_suggestion(kind: str):
    @handler(needs={"image": UPLOAD_IMAGE})
    def suggest(image, aois):
        return study_tab.suggest(kind, image, aois)
    return suggest


@handler(needs={"image": UPLOAD_IMAGE}, errors=(ValueError, OSError))
def study_import(aoi_file, image, aois):
    return study_tab.import_file(aoi_file, image, aois)


@handler(needs={"image": UPLOAD_IMAGE})
def study_export(image, aois):
    return study_tab.export_files(aois, image)


@handler(needs={"image": UPLOAD_IMAGE}, errors=(ValueError, OSError))
def run_study(image, aois, model_name, n_viewers, viewing_time_s, seed, study_file, study_kind, column_mapping,
              screen, progress=gr.Progress()):
    report = study_tab.run_study(image, aois, model_name, n_viewers, viewing_time_s, seed, study_file, study_kind,
                                 column_mapping, screen, progress=progress)
    return (report["rows"], report["chart"], report["transitions"], report["files"], report["comparison"] or None,
            report["overlay"], report["scores"] or None, report["note"])


# ------------------------------------------------------------------------------------------------ clearing

def clears(triggers: list, outputs: list, runs: list, cue_output=None, cue: str = "", when=None,
           cancel: bool = True) -> None:
    """Every trigger (a component's event method, e.g. `seed.change`) empties `outputs` at once and, with
    `cancel`, cancels `runs` (the tab's pending requests, whose answer would no longer match the controls);
    `cue_output`, if given, then says `cue` when the input `when` holds something (e.g. "press Predict").
    New uploads clear without cancelling: a request sent just as an upload finished can reach the server before
    the upload's change event, and must not be cancelled by it; `fresh_click` clears an answer that no longer
    matches instead."""
    def clear(*given):
        cue_text = cue if cue and (when is None or not _missing(given[0] if given else None)) else ""
        return [None] * len(outputs) + ([cue_text] if cue_output is not None else [])
    targets = [*outputs, *([cue_output] if cue_output is not None else [])]
    for trigger in triggers:
        trigger(clear, [when] if when is not None else None, targets, cancels=runs if cancel else None,
                queue=False, show_progress="hidden", api_visibility="private")


def _keys(*values) -> list:
    """The values of a request's inputs in a comparable, storable form (file paths as strings)."""
    return [v if v is None or isinstance(v, (bool, int, float)) else str(v) for v in values]


def fresh_click(button, fn, inputs: list, outputs: list, guarded: list | None = None, cue_output=None,
                cue: str = "", fresh_cue: str | None = None, watch: list | None = None, **listener):
    """`button.click(fn, inputs, outputs, **listener)`, guarded against answering for inputs that changed while
    it ran: the inputs are noted first (in the same chain, so always before the answer), and after the answer
    `guarded` (default: `outputs`) is cleared, with `cue` in `cue_output`, unless the inputs are still the same
    (then `cue_output` says `fresh_cue`, when given). `watch`: the inputs compared (default: all; restyled
    controls are left out, their change redraws the answer). Returns (the request's event, the check's
    event)."""
    asked = gr.State(None)
    watch = inputs if watch is None else watch
    run = button.click(_keys, watch, asked, queue=False, show_progress="hidden", api_visibility="private").then(
        fn, inputs, outputs, **listener)
    guarded = outputs if guarded is None else guarded
    targets = [*guarded, *([cue_output] if cue_output is not None else [])]

    def check(asked_keys, *now):
        if asked_keys is None or _keys(*now) == list(asked_keys):
            return gr.skip() if fresh_cue is None or cue_output is None else [gr.skip()] * len(guarded) + [fresh_cue]
        return [None] * len(guarded) + ([cue] if cue_output is not None else [])
    return run, run.then(check, [asked, *watch], targets, show_progress="hidden", api_visibility="private")


# ------------------------------------------------------------------------------------------------ tabs

def _default(task: str, names: list[str]) -> str:
    return DEFAULT[task] if DEFAULT[task] in names else names[0]


def local_example(component, filename: str):
    """Show `filename` (a file of the caller's own) as this input's example on the API page, instead of Gradio's
    sample file from the internet (a PDF for every gr.File)."""
    example = {"path": filename, "url": filename, "orig_name": filename, "meta": {"_type": "gradio.FileData"}}
    component.example_payload = lambda: dict(example)
    component.example_value = lambda: filename
    return component


EXAMPLES_JS = """element.querySelectorAll('button.example').forEach((button) => {
    button.addEventListener('click', () => trigger('select', {index: Number(button.dataset.index),
                                                               value: button.dataset.title}));
});"""


def examples_html(paintings: list[dict]) -> str:
    """The example paintings as buttons: a thumbnail and its whole caption (title — artist, year), named for
    screen readers by that caption."""
    buttons = "".join(
        f'<button type="button" class="example" data-index="{i}" data-title="{html.escape(e["title"])}" '
        f'aria-label="Load the example painting {html.escape(e["label"])}">'
        f'<img src="{_file_url(e["path"])}" alt="" loading="lazy">'
        f'<span class="example-caption">{html.escape(e["label"])}</span></button>' for i, e in enumerate(paintings))
    return f'<div class="examples-strip" role="group" aria-label="Example paintings">{buttons}</div>'


def painting_input(examples: list[dict], prefix: str) -> gr.Image:
    """A tab's painting upload (rendered later, in its column) with the example paintings above it."""
    image = local_example(image_upload(label="Painting or photo", elem_id=f"{prefix}-image", render=False),
                          "painting.jpg")
    painting_examples(examples, image, f"{prefix}-examples")
    return image


def painting_examples(examples: tuple[list[dict], str], target: gr.Image, elem_id: str) -> None:
    """The example paintings as captioned thumbnails; a click loads one into `target`. Or a line saying why there
    are none. Put at the top of a tab, where a visitor starts."""
    paintings, message = examples
    if paintings:
        gr.Markdown("**Example paintings** (public domain) — click one to load it, or upload your own below.",
                    elem_classes="examples-title")
        thumbs = gr.HTML(examples_html(paintings), elem_id=elem_id, js_on_load=EXAMPLES_JS, padding=False)

        def pick(evt: gr.SelectData) -> str:
            return paintings[int(evt.index)]["path"]

        thumbs.select(pick, None, target, api_visibility="private", show_progress="hidden")
    if message:
        gr.Markdown(f"<small>{message}</small>", elem_classes="examples-message")


LIMITS_NOTE = f"<small>Large scans are fine: {LIMITS}.</small>"


def build_overview_tab(examples: tuple[list[dict], str]) -> None:
    with gr.Tab("Overview"):
        gr.Markdown("One painting, every view: where attention goes (the best saliency model), a few sampled "
                    "scanpaths, and numbers that summarise the map, read out in plain words.")
        image = painting_input(examples, "ov")
        with gr.Row():
            with gr.Column():
                image.render()
                gr.Markdown(LIMITS_NOTE)
                count = gr.Slider(1, scanpath_tab.MAX_SCANPATHS, value=3, step=1,
                                  label="Scanpaths to draw (the reading counts 20 viewers)", elem_id="ov-count")
                temperature = gr.Slider(0.0, 1.0, value=scanpath_tab.default_temperature(DEFAULT["scanpath"]),
                                        step=0.05, label="Viewer variability (temperature)",
                                        info=scanpath_tab.VARIABILITY_NOTE, elem_id="ov-temperature")
                seed = gr.Number(0, precision=0, label="Seed", elem_id="ov-seed")
                go = gr.Button("Look at this painting", variant="primary", elem_id="ov-go")
            with gr.Column():
                reading = gr.Markdown(label="Reading", elem_id="ov-reading")
                table = gr.Dataframe(headers=["statistic", "value"], label="Attention statistics",
                                     interactive=False, wrap=True, column_widths=["62%", "38%"], elem_id="ov-table")
        with gr.Row():
            with gr.Column():
                overlay = gr.Image(label="Where people look (predicted attention over the painting)",
                                   type="numpy", interactive=False, elem_id="ov-overlay")
                gr.HTML(rendering.legend_html("inferno"))
            paths = gr.Image(label="Sampled scanpaths (numbered fixations, circle area ∝ duration)",
                             type="numpy", interactive=False, elem_id="ov-scanpaths")
        again = "The painting or the settings changed while it ran: press **Look at this painting** again."
        run, _ = fresh_click(go, run_overview, [image, count, temperature, seed], [overlay, paths, table, reading],
                             [overlay, paths, table], reading, again, api_name="overview")
        clears([image.change], [overlay, paths, table], [run], reading,
               "New painting: press **Look at this painting**.", when=image, cancel=False)
        clears([count.change, temperature.change, seed.change], [overlay, paths, table], [run], reading,
               "Settings changed: press **Look at this painting** again.", when=image)


def build_saliency_tab(examples: tuple[list[dict], str]) -> None:
    models = saliency_tab.upload_models()
    with gr.Tab("Saliency"):
        gr.Markdown("A saliency map is a probability distribution over the image: the share of viewers' "
                    "fixations each place is predicted to receive. Brighter colours mean more attention.")
        image = painting_input(examples, "sal")
        state = gr.State(None)
        with gr.Row():
            with gr.Column():
                image.render()
                gr.Markdown(LIMITS_NOTE)
                model = gr.Dropdown(models, value=_default("saliency", models), label="Model", elem_id="sal-model")
                colormap = gr.Dropdown(list(rendering.COLORMAPS), value="inferno", label="Colormap",
                                       elem_id="sal-colormap")
                opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity", elem_id="sal-opacity")
                scale = gr.Radio([(label, key) for key, label in rendering.SCALES.items()], value="peak",
                                 label="Colour scale", elem_id="sal-scale")
                # The scale reaches /saliency and /compare as a session state, not as an API input: their
                # documented inputs stay the four they always had (a raw REST call sends exactly those).
                scale_now = gr.State("peak")
                scale.change(lambda value: value, scale, scale_now, queue=False, show_progress="hidden",
                             api_visibility="private")
                go = gr.Button("Predict saliency", variant="primary")
            with gr.Column():
                overlay = gr.Image(label="Heatmap overlay", type="numpy", interactive=False, elem_id="overlay")
                legend = gr.HTML(rendering.legend_html("inferno"), elem_id="legend")
                info = gr.Markdown(label="Model", elem_id="sal-info")
        with gr.Row():
            heatmap = gr.Image(label="Saliency map", type="numpy", interactive=False, elem_id="sal-heatmap")
            slider = gr.ImageSlider(label="Before / after", type="numpy", interactive=False, elem_id="sal-slider")
        files = gr.File(label="Download the map (16-bit PNG at the painting's size; .npy: the density at the size "
                        "the model saw)", file_count="multiple", interactive=False, elem_id="sal-files")
        views = [overlay, heatmap, slider]
        again = "The painting or the model changed while it ran: press **Predict saliency** again."
        run, checked = fresh_click(go, run_saliency, [image, model, colormap, opacity, scale_now],
                                   [*views, files, info, state], [*views, files, state], info, again,
                                   watch=[image, model], api_name="saliency")
        style = [state, colormap, opacity, scale]
        checked.then(restyle_saliency, style, [*views, state], api_visibility="private", show_progress="hidden")
        colormap.input(restyle_saliency, style, [*views, state], api_visibility="private")
        scale.input(restyle_saliency, style, [*views, state], api_visibility="private")
        opacity.release(restyle_saliency, style, [*views, state], api_visibility="private")

        gr.Markdown("### Compare models side by side\nEvery model on the same painting. With the **shared** "
                    "colour scale the same colour means the same share of attention in every panel.")
        compare_models = gr.CheckboxGroup(models, value=models, label="Models to compare", elem_id="compare-models")
        compare = gr.Button("Compare")
        compare_state = gr.State(None)
        panels = gr.Gallery(label="Side by side", columns=3, height="auto", object_fit="contain",
                            allow_preview=True, elem_id="compare-gallery")
        compare_legend = gr.HTML(rendering.legend_html("inferno"), elem_id="compare-legend")
        compared, checked = fresh_click(compare, run_compare, [image, compare_models, colormap, opacity, scale_now],
                                        [panels, compare_state], watch=[image, compare_models], api_name="compare")
        compare_style = [compare_state, colormap, opacity, scale]
        checked.then(restyle_compare, compare_style, [panels, compare_state], api_visibility="private",
                     show_progress="hidden")
        colormap.input(restyle_compare, compare_style, [panels, compare_state], api_visibility="private")
        scale.input(restyle_compare, compare_style, [panels, compare_state], api_visibility="private")
        opacity.release(restyle_compare, compare_style, [panels, compare_state], api_visibility="private")
        for control in (colormap, scale):
            control.change(rendering.legend_html, [colormap, scale], legend, queue=False, show_progress="hidden",
                           api_visibility="private")
            control.change(rendering.legend_html, [colormap, scale], compare_legend, queue=False,
                           show_progress="hidden", api_visibility="private")

        clears([image.change], [*views, files, state, panels, compare_state], [run, compared], info,
               "New painting: press **Predict saliency**.", when=image, cancel=False)
        clears([model.change], [*views, files, state], [run], info,
               "Model changed: press **Predict saliency** to see its map.", when=image)
        clears([compare_models.change], [panels, compare_state], [compared])


def build_scanpath_tab(examples: tuple[list[dict], str]) -> None:
    models = scanpath_tab.scanpath_models()
    default = _default("scanpath", models)
    with gr.Tab("Scanpaths"):
        gr.Markdown("In what order, and for how long, do people look? Each colour is one sampled scanpath: "
                    "numbered circles are fixations (area ∝ duration), arrows the saccades between them. "
                    "Each scanpath is one virtual viewer looking for the viewing time: how many fixations "
                    "fit follows from how long each lasts. The viewer variability (temperature) sets how much "
                    "the viewers differ from each other, as people do.")
        image = painting_input(examples, "sp")
        with gr.Row():
            with gr.Column():
                image.render()
                gr.Markdown(LIMITS_NOTE)
                model = gr.Dropdown(models, value=default, label="Scanpath model", elem_id="sp-model")
                temperature = gr.Slider(0.0, 1.0, value=scanpath_tab.default_temperature(default), step=0.05,
                                        label="Viewer variability (temperature)", elem_id="sp-temperature",
                                        info=scanpath_tab.VARIABILITY_NOTE)
                count = gr.Slider(1, scanpath_tab.MAX_SCANPATHS, value=3, step=1, label="Number of scanpaths",
                                  elem_id="sp-count")
                viewing_time = gr.Slider(1, scanpath_tab.MAX_VIEWING_TIME_S, value=scanpath_tab.DEFAULT_VIEWING_TIME_S,
                                         step=0.5, label="Viewing time (s)", elem_id="sp-viewing-time",
                                         info="The eye-tracking studies the models learned from showed each "
                                              "image for 3 s; a museum visitor looks at a painting for ~30 s.")
                seed = gr.Number(0, precision=0, label="Seed (the same seed gives the same scanpaths)",
                                 elem_id="sp-seed")
                show_saliency = gr.Checkbox(False, label="Draw over the saliency map", elem_id="sp-show-saliency",
                                            info=f"Shows {scanpath_tab.MAP_CAPTION}.")
                go = gr.Button("Sample scanpaths", variant="primary")
            with gr.Column():
                drawing = gr.Image(label="Scanpaths", type="numpy", interactive=False, elem_id="sp-drawing")
                gif = gr.Image(label="The gaze moving (GIF)", type="filepath", interactive=False, elem_id="sp-gif")
                status = gr.Markdown(elem_id="sp-status")
        files = gr.File(label="Download (JSON, CSV: x, y in the original image's pixels, duration_ms, order)",
                        file_count="multiple", interactive=False, elem_id="sp-files")
        table = gr.Dataframe(headers=["scanpath", "order", "x", "y", "duration_ms"], label="Fixations",
                             interactive=False, elem_id="sp-table")
        model.change(scanpath_tab.default_temperature, model, temperature, api_visibility="private")
        outputs = [drawing, gif, files, table]
        run, _ = fresh_click(go, run_scanpaths, [image, model, count, temperature, viewing_time, seed, show_saliency],
                             outputs, None, status,
                             "The painting or the settings changed while it ran: press **Sample scanpaths** again.", "",
                             api_name="scanpaths")
        clears([image.change], outputs, [run], status, "New painting: press **Sample scanpaths**.", when=image,
               cancel=False)
        clears([model.change, count.change, temperature.change, viewing_time.change, seed.change,
                show_saliency.change], outputs, [run], status,
               "Settings changed: press **Sample scanpaths** again.", when=image)


def build_study_tab(examples: tuple[list[dict], str]) -> None:
    models = scanpath_tab.scanpath_models()
    with gr.Tab("Study"):
        gr.Markdown("A virtual eye-tracking study: draw areas of interest (AOIs) on the painting, let sampled "
                    "viewers look at it, and read the metrics an eye-tracking study reports per area. Click on "
                    "the painting to place points: two opposite corners make a rectangle, three or more a polygon.")
        image = painting_input(examples, "st")
        points = gr.State([])
        with gr.Row():
            with gr.Column():
                image.render()
                gr.Markdown(LIMITS_NOTE)
            with gr.Column():
                preview = gr.Image(label="Click to place points (areas of interest outlined)", type="numpy",
                                   interactive=False, elem_id="st-preview")
                aoi_note = gr.Markdown(elem_id="st-aoi-note")
                with gr.Row():
                    name = gr.Textbox(label="Area name", placeholder="e.g. face", elem_id="st-name", scale=2)
                    add = gr.Button("Add area", variant="primary", elem_id="st-add", scale=1)
                with gr.Row():
                    undo = gr.Button("Undo point", size="sm", elem_id="st-undo")
                    clear_points = gr.Button("Clear points", size="sm", elem_id="st-clear")
        aois = gr.Dataframe(headers=study_tab.COLUMNS, datatype="str", type="array", interactive=True,
                            column_count=3, label="Areas of interest (edit freely: points "
                            "are 'x y; x y; …' in the painting's pixels, a rectangle by two opposite corners)",
                            elem_id="st-aois")
        with gr.Row():
            grid = gr.Button("Suggest a 3×3 grid", size="sm", elem_id="st-grid")
            salient = gr.Button("Suggest salient regions", size="sm", elem_id="st-salient")
            faces = gr.Button("Suggest faces", size="sm", elem_id="st-faces")
            aoi_file = gr.UploadButton("Import AOIs (JSON, CSV)", file_types=[".json", ".csv"], size="sm",
                                       elem_id="st-import")
            export = gr.Button("Export AOIs (JSON, CSV)", size="sm", elem_id="st-export")
        exported = gr.File(label="AOIs", file_count="multiple", interactive=False, elem_id="st-exported")
        with gr.Row():
            model = gr.Dropdown(models, value=study_tab.AOI_MODEL if study_tab.AOI_MODEL in models else models[0],
                                label="Viewers sampled by", elem_id="st-model")
            viewers = gr.Slider(study_tab.MIN_VIEWERS, study_tab.MAX_VIEWERS, value=study_tab.DEFAULT_VIEWERS,
                                step=1, label="Viewers", elem_id="st-viewers")
            viewing_time = gr.Slider(study_tab.MIN_TIME_S, study_tab.MAX_TIME_S, value=3, step=0.5,
                                     label="Viewing time (s)", elem_id="st-viewing-time")
            seed = gr.Number(0, precision=0, label="Seed", elem_id="st-seed")
        with gr.Accordion("Compare with a real study", open=False, elem_id="st-real"):
            gr.Markdown("Upload the study of this painting, then run: its metrics appear beside the predicted "
                        "ones. Fixations: our layout (subject, x, y, duration_ms) or any CSV with a column "
                        "mapping; raw gaze samples (participant, time_ms, x, y) or an EyeLink .asc: fixations are "
                        "found with pymovements' I-DT.")
            with gr.Row():
                study_file = local_example(gr.File(label="Study file (CSV or .asc)",
                                                   file_types=[".csv", ".asc", ".txt"], elem_id="st-study"),
                                           "fixations.csv")
                study_kind = gr.Radio(list(study_tab.STUDY_KINDS), value="fixations", label="The CSV holds",
                                      elem_id="st-study-kind")
            with gr.Row():
                mapping = gr.Textbox(label="Column mapping (optional)", elem_id="st-mapping",
                                     placeholder="participant=Participant name, x=Fixation point X, "
                                                 "y=Fixation point Y, duration_ms=Gaze event duration")
                screen = gr.Textbox(label="The image on the screen (optional)", elem_id="st-screen",
                                    placeholder="left, top, width, height in screen px (or the screen's width, "
                                                "height if the image filled it)")
        go = gr.Button("Run the virtual study", variant="primary", elem_id="st-go")
        note = gr.Markdown(label="About the run", elem_id="st-note")
        table = gr.Dataframe(headers=study_tab.SHOWN, label="AOI metrics (value [95 % interval])",
                             interactive=False, wrap=True, elem_id="st-table")
        with gr.Row():
            chart = gr.Image(label="Share of fixation time per AOI", type="filepath", interactive=False,
                             elem_id="st-chart")
            transitions = gr.Image(label="Transitions between AOIs", type="filepath", interactive=False,
                                   elem_id="st-transitions")
        files = gr.File(label="Download the metrics (CSV, JSON)", file_count="multiple", interactive=False,
                        elem_id="st-files")
        comparison = gr.Dataframe(headers=study_tab.COMPARISON_COLUMNS, label="Predicted vs the real study",
                                  interactive=False, wrap=True, elem_id="st-comparison")
        with gr.Row():
            overlay = gr.Image(label="The real fixations over the predicted map", type="filepath",
                               interactive=False, elem_id="st-overlay")
            scores = gr.Dataframe(headers=["metric", "value"], label="The models against the study",
                                  interactive=False, elem_id="st-scores")

        shown = [image, aois, points]
        for changed in (aois.change, points.change):
            changed(study_show, shown, [preview, aoi_note], api_visibility="private", show_progress="hidden")
        image.change(lambda: [], None, points, api_visibility="private", show_progress="hidden").then(
            study_show, shown, [preview, aoi_note], api_visibility="private", show_progress="hidden")
        # every click counts, in order: each reads the points the one before it left (a State lives on the server)
        preview.select(study_click, [image, points], points, trigger_mode="multiple", concurrency_limit=1,
                       api_visibility="private", show_progress="hidden")
        undo.click(lambda p: (p or [])[:-1], points, points, api_visibility="private", show_progress="hidden")
        clear_points.click(lambda: [], None, points, api_visibility="private", show_progress="hidden")
        for adds in (add.click, name.submit):
            adds(study_add, [image, aois, points, name], [aois, points, name], api_visibility="private")
        for button, kind in ((grid, "grid"), (salient, "salient"), (faces, "faces")):
            button.click(study_suggestion(kind), [image, aois], aois, api_visibility="private")
        aoi_file.upload(study_import, [aoi_file, image, aois], aois, api_visibility="private")
        export.click(study_export, [image, aois], exported, api_visibility="private")

        inputs = [image, aois, model, viewers, viewing_time, seed, study_file, study_kind, mapping, screen]
        outputs = [table, chart, transitions, files, comparison, overlay, scores]
        run, _ = fresh_click(go, run_study, inputs, [*outputs, note], outputs, note,
                             "The painting, the areas or the settings changed while it ran: press **Run the "
                             "virtual study** again.", api_name="study", concurrency_limit=1)
        clears([image.change, study_file.change], [*outputs, exported], [run], note,
               "New input: press **Run the virtual study**.", when=image, cancel=False)
        clears([aois.change, model.change, viewers.change, viewing_time.change, seed.change, study_kind.change,
                mapping.change, screen.change], [*outputs, exported], [run], note,
               "Changed: press **Run the virtual study** again.", when=image)


def build_panorama_tab() -> None:
    models = panorama_tab.panorama_models()
    examples, examples_message = gallery.fetch_panorama_examples()
    gr.set_static_paths(sorted({str(Path(e["path"]).parent) for e in examples}))    # the thumbnails are served
    pannellum = _file_url(VIEWER_DIR / "pannellum")
    viewer_head = (f'<link rel="stylesheet" href="{pannellum}/pannellum.css">'
                   f'<script src="{pannellum}/pannellum.js"></script>'
                   f'<script src="{_file_url(VIEWER_DIR / "pano-viewer.js")}"></script>')
    with gr.Tab("360°"):
        gr.Markdown("Upload an equirectangular 360° panorama (twice as wide as high) or a 360° video. "
                    "Every stream of the model is shown side by side; explore one in the 360° viewer. "
                    "ATSal's streams: **attention** looks at the whole sphere at once; the **experts** look at "
                    "the six cube faces (a *poles* expert for up and down, an *equator* expert for the four "
                    "sides; each face counts as much as the latitude prior gives it); **fused** combines them "
                    "(attention^α × experts^γ, α and γ chosen on validation panoramas) and is the best guess; the "
                    "**latitude prior** is what the attention stream learned about latitude alone (people look "
                    "mostly near the horizon). The equator-bias model is that kind of prior alone: a latitude "
                    "Gaussian. The viewer opens facing the strongest peak of "
                    "the model's overall map; its three strongest peaks are hotspots: click one to turn to it.")
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                image = local_example(image_upload(label="Equirectangular panorama (2:1)", elem_id="pano-image",
                                                   render=False), "panorama.jpg")
                if examples:
                    gr.Markdown("**Example panoramas** (CC0, one CC BY-SA 3.0: credit and licence on each) — click "
                                "one to load it, or upload your own below.", elem_classes="examples-title")
                    buttons = "".join(
                        f'<button type="button" class="example" data-index="{i}" data-title="{html.escape(e["title"])}" '
                        f'aria-label="Load the example panorama {html.escape(e["label"])}">'
                        f'<img src="{_file_url(e["path"])}" alt="" loading="lazy">'
                        f'<span class="example-caption">{html.escape(e["label"])}</span></button>'
                        for i, e in enumerate(examples))
                    thumbs = gr.HTML(f'<div class="examples-strip" role="group" aria-label="Example panoramas">'
                                     f'{buttons}</div>', elem_id="pano-examples", js_on_load=EXAMPLES_JS, padding=False)

                    def pick(evt: gr.SelectData) -> str:
                        return examples[int(evt.index)]["path"]

                    thumbs.select(pick, None, image, api_visibility="private", show_progress="hidden")
                if examples_message:
                    gr.Markdown(f"<small>{examples_message}</small>", elem_classes="examples-message")
                image.render()
                model = gr.Dropdown(models, value=_default("panorama", models), label="360° model",
                                    elem_id="pano-model")
                # Every known stream until a model has predicted: an API call may name any of them.
                stream = gr.Radio(panorama_tab.stream_choices(panorama_tab.STREAM_LABELS), value="fused",
                                  elem_id="pano-stream",
                                  label="Stream in the viewer (the model's own after predicting)")
                colormap = gr.Dropdown(list(rendering.COLORMAPS), value="inferno", label="Colormap",
                                       elem_id="pano-colormap")
                opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity", elem_id="pano-opacity")
                scale = gr.Radio([(label, key) for key, label in rendering.SCALES.items()], value="peak",
                                 label="Colour scale",
                                 elem_id="pano-scale")
                scale_now = gr.State("peak")            # as on the Saliency tab: not an input of the /panorama API
                scale.change(lambda value: value, scale, scale_now, queue=False, show_progress="hidden",
                             api_visibility="private")
                go = gr.Button("Predict 360° saliency", variant="primary")
            with gr.Column(scale=2):
                viewer = gr.HTML(None, label="360° viewer texture", elem_id="pano-viewer", head=viewer_head,
                                 html_template='<div class="pano-host" style="width:100%;height:460px"></div>',
                                 js_on_load="studioPanoViewer(element, props, watch)")
                info = gr.Markdown(label="Model", elem_id="pano-info")
        panels = gr.Gallery(label="Streams side by side", columns=3, height="auto", fit_columns=False,
                            object_fit="contain", elem_id="pano-streams")
        legend = gr.HTML(rendering.legend_html("inferno"), elem_id="pano-legend")
        for control in (colormap, scale):
            control.change(rendering.legend_html, [colormap, scale], legend, queue=False, show_progress="hidden",
                           api_visibility="private")
        run, checked = fresh_click(go, run_panorama, [image, model, stream, colormap, opacity, scale_now],
                                   [panels, viewer, stream, state, info], [panels, viewer, state], info,
                                   "The panorama or the model changed while it ran: press **Predict 360° saliency** "
                                   "again.", watch=[image, model], api_name="panorama")
        style = [state, stream, colormap, opacity, scale]
        checked.then(restyle_panorama, style, [panels, viewer, state], api_visibility="private", show_progress="hidden")
        stream.input(restyle_viewer, style, viewer, api_visibility="private")
        colormap.input(restyle_panorama, style, [panels, viewer, state], api_visibility="private")
        scale.input(restyle_panorama, style, [panels, viewer, state], api_visibility="private")
        opacity.release(restyle_panorama, style, [panels, viewer, state], api_visibility="private")
        clears([image.change], [panels, viewer, state], [run], info, "New panorama: press **Predict 360° saliency**.",
               when=image, cancel=False)
        clears([model.change], [panels, viewer, state], [run], info,
               "Model changed: press **Predict 360° saliency** to see its streams.", when=image)

        gr.Markdown("### 360° video\nHeatmap-over-frame videos per stream (the model's temporal smoothing "
                    f"on). At most {panorama_tab.MAX_VIDEO_SECONDS:.0f} s of video; frames wider than "
                    f"{panorama_tab.MAX_VIDEO_WIDTH} px are downscaled. Videos in codecs browsers do not play "
                    "(e.g. MPEG-4 Part 2) are converted to H.264 for the preview.")
        with gr.Row():
            # The upload is a file box, and the preview a player of its own that is only ever given a video
            # browsers play (preview_video): a gr.Video upload plays the file as it comes and shows "Video not
            # playable" for MPEG-4 Part 2 and other codecs browsers refuse. The API input is the same file data.
            with gr.Column():
                video = local_example(gr.File(label="Equirectangular video (2:1)", file_types=["video"],
                                              type="filepath", elem_id="pano-video-in"), "panorama-video.mp4")
                preview = gr.Video(label="Preview", interactive=False, elem_id="pano-video-preview")
            with gr.Column():
                max_frames = gr.Slider(1, panorama_tab.MAX_VIDEO_FRAMES, value=panorama_tab.DEFAULT_VIDEO_FRAMES,
                                       step=1, label="Frames to process (at most)")
                fps = gr.Slider(1, 30, value=6, step=1, label="Output frame rate (lower skips frames)")
                video_go = gr.Button("Process video")
                video_info = gr.Markdown(label="Video", elem_id="pano-video-info")
        with gr.Row():
            players = [gr.Video(label=panorama_tab.VIDEO_PLAYER_LABELS[s], interactive=False,
                                elem_id=f"pano-video-{s}") for s in panorama_tab.VIDEO_STREAMS]
        video.upload(preview_video, video, preview, api_visibility="private")
        video.clear(lambda: None, None, preview, queue=False, show_progress="hidden", api_visibility="private")
        # Players without a video are hidden in a second step, so the API's outputs stay plain file paths.
        processed, _ = fresh_click(video_go, run_panorama_video, [video, model, colormap, opacity, max_frames, fps],
                                   [*players, video_info], players, video_info,
                                   "The video or the settings changed while it ran: press **Process video** again.",
                                   api_name="panorama_video", concurrency_limit=1)
        processed.then(lambda name, *paths: [gr.Video(visible=p is not None, label=label) for p, label in
                                             zip(paths, panorama_tab.video_player_labels(name))],
                       [model, *players], players, api_visibility="private")
        clears([video.change], players, [processed], video_info, "New video: press **Process video**.", when=video,
               cancel=False)
        clears([model.change, colormap.change, opacity.change, max_frames.change, fps.change], players, [processed],
               video_info, "Settings changed: press **Process video** again.", when=video)


def build_evaluate_tab() -> None:
    with gr.Tab("Evaluate"):
        gr.Markdown("### A saliency map against a ground truth\nScore a predicted saliency map against a ground "
                    "truth: a map (grey image or .npy) or a fixations CSV with columns `x,y` in pixels. The "
                    "prediction is resized to the ground truth. Every metric defined for the ground truth given is "
                    "shown: a fixations CSV adds sAUC and IG.")
        gr.Markdown(f"<small>{BASELINES_NOTE}</small>", elem_id="eval-baselines")
        with gr.Row():
            pred_file = local_example(gr.File(label="Predicted map (.png/.jpg/.npy)", type="filepath",
                                              elem_id="pred-file"), "prediction.npy")
            gt_file = local_example(gr.File(label="Ground truth (map or fixations .csv)", type="filepath",
                                            elem_id="gt-file"), "fixations.csv")
        with gr.Row():
            protocol = gr.Radio(["mit", "tuebingen"], value="mit", label="Protocol", elem_id="eval-protocol")
            sigma = gr.Number(24.0, label="Blur σ (px) for fixation ground truth", minimum=1, maximum=200,
                              elem_id="eval-sigma")
        score = gr.Button("Score", variant="primary")
        with gr.Row():
            with gr.Column():
                table = gr.Dataframe(headers=["metric", "value"], label="Metrics", interactive=False,
                                     elem_id="metrics")
                note = gr.Markdown(label="What the scores are measured against", elem_id="eval-note")
            drawing = gr.Image(label="The prediction with the ground truth over it", type="filepath",
                               interactive=False, elem_id="eval-drawing")
        run, _ = fresh_click(score, run_evaluate, [pred_file, gt_file, protocol, sigma], [table, drawing, note],
                             api_name="evaluate")
        clears([pred_file.change, gt_file.change], [table, drawing, note], [run], cancel=False)
        clears([protocol.change, sigma.change], [table, drawing, note], [run])

        models = scanpath_tab.scanpath_models()
        gr.Markdown("### Scanpaths against human scanpaths\nUpload a painting and the scanpaths people made on it: "
                    "a CSV with one row per fixation, columns `subject` (or `participant`, `observer`, `scanpath`), "
                    "`x`, `y` in the painting's pixels, optional `duration_ms` and `order` — the Scanpaths tab's "
                    "CSV export reads too. The model's sampled scanpaths are scored against every human one with "
                    "MultiMatch, SequenceScore, SED and DTW, next to the humans scored against each other.")
        with gr.Row():
            with gr.Column():
                sp_image = local_example(image_upload(label="Painting", elem_id="ev-sp-image"), "painting.jpg")
                humans_csv = local_example(gr.File(label="Human scanpaths (.csv)", type="filepath",
                                                   elem_id="ev-sp-csv"), "scanpaths.csv")
                sp_model = gr.Dropdown(models, value=_default("scanpath", models), label="Scanpath model",
                                       elem_id="ev-sp-model")
                n_samples = gr.Slider(1, scanpath_tab.MAX_SCANPATHS, value=5, step=1,
                                      label="Sampled scanpaths", elem_id="ev-sp-count")
                sp_seed = gr.Number(0, precision=0, label="Seed", elem_id="ev-sp-seed")
                sp_go = gr.Button("Compare with the humans", variant="primary", elem_id="ev-sp-go")
            with gr.Column():
                humans_drawing = gr.Image(label="Human scanpaths (from the CSV)", type="filepath",
                                          interactive=False, elem_id="ev-sp-humans")
                model_drawing = gr.Image(label="The model's sampled scanpaths", type="filepath",
                                         interactive=False, elem_id="ev-sp-model-drawing")
        sp_table = gr.Dataframe(headers=["scanpaths", *evaluate_tab.SCANPATH_COLUMNS.values()],
                                label="Scanpath metrics", interactive=False, wrap=True, elem_id="ev-sp-table")
        sp_note = gr.Markdown(label="How the scanpaths were sampled", elem_id="ev-sp-note")
        sp_outputs = [sp_table, humans_drawing, model_drawing]
        sp_run, _ = fresh_click(sp_go, run_evaluate_scanpaths, [sp_image, humans_csv, sp_model, n_samples, sp_seed],
                                [*sp_outputs, sp_note], api_name="evaluate_scanpaths")
        clears([sp_image.change, humans_csv.change], [*sp_outputs, sp_note], [sp_run], cancel=False)
        clears([sp_model.change, n_samples.change, sp_seed.change], [*sp_outputs, sp_note], [sp_run])


def build_batch_tab() -> None:
    models = saliency_tab.upload_models()
    with gr.Tab("Batch"):
        gr.Markdown(f"Many paintings at once: upload image files or a .zip of them ({batch.LIMITS}) and get one zip "
                    "with a map per image (16-bit PNG at the image's size, and the density as .npy) and a summary "
                    "CSV (size, run time, peak and centre of attention in pixels, entropy, the share of attention "
                    "on the top 10 % of the area). Files that are not images, or cannot be read, are skipped and "
                    "listed in the summary.")
        with gr.Row():
            with gr.Column():
                files = local_example(gr.File(label="Images or .zip", file_count="multiple", type="filepath",
                                              elem_id="batch-files"), "paintings.zip")
                one = files.example_payload
                files.example_payload, files.example_value = (lambda: [one()]), (lambda: ["paintings.zip"])
                model = gr.Dropdown(models, value=_default("saliency", models), label="Saliency model",
                                    elem_id="batch-model")
                go = gr.Button("Run batch", variant="primary")
            with gr.Column():
                out = gr.File(label="Download (zip of maps + summary.csv; the summary on its own)",
                              file_count="multiple", interactive=False, elem_id="batch-out")
                status = gr.Markdown(label="Batch", elem_id="batch-status")
        summary = gr.Dataframe(headers=list(BATCH_TABLE), label="Summary", interactive=False, wrap=True,
                               elem_id="batch-summary")
        run, _ = fresh_click(go, run_batch, [files, model], [out, summary, status], [out, summary], status,
                             "The files or the model changed while it ran: press **Run batch** again.",
                             api_name="batch", concurrency_limit=1)
        clears([files.change], [out, summary], [run], status, "New files: press **Run batch**.", when=files,
               cancel=False)
        clears([model.change], [out, summary], [run], status, "Model changed: press **Run batch** again.",
               when=files)


def build_model_cards() -> None:
    """Every offered model's card, one click away from every tab, and what the models were trained on."""
    cards = evaluate_tab.model_cards(app_models())
    gr.Markdown(f"<small>{evaluate_tab.TRAINING_DATA_NOTE}</small>", elem_id="training-data")
    with gr.Accordion("Model cards: how each model was made and how well it does", open=False, elem_id="model-cards"):
        first = next(iter(cards))
        choice = gr.Radio(list(cards), value=first, label="Model", elem_id="card-choice")
        text = gr.Markdown(cards[first], elem_id="card-text")
        choice.change(lambda name: cards.get(name, ""), choice, text, queue=False, show_progress="hidden",
                      api_visibility="private")


def build_demo() -> gr.Blocks:
    examples = gallery.fetch_examples()
    example_dirs = sorted({str(Path(e["path"]).parent) for e in examples[0]})
    # Served as they are: the viewer's scripts, its textures and the example paintings.
    gr.set_static_paths([VIEWER_DIR, panorama_tab.texture_dir(), *example_dirs])
    # Gradio's copies of uploads and outputs older than an hour are deleted every hour (ours:
    # models/studio/files.py).
    with gr.Blocks(title="Visual-attention studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Visual-attention studio\nWhere do people look in a painting, in what order, and for how "
                    "long? Upload a painting or pick an example.")
        build_model_cards()
        build_overview_tab(examples)
        build_saliency_tab(examples)
        build_scanpath_tab(examples)
        build_study_tab(examples)
        build_panorama_tab()
        build_evaluate_tab()
        build_batch_tab()
    return demo


def app_models() -> list[str]:
    """Every model a visitor can choose, defaults first."""
    names = [DEFAULT["saliency"], DEFAULT["scanpath"], DEFAULT["panorama"], *saliency_tab.upload_models(),
             *scanpath_tab.scanpath_models(), *panorama_tab.panorama_models()]
    return list(dict.fromkeys(names))


def launch_address(environ=os.environ) -> dict:
    """launch()'s server_name / server_port from HOST / PORT, only when they are set (the tests and benchmarks
    start the app on a free port this way). Otherwise none, so Gradio's own GRADIO_SERVER_NAME /
    GRADIO_SERVER_PORT decide, as in every Gradio app: 127.0.0.1:7860 by default, 0.0.0.0 on a Space."""
    address = {}
    if environ.get("HOST"):
        address["server_name"] = environ["HOST"]
    if environ.get("PORT"):
        address["server_port"] = int(environ["PORT"])
    return address


if __name__ == "__main__":
    limit_malloc_arenas(2)           # with releases_memory on every handler: flat memory on a long-running Space
    # Models load in the background while the server starts: its first visitors do not pay for it, and memory
    # reaches its working level before serving rather than over the first requests.
    threading.Thread(target=warm_up, args=(app_models(),), name="warm-up", daemon=True).start()
    # A small CPU Space: two requests run at once, others wait in the queue; uploads over 200 MB are refused.
    build_demo().queue(default_concurrency_limit=2, max_size=64).launch(css=CSS, max_file_size=MAX_UPLOAD,
                                                                        **launch_address())
