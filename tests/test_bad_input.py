"""The bad-input matrix: every case through the Python API and through the running app (gradio_client).
Each bad input gives a clear message naming the problem; odd but valid inputs (CMYK, 16-bit, RGBA, EXIF
rotation, animated GIF, ...) work; the server stays up; failed requests leave no output files behind."""
from __future__ import annotations

import io
import json
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np
import pytest
from PIL import Image

from models import load_image, predict_saliency
from models.studio import batch
from models.studio import panorama_tab as studio360
from models.studio.painting import load_painting
from models.studio.scanpath_tab import sample_scanpaths
from training.metrics.files import score_pair
from training import study_tab
from training.studio_evaluate import score_scanpath_upload

OK = None


@dataclass
class Case:
    id: str
    endpoint: str              # saliency | panorama | video | evaluate | scanpaths | human_scanpaths | batch | study
    make: Callable             # tmp_path → list of arguments (file paths first; batch: all of them files)
    expect: str | None         # a fragment of the error message; None = must succeed


def _painting(w=200, h=150, seed=0) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([xx * 255 // w, yy * 255 // h, np.full((h, w), 90)], axis=2) + rng.integers(0, 30, (h, w, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))


def _save(tmp, name, image: Image.Image, **kw) -> Path:
    path = tmp / name
    image.save(path, **kw)
    return path


def _bytes(tmp, name, data: bytes) -> Path:
    path = tmp / name
    path.write_bytes(data)
    return path


def _truncated(tmp, name, fmt, w=400, h=300) -> Path:
    buf = io.BytesIO()
    _painting(w, h).save(buf, fmt)
    return _bytes(tmp, name, buf.getvalue()[: len(buf.getvalue()) * 6 // 10])


def _png_header_only(tmp, name, w, h) -> Path:
    """A PNG whose header claims w × h pixels (a decompression bomb, without building one)."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)                    # 1-bit grey
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    return _bytes(tmp, name, data)


def _exif_rotated(tmp) -> Path:
    exif = Image.Exif()
    exif[274] = 6                                                          # rotate 90° clockwise to display
    return _save(tmp, "rotated.jpg", _painting(200, 100), exif=exif.tobytes())


def _animated(tmp) -> Path:
    frames = [_painting(seed=k).convert("P") for k in range(3)]
    path = tmp / "animated.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


def _palette_transparent(tmp) -> Path:
    im = _painting().convert("P")
    return _save(tmp, "palette.png", im, transparency=0)


def _float_tiff(tmp, name, nan=False) -> Path:
    arr = np.linspace(0, 1, 200 * 150, dtype=np.float32).reshape(150, 200)
    if nan:
        arr[10, 10] = np.nan
    return _save(tmp, name, Image.fromarray(arr, mode="F"))


def _video(tmp, name, w, h, frames, fps=10.0) -> Path:
    path = tmp / name
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for k in range(frames):
        writer.write(np.full((h, w, 3), (k * 7) % 255, np.uint8))
    writer.release()
    return path


def _csv(tmp, name, text: str | bytes) -> Path:
    path = tmp / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _pred(tmp, arr=None, name="pred.npy") -> Path:
    path = tmp / name
    np.save(path, np.ones((40, 60)) if arr is None else arr, allow_pickle=True)
    return path


def _npy_header_only(tmp) -> Path:
    path = tmp / "huge.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (20000, 20000)})
    return path


def _eval(pred_maker, gt_maker):
    return lambda tmp: [pred_maker(tmp), gt_maker(tmp)]


def _zip(tmp, name, members: dict[str, bytes]) -> Path:
    path = tmp / name
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            archive.writestr(member, data)
    return path


def _png_bytes(w=120, h=90, seed=0) -> bytes:
    buf = io.BytesIO()
    _painting(w, h, seed).save(buf, "PNG")
    return buf.getvalue()


def _zip_bomb(tmp) -> list[Path]:
    """A zip of a few hundred kB that would unpack past the batch's limit (zeros, streamed: no big buffer)."""
    path = tmp / "bomb.zip"
    chunk = bytes(1 << 20)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive, \
            archive.open("zeros.png", "w", force_zip64=True) as member:
        for _ in range(batch.MAX_UNPACKED_BYTES // len(chunk) + 1):
            member.write(chunk)
    return [path]


def _humans(text: str | bytes):
    """A painting and a human-scanpaths CSV (the Evaluate tab's scanpath section)."""
    return lambda tmp: [_save(tmp, "p.png", _painting()), _csv(tmp, "humans.csv", text)]


def _study(aois: list[dict], study: str | None = None, kind: str = "fixations"):
    """The Study tab (painting 200×150): AOIs as an AOI JSON file, an optional study file and what it holds."""
    def make(tmp):
        aoi_file = tmp / "aois.json"
        aoi_file.write_text(json.dumps({"units": "pixels", "aois": aois}))
        return [_save(tmp, "p.png", _painting()), aoi_file,
                None if study is None else _csv(tmp, "study.csv", study), kind]
    return make


def _samples(gaps: bool = True) -> str:
    """Raw gaze at 100 Hz: two participants, three 300-ms fixations each; with `gaps` a stretch of missing time
    stamps, an empty (lost) sample, a blink written as 0, 0 and a NaN."""
    lines = ["participant,time_ms,x,y"]
    for who in ("p1", "p2"):
        t = 0
        for x, y in ((40, 30), (100, 75), (160, 120)):
            for k in range(30):
                t += 10
                if gaps and who == "p1" and x == 100 and 10 <= k < 14:
                    continue                                          # no samples recorded here
                cell = ("", "") if gaps and k == 20 else ("0", "0") if gaps and k == 25 else (x + k % 3, y)
                lines.append(f"{who},{t},{cell[0]},{cell[1]}")
        if gaps:
            lines.append(f"{who},{t + 10},nan,nan")
    return "\n".join(lines) + "\n"


STUDY_AOIS = [{"name": "left", "rect": [0, 0, 100, 150]}, {"name": "right", "points": [[100, 0], [200, 0], [150, 150]]}]
PEOPLE = "subject,x,y,duration_ms\n" + "".join(f"s{s},{30 + 40 * k},{40 + 20 * k},{200 + 10 * s}\n"
                                               for s in range(3) for k in range(4))

P = _painting
CASES = [
    # images (the Saliency tab; the same loader serves Overview and Scanpaths)
    Case("not-an-image", "saliency", lambda t: [_bytes(t, "notes.png", b"just some text, not pixels")], "not an image"),
    Case("empty-file", "saliency", lambda t: [_bytes(t, "empty.jpg", b"")], "empty"),
    Case("truncated-jpeg", "saliency", lambda t: [_truncated(t, "cut.jpg", "JPEG")], "truncated or corrupt"),
    Case("truncated-png", "saliency", lambda t: [_truncated(t, "cut.png", "PNG")], "truncated or corrupt"),
    Case("one-pixel", "saliency", lambda t: [_save(t, "dot.png", Image.new("RGB", (1, 1)))], "too small"),
    # Larger than the models need is fine now (downscaled on load, app.py / models/studio/painting.py); what is
    # refused is too many pixels to decode safely, or too thin to keep 8 px once scaled to 4096.
    Case("100000x10", "saliency", lambda t: [_save(t, "strip.png", Image.new("L", (100000, 10)))], "too thin"),
    Case("5000x100", "saliency", lambda t: [_save(t, "long.png", Image.new("RGB", (5000, 100)))], OK),
    Case("museum-scan-6000x4880", "saliency", lambda t: [_save(t, "scan.jpg", P(6000, 4880), quality=80)], OK),
    Case("scan-16-bit-5000x4000", "saliency", lambda t: [_save(t, "deep-scan.png", Image.fromarray(
        np.tile(np.linspace(0, 65535, 5000).astype(np.uint16), (4000, 1))))], OK),
    Case("decompression-bomb", "saliency", lambda t: [_png_header_only(t, "bomb.png", 30000, 30000)], "decompression bomb"),
    Case("bomb-below-pil-limit", "saliency", lambda t: [_png_header_only(t, "big.png", 12000, 9000)],
         "at most 80 megapixels"),
    Case("huge-header-truncated", "saliency", lambda t: [_png_header_only(t, "cut-scan.png", 6000, 5000)],
         "truncated or corrupt"),
    Case("svg", "saliency", lambda t: [_bytes(t, "vector.svg", b'<svg xmlns="http://www.w3.org/2000/svg"/>')], "not an image"),
    Case("html-as-jpg", "saliency", lambda t: [_bytes(t, "page.jpg", b"<html><body>hi</body></html>")], "not an image"),
    Case("float-tiff-nan", "saliency", lambda t: [_float_tiff(t, "nan.tif", nan=True)], "NaN"),
    Case("cmyk-jpeg", "saliency", lambda t: [_save(t, "cmyk.jpg", P().convert("CMYK"))], OK),
    Case("16-bit-png", "saliency", lambda t: [_save(t, "deep.png", Image.fromarray(
        (np.linspace(0, 65535, 200 * 150).reshape(150, 200)).astype(np.uint16)))], OK),
    Case("rgba-png", "saliency", lambda t: [_save(t, "alpha.png", P().convert("RGBA"))], OK),
    Case("grayscale", "saliency", lambda t: [_save(t, "grey.png", P().convert("L"))], OK),
    Case("1-bit", "saliency", lambda t: [_save(t, "bits.png", P().convert("1"))], OK),
    Case("palette-transparency", "saliency", lambda t: [_palette_transparent(t)], OK),
    Case("exif-rotated", "saliency", lambda t: [_exif_rotated(t)], OK),
    Case("animated-gif", "saliency", lambda t: [_animated(t)], OK),
    Case("float-tiff", "saliency", lambda t: [_float_tiff(t, "float.tif")], OK),
    Case("webp", "saliency", lambda t: [_save(t, "paint.webp", P())], OK),
    Case("bmp", "saliency", lambda t: [_save(t, "paint.bmp", P())], OK),
    Case("8x8", "saliency", lambda t: [_save(t, "tiny.png", P(8, 8))], OK),
    Case("scanpaths-truncated", "scanpaths", lambda t: [_truncated(t, "cut.jpg", "JPEG"), 3, 0.3, 10, 0],
         "truncated or corrupt"),
    Case("scanpaths-temperature-2", "scanpaths", lambda t: [_save(t, "p.png", P()), 3, 2.0, 10, 0],
         "temperature|greater than maximum"),                               # the app's slider bounds say it first
    Case("scanpaths-zero-paths", "scanpaths", lambda t: [_save(t, "p.png", P()), 0, 0.3, 10, 0],
         "number of scanpaths|less than minimum"),
    Case("scanpaths-zero-viewing-time", "scanpaths", lambda t: [_save(t, "p.png", P()), 3, 0.3, 0, 0],
         "viewing time|less than minimum"),
    Case("scanpaths-viewing-time-31s", "scanpaths", lambda t: [_save(t, "p.png", P()), 3, 0.3, 31, 0],
         "viewing time|greater than maximum"),
    # panoramas and video (the 360° tab)
    Case("panorama-square", "panorama", lambda t: [_save(t, "square.jpg", P(300, 300))], "2:1"),
    Case("panorama-not-an-image", "panorama", lambda t: [_bytes(t, "pano.jpg", b"\x00" * 100)], "not an image"),
    Case("panorama-truncated", "panorama", lambda t: [_truncated(t, "pano.png", "PNG", 400, 200)], "truncated or corrupt"),
    Case("panorama-5000x2500", "panorama", lambda t: [_save(t, "wide.jpg", P(5000, 2500))], OK),
    Case("video-corrupt", "video", lambda t: [_bytes(t, "clip.mp4", os.urandom(4096))], "could not read"),
    Case("video-empty", "video", lambda t: [_bytes(t, "empty.mp4", b"")], "could not read"),
    Case("video-is-a-still-png", "video", lambda t: [_save(t, "frame.mp4", P(), format="PNG")], "2:1"),
    Case("video-wrong-aspect", "video", lambda t: [_video(t, "square.mp4", 64, 64, 5)], "2:1"),
    Case("video-too-long", "video", lambda t: [_video(t, "long.mp4", 32, 16, 1300, fps=10.0)], "too long"),
    # the Evaluate tab: maps and fixation CSVs
    Case("csv-missing-columns", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "a,b\n1,2\n")), "columns x and y"),
    Case("csv-nan", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "x,y\n5,5\nnan,3\n")), "finite"),
    Case("csv-negative", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "x,y\n-4,5\n")), "outside"),
    Case("csv-out-of-range", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "x,y\n5,5\n600,5\n")), "outside"),
    Case("csv-not-numbers", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "x,y\nleft,top\n")), "must be numbers"),
    Case("csv-not-utf8", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "x,y\n5,5\n".encode() + b"\xff\xfe\x81,3\n")),
         "not UTF-8"),
    Case("csv-binary", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", b"x,y\n\x00\x00\x01")), "binary"),
    Case("csv-empty", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "")), "columns x and y"),
    Case("csv-header-only", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "x,y\n")), "no fixations"),
    Case("csv-utf8-bom-and-spaces", "evaluate", _eval(_pred, lambda t: _csv(t, "gt.csv", "\ufeff x , y \n5,5\n")), OK),
    Case("map-wrong-size", "evaluate", _eval(lambda t: _pred(t, np.ones((10, 13))),
                                             lambda t: _save(t, "gt.png", P().convert("L"))), OK),
    Case("map-nan", "evaluate", _eval(lambda t: _pred(t, np.full((20, 20), np.nan)),
                                      lambda t: _csv(t, "gt.csv", "x,y\n5,5\n")), "NaN"),
    Case("map-negative", "evaluate", _eval(lambda t: _pred(t, -np.ones((20, 20))),
                                           lambda t: _csv(t, "gt.csv", "x,y\n5,5\n")), "negative"),
    Case("map-4d", "evaluate", _eval(lambda t: _pred(t, np.ones((2, 3, 4, 5))),
                                     lambda t: _csv(t, "gt.csv", "x,y\n1,1\n")), "2-D"),
    Case("map-pickled-object", "evaluate", _eval(lambda t: _pred(t, np.array([{"a": 1}], dtype=object)),
                                                 lambda t: _csv(t, "gt.csv", "x,y\n1,1\n")), "not a readable"),
    Case("map-huge-header", "evaluate", _eval(_npy_header_only, lambda t: _csv(t, "gt.csv", "x,y\n1,1\n")), "larger than"),
    Case("map-not-an-image", "evaluate", _eval(lambda t: _bytes(t, "pred.png", b"nope"),
                                               lambda t: _csv(t, "gt.csv", "x,y\n1,1\n")), "not a readable"),
    Case("gt-all-zeros", "evaluate", _eval(_pred, lambda t: _save(t, "gt.png", Image.new("L", (60, 40)))), "all zeros"),
    # the Evaluate tab: human scanpaths (painting 200×150)
    Case("scanpaths-csv-missing-columns", "human_scanpaths", _humans("who,x,y\na,1,1\n"), "needs columns x, y"),
    Case("scanpaths-csv-empty", "human_scanpaths", _humans(""), "needs columns x, y"),
    Case("scanpaths-csv-outside", "human_scanpaths", _humans("subject,x,y\na,5,5\na,250,5\n"), "outside"),
    Case("scanpaths-csv-not-numbers", "human_scanpaths", _humans("subject,x,y\na,left,5\n"), "must be a number"),
    Case("scanpaths-csv-not-utf8", "human_scanpaths", _humans(b"subject,x,y\na,5,5\n\xff\xfe,1,1\n"), "not UTF-8"),
    Case("scanpaths-csv-negative-duration", "human_scanpaths",
         _humans("subject,x,y,duration_ms\na,5,5,-10\n"), "must not be negative"),
    Case("scanpaths-csv-repeated-order", "human_scanpaths",
         _humans("subject,order,x,y\na,1,5,5\na,1,6,6\n"), "twice"),
    Case("scanpaths-csv-several-images", "human_scanpaths",
         _humans("image,subject,x,y\np1.jpg,a,5,5\np2.jpg,a,6,6\n"), "rows of 2 images"),
    Case("scanpaths-csv-header-only", "human_scanpaths", _humans("subject,x,y\n"), "no fixations"),
    Case("scanpaths-csv-good", "human_scanpaths", _humans(
        "subject,x,y,duration_ms\n" + "".join(f"s{s},{20 + 30 * k + s},{40 + 15 * k},{200 + k}\n"
                                               for s in range(2) for k in range(4))), OK),
    # the Batch tab: images and zips
    Case("batch-zip-without-images", "batch", lambda t: [_zip(t, "text.zip", {"a.txt": b"x", "b/": b""})],
         "no images to process"),
    Case("batch-zip-path-traversal", "batch", lambda t: [_zip(t, "evil.zip", {"../x.png": _png_bytes(),
                                                                            "/etc/y.png": _png_bytes()})],
         "unsafe path"),
    Case("batch-too-many-images", "batch", lambda t: [_zip(t, "many.zip", {f"{k}.png": b"x"
                                                                          for k in range(batch.MAX_IMAGES + 1)})],
         f"at most {batch.MAX_IMAGES}"),
    Case("batch-zip-bomb", "batch", _zip_bomb, "zip bomb"),
    Case("batch-not-a-zip", "batch", lambda t: [_bytes(t, "photos.zip", b"PK but not really a zip")],
         "not a readable zip"),
    Case("batch-only-broken-images", "batch", lambda t: [_zip(t, "broken.zip", {"a.png": b"nope",
                                                                              "b.jpg": _png_bytes()[:60]})],
         "none of the 2 images could be read"),
    # the Study tab: areas of interest (painting 200×150) and a real study
    Case("study-aoi-outside-image", "study", _study([{"name": "frame", "rect": [150, 100, 100, 80]}]),
         "'frame': point \\(250, 100\\) lies outside the 200×150 image"),
    Case("study-aoi-self-intersecting", "study", _study([{"name": "bow tie", "points": [[0, 0], [60, 60], [60, 0],
                                                                                      [0, 60]]}]),
         "'bow tie' crosses itself"),
    Case("study-aoi-empty-polygon", "study", _study([{"name": "line", "points": [[10, 10], [50, 50], [90, 90]]}]),
         "'line' is empty"),
    Case("study-aoi-two-points", "study", _study([{"name": "stub", "points": [[10, 10], [50, 50]]}]),
         "'stub': a polygon needs at least 3 points"),
    Case("study-aoi-repeated-name", "study", _study([{"name": "a", "rect": [0, 0, 10, 10]},
                                                     {"name": "a", "rect": [20, 20, 10, 10]}]), "named 'a'"),
    Case("study-no-aois", "study", _study([]), "no areas of interest"),
    Case("study-csv-unknown-columns", "study", _study(STUDY_AOIS, "who,where\nanna,left\n"),
         "no column 'subject' for participant.*column mapping"),
    Case("study-screen-coordinates", "study", _study(STUDY_AOIS, "subject,x,y,duration_ms\n" + "".join(
        f"s1,{800 + 30 * k},{500 + 20 * k},250\n" for k in range(5))), "position on the screen"),
    Case("study-no-participant-on-the-image", "study", _study(STUDY_AOIS, "subject,x,y,duration_ms\ns1,nan,nan,200\n"),
         "no participant has a fixation"),
    Case("study-samples-repeated-time", "study", _study(STUDY_AOIS, "participant,time_ms,x,y\np,0,5,5\np,0,6,6\n"
                                                                    "p,10,7,7\n", "raw samples"),
         "repeated time stamp"),
    Case("study-samples-unknown-columns", "study", _study(STUDY_AOIS, "who,t,gx,gy\np,0,5,5\n", "raw samples"),
         "no column 'time_ms'"),
    Case("study-good-fixations", "study", _study(STUDY_AOIS, PEOPLE), OK),
    Case("study-a-participant-without-fixations", "study", _study(STUDY_AOIS, PEOPLE + "s9,nan,nan,300\n"), OK),
    Case("study-samples-with-gaps-nan-and-blinks", "study", _study(STUDY_AOIS, _samples(), "raw samples"), OK),
    Case("batch-not-an-image", "batch", lambda t: [_bytes(t, "report.pdf", b"%PDF-1.4")], "no images to process"),
    Case("batch-zip-mixed", "batch", lambda t: [_zip(t, "mixed.zip", {"ok.png": _png_bytes(), "../x.png": b"x",
                                                                    "notes.txt": b"hi"}),
                                                _save(t, "loose.jpg", _painting())], OK),
]


