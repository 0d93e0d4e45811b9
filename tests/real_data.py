"""Real data the tests need but the repository does not hold, and what happens when it
is missing.

The shared data folder beside the checkout (``shared/data``) holds real camera files:
the 48 MRT thermal images of a coded target and a FLIR radiometric JPEG. Several test
modules use the MRT images; detecting them once per test run (≈ 2 s) keeps the suite
fast.

Where real data is missing, :func:`unavailable` decides: on a person's machine the
test is skipped with the reason (the data may simply not be fetched yet), but under
``CI=true`` it fails with the same reason, because a CI run that quietly skipped its
real-data tests would report a pass that was never earned. Every test that depends on
data or a dependency outside the repository goes through it.
"""

from __future__ import annotations

import importlib
import os
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import NoReturn

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
MRT = SHARED / "real" / "mrt-thermal-checkerboard"
MRT_BOARD = "coded:11x9:50.5"
FLIR_JPEG = SHARED / "real" / "flir-radiometric-jpeg" / "IR_2412.jpg"


def in_ci() -> bool:
    """True where the environment says this is a CI run (``CI=true``, as GitHub
    Actions, GitLab and most CI services set it; ``1`` is accepted too)."""
    return os.environ.get("CI", "").strip().lower() in ("true", "1")


def unavailable(reason: str, *, module_level: bool = False) -> NoReturn:
    """Leave the calling test (or, with ``module_level``, its module) out with
    ``reason``: skipped locally, failed under CI."""
    if in_ci():
        why = "CI=true: a test whose data or dependency is missing fails, not skips"
        pytest.fail(f"{reason} [{why}]", pytrace=False)
    pytest.skip(reason, allow_module_level=module_level)


def require(path: Path = MRT) -> Path:
    """``path`` (by default the MRT image folder) if it exists, else :func:`unavailable`."""
    if not path.exists():
        unavailable(f"real data not found at {path} (the shared data folder is absent)")
    return path


def import_or_unavailable(module: str, reason: str) -> ModuleType:
    """The imported module, or :func:`unavailable` for the whole test module."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        unavailable(f"{module} cannot be imported ({exc}): {reason}", module_level=True)


def mrt_images() -> list[Path]:
    return sorted(require().glob("temp_*.png"))


@lru_cache(maxsize=1)
def mrt_detections() -> tuple:
    """(paths, detections or None) for the 48 real images."""
    import cv2

    from calibration.detect import detect

    paths = mrt_images()
    dets = [
        detect(cv2.imread(str(p), cv2.IMREAD_UNCHANGED), MRT_BOARD, source=str(p)) for p in paths
    ]
    return paths, dets
