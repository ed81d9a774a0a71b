"""Visual-attention studio: Gradio wiring only. Each tab is built by its own function (`build_overview_tab`, ...,
put together by `build_demo`); each handler calls functions of models/studio/ or training/, and the `handler`
decorator gives them all the same checks, error messages and memory release.

    python app.py            # http://127.0.0.1:7860, or where GRADIO_SERVER_NAME / GRADIO_SERVER_PORT say
"""
from __future__ import annotations

import functools
import inspect
import os
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from models import DEFAULT
from models.api import warm_up
from models.runtime.memory import limit_malloc_arenas, releases_memory
from models.studio import gallery, overview_tab, panorama_tab, rendering, saliency_tab, scanpath_tab
from models.studio.files import image_files
from training.metrics.files import score_pair

VIEWER_DIR = Path(__file__).resolve().parent / "assets" / "viewer"   # vendored Pannellum 2.5.7 + glue, no CDN
CSS = "#pano-streams .thumbnail-item { aspect-ratio: 2 / 1; }"      # equirectangular thumbnails
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


@handler(needs={"image": UPLOAD_IMAGE})
def run_saliency(image, model_name, colormap, opacity):
    rgb = saliency_tab.as_rgb(image)                               # decode the upload once
    over, heat, density = saliency_tab.saliency_view(rgb, model_name, colormap, opacity)
    png, npy = saliency_tab.save_map_files(density, stem=f"saliency-{model_name}")
    notice = saliency_tab.model_notice(model_name)
    info = f"**{model_name}** — {saliency_tab.describe(model_name)}" + (f"\n\n⚠️ {notice}" if notice else "")
    files = image_files("saliency-", {"painting": rgb, f"overlay-{model_name}": over, f"map-{model_name}": heat})
    over, heat = files[f"overlay-{model_name}"], files[f"map-{model_name}"]
    return over, heat, (files["painting"], over), [png, npy], info


@handler(needs={"image": UPLOAD_IMAGE, "model_names": "Pick at least one model to compare."})
def run_compare(image, model_names, colormap, opacity):
    rgb = saliency_tab.as_rgb(image)
    panels = {m: saliency_tab.saliency_view(rgb, m, colormap, opacity)[0] for m in model_names}
    return [(path, m) for m, path in image_files("compare-", panels).items()]


@handler(needs={"image": "Upload an image first (or click one of the example paintings)."})
def run_overview(image, n_scanpaths, temperature, seed):
    result = overview_tab.painting_overview(image, temperature=float(temperature), n_scanpaths=int(n_scanpaths),
                                            seed=int(seed))
    m = result["models"]
    files = image_files("overview-", {"attention": result["overlay"], "scanpaths": result["scanpaths"]})
    note = (f"\n\n<small>Saliency: **{m['saliency']}**; scanpaths: **{m['scanpath']}** at temperature "
            f"{m['temperature']:g}.</small>")
    return files["attention"], files["scanpaths"], result["rows"], result["reading"] + note


BOTH_FILES = "Upload both a predicted map and a ground truth (a map or a fixations CSV)."


@handler(needs={"pred_file": BOTH_FILES, "gt_file": BOTH_FILES}, errors=(ValueError, OSError))
def run_evaluate(pred_file, gt_file, protocol, sigma):
    scores = score_pair(pred_file, gt_file, protocol, float(sigma))
    return [[METRIC_LABELS.get(k, k), round(v, 4)] for k, v in scores.items()]


@handler(needs={"image": UPLOAD_IMAGE})
def run_scanpaths(image, model_name, n_scanpaths, temperature, max_fixations, seed, show_saliency):
    drawing, gif, json_path, csv_path, rows = scanpath_tab.scanpath_view(
        image, model_name, int(n_scanpaths), float(temperature), int(max_fixations), int(seed), bool(show_saliency))
    table = [[r["scanpath"], r["order"], r["x"], r["y"], r["duration_ms"]] for r in rows]
    return image_files("scanpaths-", {"scanpaths": drawing})["scanpaths"], gif, [json_path, csv_path], table


def _file_url(path) -> str:
    """URL of a file under a static path; relative, so it also works behind a proxy's root path."""
    return f"gradio_api/file={Path(path).resolve()}"


def _panorama_views(rgb: np.ndarray, streams: dict[str, np.ndarray], stream: str, colormap: str, opacity: float,
                    with_panels: bool = True):
    """(gallery panels as (file, label) or None, viewer texture URL) of a panorama and its streams."""
    panels = None
    if with_panels:
        images = panorama_tab.stream_images(rgb, streams, colormap, opacity)
        paths = image_files("panorama-", {f"stream-{i}": image for i, (image, _) in enumerate(images)})
        panels = [(paths[f"stream-{i}"], label) for i, (_, label) in enumerate(images)]
    density = streams[panorama_tab.chosen_stream(streams, stream)]
    return panels, _file_url(panorama_tab.viewer_texture(rgb, density, opacity, colormap))


