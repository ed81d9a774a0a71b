"""Where data lives. Everything reads the shared data path from here, never from a hard-coded path."""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def gaze_data_root() -> Path:
    """`GAZE_DATA` if set, else `../shared/data` next to the repository."""
    return Path(os.environ.get("GAZE_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


# Pixels per degree of visual angle (σ of the empirical map = 1 dva). OSIE: ~24 px/deg (Xu et al. 2014).
# MIT1003: the Tübingen benchmark blurs MIT300 (same setup) with σ = 23.99 px. Unknown datasets: 24 px.
SIGMA_PX = {"osie": 24.0, "mit1003": 23.99}
DEFAULT_SIGMA_PX = 24.0


def resolve_sigma(dataset: str, sigma: str | float | None = None, ppd: float | None = None) -> dict:
    """σ of the empirical saliency map in pixels, and where it came from.

    - ``sigma`` in pixels (``24``, ``"24"``, ``"24px"``) or in degrees of visual angle (``"1deg"``, ``"1dva"``;
      needs ``ppd``, the pixels per degree of the setup the images were shown in).
    - ``ppd`` alone: σ = 1 degree = ``ppd`` px (the usual empirical-map blur).
    - neither: ``SIGMA_PX[dataset]`` for the shared datasets, else ``DEFAULT_SIGMA_PX`` — a guess, and the
      returned ``source`` says so.

    Returns {"px": σ in pixels, "deg": σ in degrees or None, "ppd": ppd or None, "source": text}.
    Raises ValueError for a non-positive, non-finite or unreadable value, or degrees without ``ppd``.
    """
    import math
    import re

    if ppd is not None:
        ppd = float(ppd)
        if not (math.isfinite(ppd) and ppd > 0):
            raise ValueError(f"--ppd (pixels per degree of visual angle) must be a positive number; got {ppd}")
    if sigma is None:
        if ppd is not None:
            return {"px": ppd, "deg": 1.0, "ppd": ppd, "source": f"--ppd {ppd:g}: σ = 1 degree of visual angle"}
        if dataset in SIGMA_PX:
            return {"px": SIGMA_PX[dataset], "deg": 1.0, "ppd": SIGMA_PX[dataset],
                    "source": f"training.config.SIGMA_PX['{dataset}']: 1 degree of visual angle for {dataset}"}
        return {"px": DEFAULT_SIGMA_PX, "deg": None, "ppd": None,
                "source": f"default {DEFAULT_SIGMA_PX:g} px: the viewing geometry of '{dataset}' is unknown "
                          f"(known: {', '.join(SIGMA_PX)}); pass --sigma PX, or --ppd PIXELS_PER_DEGREE for σ = 1°"}
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*(px|deg|dva|°)?\s*", str(sigma))
    value = float(match[1]) if match else math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"--sigma must be a positive number of pixels (24, 24px) or degrees with --ppd (1deg); "
                         f"got {sigma!r}")
    if match[2] in ("deg", "dva", "°"):
        if ppd is None:
            raise ValueError(f"--sigma {sigma} is in degrees: also give --ppd, the pixels per degree of visual "
                             f"angle of the setup (e.g. --ppd 35)")
        return {"px": value * ppd, "deg": value, "ppd": ppd, "source": f"--sigma {value:g}deg × --ppd {ppd:g}"}
    return {"px": value, "deg": value / ppd if ppd else None, "ppd": ppd, "source": f"--sigma {value:g} px"}