def test_the_matrix_has_at_least_forty_cases_with_unique_names():
    assert len(CASES) >= 40 and len({c.id for c in CASES}) == len(CASES)


def call_python(case: Case, args: list):
    if case.endpoint == "saliency":                       # the app's loader: any size up to its pixel limit
        return predict_saliency("centerbias", load_painting(args[0]).rgb)
    if case.endpoint == "scanpaths":
        return sample_scanpaths(str(args[0]), "saliency-sampler", args[1], args[2], args[3], args[4])
    if case.endpoint == "panorama":
        return studio360.panorama_streams(studio360.prepare_panorama(args[0]), "equator-bias")
    if case.endpoint == "video":
        return studio360.process_video(args[0], "equator-bias", max_frames=2)
    if case.endpoint == "evaluate":
        return score_pair(args[0], args[1], "mit", 5.0)
    if case.endpoint == "human_scanpaths":
        return score_scanpath_upload(args[0], args[1], "saliency-sampler", 2, 0)
    if case.endpoint == "batch":
        return batch.run_batch([str(a) for a in args], "centerbias")
    if case.endpoint == "study":
        rows = study_tab.table_from_json(args[1], load_painting(args[0]).original_size)
        return study_tab.run_study(str(args[0]), rows, "saliency-sampler", 10, 2, 0, args[2], args[3])
    raise AssertionError(case.endpoint)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_python_api(case, tmp_path):
    args = case.make(tmp_path)
    if case.expect is OK:
        assert call_python(case, args) is not None
    else:
        with pytest.raises(ValueError, match=case.expect):
            call_python(case, args)