def _saved_panorama_views(state: dict, stream: str, colormap: str, opacity: float, with_panels: bool = True):
    """`_panorama_views` of a 360° tab state (panorama_tab.compact_state); ValueError once it has expired."""
    rgb = panorama_tab.state_image(state)
    return _panorama_views(rgb, panorama_tab.state_streams(state, rgb.shape[:2]), stream, colormap, opacity,
                           with_panels)


@handler(needs={"image": "Upload an equirectangular panorama (2:1) first."})
def run_panorama(image, model_name, stream, colormap, opacity):
    rgb = panorama_tab.prepare_panorama(image)
    streams = panorama_tab.panorama_streams(rgb, model_name)
    stream = panorama_tab.chosen_stream(streams, stream)
    panels, viewer = _panorama_views(rgb, streams, stream, colormap, opacity)      # drawn from the streams in memory
    state = panorama_tab.compact_state(rgb, streams)                                # kept for restyling only
    h, w = rgb.shape[:2]
    info = f"**{model_name}** — {saliency_tab.describe(model_name)}\n\nStreams: {', '.join(streams)} ({w}×{h})"
    return panels, viewer, gr.Radio(choices=list(streams), value=stream), state, info


@handler(skip_without="state")
def restyle_viewer(state, stream, colormap, opacity):
    return _saved_panorama_views(state, stream, colormap, opacity, with_panels=False)[1]


@handler(skip_without="state")
def restyle_panorama(state, stream, colormap, opacity):
    return _saved_panorama_views(state, stream, colormap, opacity)


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


# ------------------------------------------------------------------------------------------------ tabs

def _default(task: str, names: list[str]) -> str:
    return DEFAULT[task] if DEFAULT[task] in names else names[0]


def painting_examples(examples: tuple[list[dict], str], target: gr.Image, elem_id: str) -> None:
    """The example paintings as captioned thumbnails; a click loads one into `target`. Or a line saying why there
    are none."""
    paintings, message = examples
    if paintings:
        thumbs = gr.Gallery([(e["path"], e["label"]) for e in paintings], label="Example paintings (public "
                            "domain) — click one to load it", columns=10, height="auto", allow_preview=False,
                            object_fit="cover", elem_id=elem_id)

        def pick(evt: gr.SelectData) -> str:
            return paintings[evt.index]["path"]

        thumbs.select(pick, None, target, api_visibility="private")
    if message:
        gr.Markdown(f"<small>{message}</small>", elem_classes="examples-message")


def build_overview_tab(examples: tuple[list[dict], str]) -> None:
    with gr.Tab("Overview"):
        gr.Markdown("One painting, every view: where attention goes (the best saliency model), a few sampled "
                    "scanpaths, and numbers that summarise the map, read out in plain words.")
        with gr.Row():
            with gr.Column():
                image = image_upload(label="Painting or photo", elem_id="ov-image")
                count = gr.Slider(1, scanpath_tab.MAX_SCANPATHS, value=3, step=1, label="Number of scanpaths",
                                  elem_id="ov-count")
                temperature = gr.Slider(0.0, 1.0, value=scanpath_tab.default_temperature(DEFAULT["scanpath"]),
                                        step=0.05, label="Temperature (noise in the scanpaths)",
                                        elem_id="ov-temperature")
                seed = gr.Number(0, precision=0, label="Seed", elem_id="ov-seed")
                go = gr.Button("Look at this painting", variant="primary", elem_id="ov-go")
            with gr.Column():
                reading = gr.Markdown(elem_id="ov-reading")
                table = gr.Dataframe(headers=["statistic", "value"], label="Attention statistics",
                                     interactive=False, elem_id="ov-table")
        with gr.Row():
            with gr.Column():
                overlay = gr.Image(label="Where people look (predicted attention over the painting)",
                                   type="numpy", interactive=False, elem_id="ov-overlay")
                gr.HTML(rendering.legend_html("inferno"))
            paths = gr.Image(label="Sampled scanpaths (numbered fixations, circle area ∝ duration)",
                             type="numpy", interactive=False, elem_id="ov-scanpaths")
        painting_examples(examples, image, "ov-examples")
        go.click(run_overview, [image, count, temperature, seed], [overlay, paths, table, reading], api_name="overview")


