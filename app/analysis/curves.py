"""Temperature curves: per labeled region (class) and frame, the mean / median / max °C.

The figure a physiologist wants from a cycling test is calf skin temperature over
time. A curve is read off the thermal frames inside each class's mask; frames that
were rejected in review, that a ``statuses`` filter leaves out, or whose mask lacks the
class give NaN (and a pixel count of 0), so gaps stay gaps instead of becoming zeros.

**Edge erosion** (``erode_px``, default :data:`DEFAULT_ERODE_PX` = 2): each class mask
is shrunk by that many pixels before averaging. The outermost pixels of a limb are not
skin temperature: the thermal lens spreads every pixel over its neighbours (the
background is ~10 °C colder than skin), skin emissivity falls at grazing angles at the
silhouette, and a projected or hand-drawn mask is off by a pixel or two at the edge.
All three pull a region's mean towards the background. Two pixels is about the optical
blur radius of the 640×512 microbolometers used here plus one pixel of label
misregistration; a calf 40-80 px wide keeps most of its pixels. On the synthetic rig
the un-eroded calf reads 0.2-0.4 °C colder and warms ~1 % less than its skin does;
erosion removes the latter (tests/test_stats.py). Use ``erode_px=0`` for the mask as
drawn. A region thinner than twice ``erode_px`` vanishes (NaN, count 0): too thin
to hold a pixel that is surely skin.
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from app.labels.sidecar import SOURCE_NONE, STATUS_REJECTED, LabelReader, LabelsError
from drivers.atomic import atomic_write
from drivers.errors import SessionError
from drivers.session import SessionReader
from drivers.types import centikelvin_to_celsius

#: Default edge erosion in pixels; see the module docstring for why.
DEFAULT_ERODE_PX = 2
#: Statistics per class and frame, in CSV column order.
STATS = ("mean", "median", "max")


@dataclass
class TemperatureCurves:
    """Per frame (rows) and class (columns, background left out) temperature in °C.

    ``time`` is seconds from the session's start (the earliest first timestamp of any
    stream); ``frames`` the stream's row numbers; ``count`` the pixels each figure is
    over (0 where NaN).
    """

    stream: str
    classes: list[str]
    time: np.ndarray
    frames: np.ndarray
    mean: np.ndarray
    median: np.ndarray
    max: np.ndarray
    count: np.ndarray
    erode_px: int = DEFAULT_ERODE_PX

    def __len__(self) -> int:
        return len(self.frames)

    def column(self, cls: str, stat: str = "mean") -> np.ndarray:
        """One class's curve of ``stat`` (mean, median, max, count)."""
        if cls not in self.classes:
            raise KeyError(f"no class {cls!r}; curves have {', '.join(self.classes)}")
        return getattr(self, stat)[:, self.classes.index(cls)]

    def to_csv(self, path: str | os.PathLike) -> Path:
        """Columns ``frame, time_s`` then per class ``<class>_mean_c, _median_c, _max_c,
        _pixels``; a missing value is an empty cell. Written to a temporary file
        beside ``path`` that replaces it only when complete."""
        path = Path(path)
        if path.is_dir():
            raise LabelsError(f"{path} is a folder; give a CSV file name (OUT.csv)")
        path.parent.mkdir(parents=True, exist_ok=True)
        header = ["frame", "time_s"]
        for c in self.classes:
            header += [f"{c}_{s}_c" for s in STATS] + [f"{c}_pixels"]
        with atomic_write(path, newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow(header)
            for r in range(len(self.frames)):
                row = [str(int(self.frames[r])), f"{self.time[r]:.4f}"]
                for k in range(len(self.classes)):
                    row += [_cell(getattr(self, s)[r, k]) for s in STATS]
                    row.append(str(int(self.count[r, k])))
                w.writerow(row)
        return path


def _cell(v: float) -> str:
    return f"{v:.3f}" if math.isfinite(v) else ""


def erode(mask: np.ndarray, px: int) -> np.ndarray:
    """``mask`` (bool) shrunk by ``px`` pixels with a round structuring element; the
    image border does not erode (it is the frame's edge, not the limb's)."""
    if px <= 0:
        return mask
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * px + 1, 2 * px + 1))
    return cv2.erode(mask.view(np.uint8), kernel, borderType=cv2.BORDER_REPLICATE).view(bool)


def frame_stats(
    celsius: np.ndarray, mask: np.ndarray, n_classes: int, erode_px: int = DEFAULT_ERODE_PX
) -> np.ndarray:
    """``(n_classes - 1, 4)``: mean, median, max and pixel count per class 1.., NaN
    (count 0) where the eroded class is absent."""
    out = np.full((n_classes - 1, 4), np.nan)
    for k in range(1, n_classes):
        inside = erode(mask == k, erode_px)
        values = celsius[inside]
        out[k - 1, 3] = values.size
        if values.size:
            out[k - 1, :3] = values.mean(dtype=np.float64), np.median(values), values.max()
    return out


