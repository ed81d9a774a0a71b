"""Every registered model gets the same checks for free (timm style)."""
import numpy as np
import pytest

import models
from models import create_model, list_models, predict_panorama, predict_saliency, predict_scanpath
from models.registry import DEFAULT, TASKS, register_model


def test_every_task_has_a_registered_default():
    for task in TASKS:
        assert DEFAULT[task] in list_models(task), task


def test_unknown_model_names_the_alternatives():
    with pytest.raises(ValueError, match="Available: .*centerbias"):
        create_model("deepgaze-9000")


def test_unknown_task():
    with pytest.raises(ValueError, match="unknown task"):
        list_models("video")


@pytest.mark.parametrize("name", list_models("saliency", include_gaze_models=False))
def test_saliency_models_return_a_density_at_image_resolution(name, synthetic_image):
    density = predict_saliency(name, synthetic_image)
    assert density.shape == synthetic_image.shape[:2]
    assert np.isfinite(density).all() and (density >= 0).all()
    assert np.isclose(density.sum(), 1.0)


@pytest.mark.parametrize("name", list_models("saliency", include_gaze_models=False))
def test_saliency_models_accept_gray_rgba_and_float_images(name, synthetic_image):
    gray = synthetic_image.mean(2).astype(np.uint8)
    rgba = np.dstack([synthetic_image, np.full(gray.shape, 255, np.uint8)])
    for image in (gray, rgba, synthetic_image / 255.0):
        assert predict_saliency(name, image).shape == gray.shape


def test_bad_images_are_refused_with_a_message():
    with pytest.raises(ValueError, match="no image"):
        predict_saliency("centerbias", None)
    with pytest.raises(ValueError, match="too small"):
        predict_saliency("centerbias", np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="shape"):
        predict_saliency("centerbias", np.zeros((10, 10, 5), np.uint8))
    with pytest.raises(ValueError, match="NaN"):
        predict_saliency("centerbias", np.full((10, 10, 3), np.nan))


def test_gold_needs_gaze_and_is_not_offered_for_uploads(synthetic_image):
    assert "gold" in list_models("saliency")
    assert "gold" not in list_models("saliency", include_gaze_models=False)
    with pytest.raises(ValueError, match="fixations"):
        predict_saliency("gold", synthetic_image)


def test_center_bias_peaks_near_the_centre():
    density = create_model("centerbias").density((400, 300))
    y, x = np.unravel_index(density.argmax(), density.shape)
    assert abs(x - 200) < 80 and abs(y - 150) < 60


def test_spectral_residual_finds_an_odd_patch():
    rng = np.random.default_rng(0)
    image = np.full((120, 160, 3), 128, np.uint8) + rng.integers(0, 3, (120, 160, 3)).astype(np.uint8)
    image[20:35, 110:125] = 255                                   # a lone bright square off-centre
    density = predict_saliency("spectral-residual", image)
    y, x = np.unravel_index(density.argmax(), density.shape)
    assert 10 <= y <= 45 and 100 <= x <= 135


@pytest.mark.parametrize("name", list_models("scanpath"))
def test_scanpath_models_sample_paths_inside_the_image(name, synthetic_image):
    path = predict_scanpath(name, synthetic_image, n_fixations=6, seed=1)
    h, w = synthetic_image.shape[:2]
    assert len(path) == 6
    for x, y, d in path:
        assert 0 <= x < w and 0 <= y < h and d > 0
    assert path == predict_scanpath(name, synthetic_image, n_fixations=6, seed=1)      # seeded
    cold = predict_scanpath(name, synthetic_image, n_fixations=6, temperature=0)
    assert cold == predict_scanpath(name, synthetic_image, n_fixations=6, temperature=0, seed=5)


def test_scanpath_sampler_follows_the_saliency_peak(synthetic_image):
    from tests.conftest import draw_image
    image, (cx, cy) = draw_image(3, (200, 150))
    sampler = create_model("saliency-sampler", saliency="spectral-residual")
    first = sampler.sample(image, n_fixations=1, temperature=0)[0]
    density = predict_saliency("spectral-residual", image)
    py, px = np.unravel_index(density.argmax(), density.shape)
    assert np.hypot(first[0] - px, first[1] - py) < 20


@pytest.mark.parametrize("name", list_models("panorama"))
def test_panorama_models(name):
    pano = np.zeros((64, 128, 3), np.uint8)
    density = predict_panorama(name, pano)
    assert density.shape == (64, 128) and np.isclose(density.sum(), 1)
    with pytest.raises(ValueError, match="twice as wide"):
        predict_panorama(name, np.zeros((64, 64, 3), np.uint8))


@pytest.mark.parametrize("name", [m for m in ("effsal-lite0", "salnet") if m in list_models("saliency")])
def test_trained_models_find_an_off_centre_salient_blob(name):
    """Bundled trained weights must follow image content, not just the centre: the peak lands on a bright blob
    placed away from the centre (centre bias alone would miss it)."""
    from tests.conftest import draw_image
    misses = []
    for seed in range(6):
        image, (cx, cy) = draw_image(seed, (320, 240))
        density = predict_saliency(name, image)
        py, px = np.unravel_index(density.argmax(), density.shape)
        misses.append(np.hypot(px - cx, py - cy))
    assert np.median(misses) < 30, misses


