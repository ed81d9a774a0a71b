"""Visual-attention studio: Gradio wiring only. Every handler's work is done by a function in models/ or training/.

    python app.py            # http://127.0.0.1:7860
"""
from __future__ import annotations

import os

import gradio as gr
import numpy as np

from models import DEFAULT
from models import studio
from training import evaluate_maps

METRIC_LABELS = {"auc_judd": "AUC-Judd ↑", "auc_borji": "AUC-Borji ↑", "sauc": "sAUC ↑", "nss": "NSS ↑",
                 "cc": "CC ↑", "kld": "KLD ↓", "sim": "SIM ↑", "ig": "IG ↑", "auc_weighted": "AUC (GT-weighted) ↑"}


def _fail(err: Exception):
    raise gr.Error(str(err), print_exception=False)


def run_saliency(image, model_name, colormap, opacity):
    if image is None:
        raise gr.Error("Upload an image first.", print_exception=False)
    try:
        over, heat, density = studio.saliency_view(image, model_name, colormap, opacity)
        png, npy = studio.save_map_files(density, stem=f"saliency-{model_name}")
    except ValueError as err:
        _fail(err)
    notice = studio.model_notice(model_name)
    info = f"**{model_name}** — {studio.describe(model_name)}" + (f"\n\n⚠️ {notice}" if notice else "")
    return over, heat, (np.asarray(studio.as_rgb(image)), over), [png, npy], info


def run_compare(image, model_names, colormap, opacity):
    if image is None:
        raise gr.Error("Upload an image first.", print_exception=False)
    if not model_names:
        raise gr.Error("Pick at least one model to compare.", print_exception=False)
    try:
        return [(studio.saliency_view(image, m, colormap, opacity)[0], m) for m in model_names]
    except ValueError as err:
        _fail(err)


def run_evaluate(pred_file, gt_file, protocol, sigma):
    if pred_file is None or gt_file is None:
        raise gr.Error("Upload both a predicted map and a ground truth (a map or a fixations CSV).",
                       print_exception=False)
    try:
        scores = evaluate_maps.score_pair(pred_file, gt_file, protocol, float(sigma))
    except (ValueError, OSError) as err:
        _fail(err)
    return [[METRIC_LABELS.get(k, k), round(v, 4)] for k, v in scores.items()]


def build_demo() -> gr.Blocks:
    models = studio.upload_models()
    default = DEFAULT["saliency"] if DEFAULT["saliency"] in models else models[0]
    with gr.Blocks(title="Visual-attention studio") as demo:
        gr.Markdown("# Visual-attention studio\nWhere do people look in a painting? Upload one and compare models.")
        with gr.Tab("Saliency"):
            with gr.Row():
                with gr.Column():
                    image = gr.Image(label="Painting or photo", type="numpy", sources=["upload", "clipboard"])
                    model = gr.Dropdown(models, value=default, label="Model")
                    colormap = gr.Dropdown(list(studio.COLORMAPS), value="inferno", label="Colormap")
                    opacity = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Overlay opacity")
                    go = gr.Button("Predict saliency", variant="primary")
                with gr.Column():
                    over = gr.Image(label="Heatmap overlay", type="numpy", interactive=False, elem_id="overlay")
                    info = gr.Markdown(label="Model")
            with gr.Row():
                raw = gr.Image(label="Saliency map", type="numpy", interactive=False)
                slider = gr.ImageSlider(label="Before / after", type="numpy", interactive=False)
            files = gr.File(label="Download the map (PNG 16-bit, .npy density)", file_count="multiple",
                            interactive=False)
            go.click(run_saliency, [image, model, colormap, opacity], [over, raw, slider, files, info],
                     api_name="saliency")
            gr.Markdown("### Compare models side by side")
            compare_models = gr.CheckboxGroup(models, value=models, label="Models to compare")
            compare = gr.Button("Compare")
            gallery = gr.Gallery(label="Side by side", columns=4, height="auto")
            compare.click(run_compare, [image, compare_models, colormap, opacity], gallery, api_name="compare")
        with gr.Tab("Evaluate"):
            gr.Markdown("Score a predicted saliency map against a ground truth: a map (grey image or .npy) or a "
                        "fixations CSV with columns `x,y` in pixels. The prediction is resized to the ground truth.")
            with gr.Row():
                pred_file = gr.File(label="Predicted map (.png/.jpg/.npy)", type="filepath", elem_id="pred-file")
                gt_file = gr.File(label="Ground truth (map or fixations .csv)", type="filepath", elem_id="gt-file")
            with gr.Row():
                protocol = gr.Radio(["mit", "tuebingen"], value="mit", label="Protocol")
                sigma = gr.Number(24.0, label="Blur σ (px) for fixation ground truth", minimum=1, maximum=200)
            score = gr.Button("Score", variant="primary")
            table = gr.Dataframe(headers=["metric", "value"], label="Metrics", interactive=False, elem_id="metrics")
            score.click(run_evaluate, [pred_file, gt_file, protocol, sigma], table, api_name="evaluate")
    return demo


if __name__ == "__main__":
    build_demo().queue().launch(server_name=os.environ.get("HOST", "127.0.0.1"),
                                server_port=int(os.environ.get("PORT", "7860")))
