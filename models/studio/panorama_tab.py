"""What the app's 360° tab does, as plain functions (the app only wires them to widgets).

    streams = panorama_streams(equi, "equator-bias")            # {"prior": (H, W)} or ATSal's seven streams
    panels = stream_images(equi, streams, "inferno", 0.6)       # [(overlay RGB, label), ...] for a gallery
    texture = viewer_texture(equi, streams["prior"], 0.6)       # JPEG path for the Pannellum viewer
    peaks = map_peaks(streams["prior"])                         # [(yaw, pitch), ...]: where the viewer opens
    videos = process_video("clip.mp4", "atsal", max_frames=60, fps=5)   # {"fused": "…/fused.mp4", ...}

Panoramas are equirectangular (2:1). Every panorama model gives its streams through
`predict_streams(equi, temporal=False)`, in the display order of its `streams` (models/tasks.py).
"""
from __future__ import annotations

import functools
import math
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
from PIL import Image

from models import as_rgb
from models.registry import list_models, model_entry
from models.runtime.projections import ASPECT, ASPECT_TOLERANCE, check_equirect, equirect_directions  # noqa: F401
from models.api import load_model
from models.studio.rendering import overlay
from models.studio.video_io import (CODECS, VideoWriter, browser_playable, browser_plays, browser_preview,  # noqa: F401
                                    even_size, video_codec)
from models.studio.files import output_dir
from models.tasks import PanoramaModel

MAX_WIDTH = 2048               # larger panoramas are downscaled to this width before inference
MAX_VIDEO_WIDTH = 1024         # video frames are downscaled to this width
MAX_VIDEO_SECONDS = 120.0      # longer videos are refused
MAX_VIDEO_FRAMES = 600         # the most frames one call may process (max_frames is capped to this)
DEFAULT_VIDEO_FRAMES = 60
VIDEO_STREAMS = ("attention", "experts", "fused")     # ATSal's streams written as heatmap-over-frame videos
# Every stream a registered panorama model gives, with its label in the app (a model's own order is its `streams`).
STREAM_LABELS = {
    "fused": "fused (attention × experts)",
    "attention": "attention stream",
    "attention_map": "attention map A",
    "experts": "experts (poles + equator, faces weighted by the latitude prior)",
    "poles": "poles expert (up, down)",
    "equator": "equator expert (front, right, back, left)",
    "prior": "latitude prior (equator bias)",
}
# The app's video players, one per VIDEO_STREAMS; the last also shows a one-stream model's map (`video_players`),
# labelled then by that stream (`video_player_labels`).
VIDEO_PLAYER_LABELS = {"attention": STREAM_LABELS["attention"], "experts": STREAM_LABELS["experts"],
                       "fused": STREAM_LABELS["fused"]}
TEXTURES_KEPT = 64             # older viewer textures are deleted

_video_lock = threading.Lock()   # one video at a time: the cached model's temporal state is shared


# ------------------------------------------------------------------------------------------------ panoramas

def panorama_models() -> list[str]:
    return list_models("panorama", include_gaze_models=False)


MAX_PANORAMA_SIDE = 8192