def test_loader_gets_orientation_depth_and_transparency_right(tmp_path):
    rotated = load_image(_exif_rotated(tmp_path))
    assert rotated.shape == (200, 100, 3)                                  # 200 wide, 100 high → upright
    deep = load_image(_save(tmp_path, "deep.png", Image.fromarray(np.full((20, 30), 32768, np.uint16))))
    assert 120 <= int(deep[0, 0, 0]) <= 135                                # half of 65535 → about 128, not 255
    clear = Image.new("RGBA", (20, 20), (255, 0, 0, 0))
    assert load_image(_save(tmp_path, "clear.png", clear))[0, 0].tolist() == [255, 255, 255]   # on white


# ----------------------------------------------------------------------------------------------------------
# The same matrix through the running app

@pytest.fixture(scope="module")
def server_and_outputs(tmp_path_factory):
    from tests.conftest import serve_app
    outputs = tmp_path_factory.mktemp("outputs")
    old = os.environ.get("STUDIO_OUTPUTS")
    os.environ["STUDIO_OUTPUTS"] = str(outputs)
    try:
        gen = serve_app(["app.py"])
        url = next(gen)
    finally:
        if old is None:
            os.environ.pop("STUDIO_OUTPUTS", None)
        else:
            os.environ["STUDIO_OUTPUTS"] = old
    yield url, outputs
    next(gen, None)


