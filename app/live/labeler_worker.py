"""A slow RGB labeler on its own thread, and its results interpolated onto thermal frames.

The MediaPipe pose labeler costs 55-90 ms per 1280x720 frame on a two-core laptop: run
inside the projected-labels stage it held every thermal frame's labels up by that much
and capped them near 10 per second. Here it runs on its own thread
(:class:`LabelerWorker`) on the newest RGB frame handed to it — older ones are dropped,
latest-wins — with tracking (the detector only when the pose is lost), and publishes
each result with the time of the RGB frame it labeled. The projected-labels stage
carries each result into the thermal camera once, through the depth frame of the same
FrameSet, and gives every thermal frame between two results the labels interpolated
to its own time (:class:`TransferTrack`, :func:`calibration.temporal.interpolate_labels`:
signed distances blended, so an edge moves the way the calf moved). A thermal frame is
labeled once the result after it exists, so the preview holds frames that much longer
(:attr:`LabelerWorker.hold_s`, which the frame pacer uses).

GUI-free. Its figures are a :class:`~app.live.stages.StageStats` row like the overlay
stages': results per second, compute time per frame, and age (from the RGB frame
handed over to its result).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from app.live.stages import (
    OVERLAY_NICE,
    LatestSlot,
    RateMeter,
    StageStats,
    lower_priority,
    newest_items,
)
from calibration.projection import Transfer
from calibration.temporal import interpolate_labels
from drivers.types import FrameSet

#: Results kept (and transfers kept per labeler): enough to bracket every thermal
#: frame the pacer may still hold.
KEEP = 6
#: The pacer holds a frame for its labels at most this long with a threaded labeler
#: (the result after a frame comes about one labeler period plus its compute later).
MAX_HOLD_S = 0.35
#: Two results further apart than this (s) are not blended: the labeler was off or
#: the source jumped in between.
MAX_SPAN_S = 0.5
#: Until the labeler's own figures say otherwise (seconds).
DEFAULT_HOLD_S = 0.25


@dataclass(frozen=True)
class LabelerResult:
    """The labels of the RGB frame of ``frameset`` (None: none confident, ``reason``)."""

    frameset: FrameSet
    time: float  # the RGB frame's timestamp (host clock, seconds)
    labels: np.ndarray | None
    reason: str
    seq: int  # results count up from 1


class LabelerWorker:
    """Runs ``labeler`` (a live labeler: ``(FrameSet) -> labels | None`` with a
    ``reason``) on the newest FrameSet :meth:`submit` hands over, on its own thread
    (started on the first submit; :meth:`stop` ends it, a later submit restarts it)."""

    asynchronous = True

    def __init__(self, labeler, title: str, stream: str = "color"):
        self.labeler = labeler
        self.title = title
        self.stream = stream
        self.classes = list(getattr(labeler, "classes", []))
        self.reason = ""
        self._inbox: LatestSlot[tuple[FrameSet, float]] = LatestSlot()
        self._lock = threading.Lock()
        self._results: deque[LabelerResult] = deque(maxlen=KEEP)
        self._seq = 0
        self._rate = RateMeter()
        self._busy_ms = self._age_ms = 0.0
        self._ages: deque[float] = deque(maxlen=30)
        self._errors, self._last_error = 0, ""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_frame = None

    # -- the stage's side -------------------------------------------------------------
    def submit(self, fs: FrameSet) -> None:
        """Label ``fs``'s RGB frame when the thread is free (a newer one replaces it)."""
        frame = fs.frames.get(self.stream)
        if frame is None or frame is self._last_frame:
            return  # nothing new to label (a paused replay, a borrowed partner)
        self._last_frame = frame
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="rgb-labeler", daemon=True)
            self._thread.start()
        self._inbox.put((fs, time.perf_counter()))

    def results_after(self, seq: int) -> list[LabelerResult]:
        """Results newer than ``seq``, oldest first."""
        with self._lock:
            return [r for r in self._results if r.seq > seq]

    @property
    def hold_s(self) -> float:
        """How long a thermal frame waits for the result after it: the labeler's
        period plus the age of a result, with a margin (at most :data:`MAX_HOLD_S`)."""
        with self._lock:
            rate, ages = self._rate.rate, list(self._ages)
        if rate <= 0 or not ages:
            return DEFAULT_HOLD_S
        return min(MAX_HOLD_S, 1.2 * (1.0 / rate + float(np.median(ages))) + 0.02)

    def stats(self) -> StageStats:
        with self._lock:
            return StageStats(
                "rgb-labeler",
                f"RGB labeler ({self.title}, own thread)",
                self._thread is not None and self._thread.is_alive(),
                self._rate.rate,
                self._busy_ms,
                self._age_ms,
                self._seq,
                self._errors,
                self._last_error,
                self.reason,
            )

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        self._inbox.put(None)  # wake the thread
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(timeout)

    # -- the thread -------------------------------------------------------------------
    def _run(self) -> None:
        lower_priority(OVERLAY_NICE)
        for fs, submitted in newest_items(self._inbox, self._stop):
            t0 = time.perf_counter()
            try:
                labels = self.labeler(fs)
                error = ""
            except Exception as exc:  # noqa: BLE001 - a labeler bug is shown, not fatal
                labels, error = None, f"{type(exc).__name__}: {exc}"
            done = time.perf_counter()
            with self._lock:
                self._busy_ms = 1e3 * (done - t0)
                if error:
                    self._errors += 1
                    self._last_error = error
                    continue
                self._seq += 1
                self._rate.tick()
                self._age_ms = 1e3 * (done - submitted)
                self._ages.append(done - submitted)
                self.reason = getattr(self.labeler, "reason", "") if labels is None else ""
                rgb_time = fs.frames[self.stream].timestamp
                self._results.append(LabelerResult(fs, rgb_time, labels, self.reason, self._seq))


