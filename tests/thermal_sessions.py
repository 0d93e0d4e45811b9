"""Tiny hand-made sessions and label files whose figures a test can work out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from app.labels.sidecar import SOURCE_PROJECTED, STATUS_UNREVIEWED
from app.labels.sidecar_writer import LabelWriter
from drivers.base import SourceInfo
from drivers.session_writer import SessionWriter
from drivers.types import Frame, StreamSpec, celsius_to_centikelvin


def write_thermal_session(
    path: Path, celsius: np.ndarray, *, fps: float = 10.0, t0: float = 100.0
) -> Path:
    """A session of one ``thermal`` stream: frame i shows ``celsius[i]`` (N, H, W) °C,
    at host time ``t0 + i / fps``; a ``depth`` stream starts one frame period earlier
    (the session's start)."""
    n, h, w = celsius.shape
    specs = {
        "thermal": StreamSpec("thermal", "thermal", (h, w), "uint16", "centikelvin", fps),
        "depth": StreamSpec("depth", "depth", (h, w), "uint16", "depth_units", fps, 0.001),
    }
    info = SourceInfo(spec="test:thermal", activity="cycling")
    with SessionWriter(path, specs, info, codec="lzf", min_free_bytes=0) as wr:
        for i in range(n):
            t = t0 + i / fps
            depth = np.full((h, w), 1500, np.uint16)
            wr.write(Frame("depth", i, t - 1.0 / fps, depth))
            wr.write(Frame("thermal", i, t, celsius_to_centikelvin(celsius[i])))
    return path


def write_labels(
    path: Path,
    session: Path,
    masks: np.ndarray,
    *,
    source: list[int] | None = None,
    status: list[int] | None = None,
    classes: tuple[str, ...] = ("background", "left_calf", "right_calf"),
    stream: str = "thermal",
) -> Path:
    """A label file of ``session`` with ``masks`` (N, H, W) and per-row source/status
    (default projected, unreviewed)."""
    n = len(masks)
    source = source or [SOURCE_PROJECTED] * n
    status = status or [STATUS_UNREVIEWED] * n
    with LabelWriter(path, session=session, classes=classes) as wr:
        wr.create_stream(stream, n, masks.shape[1:3])
        for i in range(n):
            wr.write(stream, i, masks[i], source[i], status=status[i])
    return path