def prepare_panorama(image, max_width: int = MAX_WIDTH) -> np.ndarray:
    """Any image (or image file, up to 8K wide) → RGB uint8 equirectangular working copy: checks 2:1,
    downscales wider than `max_width`."""
    if isinstance(image, (str, Path)):
        from models.image_io import load_image
        image = load_image(image, max_side=MAX_PANORAMA_SIDE)             # 8K panoramas are common
        check_equirect(image.shape[1], image.shape[0])
        if image.shape[1] > max_width:
            image = cv2.resize(image, (max_width, max_width // 2), interpolation=cv2.INTER_AREA)
    rgb = as_rgb(image)
    h, w = rgb.shape[:2]
    check_equirect(w, h)
    if w > max_width:
        rgb = cv2.resize(rgb, (max_width, max_width // 2), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)


def resolve_model(model_or_name) -> PanoramaModel:
    """A registered panorama model by name (loaded once per process), or a model object as is."""
    if not isinstance(model_or_name, str):
        return model_or_name
    entry = model_entry(model_or_name)
    if entry.task != "panorama":
        raise ValueError(f"'{model_or_name}' is a {entry.task} model, not a 360° panorama model; "
                         f"choose one of {', '.join(panorama_models())}")
    return load_model(model_or_name)


def _streams(model: PanoramaModel, rgb: np.ndarray, temporal: bool = False) -> dict[str, np.ndarray]:
    """{stream: (H, W) float64} of one frame, in the model's display order; a stream of the wrong shape (a
    broken model) is refused rather than drawn stretched."""
    h, w = rgb.shape[:2]
    raw = model.predict_streams(rgb, temporal=temporal)
    out = {name: np.asarray(raw[name], dtype=np.float64) for name in model.streams}
    for name, m in out.items():
        if m.shape != (h, w):
            raise ValueError(f"stream '{name}' has shape {m.shape}, expected {(h, w)}")
    return out


def panorama_streams(image, model_name) -> dict[str, np.ndarray]:
    """{stream: (H, W) float64 map} at the working size of `image` (see prepare_panorama), in the model's display
    order. Densities ("fused", "prior", "attention", "experts", …) sum to 1; ATSal's "attention_map" is in [0, 1]."""
    rgb = prepare_panorama(image)
    return _streams(resolve_model(model_name), rgb)


def _match(image, shape) -> np.ndarray:
    rgb = as_rgb(image)
    if rgb.shape[:2] != tuple(shape):
        rgb = cv2.resize(rgb, (shape[1], shape[0]), interpolation=cv2.INTER_AREA)
    return rgb


def stream_label(name: str) -> str:
    return STREAM_LABELS.get(name, name)


def chosen_stream(streams: dict[str, np.ndarray], wanted: str | None) -> str:
    """`wanted` when the model gives that stream, else the model's first (its overall map): the stream control
    may still hold the previous model's choice."""
    return wanted if wanted in streams else next(iter(streams))


PANEL_WIDTH = 1024        # gallery panels; the 360° viewer keeps the full resolution


def sphere_rows(height: int) -> np.ndarray:
    """(height,) share of the sphere of each ERP row (cos latitude): what an even spread on the sphere weighs
    rows by, for the "even" colour scale (rendering._scaled)."""
    return np.cos(np.deg2rad(90.0 - (np.arange(height) + 0.5) * 180.0 / height))


def stream_images(image, streams: dict[str, np.ndarray], colormap: str = "inferno",
                  opacity: float = 0.6, max_width: int = PANEL_WIDTH, scale: str = "peak") -> list[tuple[np.ndarray, str]]:
    """One heatmap-over-panorama RGB image per stream, with its label (for a gallery), at most `max_width` wide:
    a gallery thumbnail needs no more, and colouring full-size panels would dominate the tab's time. `scale`:
    a colour scale of rendering.SCALES ("even": relative to an even spread on the sphere, not over the pixels)."""
    if not streams:
        raise ValueError("no streams to show")
    h, w = next(iter(streams.values())).shape
    if w > max_width:
        size = (max_width, max(1, round(h * max_width / w)))
        streams = {k: cv2.resize(np.asarray(m, np.float32), size, interpolation=cv2.INTER_AREA) for k, m in streams.items()}
        h, w = size[1], size[0]
    rgb = _match(image, (h, w))
    return [(overlay(rgb, m, colormap, opacity, scale, sphere_rows(h)), stream_label(name))
            for name, m in streams.items()]


# ------------------------------------------------------------------------------------------------ where to look

PEAK_WIDTH = 256               # peaks are found on the map at this width (1.4° a pixel): finer changes nothing
PEAK_SMOOTH_DEG = 4.0          # Gaussian σ on the sphere's equator before looking for maxima
PEAK_SEPARATION_DEG = 30.0     # peaks closer than this on the sphere count as one place
PEAK_CONTRAST = 1.05           # a peak must rise 5 % above its latitude's mean: a map uniform in longitude has none


def map_peaks(density: np.ndarray, n: int = 3, separation_deg: float = PEAK_SEPARATION_DEG) -> list[tuple[float, float]]:
    """The `n` strongest maxima of an ERP map as (yaw, pitch) in degrees (yaw −180…180, positive to the right of
    the image centre; pitch 90 up … −90 down, as Pannellum takes them), strongest first, at least
    `separation_deg` apart on the sphere. Fewer when the map has fewer distinct peaks (none for a map that does
    not vary along its rows, such as the equator prior)."""
    m = np.asarray(density, dtype=np.float32)
    if m.ndim != 2 or min(m.shape) < 2:
        raise ValueError(f"expected an (H, W) map; got shape {m.shape}")
    h, w = m.shape
    if w > PEAK_WIDTH:
        h, w = max(2, round(h * PEAK_WIDTH / w)), PEAK_WIDTH
        m = cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA)
    sigma = PEAK_SMOOTH_DEG * w / 360.0
    pad = int(3 * sigma) + 1                                       # longitude wraps around: pad with the other side
    m = cv2.GaussianBlur(np.pad(m, ((0, 0), (pad, pad)), mode="wrap"), (0, 0), sigma)[:, pad:-pad]
    # Candidates: local maxima (within ±PEAK_SMOOTH_DEG, so the flank of one broad hill is no second peak) that
    # rise above their latitude's mean.
    k = max(1, round(PEAK_SMOOTH_DEG * w / 360.0))
    around = cv2.dilate(np.pad(m, ((0, 0), (k, k)), mode="wrap"), np.ones((2 * k + 1, 2 * k + 1), np.uint8),
                        borderType=cv2.BORDER_REPLICATE)[:, k:-k]
    m = np.where((m >= around) & (m >= PEAK_CONTRAST * m.mean(axis=1, keepdims=True)), m, -np.inf)
    directions = equirect_directions(h, w)
    cos_separation = np.cos(np.deg2rad(separation_deg))
    peaks = []
    while len(peaks) < n and np.isfinite(m).any() and m.max() > 0:
        y, x = np.unravel_index(np.argmax(m), m.shape)
        peaks.append((round(float((x + 0.5) / w * 360.0 - 180.0), 1), round(float(90.0 - (y + 0.5) / h * 180.0), 1)))
        m = np.where(directions @ directions[y, x] > cos_separation, -np.inf, m)   # the cap around it is taken
    return peaks


def viewer_fragment(peaks: list[tuple[float, float]], panorama_id: str | None = None) -> str:
    """What the 360° viewer (assets/viewer/pano-viewer.js) reads after the texture URL's '#': the view to open at
    (the first peak, else straight ahead), the peaks as hotspots, and the panorama's id (a new id opens at its
    view; the same id keeps the visitor's view, as when only the colours change). A fresh id when none is given."""
    panorama_id = panorama_id or uuid.uuid4().hex[:12]
    yaw, pitch = peaks[0] if peaks else (0.0, 0.0)
    hot = ";".join(f"{y:g},{p:g}" for y, p in peaks)
    return f"yaw={yaw:g}&pitch={pitch:g}&hot={hot}&pano={panorama_id}"


# ------------------------------------------------------------------------------------------------ per-visitor state

STATE_WIDTH = 1024        # streams kept for restyling: the maps are smooth far below this (the networks' outputs)


def compact_state(rgb: np.ndarray, streams: dict[str, np.ndarray]) -> dict:
    """What the 360° tab keeps per visitor, so colormap, opacity and stream changes need no new inference:
    file paths and stream names only. The panorama and its streams go to this request's output folder (purged
    after an hour); each stream scaled to its maximum (colouring only uses the map relative to its maximum), as
    float16 at most STATE_WIDTH wide. Kept on disk, not as arrays in the session, so the server's memory does not
    grow with its visitors (an 8K panorama's streams are about 1 GiB)."""
    folder = output_dir("panorama-state-")
    np.save(folder / "panorama.npy", np.ascontiguousarray(rgb, dtype=np.uint8), allow_pickle=False)
    h, w = next(iter(streams.values())).shape
    size = (min(w, STATE_WIDTH), max(1, round(h * min(w, STATE_WIDTH) / w)))
    small = {}
    for name, density in streams.items():
        density = np.asarray(density, dtype=np.float32)
        if density.shape[1] != size[0]:
            density = cv2.resize(density, size, interpolation=cv2.INTER_AREA)
        peak = float(density.max())
        small[name] = (density / peak if peak > 0 else np.zeros_like(density)).astype(np.float16)
    np.savez(folder / "streams.npz", **small)
    return {"image": str(folder / "panorama.npy"), "streams_file": str(folder / "streams.npz"),
            "streams": list(small)}


EXPIRED = "This panorama's results have expired; press Run again."


def state_image(state: dict) -> np.ndarray:
    """The panorama of a compact state; ValueError once its file has been purged."""
    try:
        return np.load(state["image"], allow_pickle=False)
    except (OSError, ValueError, KeyError):
        raise ValueError(EXPIRED) from None


def state_streams(state: dict, shape: tuple[int, int] | None = None) -> dict[str, np.ndarray]:
    """The streams of a compact state as float32, resized to `shape` (h, w) when given."""
    try:
        with np.load(state["streams_file"], allow_pickle=False) as saved:
            streams = {name: saved[name].astype(np.float32) for name in state["streams"]}
    except (OSError, ValueError, KeyError):
        raise ValueError(EXPIRED) from None
    if shape is not None:
        streams = {k: v if v.shape == tuple(shape) else cv2.resize(v, (shape[1], shape[0]),
                                                                   interpolation=cv2.INTER_LINEAR)
                   for k, v in streams.items()}
    return streams


@functools.lru_cache(maxsize=1)
def texture_dir() -> Path:
    """Folder of the viewer's textures (the app serves it as a static path)."""
    return Path(tempfile.mkdtemp(prefix="studio360-textures-")).resolve()


def _prune(folder: Path, keep: int) -> None:
    files = sorted(folder.glob("*.jpg"), key=lambda p: p.stat().st_mtime)
    for old in files[:-keep] if keep else files:
        old.unlink(missing_ok=True)


def viewer_texture(image, density: np.ndarray, opacity: float = 0.6, colormap: str = "inferno",
                   folder: str | Path | None = None, scale: str = "peak") -> str:
    """The panorama with `density` blended over it at `opacity` on colour scale `scale` (as `stream_images`),
    saved as a JPEG; a new file name every call (so a viewer showing it always reloads). Returns the path."""
    blended = overlay(_match(image, density.shape), density, colormap, opacity, scale, sphere_rows(density.shape[0]))
    folder = Path(folder) if folder is not None else texture_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"pano-{uuid.uuid4().hex[:12]}.jpg"
    Image.fromarray(blended).save(path, quality=90)
    if folder == texture_dir():
        _prune(folder, TEXTURES_KEPT)
    return str(path)


# ------------------------------------------------------------------------------------------------ video

def probe_video(path) -> dict:
    """{"fps", "frames", "width", "height", "duration"} of a readable video; ValueError otherwise."""
    if path is None:
        raise ValueError("no video given")
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"video file not found: {path.name}")
    cap = cv2.VideoCapture(str(path))
    try:
        ok, frame = cap.read() if cap.isOpened() else (False, None)
        if not ok or frame is None:
            raise ValueError(f"could not read '{path.name}' as a video (unsupported format or corrupt file)")
        fps = cap.get(cv2.CAP_PROP_FPS)
        fps = fps if math.isfinite(fps) and 0 < fps <= 1000 else 30.0
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        h, w = frame.shape[:2]
    finally:
        cap.release()
    return {"fps": float(fps), "frames": frames, "width": w, "height": h, "duration": frames / fps}


def process_video(path, model_name, max_frames: int = DEFAULT_VIDEO_FRAMES, fps: float | None = None,
                  progress: Callable[[int, int], None] | None = None, colormap: str = "inferno",
                  opacity: float = 0.6, out_dir: str | Path | None = None) -> dict[str, str]:
    """Heatmap-over-frame videos of an equirectangular video: {stream: mp4 path} for the streams of
    `video_streams(model)` ("attention", "experts", "fused" for ATSal; "prior" for the equator bias).

    `fps`: output frame rate; lower than the source's subsamples frames (None keeps every frame). At most
    `max_frames` frames are processed (the rest of the video is left out). Videos longer than MAX_VIDEO_SECONDS,
    unreadable files and frames that are not 2:1 raise ValueError. The model's temporal state is reset first and
    frames are predicted with `temporal=True`. `progress(done, total)` after each frame.
    """
    info = probe_video(path)
    check_equirect(info["width"], info["height"], what="video")
    if info["duration"] > MAX_VIDEO_SECONDS:
        raise ValueError(f"video too long ({info['duration']:.0f} s); at most {MAX_VIDEO_SECONDS:.0f} s are accepted. "
                         "Trim it first.")
    max_frames = int(max_frames)
    if not 1 <= max_frames <= MAX_VIDEO_FRAMES:
        raise ValueError(f"max_frames must be between 1 and {MAX_VIDEO_FRAMES}; got {max_frames}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be positive; got {fps}")
    src_fps = info["fps"]
    out_fps = min(float(fps), src_fps) if fps else src_fps
    step = src_fps / out_fps                               # source frames per output frame (≥ 1)
    expected = math.floor((info["frames"] - 1) / step) + 1 if info["frames"] else max_frames
    total = max(1, min(max_frames, expected))

    model = resolve_model(model_name)
    names = video_streams(model)
    w, h = info["width"], info["height"]
    if w > MAX_VIDEO_WIDTH:
        w, h = MAX_VIDEO_WIDTH, MAX_VIDEO_WIDTH // 2
    w, h = even_size(w, h)                                 # H.264 (yuv420p) needs even sides
    out_dir = Path(out_dir) if out_dir is not None else output_dir("studio360-video-")
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(path).stem[:40] or "video"

    writers: dict[str, VideoWriter] = {}
    done = 0
    with _video_lock:
        model.reset_temporal()
        cap = cv2.VideoCapture(str(path))
        try:
            index, next_keep = 0, 0.0
            while done < max_frames:
                ok, frame = cap.read()
                if not ok:
                    break
                keep = index + 1e-6 >= next_keep
                index += 1
                if not keep:
                    continue
                next_keep += step
                rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                if rgb.shape[:2] != (h, w):
                    rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
                streams = _streams(model, rgb, temporal=True)
                for name in names:
                    if name not in writers:
                        writers[name] = VideoWriter(out_dir / f"{stem}-{name}.mp4", out_fps, (w, h))
                    over = overlay(rgb, streams[name], colormap, opacity)
                    writers[name].write(over)
                done += 1
                if progress is not None:
                    progress(done, max(total, done))
        finally:
            cap.release()
            for writer in writers.values():
                writer.close()
    if done == 0:
        raise ValueError(f"could not read any frame of '{Path(path).name}'")
    return {name: str(out_dir / f"{stem}-{name}.mp4") for name in names}


def playable_upload(path, progress: Callable[[int, int], None] | None = None) -> str:
    """An uploaded video as browsers can preview it: the file itself when they play it, else an H.264 copy (the
    same frames and frame rate, at most MAX_VIDEO_WIDTH wide: what processing reads anyway) in a fresh output
    folder, under the upload's own name. Videos the tab refuses (unreadable, over MAX_VIDEO_SECONDS) raise
    ValueError here already."""
    if browser_plays(path):
        return str(path)
    info = probe_video(path)
    if info["duration"] > MAX_VIDEO_SECONDS:
        raise ValueError(f"video too long ({info['duration']:.0f} s); at most {MAX_VIDEO_SECONDS:.0f} s are accepted. "
                         "Trim it first.")
    stem = Path(path).stem[:40] or "video"
    out = output_dir("studio360-preview-") / f"{stem}.mp4"
    return browser_preview(path, out, max_width=MAX_VIDEO_WIDTH, progress=progress)


def video_streams(model: PanoramaModel) -> list[str]:
    """The streams `process_video` writes: those of VIDEO_STREAMS the model has, in that order, or else the
    model's first stream (a model such as the equator bias has only its own)."""
    return [name for name in VIDEO_STREAMS if name in model.streams] or list(model.streams[:1])


def video_player_labels(model_name) -> list[str]:
    """The players' labels for a model: VIDEO_PLAYER_LABELS, the last one naming the model's own stream when it has
    none of VIDEO_STREAMS (the equator bias's "prior" is no fused map)."""
    labels = [VIDEO_PLAYER_LABELS[name] for name in VIDEO_STREAMS]
    own = video_streams(resolve_model(model_name))
    if own and own[0] not in VIDEO_STREAMS:
        labels[-1] = stream_label(own[0])
    return labels


def stream_choices(streams) -> list[tuple[str, str]]:
    """(label, name) pairs for the stream control: each stream by what it is."""
    return [(stream_label(name), name) for name in streams]


def video_players(videos: dict[str, str]) -> list[str | None]:
    """`process_video`'s videos in the app's three players, one per VIDEO_STREAMS (None: the model has no such
    stream). A model without those streams shows its own in the last player, the overall map's place."""
    players = [videos.get(name) for name in VIDEO_STREAMS]
    if not any(players) and videos:
        players[-1] = next(iter(videos.values()))
    return players

