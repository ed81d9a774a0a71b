"""Writing MP4 videos that browsers play, fast enough for per-frame saliency overlays.

OpenCV's pip wheels cannot encode H.264, and their VP9 encoder runs at libvpx's slow default settings. PyAV's
wheels carry FFmpeg with libx264: H.264 (yuv420p, "veryfast") is fast and plays in every browser. Without PyAV,
OpenCV writes the first of its codecs that works.

    with VideoWriter("out.mp4", fps=30, size=(1024, 512)) as writer:
        writer.write(rgb_uint8)           # (H, W, 3) RGB
"""
from __future__ import annotations

import functools
import tempfile
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np

PYAV_CODEC = "h264"                       # libx264 through PyAV
OPENCV_CODECS = ("avc1", "vp09", "mp4v")  # browser-playable first; mp4v (MPEG-4 Part 2) for download only
CODECS = (PYAV_CODEC, *OPENCV_CODECS)
PLAYABLE = ("h264", "avc1", "vp09")
X264_OPTIONS = {"preset": "veryfast", "crf": "23"}
MP4_OPTIONS = {"movflags": "+faststart"}      # index first: browsers start playing before the end arrives


@functools.lru_cache(maxsize=1)
def video_codec() -> str:
    """The codec our MP4s are written with: "h264" through PyAV if it has libx264, else the first of
    OPENCV_CODECS that this OpenCV build can write and read back."""
    try:
        import av
        if "libx264" in av.codecs_available:
            return PYAV_CODEC
    except ImportError:
        pass
    probe = Path(tempfile.mkdtemp(prefix="codec-probe-"))
    try:
        for fourcc in OPENCV_CODECS:
            path = probe / f"{fourcc}.mp4"
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 5, (64, 32))
            if not writer.isOpened():
                continue
            for i in range(2):
                writer.write(np.full((32, 64, 3), 60 * i, np.uint8))
            writer.release()
            cap = cv2.VideoCapture(str(path))
            ok = cap.isOpened() and cap.read()[0]
            cap.release()
            if ok:
                return fourcc
        raise RuntimeError(f"cannot write MP4 video with any of {CODECS} (pip install av for H.264)")
    finally:
        for f in probe.glob("*"):
            f.unlink(missing_ok=True)
        probe.rmdir()


def browser_playable(codec: str | None = None) -> bool:
    return (codec or video_codec()) in PLAYABLE


def even_size(width: int, height: int) -> tuple[int, int]:
    """H.264 in yuv420p needs even sides: round each down to even (at least 2)."""
    return max(2, width - width % 2), max(2, height - height % 2)


class VideoWriter:
    """An RGB-frame MP4 writer at a fixed size (`size` = (width, height), made even) and frame rate."""

    def __init__(self, path: str | Path, fps: float, size: tuple[int, int], codec: str | None = None):
        self.path, self.size = Path(path), even_size(*size)
        self.codec = codec or video_codec()
        if self.codec == PYAV_CODEC:
            import av
            self._container = av.open(str(self.path), "w", options=dict(MP4_OPTIONS))
            self._stream = self._container.add_stream("libx264", rate=Fraction(float(fps)).limit_denominator(1001),
                                                      options=dict(X264_OPTIONS))
            self._stream.width, self._stream.height = self.size
            self._stream.pix_fmt = "yuv420p"
            self._writer = None
        else:
            self._writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*self.codec), float(fps), self.size)
            if not self._writer.isOpened():
                raise RuntimeError(f"could not open a {self.codec} video writer for {self.path.name}")

    def write(self, rgb: np.ndarray) -> None:
        w, h = self.size
        if rgb.shape[:2] != (h, w):
            rgb = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
        if self._writer is not None:
            self._writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
            return
        import av
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        for packet in self._stream.encode(frame):
            self._container.mux(packet)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            return
        if self._container is not None:
            for packet in self._stream.encode():          # flush the encoder's delayed frames
                self._container.mux(packet)
            self._container.close()
            self._container = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# ------------------------------------------------------------------------------------------------ upload previews

BROWSER_CODECS = ("h264", "vp8", "vp9", "av1")          # what every current browser plays in MP4 / WebM
BROWSER_CONTAINERS = ("mp4", "mov", "webm", "matroska")  # FFmpeg's demuxer names (mp4 is "mov,mp4,m4a,…")
BROWSER_PIXEL_FORMATS = ("yuv420p", "yuvj420p")


def browser_plays(path: str | Path) -> bool:
    """Whether browsers play this video file as it is: an MP4 / WebM container holding H.264, VP8, VP9 or AV1
    in 4:2:0. False for what they refuse (MPEG-4 Part 2 "mp4v", MJPEG, ProRes, 4:4:4 H.264, AVI, …) and for
    files PyAV cannot open (the caller then leaves them to the processing's own checks)."""
    try:
        import av
        with av.open(str(path)) as container:
            streams = container.streams.video
            if not streams:
                return False
            ctx = streams[0].codec_context
            formats = set(container.format.name.split(","))
            return (ctx.name in BROWSER_CODECS and bool(formats & set(BROWSER_CONTAINERS))
                    and (ctx.pix_fmt or "yuv420p") in BROWSER_PIXEL_FORMATS)
    except Exception:                   # not a video, or no PyAV: nothing to convert
        return False


def browser_preview(path: str | Path, out_path: str | Path, max_width: int | None = None,
                    max_frames: int | None = None, progress=None) -> str:
    """Transcode a video to an H.264 MP4 that browsers play (at most `max_width` wide, the first `max_frames`
    frames, the same frame rate): for previewing uploads in codecs browsers refuse. `progress(done, total)`
    after each frame. Returns `out_path`; ValueError when the file cannot be decoded."""
    import av
    name = Path(path).name
    try:
        container = av.open(str(path))
    except Exception as err:
        raise ValueError(f"could not read '{name}' as a video ({type(err).__name__})") from None
    with container:
        if not container.streams.video:
            raise ValueError(f"could not read '{name}' as a video (it has no video stream)")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        rate = stream.average_rate or stream.guessed_rate or 30
        total = stream.frames or 0
        if max_frames:
            total = min(total, max_frames) if total else max_frames
        writer = None
        done = 0
        try:
            for frame in container.decode(stream):
                rgb = frame.to_ndarray(format="rgb24")
                if writer is None:
                    h, w = rgb.shape[:2]
                    if max_width and w > max_width:
                        w, h = max_width, max(2, round(h * max_width / w))
                    writer = VideoWriter(out_path, float(rate), (w, h), codec=PYAV_CODEC)
                writer.write(rgb)
                done += 1
                if progress is not None:
                    progress(done, max(total, done))
                if max_frames and done >= max_frames:
                    break
        except av.error.FFmpegError as err:
            if writer is None:
                raise ValueError(f"could not read '{name}' as a video ({err})") from None
        finally:
            if writer is not None:
                writer.close()
    if writer is None:
        raise ValueError(f"could not read any frame of '{name}'")
    return str(out_path)
