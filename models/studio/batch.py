"""What the app's Batch tab does: many paintings (image files, or .zip archives of them) through one saliency
model, out as one zip of maps and a summary CSV.

    result = run_batch(["a.jpg", "more.zip"], "effsal-lite0", progress=lambda done, total, name: ...)
    result["zip"], result["summary"], result["rows"]      # the zip, its summary.csv, the summary's rows

Zips are read, never unpacked by their members' names: every member is checked from the archive's directory
first (how many, how large once unpacked: a zip bomb is refused before anything is read) and then read into a
scratch folder under a name of our own, so a member called "../x.png" or "/etc/x.png" can write nowhere; such
names are skipped and listed. Files that are not images, or that fail to decode, are skipped with the reason,
and every skipped file is listed in the summary. A batch with nothing to do is a ValueError that says why, and
leaves no output behind.
"""
from __future__ import annotations

import csv
import io
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

import numpy as np
from PIL import Image

from models.studio import saliency_tab
from models.studio.files import output_dir
from models.studio.overview_tab import attention_statistics
from models.studio.painting import load_painting, resize_map

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")
MAX_IMAGES = 50                         # per batch: a few minutes of a small CPU at most
MAX_MEMBERS = 1000                      # entries of one zip looked at (folders included)
MAX_UNPACKED_BYTES = 500 * 1024 ** 2    # what the zips given may unpack to, all together
SUMMARY_COLUMNS = ("image", "status", "note", "width", "height", "model", "runtime_ms", "peak_x", "peak_y",
                   "centre_x", "centre_y", "entropy", "top_10", "map_png", "map_npy")
LIMITS = (f"at most {MAX_IMAGES} images per batch; zips up to {MAX_MEMBERS} entries and "
          f"{MAX_UNPACKED_BYTES // 1024 ** 2} MB unpacked")


@dataclass
class Item:
    """One image to process: a file uploaded as it is, or a member of an uploaded zip."""
    name: str                                 # as the user knows it: the file's name, or zip:member
    path: Path                                # the file, or the zip holding it
    member: zipfile.ZipInfo | None = None

    def materialise(self, scratch: Path) -> Path:
        """A file with the image's bytes: the upload itself, or the zip member read into `scratch` under its
        base name (scratch is a fresh folder per member, so two members with one base name do not collide)."""
        if self.member is None:
            return self.path
        scratch.mkdir(parents=True)
        target = scratch / PurePosixPath(self.member.filename).name
        with zipfile.ZipFile(self.path) as archive, archive.open(self.member) as source, open(target, "wb") as out:
            shutil.copyfileobj(source, out)       # stops at the member's declared size; a lie fails its CRC
        return target


def _unsafe(name: str) -> bool:
    """A member name that would leave the extraction folder if unpacked by name (absolute, a drive, '..')."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return name.startswith(("/", "\\")) or ".." in parts or (len(name) > 1 and name[1] == ":")


def _member_problem(info: zipfile.ZipInfo) -> str | None:
    """Why a zip member is not processed (None: it is an image to try)."""
    name = info.filename
    base = PurePosixPath(name.replace("\\", "/")).name
    if _unsafe(name):
        return "unsafe path (it points outside the zip's folder); not read"
    if name.startswith("__MACOSX/") or base.startswith("."):
        return "hidden or system file"
    if info.flag_bits & 0x1:
        return "encrypted; not read"
    if base.lower().endswith(".zip"):
        return "a zip inside the zip is not opened"
    if not base.lower().endswith(IMAGE_EXTENSIONS):
        return "not an image (" + ", ".join(IMAGE_EXTENSIONS) + ")"
    return None


def _zip_items(path: Path, budget: list[int]) -> tuple[list[Item], list[tuple[str, str]]]:
    """A zip's images and its skipped members; ValueError for an unreadable zip or one past the limits.
    `budget`: [bytes left to unpack], shared by every zip of the batch."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path.name}: not a readable zip file ({err})") from None
    if len(members) > MAX_MEMBERS:
        raise ValueError(f"{path.name}: {len(members)} entries; a zip may hold at most {MAX_MEMBERS}")
    files = [m for m in members if not m.is_dir()]
    unpacked = sum(m.file_size for m in files)
    if unpacked > budget[0]:
        raise ValueError(f"{path.name}: unpacks to {unpacked / 1024 ** 2:.0f} MB; a batch may unpack to at most "
                         f"{MAX_UNPACKED_BYTES // 1024 ** 2} MB (a zip bomb?)")
    budget[0] -= unpacked
    items, skipped = [], []
    for member in files:
        label = f"{path.name}:{member.filename}"
        problem = _member_problem(member)
        if problem:
            skipped.append((label, problem))
        else:
            items.append(Item(label, path, member))
    return items, skipped


