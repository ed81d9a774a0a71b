"""The 360° tab's functions (models/studio/panorama_tab.py): streams, overlays, viewer textures and stream videos."""
from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from models.studio import panorama_tab as studio360
from models.studio.video_io import VideoWriter
from tests.conftest import draw_image
from tests.fake360 import FakeStreamsModel

ALL_STREAMS = ["fused", "attention", "attention_map", "prior", "experts", "poles", "equator"]


def _pano(size=(256, 128), seed: int = 3) -> np.ndarray:
    return draw_image(seed, size)[0]


def write_video(path: Path, n_frames: int = 6, size=(128, 64), fps: float = 12.0) -> Path:
    """A small equirectangular clip (a blob drifting in longitude), written by OpenCV as mp4v (what any upload
    decoder reads; the app's own output codec is tested below)."""
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
    assert writer.isOpened()
    base = _pano(size, seed=1)
    for i in range(n_frames):
        writer.write(cv2.cvtColor(np.roll(base, 8 * i, axis=1), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


def _frames(path: str) -> tuple[int, tuple[int, int], float]:
    cap = cv2.VideoCapture(path)
    n, shape = 0, None
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        n, shape = n + 1, frame.shape[:2]
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    return n, shape, fps


# ---------- panoramas ----------

def test_equator_bias_gives_one_prior_density():
    pano = _pano()
    streams = studio360.panorama_streams(pano, "equator-bias")
    assert list(streams) == ["prior"]
    prior = streams["prior"]
    assert prior.shape == (128, 256) and np.isclose(prior.sum(), 1.0)
    assert prior[64].mean() > prior[5].mean()                      # horizon above the poles
    panels = studio360.stream_images(pano, streams, "jet", 0.5)
    assert len(panels) == 1 and panels[0][0].shape == pano.shape
    assert panels[0][1] == "latitude prior (equator bias)"
    assert studio360.chosen_stream(streams, "fused") == "prior"      # another model's stream: the model's own


def test_a_model_with_predict_streams_gives_every_stream_in_order():
    model = FakeStreamsModel()
    pano = _pano()
    streams = studio360.panorama_streams(pano, model)
    assert list(streams) == ALL_STREAMS
    assert model.calls == [False]                                  # a still panorama: no temporal smoothing
    assert all(m.shape == (128, 256) for m in streams.values())
    panels = studio360.stream_images(pano, streams, "inferno", 0.6)
    assert [label for _, label in panels][:2] == ["fused (attention × experts)", "attention stream"]
    assert not np.array_equal(panels[0][0], panels[1][0])
    assert studio360.chosen_stream(streams, "experts") == "experts"
    assert studio360.chosen_stream(streams, "no-such-stream") == "fused"


def test_atsal_streams_pass_through():
    torch = pytest.importorskip("torch")
    from models.nets.atsal import ATSal
    from models.runtime.panorama import ATSalPanoramaModel
    torch.manual_seed(0)
    model = ATSal({"attention": {"input_height": 64, "input_width": 128, "decoder_channels": 16,
                                 "attention_channels": 8},
                   "expert": {"face_size": 64, "decoder_channels": 16, "n_priors": 4}}).eval()
    streams = studio360.panorama_streams(_pano((240, 120)), ATSalPanoramaModel(model, onnx=False))
    assert list(streams) == ALL_STREAMS
    assert np.isclose(streams["fused"].sum(), 1.0) and streams["fused"].shape == (120, 240)


def test_wrong_aspect_ratio_is_refused_with_a_clear_message():
    with pytest.raises(ValueError, match=r"twice as wide as high \(2:1, ±5%\); got 300×200"):
        studio360.panorama_streams(np.zeros((200, 300, 3), np.uint8), "equator-bias")
    # within ±5 % is accepted
    assert studio360.panorama_streams(np.zeros((100, 206, 3), np.uint8), "equator-bias")["prior"].shape == (100, 206)


def test_only_panorama_models_are_accepted():
    with pytest.raises(ValueError, match="not a 360° panorama model"):
        studio360.panorama_streams(_pano(), "centerbias")
    with pytest.raises(ValueError, match="unknown model"):
        studio360.panorama_streams(_pano(), "no-such-model")


def test_large_panoramas_are_downscaled_to_the_working_width():
    big = np.zeros((1536, 3072, 3), np.uint8)
    streams = studio360.panorama_streams(big, "equator-bias")
    assert streams["prior"].shape == (studio360.MAX_WIDTH // 2, studio360.MAX_WIDTH)
    panels = studio360.stream_images(big, streams)                 # gallery panels are at most PANEL_WIDTH wide
    assert panels[0][0].shape == (studio360.PANEL_WIDTH // 2, studio360.PANEL_WIDTH, 3)
    full = studio360.stream_images(big, streams, max_width=studio360.MAX_WIDTH)   # the image follows the maps
    assert full[0][0].shape == (studio360.MAX_WIDTH // 2, studio360.MAX_WIDTH, 3)


def test_viewer_texture_blends_at_the_given_opacity(tmp_path):
    pano = cv2.GaussianBlur(_pano(), (9, 9), 3)                    # smooth, so JPEG keeps it close
    density = studio360.panorama_streams(pano, FakeStreamsModel())["attention"]
    plain = studio360.viewer_texture(pano, density, 0.0, folder=tmp_path)
    strong = studio360.viewer_texture(pano, density, 1.0, folder=tmp_path)
    assert plain != strong and Path(plain).suffix == ".jpg"
    a, b = np.asarray(Image.open(plain)).astype(int), np.asarray(Image.open(strong)).astype(int)
    assert a.shape == b.shape == pano.shape
    assert np.abs(a - pano).mean() < 4                             # opacity 0: the panorama itself (JPEG noise)
    assert np.abs(b - pano).mean() > 10
    default = studio360.viewer_texture(pano, density, 0.5)
    assert Path(default).parent == studio360.texture_dir()


# ---------- video ----------

def test_codec_writes_mp4_that_opencv_reads_back():
    assert studio360.video_codec() in studio360.CODECS


@pytest.mark.parametrize("codec", ["h264", "mp4v"])
def test_video_writer_round_trip_keeps_frames_and_makes_sides_even(tmp_path, codec):
    if codec == "h264":
        pytest.importorskip("av")
        if studio360.video_codec() != "h264":
            pytest.skip("PyAV here has no libx264")
    frames = [np.full((33, 65, 3), (40 * i, 120, 200 - 30 * i), np.uint8) for i in range(5)]
    path = tmp_path / f"{codec}.mp4"
    with VideoWriter(path, fps=10, size=(65, 33), codec=codec) as writer:
        assert writer.size == (64, 32)                       # yuv420p needs even sides
        for f in frames:
            writer.write(f)
    cap = cv2.VideoCapture(str(path))
    back = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        back.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    assert len(back) == len(frames) and back[0].shape == (32, 64, 3)
    for got, sent in zip(back, frames):                      # flat colours survive lossy coding closely
        assert np.abs(got.astype(int) - sent[0, 0].astype(int)).mean() < 8


def test_h264_is_preferred_and_browser_playable():
    pytest.importorskip("av")
    import av
    if "libx264" not in av.codecs_available:
        pytest.skip("PyAV here has no libx264")
    assert studio360.video_codec() == "h264" and studio360.browser_playable()


def test_video_round_trip_gives_one_video_per_stream(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", n_frames=6)
    model = FakeStreamsModel()
    seen = []
    videos = studio360.process_video(clip, model, max_frames=60, progress=lambda d, t: seen.append((d, t)),
                                     out_dir=tmp_path / "out")
    assert list(videos) == ["attention", "experts", "fused"]
    assert studio360.video_players(videos) == [videos["attention"], videos["experts"], videos["fused"]]
    for path in videos.values():
        n, shape, fps = _frames(path)
        assert (n, shape) == (6, (64, 128)) and fps == pytest.approx(12.0)
    assert model.resets == 1 and model.calls == [True] * 6         # temporal state reset, then smoothed frames
    assert seen == [(i, 6) for i in range(1, 7)]


def test_a_one_stream_model_gives_its_own_video_in_the_last_player(tmp_path):
    videos = studio360.process_video(write_video(tmp_path / "clip.mp4"), "equator-bias", out_dir=tmp_path)
    assert list(videos) == ["prior"] and _frames(videos["prior"])[0] == 6
    assert studio360.video_players(videos) == [None, None, videos["prior"]]


def test_frame_cap_and_frame_rate(tmp_path):
    clip = write_video(tmp_path / "clip.mp4", n_frames=6, fps=12)
    capped = studio360.process_video(clip, FakeStreamsModel(), max_frames=4, out_dir=tmp_path / "a")
    assert _frames(capped["fused"])[0] == 4
    halved = studio360.process_video(clip, FakeStreamsModel(), fps=6, out_dir=tmp_path / "b")
    n, _, fps = _frames(halved["fused"])
    assert n == 3 and fps == pytest.approx(6.0)                    # every second frame
    with pytest.raises(ValueError, match="max_frames must be between 1 and"):
        studio360.process_video(clip, FakeStreamsModel(), max_frames=0)


def test_unreadable_wrong_aspect_and_too_long_videos_are_refused(tmp_path, monkeypatch):
    junk = tmp_path / "junk.mp4"
    junk.write_text("not a video")
    with pytest.raises(ValueError, match="could not read 'junk.mp4' as a video"):
        studio360.process_video(junk, "equator-bias")
    with pytest.raises(ValueError, match="not found"):
        studio360.process_video(tmp_path / "missing.mp4", "equator-bias")
    square = write_video(tmp_path / "square.mp4", size=(64, 64))
    with pytest.raises(ValueError, match="equirectangular video is twice as wide as high"):
        studio360.process_video(square, "equator-bias")
    monkeypatch.setattr(studio360, "MAX_VIDEO_SECONDS", 0.2)
    with pytest.raises(ValueError, match=r"video too long \(0 s\); at most 0 s|video too long"):
        studio360.process_video(write_video(tmp_path / "clip.mp4"), "equator-bias")


# ---------- previews of uploaded videos ----------

def test_an_mp4v_upload_gets_an_h264_preview_with_the_same_frames(tmp_path):
    """Browsers refuse MPEG-4 Part 2 ("mp4v"): the upload is transcoded to H.264 (same frames, same rate, under
    the upload's name); a file browsers already play is used as it is."""
    pytest.importorskip("av")
    clip = write_video(tmp_path / "my clip.mp4", n_frames=6)
    assert not studio360.browser_plays(clip)
    preview = studio360.playable_upload(str(clip))
    assert preview != str(clip) and Path(preview).name == "my clip.mp4" and studio360.browser_plays(preview)
    n, shape, fps = _frames(preview)
    assert (n, shape) == (6, (64, 128)) and fps == pytest.approx(12.0, abs=0.1)
    original = [f for f in _decoded(str(clip))]
    again = [f for f in _decoded(preview)]
    assert np.abs(np.stack(original).astype(int) - np.stack(again)).mean() < 6      # the same pictures
    assert studio360.playable_upload(preview) == preview                            # H.264 already: as it is


def test_previews_refuse_what_processing_refuses(tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 2048)
    with pytest.raises(ValueError, match="could not read"):
        studio360.playable_upload(str(junk))
    long = write_video(tmp_path / "long.mp4", n_frames=5, fps=0.04)                  # 5 frames over 125 s
    with pytest.raises(ValueError, match="too long"):
        studio360.playable_upload(str(long))


def test_wide_uploads_are_previewed_at_the_processing_width(tmp_path):
    pytest.importorskip("av")
    clip = write_video(tmp_path / "wide.mp4", n_frames=2, size=(1280, 640))
    n, shape, _ = _frames(studio360.playable_upload(str(clip)))
    assert n == 2 and shape == (studio360.MAX_VIDEO_WIDTH // 2, studio360.MAX_VIDEO_WIDTH)


def _decoded(path: str):
    cap = cv2.VideoCapture(path)
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        yield frame
    cap.release()


# ---------- where the viewer opens ----------

def _blobs(spots, size=(256, 512)) -> np.ndarray:
    """An ERP map with Gaussian hills at (yaw, pitch, height), widths 10°, on a faint floor."""
    h, w = size
    lat = 90.0 - (np.arange(h) + 0.5) * 180.0 / h
    lon = (np.arange(w) + 0.5) * 360.0 / w - 180.0
    m = np.full(size, 1e-3)
    for yaw, pitch, height in spots:
        dlon = (lon[None, :] - yaw + 180.0) % 360.0 - 180.0               # wraps around at ±180°
        m += height * np.exp(-0.5 * (dlon / 10.0) ** 2 - 0.5 * ((lat[:, None] - pitch) / 10.0) ** 2)
    return m


def test_peaks_are_the_strongest_hills_strongest_first():
    peaks = studio360.map_peaks(_blobs([(-120, 20, 1.0), (45, -10, 3.0), (178, 0, 2.0)]))
    assert len(peaks) == 3
    for (yaw, pitch), (want_yaw, want_pitch) in zip(peaks, [(45, -10), (178, 0), (-120, 20)]):
        assert abs(yaw - want_yaw) < 2 and abs(pitch - want_pitch) < 2    # hill at 178° found across the seam


def test_close_hills_count_once_and_flat_maps_have_no_peak():
    peaks = studio360.map_peaks(_blobs([(0, 0, 2.0), (12, 0, 1.9), (-90, 30, 1.0)]))
    assert len(peaks) == 2 and abs(peaks[1][0] + 90) < 2                  # 12° away: the same place
    prior = studio360.panorama_streams(_pano((512, 256)), "equator-bias")["prior"]
    assert studio360.map_peaks(prior) == []                              # uniform in yaw: nowhere to turn to
    with pytest.raises(ValueError, match="map"):
        studio360.map_peaks(np.ones(5))


def test_viewer_fragment_opens_at_the_first_peak_with_every_peak_a_hotspot():
    fragment = studio360.viewer_fragment([(45.0, -10.0), (178.0, 0.5)], "abc")
    assert fragment == "yaw=45&pitch=-10&hot=45,-10;178,0.5&pano=abc"
    assert studio360.viewer_fragment([], "abc") == "yaw=0&pitch=0&hot=&pano=abc"
    ids = {studio360.viewer_fragment([]).rsplit("=", 1)[1] for _ in range(3)}
    assert len(ids) == 3                                                 # a fresh panorama id every time


def test_streams_and_players_are_labelled_by_what_they_are():
    assert studio360.stream_choices(["prior"]) == [("latitude prior (equator bias)", "prior")]
    labels = studio360.video_player_labels("equator-bias")
    assert labels[-1] == studio360.STREAM_LABELS["prior"] and "fused" not in labels[-1]
    assert studio360.video_player_labels(FakeStreamsModel())[-1] == studio360.STREAM_LABELS["fused"]


# ---------- example panoramas ----------

def test_example_panoramas_from_a_folder_or_off(tmp_path):
    from models.studio import gallery
    catalogue = gallery.load_panorama_catalogue()
    assert len(catalogue) == 8 and all(e["url"].startswith("https://") for e in catalogue)
    assert {e["licence"] for e in catalogue} == {"CC0 1.0", "CC BY-SA 3.0"}
    for entry in catalogue[:3]:
        Image.fromarray(_pano()).save(tmp_path / entry["file"])
    examples, message = gallery.fetch_panorama_examples(str(tmp_path))
    assert [e["file"] for e in examples] == [e["file"] for e in catalogue[:3]] and "3 of 8" in message
    assert examples[0]["label"] == f"{catalogue[0]['title']} — {catalogue[0]['credit']}, {catalogue[0]['licence']}"
    assert gallery.fetch_panorama_examples("off") == ([], "Example panoramas are turned off (PANORAMA_SOURCE=off).")
    assert "unavailable" in gallery.fetch_panorama_examples(str(tmp_path / "none"))[1]


def test_offline_the_web_source_asks_once_and_still_uses_the_cache(tmp_path, monkeypatch):
    from models.studio import gallery
    catalogue = gallery.load_panorama_catalogue()
    Image.fromarray(_pano()).save(tmp_path / catalogue[-1]["file"])             # one panorama cached earlier
    asked = []

    def no_network(url, timeout, limit):
        asked.append(url)
        raise OSError("network is unreachable")

    monkeypatch.setattr(gallery, "_get", no_network)
    examples, message = gallery.fetch_panorama_examples("web", cache=tmp_path, timeout=0.1)
    assert len(asked) == 1                                                     # one timeout at most, not eight
    assert [e["file"] for e in examples] == [catalogue[-1]["file"]] and "1 of 8" in message


def test_downloaded_hdr_panoramas_are_tone_mapped_and_wide_ones_shrunk(tmp_path):
    from models.studio import gallery
    radiance = np.random.default_rng(0).uniform(0.0, 8.0, (32, 64, 3)).astype(np.float32)
    ok, data = cv2.imencode(".hdr", radiance)
    assert ok
    gallery._store_panorama(data.tobytes(), "https://example.org/x.hdr", tmp_path / "x.jpg")
    image = np.asarray(Image.open(tmp_path / "x.jpg"))
    assert image.shape == (32, 64, 3) and image.dtype == np.uint8 and 20 < image.mean() < 235
    ok, data = cv2.imencode(".jpg", np.zeros((20, gallery.PANORAMA_WIDTH * 2, 3), np.uint8))
    gallery._store_panorama(data.tobytes(), "https://example.org/wide.jpg", tmp_path / "wide.jpg")
    assert Image.open(tmp_path / "wide.jpg").size == (gallery.PANORAMA_WIDTH, gallery.PANORAMA_WIDTH // 2)
    with pytest.raises(ValueError, match="not an image"):
        gallery._store_panorama(b"junk", "https://example.org/junk.jpg", tmp_path / "junk.jpg")
