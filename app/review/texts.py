"""What the review window says, as plain strings (GUI-free, so tests read them directly).

Frame numbers a person reads count from 1, as in the main window's replay bar ("frame
1 / 300"): the same frame must not be "frame 0" in one window and "frame 1" in the
other. Indices in code, files and journals stay 0-based; only :func:`frame_no` turns
one into the number shown.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from app.labels.sidecar import SOURCE_NONE, STATUS_UNREVIEWED


def frame_no(i: int) -> int:
    """The number a person reads for 0-based frame index ``i``."""
    return int(i) + 1


def frame_text(i: int) -> str:
    return f"frame {frame_no(i)}"


def opening_note(status: np.ndarray, source: np.ndarray, confidence: np.ndarray, i: int) -> str:
    """Why the window opened on frame ``i`` (the head of the worst-first queue), in one
    line; without it a person sees frame 137 and wonders why not frame 1."""
    n = len(status)
    if n and (source == SOURCE_NONE).all():
        return (
            f"no labels yet: all {n} frames are unlabeled; paint them here, or close and "
            "make labels first (thermorig autolabel or thermorig infer)"
        )
    unreviewed = status == STATUS_UNREVIEWED
    if not unreviewed.any():
        return f"every frame is reviewed; opened on {frame_text(i)}"
    conf = float(confidence[i]) if 0 <= i < n else math.nan
    if source[i] == SOURCE_NONE:
        why = "it is unlabeled (unlabeled frames come first)"
    elif math.isnan(conf):
        if np.isnan(confidence[unreviewed]).all():
            return (
                f"worst-first: {frame_text(i)} is the first unreviewed frame"
                " (these labels carry no confidence to sort by)"
            )
        why = "its labels carry no confidence (those come first)"
    else:
        why = f"it has the lowest transfer confidence ({conf:.2f}) of the unreviewed frames"
    return f"worst-first: opened on {frame_text(i)} because {why}; Q goes to the next worst"


def saved_note(edits: int, path: str | Path) -> str:
    """What a save did, for the status bar and for the line printed on close."""
    name = Path(path).name
    if edits <= 0:
        return f"no edits to save; {name} unchanged"
    return f"saved {edits} edit{'s' if edits != 1 else ''} to {name}"


def readout(col: int, row: int, celsius: float, class_name: str, depth_m: float) -> str:
    """The cursor readout: pixel, °C and class under the cursor (°C and depth where
    known: an RGB pixel has neither)."""
    depth = "" if math.isnan(depth_m) else f"   z {depth_m:.3f} m"
    temp = "" if math.isnan(celsius) else f"{celsius:.2f} °C   "
    return f"x {col}  y {row}   {temp}{class_name}{depth}"