def collect(files: list) -> tuple[list[Item], list[tuple[str, str]]]:
    """The images of a batch (uploaded image files and the images inside uploaded zips) and the files skipped,
    as (name, reason); ValueError when there is no image, more than MAX_IMAGES, or a zip past its limits."""
    items, skipped = [], []
    budget = [MAX_UNPACKED_BYTES]
    for given in files or []:
        path = Path(given)
        if path.suffix.lower() == ".zip":
            found, passed = _zip_items(path, budget)
            items += found
            skipped += passed
        elif path.suffix.lower() in IMAGE_EXTENSIONS:
            items.append(Item(path.name, path))
        else:
            skipped.append((path.name, "not an image or a .zip (" + ", ".join(IMAGE_EXTENSIONS) + ")"))
    if not items:
        why = "; ".join(f"{name}: {reason}" for name, reason in skipped[:5]) + ("; …" if len(skipped) > 5 else "")
        raise ValueError("no images to process" + (f" — {why}" if why else "") +
                         f". Upload image files ({', '.join(IMAGE_EXTENSIONS)}) or a .zip of them.")
    if len(items) > MAX_IMAGES:
        raise ValueError(f"{len(items)} images; a batch takes at most {MAX_IMAGES} (split it into several)")
    return items, skipped


def _png16(density: np.ndarray, size: tuple[int, int]) -> bytes:
    """The map as a 16-bit grey PNG at (w, h), scaled to its peak (as the Saliency tab's download)."""
    grey = resize_map(density, size)
    peak = float(grey.max())
    grey = (grey / peak * 65535).astype(np.uint16) if peak > 0 else grey.astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(grey).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def _npy(density: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, density.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def _unique(stem: str, taken: set[str]) -> str:
    name, k = stem, 2
    while name in taken:
        name, k = f"{stem}-{k}", k + 1
    taken.add(name)
    return name


def _map_row(item: Item, painting, model_name: str, density: np.ndarray, runtime_ms: float,
             png: str, npy: str) -> dict:
    """The summary of one map: sizes and places in the original image's pixels (overview_tab's statistics)."""
    stats = attention_statistics(density)
    w, h = painting.original_size
    return {"image": item.name, "status": "ok", "note": painting.note(), "width": w, "height": h,
            "model": model_name, "runtime_ms": round(runtime_ms, 1),
            "peak_x": round(stats["peak_x"] * w, 1), "peak_y": round(stats["peak_y"] * h, 1),
            "centre_x": round(stats["centre_x"] * w, 1), "centre_y": round(stats["centre_y"] * h, 1),
            "entropy": round(stats["entropy"], 4), "top_10": round(stats["top_10"], 4),
            "map_png": png, "map_npy": npy}


def _summary_csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=SUMMARY_COLUMNS, restval="")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def run_batch(files: list, model_name: str,
              progress: Callable[[int, int, str], None] | None = None) -> dict:
    """Every image of `files` (see `collect`) through `model_name`; returns {"zip": path of
    saliency-maps-MODEL.zip (maps/NAME.png: 16-bit at the image's size; maps/NAME.npy: the density at the size
    the model saw; summary.csv), "summary": the summary CSV as its own file, "rows": the summary's rows (one per
    image, then one per skipped file)}. `progress(done, total, name)` is called before each image and at the end.
    ValueError when nothing could be processed; then no output is left behind."""
    saliency_tab.check_model(model_name)
    items, skipped = collect(files)
    folder = output_dir("batch-")
    rows, taken = [], set()
    try:
        with tempfile.TemporaryDirectory(prefix="batch-scratch-") as scratch, \
                zipfile.ZipFile(folder / f"saliency-maps-{model_name}.zip", "w", zipfile.ZIP_DEFLATED) as out:
            for index, item in enumerate(items):
                if progress:
                    progress(index, len(items), item.name)
                try:
                    painting = load_painting(item.materialise(Path(scratch) / str(index)),
                                             name=PurePosixPath(item.name).name)
                except (ValueError, zipfile.BadZipFile, OSError) as err:
                    skipped.append((item.name, str(err)))
                    continue
                start = time.perf_counter()
                density = saliency_tab.predict(painting, model_name)
                runtime_ms = (time.perf_counter() - start) * 1000
                stem = _unique(f"{painting.stem}-saliency-{model_name}", taken)
                png, npy = f"maps/{stem}.png", f"maps/{stem}.npy"
                out.writestr(png, _png16(density, painting.output_size))
                out.writestr(npy, _npy(density))
                rows.append(_map_row(item, painting, model_name, density, runtime_ms, png, npy))
            if not rows:
                why = "; ".join(f"{name}: {reason}" for name, reason in skipped[:5])
                raise ValueError(f"none of the {len(items)} images could be read — {why}")
            rows += [{"image": name, "status": "skipped", "note": reason} for name, reason in skipped]
            summary = _summary_csv(rows)
            out.writestr("summary.csv", summary)
        (folder / "summary.csv").write_text(summary, encoding="utf-8")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    if progress:
        progress(len(items), len(items), "done")
    return {"zip": str(folder / f"saliency-maps-{model_name}.zip"), "summary": str(folder / "summary.csv"),
            "rows": rows}
