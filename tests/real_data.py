"""The real coded-target images in the shared data folder beside the checkout
(``shared/data``) and their detections, cached.

Several test modules use the 48 real thermal images; detecting them once per test
run (≈ 2 s) keeps the suite fast. Tests call :func:`require` to skip, with the
reason named, where the shared data is not beside the repository.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MRT = SHARED / "real" / "mrt-thermal-checkerboard"
MRT_BOARD = "coded:11x9:50.5"


def require() -> Path:
    """The MRT image folder, or skip the calling test with the reason."""
    if not MRT.is_dir():
        pytest.skip(f"shared data not found at {MRT}")
    return MRT


def mrt_images() -> list[Path]:
    return sorted(require().glob("temp_*.png"))


@lru_cache(maxsize=1)
def mrt_detections() -> tuple:
    """(paths, detections or None) for the 48 real images."""
    from calibration.detect import detect

    paths = mrt_images()
    dets = [
        detect(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), MRT_BOARD, source=str(p)) for p in paths
    ]
    return paths, dets
