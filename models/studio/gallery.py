"""Example paintings for the app: 20 public-domain works (assets/gallery.json: title, artist, year, Wikipedia
article), fetched at run time into a cache, never committed.

Source (`GALLERY_SOURCE`): `wikipedia` (default) asks the Wikimedia REST API for each article's lead image and
downloads a 1280-px rendering of it; a folder path uses image files of the same names found there (tests point
it at ../shared/data/gallery); `off` disables examples. Offline, the first failed request stops the rest, so the
app starts anyway after at most one short timeout and says the examples are unavailable.

    examples, message = fetch_examples()       # [{"path", "title", "artist", "year", "label"}], "" or why not

The 360° tab's example panoramas come the same way (`fetch_panorama_examples`, assets/panoramas.json).
"""
from __future__ import annotations

import json
import os
import threading
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from models.weights import ASSETS

CATALOGUE = ASSETS.parent / "gallery.json"
SUMMARY_API = "https://en.wikipedia.org/api/rest_v1/page/summary/"
USER_AGENT = "visual-attention-studio/1.0 (https://huggingface.co/spaces; examples cache)"
WIDTH = 1280                         # a standard Wikimedia thumbnail step; the shared gallery is 1200 px
MAX_BYTES = 30 * 1024 * 1024
TIMEOUT_S = 5.0


def load_catalogue() -> list[dict]:
    return json.loads(CATALOGUE.read_text())["paintings"]


def label(entry: dict) -> str:
    return f"{entry['title']} — {entry['artist']}, {entry['year']}"


def default_cache() -> Path:
    root = os.environ.get("GALLERY_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"),
                                                           "visual-attention-studio", "gallery")
    return Path(root)


def thumbnail_url(summary: dict, width: int = WIDTH) -> str:
    """The lead image at `width` px from a REST summary (the original when it is not larger)."""
    original = summary.get("originalimage") or {}
    thumb = summary.get("thumbnail") or {}
    if original.get("source") and original.get("width", 0) <= width:
        return original["source"]
    source = thumb.get("source") or original.get("source")
    if not source:
        raise ValueError(f"{summary.get('title', '?')}: the article has no lead image")
    head, _, name = source.rpartition("/")
    if "px-" in name and "/thumb/" in source:                    # …/thumb/a/ab/F.jpg/330px-F.jpg → 1280px-F.jpg
        return f"{head}/{width}px-{name.split('px-', 1)[1]}"
    return source


def _get(url: str, timeout: float, limit: int) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        data = response.read(limit + 1)
    if len(data) > limit:
        raise ValueError(f"{url}: larger than {limit} bytes")
    return data


def _valid_image(path: Path) -> bool:
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.verify()
        return True
    except Exception:
        return False


def download_painting(entry: dict, cache: Path, timeout: float = TIMEOUT_S) -> Path:
    """The cached file for `entry`, downloaded first if missing (atomically: never a half-written file)."""
    target = cache / entry["file"]
    if target.is_file() and _valid_image(target):
        return target
    article = urllib.parse.quote(entry["wikipedia"], safe="")
    summary = json.loads(_get(SUMMARY_API + article, timeout, 1 << 20))
    data = _get(thumbnail_url(summary), timeout, MAX_BYTES)
    cache.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(target.suffix + ".part")
    partial.write_bytes(data)
    if not _valid_image(partial):
        partial.unlink(missing_ok=True)
        raise ValueError(f"{entry['title']}: the download is not an image")
    os.replace(partial, target)
    return target


def fetch_examples(source: str | None = None, cache: Path | None = None, timeout: float = TIMEOUT_S,
                   workers: int = 4) -> tuple[list[dict], str]:
    """(examples that are available, a message for the user: empty when all 20 are there)."""
    source = source if source is not None else os.environ.get("GALLERY_SOURCE", "wikipedia")
    catalogue = load_catalogue()
    if source == "off":
        return [], "Examples are turned off (GALLERY_SOURCE=off)."
    found: dict[str, Path] = {}
    error: list[str] = []
    if source != "wikipedia":
        folder = Path(source)
        found = {e["file"]: folder / e["file"] for e in catalogue if (folder / e["file"]).is_file()}
    else:
        cache = cache or default_cache()
        offline = threading.Event()

        def fetch(entry):
            if offline.is_set() and not (cache / entry["file"]).is_file():
                return
            try:
                found[entry["file"]] = download_painting(entry, cache, timeout)
            except Exception as err:                 # offline, blocked, moved: the app goes on without it
                error.append(f"{type(err).__name__}: {str(err)[:120]}")
                if isinstance(err, OSError):         # URLError, timeouts: no network, stop asking
                    offline.set()

        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(fetch, catalogue))
    return available(catalogue, found, label, error[0] if error else "", "example paintings", "upload your own image")