def call_app(client, case: Case, args: list):
    from gradio_client import handle_file
    if case.endpoint == "saliency":
        return client.predict(handle_file(str(args[0])), "centerbias", "inferno", 0.6, api_name="/saliency")
    if case.endpoint == "scanpaths":
        return client.predict(handle_file(str(args[0])), "saliency-sampler", args[1], args[2], args[3], args[4],
                              False, api_name="/scanpaths")
    if case.endpoint == "panorama":
        return client.predict(handle_file(str(args[0])), "equator-bias", "fused", "inferno", 0.6, api_name="/panorama")
    if case.endpoint == "video":
        return client.predict(handle_file(str(args[0])), "equator-bias", "inferno", 0.6, 2, 6,
                              api_name="/panorama_video")
    if case.endpoint == "evaluate":
        return client.predict(handle_file(str(args[0])), handle_file(str(args[1])), "mit", 5, api_name="/evaluate")
    if case.endpoint == "human_scanpaths":
        return client.predict(handle_file(str(args[0])), handle_file(str(args[1])), "saliency-sampler", 2, 0,
                              api_name="/evaluate_scanpaths")
    if case.endpoint == "batch":
        return client.predict([handle_file(str(a)) for a in args], "centerbias", api_name="/batch")
    if case.endpoint == "study":                       # the AOIs as the tab's table, as an API client sends them
        rows = study_tab.table_from_json(args[1], load_painting(args[0]).original_size)
        return client.predict(handle_file(str(args[0])), {"headers": study_tab.COLUMNS, "data": rows},
                              "saliency-sampler", 10, 2, 0, None if args[2] is None else handle_file(str(args[2])),
                              args[3], "", "", api_name="/study")
    raise AssertionError(case.endpoint)