def build_saliency_tab(examples: tuple[list[dict], str]) -> None:
    models = saliency_tab.upload_models()
    with gr.Tab("Saliency"):
        gr.Markdown("A saliency map is a probability distribution over the image: the share of viewers' "
                    "fixations each place is predicted to receive. Brighter colours mean more attention.")
        with gr.Row():
            with gr.Column():
                image = image_upload(label="Painting or photo", elem_id="sal-image")
                model = gr.Dropdown(models, value=_default("saliency", models), label="Model", elem_id="sal-model")
                colormap = gr.Dropdown(list(rendering.COLORMAPS), value="inferno", label="Colormap")
                opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity")
                go = gr.Button("Predict saliency", variant="primary")
            with gr.Column():
                overlay = gr.Image(label="Heatmap overlay", type="numpy", interactive=False, elem_id="overlay")
                legend = gr.HTML(rendering.legend_html("inferno"), elem_id="legend")
                info = gr.Markdown(label="Model")
        colormap.change(rendering.legend_html, colormap, legend, api_visibility="private")
        painting_examples(examples, image, "sal-examples")
        with gr.Row():
            heatmap = gr.Image(label="Saliency map", type="numpy", interactive=False)
            slider = gr.ImageSlider(label="Before / after", type="numpy", interactive=False)
        files = gr.File(label="Download the map (PNG 16-bit, .npy density)", file_count="multiple",
                        interactive=False, elem_id="sal-files")
        go.click(run_saliency, [image, model, colormap, opacity], [overlay, heatmap, slider, files, info],
                 api_name="saliency")
        gr.Markdown("### Compare models side by side")
        compare_models = gr.CheckboxGroup(models, value=models, label="Models to compare")
        compare = gr.Button("Compare")
        panels = gr.Gallery(label="Side by side", columns=4, height="auto", elem_id="compare-gallery")
        compare.click(run_compare, [image, compare_models, colormap, opacity], panels, api_name="compare")


def build_scanpath_tab(examples: tuple[list[dict], str]) -> None:
    models = scanpath_tab.scanpath_models()
    default = _default("scanpath", models)
    with gr.Tab("Scanpaths"):
        gr.Markdown("In what order, and for how long, do people look? Each colour is one sampled scanpath: "
                    "numbered circles are fixations (area ∝ duration), arrows the saccades between them. "
                    "Temperature 0 gives the model's single most likely scanpath; higher values add noise, "
                    "so the sampled scanpaths differ more from each other (people differ too).")
        with gr.Row():
            with gr.Column():
                image = image_upload(label="Painting or photo", elem_id="sp-image")
                model = gr.Dropdown(models, value=default, label="Scanpath model", elem_id="sp-model")
                temperature = gr.Slider(0.0, 1.0, value=scanpath_tab.default_temperature(default), step=0.05,
                                        label="Temperature (noise)", elem_id="sp-temperature")
                count = gr.Slider(1, scanpath_tab.MAX_SCANPATHS, value=3, step=1, label="Number of scanpaths",
                                  elem_id="sp-count")
                max_fixations = gr.Slider(1, scanpath_tab.MAX_FIXATIONS, value=10, step=1,
                                          label="Maximum fixations", elem_id="sp-max")
                seed = gr.Number(0, precision=0, label="Seed (the same seed gives the same scanpaths)",
                                 elem_id="sp-seed")
                show_saliency = gr.Checkbox(False, label="Draw over the saliency map", elem_id="sp-show-saliency")
                go = gr.Button("Sample scanpaths", variant="primary")
            with gr.Column():
                drawing = gr.Image(label="Scanpaths", type="numpy", interactive=False, elem_id="sp-drawing")
                gif = gr.Image(label="The gaze moving (GIF)", type="filepath", interactive=False, elem_id="sp-gif")
        files = gr.File(label="Download (JSON, CSV: x, y in image pixels, duration_ms, order)",
                        file_count="multiple", interactive=False, elem_id="sp-files")
        table = gr.Dataframe(headers=["scanpath", "order", "x", "y", "duration_ms"], label="Fixations",
                             interactive=False, elem_id="sp-table")
        painting_examples(examples, image, "sp-examples")
        model.change(scanpath_tab.default_temperature, model, temperature, api_visibility="private")
        go.click(run_scanpaths, [image, model, count, temperature, max_fixations, seed, show_saliency],
                 [drawing, gif, files, table], api_name="scanpaths")


