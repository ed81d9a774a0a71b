"""Visual-attention studio: Gradio wiring only. Every handler's work is done by a function in models/ or training/.

    python app.py            # http://127.0.0.1:7860
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import gradio as gr
import numpy as np

from models import DEFAULT
from models import gallery, overview, scanpath_view, studio, studio360
from models.memory import limit_malloc_arenas, releases_memory
from models.outputs import image_files
from training import evaluate_maps

VIEWER_DIR = Path(__file__).resolve().parent / "assets" / "viewer"   # vendored Pannellum 2.5.7 + glue, no CDN
CSS = "#pano-streams .thumbnail-item { aspect-ratio: 2 / 1; }"      # equirectangular thumbnails
MAX_UPLOAD = os.environ.get("MAX_UPLOAD", "200mb")          # refused above this (tests lower it)
METRIC_LABELS = {"auc_judd": "AUC-Judd ↑", "auc_borji": "AUC-Borji ↑", "sauc": "sAUC ↑", "nss": "NSS ↑",
                 "cc": "CC ↑", "kld": "KLD ↓", "sim": "SIM ↑", "ig": "IG ↑", "auc_weighted": "AUC (GT-weighted) ↑"}


def image_upload(**kwargs) -> gr.Image:
    """An image upload handed to the handler as the uploaded file's path, not decoded by Gradio: the handler
    reads it with models.load_image, which checks it and says clearly what is wrong with a bad file (Gradio's
    own decoding would fail on a non-image or a decompression bomb with a bare "Error")."""
    component = gr.Image(type="filepath", sources=["upload", "clipboard"], **kwargs)
    decode = component.preprocess

    def preprocess(payload):
        if payload is None or (payload.path is None and payload.url and payload.url.startswith("data:")):
            return decode(payload)
        return payload.path

    component.preprocess = preprocess        # this instance only; the browser side is the plain Image
    return component


def _fail(err: Exception):
    raise gr.Error(str(err), print_exception=False)


@releases_memory
def run_saliency(image, model_name, colormap, opacity):
    if image is None:
        raise gr.Error("Upload an image first.", print_exception=False)
    try:
        rgb = studio.as_rgb(image)                                  # decode the upload once
        over, heat, density = studio.saliency_view(rgb, model_name, colormap, opacity)
        png, npy = studio.save_map_files(density, stem=f"saliency-{model_name}")
    except ValueError as err:
        _fail(err)
    notice = studio.model_notice(model_name)
    info = f"**{model_name}** — {studio.describe(model_name)}" + (f"\n\n⚠️ {notice}" if notice else "")
    files = image_files("saliency-", {"painting": rgb, f"overlay-{model_name}": over, f"map-{model_name}": heat})
    over, heat = files[f"overlay-{model_name}"], files[f"map-{model_name}"]
    return over, heat, (files["painting"], over), [png, npy], info


@releases_memory
def run_compare(image, model_names, colormap, opacity):
    if image is None:
        raise gr.Error("Upload an image first.", print_exception=False)
    if not model_names:
        raise gr.Error("Pick at least one model to compare.", print_exception=False)
    try:
        rgb = studio.as_rgb(image)
        panels = {m: studio.saliency_view(rgb, m, colormap, opacity)[0] for m in model_names}
        return [(path, m) for m, path in image_files("compare-", panels).items()]
    except ValueError as err:
        _fail(err)


@releases_memory
def run_overview(image, n_scanpaths, temperature, seed):
    if image is None:
        raise gr.Error("Upload an image first (or click one of the example paintings).", print_exception=False)
    try:
        result = overview.painting_overview(image, temperature=float(temperature), n_scanpaths=int(n_scanpaths),
                                            seed=int(seed))
    except ValueError as err:
        _fail(err)
    m = result["models"]
    files = image_files("overview-", {"attention": result["overlay"], "scanpaths": result["scanpaths"]})
    note = (f"\n\n<small>Saliency: **{m['saliency']}**; scanpaths: **{m['scanpath']}** at temperature "
            f"{m['temperature']:g}.</small>")
    return files["attention"], files["scanpaths"], result["rows"], result["reading"] + note


@releases_memory
def run_evaluate(pred_file, gt_file, protocol, sigma):
    if pred_file is None or gt_file is None:
        raise gr.Error("Upload both a predicted map and a ground truth (a map or a fixations CSV).",
                       print_exception=False)
    try:
        scores = evaluate_maps.score_pair(pred_file, gt_file, protocol, float(sigma))
    except (ValueError, OSError) as err:
        _fail(err)
    return [[METRIC_LABELS.get(k, k), round(v, 4)] for k, v in scores.items()]


@releases_memory
def run_scanpaths(image, model_name, n_scanpaths, temperature, max_fixations, seed, show_saliency):
    if image is None:
        raise gr.Error("Upload an image first.", print_exception=False)
    try:
        drawing, gif, json_path, csv_path, rows = scanpath_view.scanpath_view(
            image, model_name, int(n_scanpaths), float(temperature), int(max_fixations), int(seed), bool(show_saliency))
    except ValueError as err:
        _fail(err)
    table = [[r["scanpath"], r["order"], r["x"], r["y"], r["duration_ms"]] for r in rows]
    return image_files("scanpaths-", {"scanpaths": drawing})["scanpaths"], gif, [json_path, csv_path], table


def _panel_files(panels: list[tuple[np.ndarray, str]]) -> list[tuple[str, str]]:
    paths = image_files("panorama-", {f"stream-{i}": image for i, (image, _) in enumerate(panels)})
    return [(paths[f"stream-{i}"], label) for i, (_, label) in enumerate(panels)]


def _file_url(path) -> str:
    """URL of a file under a static path; relative, so it also works behind a proxy's root path."""
    return f"gradio_api/file={Path(path).resolve()}"