@dataclass(frozen=True)
class Entry:
    """One labeler result carried into the thermal camera (``transfer`` None: the
    labeler found no confident labels; ``why`` says why)."""

    time: float
    transfer: Transfer | None
    why: str = ""
    #: Signed distances by class, computed once for all the frames it brackets.
    distances: dict = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Interpolated:
    """Labels at one thermal frame's time, between the results before and after it:
    ``a`` is how far along (0: the one before), ``span`` their distance (s). Without
    labels (either side found none) ``labels`` is None and ``why`` says why."""

    labels: np.ndarray | None
    reason: np.ndarray | None
    nearer: Entry
    a: float
    span: float
    why: str = ""


class TransferTrack:
    """The last few results in the thermal camera, by time; labels at any time
    between the first and the last by interpolation."""

    def __init__(self) -> None:
        self.entries: deque[Entry] = deque(maxlen=KEEP)
        self.seq = 0  # the newest labeler result taken in

    def add(self, entry: Entry, seq: int) -> None:
        self.entries.append(entry)
        self.seq = seq

    def clear(self) -> None:
        self.entries.clear()

    @property
    def newest(self) -> float:
        return self.entries[-1].time if self.entries else -math.inf

    def at(self, t: float, n_classes: int) -> Interpolated | None:
        """Labels at time ``t``, or None when no two results bracket it."""
        entries = list(self.entries)
        for e0, e1 in zip(entries, entries[1:], strict=False):
            if not e0.time <= t <= e1.time:
                continue
            span = e1.time - e0.time
            if span > MAX_SPAN_S:
                return None  # a pause (a labeler off a while, a seek): nothing to blend
            a = (t - e0.time) / span if span > 0 else 1.0
            near = e1 if a >= 0.5 else e0
            if e0.transfer is None or e1.transfer is None:
                if near.transfer is None:
                    return Interpolated(None, None, near, a, span, near.why)
                other = e0 if near is e1 else e1
                return Interpolated(None, None, other, a, span, other.why)
            r0, r1 = e0.transfer, e1.transfer
            labels, reason = interpolate_labels(
                r0.labels, r1.labels, a, n_classes, r0.reason, r1.reason,
                (e0.distances, e1.distances),
            )  # fmt: skip
            return Interpolated(labels, reason, near, a, span)
        return None
