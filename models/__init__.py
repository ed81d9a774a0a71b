"""Models of visual attention behind one registry and one inference API per task.

    from models import create_model, list_models, predict_saliency
    model = create_model("centerbias")
    density = predict_saliency(model, image)        # (H, W) float64, sums to 1

Layout: nets/ (nn.Modules only), runtime/ (nets and baselines as registry models, ONNX Runtime), studio/ (what
the app shows, no Gradio); registry.py, weights.py, tasks.py (the per-task protocols) and api.py here.
"""
from models.registry import DEFAULT, TASKS, create_model, list_models, model_entry, register_model

# Importing the runtime modules registers every model.
from models.runtime import baselines, panorama, saliency, scanpath  # noqa: E402,F401

from models.api import as_rgb, load_image, load_model, predict_panorama, predict_saliency, predict_scanpath  # noqa: E402

__all__ = ["DEFAULT", "TASKS", "create_model", "list_models", "model_entry", "register_model", "as_rgb",
           "load_image", "load_model", "predict_saliency", "predict_scanpath", "predict_panorama"]
