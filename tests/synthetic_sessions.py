"""Synthetic sessions recorded once per test process and shared by the test modules
that need them (a 20 s calibration session takes ~20-30 s to render and write)."""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from drivers.recorder import record
from drivers.synthetic import open_synthetic

_DIR = Path(tempfile.mkdtemp(prefix="thermorig-test-sessions-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)


@functools.cache
def session(scene: str = "calibration", seconds: float = 20.0, **options) -> Path:
    """A recorded synthetic session (same arguments, same file, made once)."""
    name = "_".join([scene, f"{seconds:g}s"] + [f"{k}-{v}" for k, v in sorted(options.items())])
    path = _DIR / f"{name}.h5"
    driver = open_synthetic(scene, realtime=False, duration=seconds, **options)
    driver.open()
    try:
        record(driver, path, activity=scene)
    finally:
        driver.close()
    return path