def test_running_app(server_and_outputs, tmp_path):
    """All cases in one session: bad ones raise with their message, good ones answer; the server stays up
    throughout; failed requests write no output folders."""
    from gradio_client import Client
    url, outputs = server_and_outputs
    client = Client(url, verbose=False)
    failures = []
    for case in [c for c in CASES if c.expect is not OK]:
        folder = tmp_path / case.id
        folder.mkdir()
        args = case.make(folder)
        try:
            call_app(client, case, args)
            failures.append(f"{case.id}: no error")
        except Exception as err:                       # gradio_client raises AppError with the message
            if not re.search(case.expect, str(err)):
                failures.append(f"{case.id}: {str(err)[:160]!r}")
    assert not failures, "\n".join(failures)
    assert list(outputs.iterdir()) == [], "failed requests left output folders"
    for case in [c for c in CASES if c.expect is OK]:
        folder = tmp_path / case.id
        folder.mkdir()
        try:
            assert call_app(client, case, case.make(folder)) is not None
        except Exception as err:
            failures.append(f"{case.id}: {str(err)[:160]!r}")
    assert not failures, "\n".join(failures)
    from gradio_client import handle_file
    good = _save(tmp_path, "final.png", _painting())
    over, *_ = client.predict(handle_file(str(good)), "centerbias", "inferno", 0.6, api_name="/saliency")
    assert Path(over).is_file()                                                # still up after all of it