def available(catalogue: list[dict], found: dict[str, Path], label, error: str, what: str,
              instead: str) -> tuple[list[dict], str]:
    """(the catalogue entries whose file was found, with "path" and "label"; a message for the user, empty when
    all are there)."""
    examples = [{**e, "path": str(found[e["file"]]), "label": label(e)} for e in catalogue if e["file"] in found]
    if not examples:
        why = f" ({error})" if error else ""
        return [], f"{what.capitalize()} are unavailable (no network or no source){why}; {instead}."
    if len(examples) < len(catalogue):
        return examples, f"{len(examples)} of {len(catalogue)} {what} could be loaded."
    return examples, ""


# ------------------------------------------------------------------------------------------------ panoramas
# Example panoramas for the 360° tab: 8 equirectangular images (assets/panoramas.json: title, credit, licence, the
# URL of a pinned commit that holds the file), fetched at run time like the paintings. `PANORAMA_SOURCE`: `web`
# (default), a folder holding files of the same names (tests: ../shared/data/panoramas), or `off`.

PANORAMA_CATALOGUE = ASSETS.parent / "panoramas.json"
PANORAMA_WIDTH = 2048                # the 360° tab's working width: wider downloads are stored at this width


def load_panorama_catalogue() -> list[dict]:
    return json.loads(PANORAMA_CATALOGUE.read_text())["panoramas"]


def panorama_label(entry: dict) -> str:
    return f"{entry['title']} — {entry['credit']}, {entry['licence']}"


def _store_panorama(data: bytes, url: str, target: Path) -> None:
    """Downloaded bytes → a JPEG at most PANORAMA_WIDTH wide; Radiance .hdr files are tone-mapped (Reinhard, γ 2.2)."""
    import cv2
    import numpy as np
    flag = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR if url.lower().endswith(".hdr") else cv2.IMREAD_COLOR
    image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    if image is None:
        raise ValueError(f"{target.name}: the download is not an image")
    if image.dtype != np.uint8:
        image = np.clip(cv2.createTonemapReinhard(gamma=2.2).process(image.astype(np.float32)) * 255, 0, 255)
        image = image.astype(np.uint8)
    if image.shape[1] > PANORAMA_WIDTH:
        image = cv2.resize(image, (PANORAMA_WIDTH, PANORAMA_WIDTH // 2), interpolation=cv2.INTER_AREA)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".part.jpg")
    cv2.imwrite(str(partial), image, [cv2.IMWRITE_JPEG_QUALITY, 92])
    os.replace(partial, target)


def download_panorama(entry: dict, cache: Path, timeout: float = TIMEOUT_S) -> Path:
    """The cached file for `entry`, downloaded (and converted) first if missing."""
    target = cache / entry["file"]
    if target.is_file() and _valid_image(target):
        return target
    _store_panorama(_get(entry["url"], timeout, MAX_BYTES), entry["url"], target)
    return target


def fetch_panorama_examples(source: str | None = None, cache: Path | None = None,
                            timeout: float = TIMEOUT_S) -> tuple[list[dict], str]:
    """(example panoramas that are available, as {"path", "title", "credit", "licence", "label"}; a message for
    the user, empty when all are there). Offline, the first failed download stops the rest."""
    source = source if source is not None else os.environ.get("PANORAMA_SOURCE", "web")
    catalogue = load_panorama_catalogue()
    if source == "off":
        return [], "Example panoramas are turned off (PANORAMA_SOURCE=off)."
    found: dict[str, Path] = {}
    error = ""
    if source != "web":
        folder = Path(source)
        found = {e["file"]: folder / e["file"] for e in catalogue if (folder / e["file"]).is_file()}
    else:
        cache = cache or default_cache().parent / "panoramas"
        offline = False
        for entry in catalogue:
            if offline and not (cache / entry["file"]).is_file():
                continue                             # no network: only what is cached, no more timeouts
            try:
                found[entry["file"]] = download_panorama(entry, cache, timeout)
            except Exception as err:                 # offline, blocked, moved: the app goes on without it
                error = error or f"{type(err).__name__}: {str(err)[:120]}"
                offline = offline or isinstance(err, OSError)
    return available(catalogue, found, panorama_label, error, "example panoramas", "upload your own")
