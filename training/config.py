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