def curves_of(
    session: SessionReader,
    stream: str,
    classes: list[str],
    mask_of: Callable[[int], np.ndarray],
    rows: Iterable[int],
    *,
    erode_px: int = DEFAULT_ERODE_PX,
    progress: Callable[[int, int], None] | None = None,
) -> TemperatureCurves:
    """The work of :func:`compute_curves` once its inputs are checked: curves over an
    open session, masks from ``mask_of(i)`` for the frames ``rows`` (others NaN)."""
    n = session.count(stream)
    c = len(classes) - 1
    stats = np.full((n, c, 4), np.nan)
    stats[..., 3] = 0
    todo = sorted(int(i) for i in rows)
    for done, i in enumerate(todo, start=1):
        celsius = centikelvin_to_celsius(session.frame(stream, i).array)
        stats[i] = frame_stats(celsius, mask_of(i), len(classes), erode_px)
        if progress is not None:
            progress(done, len(todo))
    starts = [session.timestamps(s)[:1] for s in session.streams]
    t0 = min((float(t[0]) for t in starts if len(t)), default=0.0)
    return TemperatureCurves(
        stream=stream,
        classes=list(classes[1:]),
        time=session.timestamps(stream) - t0,
        frames=np.arange(n),
        mean=stats[..., 0],
        median=stats[..., 1],
        max=stats[..., 2],
        count=stats[..., 3].astype(np.int64),
        erode_px=int(erode_px),
    )


def check_thermal(session: SessionReader, stream: str) -> None:
    """SessionError unless ``stream`` exists and holds centikelvin."""
    if stream not in session.streams:
        have = ", ".join(sorted(session.streams)) or "none"
        raise SessionError(f"{session.path} has no '{stream}' stream (it has {have})")
    units = session.streams[stream].units
    if units != "centikelvin":
        raise SessionError(
            f"'{stream}' in {session.path} holds {units or 'unknown units'}, not temperatures;"
            " give a thermal stream"
        )


def compute_curves(
    session_path: str | os.PathLike,
    labels_path: str | os.PathLike,
    stream: str = "thermal",
    *,
    statuses: Iterable[int] | None = None,
    erode_px: int = DEFAULT_ERODE_PX,
    progress: Callable[[int, int], None] | None = None,
) -> TemperatureCurves:
    """Curves of every class of a label file over its session.

    Frames count when labeled (source not none) and, with ``statuses``, when their
    status is one of them; without, every status but rejected.
    """
    if erode_px < 0:
        raise LabelsError(f"erode_px={erode_px}; give 0 or more pixels")
    with SessionReader(session_path) as s, LabelReader(labels_path) as lr:
        lr.check_session(session_path)
        check_thermal(s, stream)
        s.require_timestamps([stream], "a temperature curve")
        n, shape = s.count(stream), tuple(s.streams[stream].shape[:2])
        if lr.count(stream) != n or lr.shape(stream) != shape:
            raise LabelsError(
                f"{labels_path} holds {lr.count(stream)} {stream} masks of"
                f" {lr.shape(stream)[1]}x{lr.shape(stream)[0]}, but {session_path} has {n}"
                f" frames of {shape[1]}x{shape[0]}; give the labels of this session"
            )
        if len(lr.classes) < 2:
            raise LabelsError(f"{labels_path} names no class besides background")
        source, status = lr.array(stream, "source"), lr.array(stream, "status")
        keep = source != SOURCE_NONE
        if statuses is None:
            keep &= status != STATUS_REJECTED
        else:
            keep &= np.isin(status, np.asarray(list(statuses), np.uint8))
        return curves_of(
            s,
            stream,
            lr.classes,
            lambda i: lr.mask(stream, i),
            np.flatnonzero(keep),
            erode_px=erode_px,
            progress=progress,
        )


def theil_sen(t: np.ndarray, y: np.ndarray, max_points: int = 600) -> tuple[float, float]:
    """Robust line ``y ≈ a + b t`` (Theil-Sen: median of pairwise slopes), NaN-aware.

    Long sessions are first reduced to the medians of ``max_points`` equal time bins
    (all pairs of 36 000 frames would be 650 million); a bin spans several pedal
    strokes, so its median also evens out the stroke's rhythm.
    """
    ok = np.isfinite(t) & np.isfinite(y)
    t, y = t[ok], y[ok]
    if len(t) < 2 or t[-1] == t[0]:
        return (float(y[0]) if len(y) else math.nan), math.nan
    if len(t) > max_points:
        edges = np.linspace(t[0], t[-1], max_points + 1)
        which = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, max_points - 1)
        used = np.unique(which)
        t = np.array([np.median(t[which == b]) for b in used])
        y = np.array([np.median(y[which == b]) for b in used])
    i, j = np.triu_indices(len(t), k=1)
    dt = t[j] - t[i]
    good = dt > 0
    slope = float(np.median((y[j] - y[i])[good] / dt[good]))
    return float(np.median(y - slope * t)), slope


#: Start and end figures are medians over this long at either end (at most a fifth of
#: the span): several pedal strokes or steps, so the stroke's rhythm does not decide them.
EDGE_WINDOW_S = 5.0


def summarize(curves: TemperatureCurves) -> list[dict[str, float | int | str | None]]:
    """Per class, of its mean curve: start and end (medians over the first and last
    :data:`EDGE_WINDOW_S`), min, max, and the robust (Theil-Sen) trend in °C/min."""
    out = []
    for k, name in enumerate(curves.classes):
        y, t = curves.mean[:, k], curves.time
        ok = np.isfinite(y)
        row: dict[str, float | int | str | None] = {"class": name, "frames": int(ok.sum())}
        if ok.any():
            ty, yy = t[ok], y[ok]
            window = min(EDGE_WINDOW_S, (ty[-1] - ty[0]) / 5.0)
            _, slope = theil_sen(ty, yy)
            row |= {
                "start_c": float(np.median(yy[ty <= ty[0] + window])),
                "end_c": float(np.median(yy[ty >= ty[-1] - window])),
                "min_c": float(yy.min()),
                "max_c": float(yy.max()),
                "trend_c_per_min": 60.0 * slope if math.isfinite(slope) else None,
                "from_s": float(ty[0]),
                "to_s": float(ty[-1]),
            }
        out.append(row)
    return out