def build_panorama_tab() -> None:
    models = panorama_tab.panorama_models()
    pannellum = _file_url(VIEWER_DIR / "pannellum")
    viewer_head = (f'<link rel="stylesheet" href="{pannellum}/pannellum.css">'
                   f'<script src="{pannellum}/pannellum.js"></script>'
                   f'<script src="{_file_url(VIEWER_DIR / "pano-viewer.js")}"></script>')
    with gr.Tab("360°"):
        gr.Markdown("Upload an equirectangular 360° panorama (twice as wide as high) or a 360° video. "
                    "Every stream of the model is shown side by side; explore one in the 360° viewer. "
                    "ATSal's streams: **attention** looks at the whole sphere at once; the **experts** look at "
                    "the six cube faces (a *poles* expert for up and down, an *equator* expert for the four "
                    "sides); **fused** combines them (attention × experts^γ) and is usually the best guess. "
                    "The equator bias has one stream, its **prior**.")
        state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1):
                image = image_upload(label="Equirectangular panorama (2:1)", elem_id="pano-image")
                model = gr.Dropdown(models, value=_default("panorama", models), label="360° model",
                                    elem_id="pano-model")
                # Every known stream until a model has predicted: an API call may name any of them.
                stream = gr.Radio(list(panorama_tab.STREAM_LABELS), value="fused", elem_id="pano-stream",
                                  label="Stream in the viewer (the model's own after predicting)")
                colormap = gr.Dropdown(list(rendering.COLORMAPS), value="inferno", label="Colormap",
                                       elem_id="pano-colormap")
                opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity", elem_id="pano-opacity")
                go = gr.Button("Predict 360° saliency", variant="primary")
            with gr.Column(scale=2):
                viewer = gr.HTML(None, label="360° viewer texture", elem_id="pano-viewer", head=viewer_head,
                                 html_template='<div class="pano-host" style="width:100%;height:460px"></div>',
                                 js_on_load="studioPanoViewer(element, props, watch)")
                info = gr.Markdown(label="Model")
        panels = gr.Gallery(label="Streams side by side", columns=3, height="auto", fit_columns=False,
                            object_fit="contain", elem_id="pano-streams")
        legend = gr.HTML(rendering.legend_html("inferno"), elem_id="pano-legend")
        colormap.change(rendering.legend_html, colormap, legend, api_visibility="private")
        go.click(run_panorama, [image, model, stream, colormap, opacity], [panels, viewer, stream, state, info],
                 api_name="panorama")
        style = [state, stream, colormap, opacity]
        stream.input(restyle_viewer, style, viewer, api_visibility="private")
        colormap.input(restyle_panorama, style, [panels, viewer], api_visibility="private")
        opacity.release(restyle_panorama, style, [panels, viewer], api_visibility="private")

        gr.Markdown("### 360° video\nHeatmap-over-frame videos per stream (the model's temporal smoothing "
                    f"on). At most {panorama_tab.MAX_VIDEO_SECONDS:.0f} s of video; frames wider than "
                    f"{panorama_tab.MAX_VIDEO_WIDTH} px are downscaled.")
        with gr.Row():
            video = gr.Video(label="Equirectangular video (2:1)", sources=["upload"], elem_id="pano-video-in")
            with gr.Column():
                max_frames = gr.Slider(1, panorama_tab.MAX_VIDEO_FRAMES, value=panorama_tab.DEFAULT_VIDEO_FRAMES,
                                       step=1, label="Frames to process (at most)")
                fps = gr.Slider(1, 30, value=6, step=1, label="Output frame rate (lower skips frames)")
                video_go = gr.Button("Process video")
                video_info = gr.Markdown(label="Video")
        with gr.Row():
            players = [gr.Video(label=panorama_tab.VIDEO_PLAYER_LABELS[s], interactive=False,
                                elem_id=f"pano-video-{s}") for s in panorama_tab.VIDEO_STREAMS]
        # Players without a video are hidden in a second step, so the API's outputs stay plain file paths.
        video_go.click(run_panorama_video, [video, model, colormap, opacity, max_frames, fps],
                       [*players, video_info], api_name="panorama_video", concurrency_limit=1
                       ).then(lambda *paths: [gr.Video(visible=p is not None) for p in paths], players, players,
                              api_visibility="private")


def build_evaluate_tab() -> None:
    with gr.Tab("Evaluate"):
        gr.Markdown("Score a predicted saliency map against a ground truth: a map (grey image or .npy) or a "
                    "fixations CSV with columns `x,y` in pixels. The prediction is resized to the ground truth.")
        with gr.Row():
            pred_file = gr.File(label="Predicted map (.png/.jpg/.npy)", type="filepath", elem_id="pred-file")
            gt_file = gr.File(label="Ground truth (map or fixations .csv)", type="filepath", elem_id="gt-file")
        with gr.Row():
            protocol = gr.Radio(["mit", "tuebingen"], value="mit", label="Protocol", elem_id="eval-protocol")
            sigma = gr.Number(24.0, label="Blur σ (px) for fixation ground truth", minimum=1, maximum=200,
                              elem_id="eval-sigma")
        score = gr.Button("Score", variant="primary")
        table = gr.Dataframe(headers=["metric", "value"], label="Metrics", interactive=False, elem_id="metrics")
        score.click(run_evaluate, [pred_file, gt_file, protocol, sigma], table, api_name="evaluate")


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
        build_overview_tab(examples)
        build_saliency_tab(examples)
        build_scanpath_tab(examples)
        build_panorama_tab()
        build_evaluate_tab()
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