def _panorama_views(state, stream, colormap, opacity, with_panels: bool = True):
    """(gallery panels or None, viewer URL) from a 360° tab state (studio360.compact_state)."""
    rgb = studio360.state_image(state)
    streams = studio360.state_streams(state, rgb.shape[:2])
    density = streams.get(stream, streams.get("fused", next(iter(streams.values()))))
    panels = _panel_files(studio360.stream_images(rgb, streams, colormap, opacity)) if with_panels else None
    return panels, _file_url(studio360.viewer_texture(rgb, density, opacity, colormap))


@releases_memory
def run_panorama(image, model_name, stream, colormap, opacity):
    if image is None:
        raise gr.Error("Upload an equirectangular panorama (2:1) first.", print_exception=False)
    try:
        rgb = studio360.prepare_panorama(image)
        streams = studio360.panorama_streams(rgb, model_name)
        stream = stream if stream in streams else ("fused" if "fused" in streams else next(iter(streams)))
        state = studio360.compact_state(rgb, streams)
        panels, viewer = _panorama_views(state, stream, colormap, opacity)
    except ValueError as err:
        _fail(err)
    h, w = rgb.shape[:2]
    info = f"**{model_name}** — {studio.describe(model_name)}\n\nStreams: {', '.join(streams)} ({w}×{h})"
    return panels, viewer, gr.Radio(choices=list(streams), value=stream), state, info


@releases_memory
def restyle_viewer(state, stream, colormap, opacity):
    if not state:
        return gr.skip()
    try:
        return _panorama_views(state, stream, colormap, opacity, with_panels=False)[1]
    except ValueError as err:
        _fail(err)


@releases_memory
def restyle_panorama(state, stream, colormap, opacity):
    if not state:
        return gr.skip(), gr.skip()
    try:
        return _panorama_views(state, stream, colormap, opacity)
    except ValueError as err:
        _fail(err)


@releases_memory
def run_panorama_video(video, model_name, colormap, opacity, max_frames, fps, progress=gr.Progress()):
    if video is None:
        raise gr.Error("Upload an equirectangular video (2:1) first.", print_exception=False)
    try:
        videos = studio360.process_video(video, model_name, max_frames=int(max_frames), fps=float(fps),
                                         colormap=colormap, opacity=opacity,
                                         progress=lambda done, total: progress((done, total), desc="frames"))
    except (ValueError, RuntimeError) as err:
        _fail(err)
    players = [videos.get(s) for s in studio360.VIDEO_STREAMS]          # None where the model has no such stream
    clip = studio360.probe_video(next(iter(videos.values())))
    note = "" if studio360.browser_playable() else " — this OpenCV build writes mp4v: download the videos to play them"
    return *players, (f"**{model_name}**: {', '.join(videos)} — {clip['frames']} frames at {clip['fps']:g} fps, "
                      f"{clip['width']}×{clip['height']}{note}")