def test_atsal_streams_and_fusion():
    if "atsal" not in list_models("panorama"):
        pytest.skip("no bundled ATSal weights")
    from tests.conftest import draw_image
    image = np.concatenate([draw_image(s, (128, 128))[0] for s in range(2)], axis=1)     # 128×256, 2:1
    streams = create_model("atsal").predict_streams(image)
    assert set(streams) >= {"attention", "attention_map", "prior", "poles", "equator", "experts", "fused"}
    for key in ("attention", "experts", "fused"):
        assert streams[key].shape == (128, 256) and np.isclose(streams[key].sum(), 1)
    from models.runtime.panorama import fuse
    config = create_model("atsal").network.config                      # the bundled, val-tuned exponents
    gamma, alpha = config.fusion_gamma, config.fusion_alpha
    assert np.allclose(streams["fused"], fuse(streams["attention"], streams["experts"], gamma, alpha))
    product = streams["attention"] ** alpha * streams["experts"] ** gamma
    assert np.allclose(streams["fused"], product / product.sum())


def test_a_trained_model_without_bundled_weights_is_hidden_but_loads_from_a_folder():
    from models.registry import _REGISTRY
    calls = []
    try:
        @register_model("scanpath", bundled="no-such-weights")
        def no_such_weights(weights=None):
            """A model whose weights are not in assets/."""
            calls.append(weights)
            return weights
        assert "no-such-weights" not in list_models()
        with pytest.raises(ValueError, match="unknown model"):
            create_model("no-such-weights")
        assert create_model("no-such-weights", weights="some/folder") == "some/folder" and calls == ["some/folder"]
    finally:
        _REGISTRY.pop("no-such-weights", None)



@pytest.mark.parametrize("name", list_models())
def test_every_model_satisfies_its_task_protocol(name):
    from models.api import load_model
    from models.tasks import PROTOCOLS
    task = models.model_entry(name).task
    model = load_model(name)
    assert isinstance(model, PROTOCOLS[task]), f"{name} lacks part of the {task} protocol"
    assert isinstance(model.notice, str) and model.runtime in ("onnxruntime", "torch", "numpy")


def test_predicting_by_name_builds_each_model_once(monkeypatch):
    import models.api as api
    built = []
    real = api.create_model
    monkeypatch.setattr(api, "create_model", lambda name, **kw: built.append(name) or real(name, **kw))
    api.load_model.cache_clear()
    image = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    try:
        for seed in range(4):
            predict_saliency("centerbias", image)
            predict_scanpath("saliency-sampler", image, seed=seed)
        assert sorted(built) == ["centerbias", "saliency-sampler"]    # the sampler's own saliency model is inside it
    finally:
        api.load_model.cache_clear()


def _extra_folder(root, name, base="effsal-lite0"):
    """A copy of a bundled weights folder whose config.json names its base model, as training.finetune writes."""
    import json
    import shutil
    from models.weights import ASSETS
    folder = root / name
    shutil.copytree(ASSETS / base, folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "base_model": base}))
    return folder


def test_extra_weight_folders_are_listed_by_folder_name(tmp_path, monkeypatch, synthetic_image):
    one = _extra_folder(tmp_path / "a", "effsal-mine")
    _extra_folder(tmp_path / "runs", "effsal-theirs")                # a parent folder of weight folders
    monkeypatch.setenv("EXTRA_WEIGHTS", f"{one}:{tmp_path / 'runs'}")
    assert {"effsal-mine", "effsal-theirs"} <= set(list_models("saliency"))
    assert models.model_entry("effsal-mine").task == "saliency"
    same = predict_saliency(create_model("effsal-mine"), synthetic_image)
    assert np.allclose(same, predict_saliency(create_model("effsal-lite0"), synthetic_image))
    monkeypatch.delenv("EXTRA_WEIGHTS")
    assert "effsal-mine" not in list_models()
    with pytest.raises(ValueError, match="unknown model 'effsal-mine'"):
        create_model("effsal-mine")


def test_bad_extra_weight_folders_are_skipped_with_a_warning(tmp_path, monkeypatch):
    import json
    unnamed = _extra_folder(tmp_path, "no-base")
    (unnamed / "config.json").write_text(json.dumps({"arch": {"encoder": "lite0"}}))
    clash = _extra_folder(tmp_path, "salnet")
    unknown = _extra_folder(tmp_path, "effsal-unknown-base")
    config = json.loads((unknown / "config.json").read_text())
    (unknown / "config.json").write_text(json.dumps({**config, "base_model": "deepgaze-9000"}))
    good = _extra_folder(tmp_path, "effsal-good")
    monkeypatch.setenv("EXTRA_WEIGHTS", ":".join(str(p) for p in (unnamed, clash, unknown, tmp_path / "gone", good)))
    with pytest.warns(UserWarning) as caught:
        names = list_models()
    messages = " | ".join(str(w.message) for w in caught)
    assert "does not name its base model" in messages and "'salnet' is already a model name" in messages
    assert "'deepgaze-9000', which is not registered" in messages and "is not a folder" in messages
    assert "effsal-good" in names and "no-base" not in names and "effsal-unknown-base" not in names
    assert models.model_entry("salnet").bundled == "salnet"            # the built-in model keeps its name