def build_demo() -> gr.Blocks:
    models = studio.upload_models()
    default = DEFAULT["saliency"] if DEFAULT["saliency"] in models else models[0]
    pano_models = studio360.panorama_models()
    pano_default = DEFAULT["panorama"] if DEFAULT["panorama"] in pano_models else pano_models[0]
    examples, examples_message = gallery.fetch_examples()
    example_dirs = sorted({str(Path(e["path"]).parent) for e in examples})
    # viewer scripts, its textures and the example paintings, served as they are
    gr.set_static_paths([VIEWER_DIR, studio360.texture_dir(), *example_dirs])
    pannellum = f"{_file_url(VIEWER_DIR / 'pannellum')}"
    viewer_head = (f'<link rel="stylesheet" href="{pannellum}/pannellum.css">'
                   f'<script src="{pannellum}/pannellum.js"></script>'
                   f'<script src="{_file_url(VIEWER_DIR / "pano-viewer.js")}"></script>')
    sp_models = scanpath_view.scanpath_models()
    sp_default = DEFAULT["scanpath"] if DEFAULT["scanpath"] in sp_models else sp_models[0]
    sp_temperature_default = scanpath_view.default_temperature(sp_default)

    def painting_examples(target, elem_id: str):
        """The example paintings as captioned thumbnails; a click loads one into `target`. Or a line saying why
        there are none."""
        if examples:
            thumbs = gr.Gallery([(e["path"], e["label"]) for e in examples], label="Example paintings (public "
                                "domain) — click one to load it", columns=10, height="auto", allow_preview=False,
                                object_fit="cover", elem_id=elem_id)
            thumbs.select(pick_example, None, target, api_visibility="private")
        if examples_message:
            gr.Markdown(f"<small>{examples_message}</small>", elem_classes="examples-message")

    def pick_example(evt: gr.SelectData):
        return examples[evt.index]["path"]

    # Gradio's copies of uploads and outputs older than an hour are deleted every hour (ours: models/outputs.py).
    with gr.Blocks(title="Visual-attention studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Visual-attention studio\nWhere do people look in a painting, in what order, and for how "
                    "long? Upload a painting or pick an example.")
        with gr.Tab("Overview"):
            gr.Markdown("One painting, every view: where attention goes (the best saliency model), a few sampled "
                        "scanpaths, and numbers that summarise the map, read out in plain words.")
            with gr.Row():
                with gr.Column():
                    ov_image = image_upload(label="Painting or photo", elem_id="ov-image")
                    ov_count = gr.Slider(1, scanpath_view.MAX_SCANPATHS, value=3, step=1,
                                         label="Number of scanpaths", elem_id="ov-count")
                    ov_temperature = gr.Slider(0.0, 1.0, value=sp_temperature_default, step=0.05,
                                               label="Temperature (noise in the scanpaths)", elem_id="ov-temperature")
                    ov_seed = gr.Number(0, precision=0, label="Seed", elem_id="ov-seed")
                    ov_go = gr.Button("Look at this painting", variant="primary", elem_id="ov-go")
                with gr.Column():
                    ov_reading = gr.Markdown(elem_id="ov-reading")
                    ov_table = gr.Dataframe(headers=["statistic", "value"], label="Attention statistics",
                                            interactive=False, elem_id="ov-table")
            with gr.Row():
                with gr.Column():
                    ov_overlay = gr.Image(label="Where people look (predicted attention over the painting)",
                                          type="numpy", interactive=False, elem_id="ov-overlay")
                    gr.HTML(studio.legend_html("inferno"))
                ov_paths = gr.Image(label="Sampled scanpaths (numbered fixations, circle area ∝ duration)",
                                    type="numpy", interactive=False, elem_id="ov-scanpaths")
            painting_examples(ov_image, "ov-examples")
            ov_go.click(run_overview, [ov_image, ov_count, ov_temperature, ov_seed],
                        [ov_overlay, ov_paths, ov_table, ov_reading], api_name="overview")
        with gr.Tab("Saliency"):
            gr.Markdown("A saliency map is a probability distribution over the image: the share of viewers' "
                        "fixations each place is predicted to receive. Brighter colours mean more attention.")
            with gr.Row():
                with gr.Column():
                    image = image_upload(label="Painting or photo", elem_id="sal-image")
                    model = gr.Dropdown(models, value=default, label="Model", elem_id="sal-model")
                    colormap = gr.Dropdown(list(studio.COLORMAPS), value="inferno", label="Colormap")
                    opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity")
                    go = gr.Button("Predict saliency", variant="primary")
                with gr.Column():
                    over = gr.Image(label="Heatmap overlay", type="numpy", interactive=False, elem_id="overlay")
                    legend = gr.HTML(studio.legend_html("inferno"), elem_id="legend")
                    info = gr.Markdown(label="Model")
            colormap.change(studio.legend_html, colormap, legend, api_visibility="private")
            painting_examples(image, "sal-examples")
            with gr.Row():
                raw = gr.Image(label="Saliency map", type="numpy", interactive=False)
                slider = gr.ImageSlider(label="Before / after", type="numpy", interactive=False)
            files = gr.File(label="Download the map (PNG 16-bit, .npy density)", file_count="multiple",
                            interactive=False, elem_id="sal-files")
            go.click(run_saliency, [image, model, colormap, opacity], [over, raw, slider, files, info],
                     api_name="saliency")
            gr.Markdown("### Compare models side by side")
            compare_models = gr.CheckboxGroup(models, value=models, label="Models to compare")
            compare = gr.Button("Compare")
            compare_gallery = gr.Gallery(label="Side by side", columns=4, height="auto", elem_id="compare-gallery")
            compare.click(run_compare, [image, compare_models, colormap, opacity], compare_gallery, api_name="compare")
        with gr.Tab("Scanpaths"):
            gr.Markdown("In what order, and for how long, do people look? Each colour is one sampled scanpath: "
                        "numbered circles are fixations (area ∝ duration), arrows the saccades between them. "
                        "Temperature 0 gives the model's single most likely scanpath; higher values add noise, "
                        "so the sampled scanpaths differ more from each other (people differ too).")
            with gr.Row():
                with gr.Column():
                    sp_image = image_upload(label="Painting or photo", elem_id="sp-image")
                    sp_model = gr.Dropdown(sp_models, value=sp_default, label="Scanpath model", elem_id="sp-model")
                    sp_temperature = gr.Slider(0.0, 1.0, value=sp_temperature_default, step=0.05,
                                               label="Temperature (noise)",
                                               elem_id="sp-temperature")
                    sp_count = gr.Slider(1, scanpath_view.MAX_SCANPATHS, value=3, step=1, label="Number of scanpaths",
                                         elem_id="sp-count")
                    sp_max = gr.Slider(1, scanpath_view.MAX_FIXATIONS, value=10, step=1, label="Maximum fixations",
                                       elem_id="sp-max")
                    sp_seed = gr.Number(0, precision=0, label="Seed (the same seed gives the same scanpaths)",
                                        elem_id="sp-seed")
                    sp_show = gr.Checkbox(False, label="Draw over the saliency map", elem_id="sp-show-saliency")
                    sp_go = gr.Button("Sample scanpaths", variant="primary")
                with gr.Column():
                    sp_drawing = gr.Image(label="Scanpaths", type="numpy", interactive=False, elem_id="sp-drawing")
                    sp_gif = gr.Image(label="The gaze moving (GIF)", type="filepath", interactive=False,
                                      elem_id="sp-gif")
            sp_files = gr.File(label="Download (JSON, CSV: x, y in image pixels, duration_ms, order)",
                               file_count="multiple", interactive=False, elem_id="sp-files")
            sp_table = gr.Dataframe(headers=["scanpath", "order", "x", "y", "duration_ms"], label="Fixations",
                                    interactive=False, elem_id="sp-table")
            painting_examples(sp_image, "sp-examples")
            sp_model.change(scanpath_view.default_temperature, sp_model, sp_temperature, api_visibility="private")
            sp_go.click(run_scanpaths, [sp_image, sp_model, sp_count, sp_temperature, sp_max, sp_seed, sp_show],
                        [sp_drawing, sp_gif, sp_files, sp_table], api_name="scanpaths")
        with gr.Tab("360°"):
            gr.Markdown("Upload an equirectangular 360° panorama (twice as wide as high) or a 360° video. "
                        "Every stream of the model is shown side by side; explore one in the 360° viewer. "
                        "ATSal's streams: **attention** looks at the whole sphere at once; the **experts** look at "
                        "the six cube faces (a *poles* expert for up and down, an *equator* expert for the four "
                        "sides); **fused** combines them (attention × experts^γ) and is usually the best guess.")
            pano_state = gr.State(None)
            with gr.Row():
                with gr.Column(scale=1):
                    pano_image = image_upload(label="Equirectangular panorama (2:1)", elem_id="pano-image")
                    pano_model = gr.Dropdown(pano_models, value=pano_default, label="360° model",
                                             elem_id="pano-model")
                    pano_stream = gr.Radio(list(studio360.STREAM_ORDER), value="fused", elem_id="pano-stream",
                                           label="Stream in the viewer (the model's own after predicting)")
                    pano_colormap = gr.Dropdown(list(studio.COLORMAPS), value="inferno", label="Colormap",
                                                elem_id="pano-colormap")
                    pano_opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity",
                                             elem_id="pano-opacity")
                    pano_go = gr.Button("Predict 360° saliency", variant="primary")
                with gr.Column(scale=2):
                    viewer = gr.HTML(None, label="360° viewer texture", elem_id="pano-viewer", head=viewer_head,
                                     html_template='<div class="pano-host" style="width:100%;height:460px"></div>',
                                     js_on_load="studioPanoViewer(element, props, watch)")
                    pano_info = gr.Markdown(label="Model")
            pano_gallery = gr.Gallery(label="Streams side by side", columns=3, height="auto", fit_columns=False,
                                      object_fit="contain", elem_id="pano-streams")
            pano_legend = gr.HTML(studio.legend_html("inferno"), elem_id="pano-legend")
            pano_colormap.change(studio.legend_html, pano_colormap, pano_legend, api_visibility="private")
            pano_go.click(run_panorama, [pano_image, pano_model, pano_stream, pano_colormap, pano_opacity],
                          [pano_gallery, viewer, pano_stream, pano_state, pano_info], api_name="panorama")
            pano_stream.input(restyle_viewer, [pano_state, pano_stream, pano_colormap, pano_opacity], viewer,
                              api_visibility="private")
            for control, event in ((pano_colormap, "input"), (pano_opacity, "release")):
                getattr(control, event)(restyle_panorama, [pano_state, pano_stream, pano_colormap, pano_opacity],
                                        [pano_gallery, viewer], api_visibility="private")
            gr.Markdown("### 360° video\nHeatmap-over-frame videos per stream (the model's temporal smoothing "
                        f"on). At most {studio360.MAX_VIDEO_SECONDS:.0f} s of video; frames wider than "
                        f"{studio360.MAX_VIDEO_WIDTH} px are downscaled.")
            with gr.Row():
                pano_video = gr.Video(label="Equirectangular video (2:1)", sources=["upload"],
                                      elem_id="pano-video-in")
                with gr.Column():
                    max_frames = gr.Slider(1, studio360.MAX_VIDEO_FRAMES, value=studio360.DEFAULT_VIDEO_FRAMES,
                                           step=1, label="Frames to process (at most)")
                    video_fps = gr.Slider(1, 30, value=6, step=1, label="Output frame rate (lower skips frames)")
                    video_go = gr.Button("Process video")
                    video_info = gr.Markdown(label="Video")
            with gr.Row():
                video_outputs = [gr.Video(label=studio360.stream_label(s), interactive=False,
                                          elem_id=f"pano-video-{s}") for s in studio360.VIDEO_STREAMS]
            video_go.click(run_panorama_video,
                           [pano_video, pano_model, pano_colormap, pano_opacity, max_frames, video_fps],
                           [*video_outputs, video_info], api_name="panorama_video", concurrency_limit=1
                           ).then(lambda *paths: [gr.Video(visible=p is not None) for p in paths], video_outputs,
                                  video_outputs, api_visibility="private")
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
    return demo


def app_models() -> list[str]:
    """Every model a visitor can choose, defaults first."""
    names = [DEFAULT["saliency"], DEFAULT["scanpath"], DEFAULT["panorama"], *studio.upload_models(),
             *scanpath_view.scanpath_models(), *studio360.panorama_models()]
    return list(dict.fromkeys(names))


if __name__ == "__main__":
    limit_malloc_arenas(2)           # with releases_memory on every handler: flat memory on a long-running Space
    # Models load in the background while the server starts: its first visitors do not pay for it, and memory
    # reaches its working level before serving rather than over the first requests (bench/load_test.py).
    threading.Thread(target=studio.warm_up, args=(app_models(),), name="warm-up", daemon=True).start()
    # A small CPU Space: two requests run at once, others wait in the queue; uploads over 200 MB are refused.
    build_demo().queue(default_concurrency_limit=2, max_size=64).launch(
        server_name=os.environ.get("HOST", "127.0.0.1"), server_port=int(os.environ.get("PORT", "7860")), css=CSS,
        max_file_size=MAX_UPLOAD)
