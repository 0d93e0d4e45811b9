"""Processing between capture and preview: latest-wins hand-over and overlay stages.

Capture must never wait for processing, and processing must never queue up behind
capture: every hand-over here is a :class:`LatestSlot` that keeps only the newest
value. A slow stage therefore lowers its own rate, never the capture's or the
preview's, and shows stale-by-N-frames results rather than a growing backlog.

Overlay stages are registered in a :class:`StageRegistry`: a stage is any callable
``(FrameSet) -> Overlay | None`` (ground-truth labels now; the depth projector and
ONNX models plug in the same way). A :class:`StageRunner` runs the enabled stages on
its own thread on the newest FrameSet, times each one and keeps its newest result.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from app.display import label_outline_rgba, label_rgba
from app.live.legend import KEYPOINT, TRUTH_OUTLINE, Mark, class_marks, unnamed_marks
from drivers.truth import DEFAULT_CLASSES
from drivers.types import FrameSet

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """A one-value mailbox: ``put`` replaces, readers see only the newest value.

    Each ``put`` bumps a sequence number so a reader can tell whether anything new
    arrived since it last looked (``get_newer``) without copying anything.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._value: T | None = None
        self._seq = 0

    def put(self, value: T) -> None:
        with self._cond:
            self._value = value
            self._seq += 1
            self._cond.notify_all()

    def get(self) -> tuple[int, T | None]:
        with self._cond:
            return self._seq, self._value

    def get_newer(self, seen: int) -> tuple[int, T | None]:
        """``(seq, value)`` if something newer than ``seen`` was put, else ``(seen, None)``."""
        with self._cond:
            if self._seq == seen:
                return seen, None
            return self._seq, self._value

    def wait_newer(self, seen: int, timeout: float) -> tuple[int, T | None]:
        with self._cond:
            self._cond.wait_for(lambda: self._seq != seen, timeout)
            if self._seq == seen:
                return seen, None
            return self._seq, self._value

    def clear(self) -> None:
        with self._cond:
            self._value = None
            self._seq += 1
            self._cond.notify_all()


class RateMeter:
    """Events per second over a sliding window of recent event times."""

    def __init__(self, window: float = 2.0, clock: Callable[[], float] = time.monotonic):
        self.window = window
        self._clock = clock
        self._times: deque[float] = deque()

    def tick(self) -> None:
        now = self._clock()
        self._times.append(now)
        while self._times and now - self._times[0] > self.window:
            self._times.popleft()

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        now = self._clock()
        if now - self._times[-1] > self.window:
            return 0.0
        span = self._times[-1] - self._times[0]
        return (len(self._times) - 1) / span if span > 0 else 0.0


class StallMeter:
    """The longest gap between consecutive ticks of a loop that should tick steadily
    (the GUI timer): a gap means the thread was busy — the user saw a frozen window."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter, keep: int = 4096):
        self._clock = clock
        self._last: float | None = None
        self.longest = 0.0
        self.ticks = 0
        self.gaps: deque[float] = deque(maxlen=keep)  # the most recent gaps, seconds

    def tick(self) -> float:
        now = self._clock()
        gap = 0.0 if self._last is None else now - self._last
        if self._last is not None:
            self.gaps.append(gap)
        self._last = now
        self.ticks += 1
        self.longest = max(self.longest, gap)
        return gap

    def reset(self) -> None:
        self._last = None
        self.longest = 0.0
        self.ticks = 0
        self.gaps.clear()


# -- overlays -------------------------------------------------------------------------


@dataclass
class Overlay:
    """A stage's result for one FrameSet, drawn over the view of ``stream``.

    ``labels`` is an (H, W) uint8 class mask (255 = unknown); ``rgba`` its rendering,
    filled in by the runner (off the GUI thread) if the stage did not; ``points`` are
    (K, 2) pixel coordinates, NaN where not visible. ``time`` is the timestamp of the
    FrameSet it was computed from (the runner fills it in): FrameSet indices restart
    when a replay seeks, times tell frames apart (:mod:`app.live.pacing`). ``marks``
    are the kinds of mark it drew (:mod:`app.live.legend`: the view's legend lists
    them, its tooltip names them); ``reason`` the projection's reason code per pixel,
    where the overlay carries labels projected from another camera.
    """

    stream: str
    frameset: int = -1
    labels: np.ndarray | None = None
    rgba: np.ndarray | None = None
    points: np.ndarray | None = None
    note: str = ""
    time: float = math.nan
    marks: tuple[Mark, ...] = ()
    reason: np.ndarray | None = None


Stage = Callable[[FrameSet], "Overlay | None"]


@dataclass
class StageInfo:
    name: str
    stage: Stage
    title: str
    enabled: bool = True
    #: Results per second at most (None: one per FrameSet). A costly stage capped
    #: below the frame rate leaves CPU to capture and display on a small machine; its
    #: newest result stays on screen in between.
    max_rate: float | None = None


@dataclass
class StageStats:
    """A stage's own figures: results per second, compute time, age of its result."""

    name: str
    title: str
    enabled: bool
    rate: float = 0.0
    busy_ms: float = 0.0
    latency_ms: float = 0.0
    runs: int = 0
    errors: int = 0
    last_error: str = ""
    note: str = ""


class StageRegistry:
    """Named overlay stages, in drawing order. Thread-safe to read while running."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stages: dict[str, StageInfo] = {}

    def register(
        self,
        name: str,
        stage: Stage,
        *,
        title: str = "",
        enabled: bool = True,
        max_rate: float | None = None,
    ):
        with self._lock:
            self._stages[name] = StageInfo(name, stage, title or name, enabled, max_rate)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._stages.pop(name, None)

    def set_enabled(self, name: str, enabled: bool) -> None:
        with self._lock:
            self._stages[name].enabled = bool(enabled)

    def stages(self) -> list[StageInfo]:
        with self._lock:
            return list(self._stages.values())

    def __contains__(self, name: object) -> bool:
        return name in self._stages


def truth_labels_stage(stream: str = "thermal", outline: bool = False) -> Stage:
    """Ground-truth class masks and keypoints a synthetic frame carries (None without).

    ``outline`` draws only the regions' outlines (white), for comparing with another
    overlay of the same view (projected labels) without hiding it.
    """

    def stage(fs: FrameSet) -> Overlay | None:
        frame = fs.frames.get(stream)
        if frame is None or not frame.truth or "labels" not in frame.truth:
            return None
        labels = frame.truth["labels"]
        points = frame.truth.get("keypoints")
        marks = (TRUTH_OUTLINE,) if outline else class_marks(DEFAULT_CLASSES, "ground truth")
        return Overlay(
            stream=stream,
            frameset=fs.index,
            labels=labels,
            rgba=label_outline_rgba(labels) if outline else None,
            points=points,
            note="ground truth",
            marks=marks + ((KEYPOINT,) if points is not None else ()),
        )

    return stage


@dataclass
class _Timing:
    rate: RateMeter = field(default_factory=RateMeter)
    busy_ms: float = 0.0
    latency_ms: float = 0.0
    runs: int = 0
    errors: int = 0
    last_error: str = ""
    started: float = -math.inf


class StageRunner:
    """Runs the registry's enabled stages on the newest FrameSet, on its own thread.

    ``submit`` never blocks (it replaces the pending FrameSet); results land in
    :meth:`results` per stage. A stage that raises is counted and its message kept;
    the others go on.
    """

    def __init__(self, registry: StageRegistry):
        self.registry = registry
        self._inbox: LatestSlot[tuple[FrameSet, float]] = LatestSlot()
        self._lock = threading.Lock()
        self._results: dict[str, Overlay] = {}
        self._timing: dict[str, _Timing] = {}
        self._generation = 0  # bumped by clear(): results of older sources are dropped
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="overlay-stages", daemon=True)
        self.version = 0  # bumps whenever a result changes

    def start(self) -> None:
        self._thread.start()

    def submit(self, fs: FrameSet) -> None:
        self._inbox.put((fs, time.perf_counter()))

    def results(self) -> dict[str, Overlay]:
        """Newest result of every enabled stage that has one, in drawing order."""
        enabled = [s.name for s in self.registry.stages() if s.enabled]
        with self._lock:
            return {n: self._results[n] for n in enabled if n in self._results}

    def stats(self) -> list[StageStats]:
        out = []
        with self._lock:
            for s in self.registry.stages():
                t = self._timing.get(s.name, _Timing())
                result = self._results.get(s.name)
                out.append(
                    StageStats(
                        s.name,
                        s.title,
                        s.enabled,
                        t.rate.rate,
                        t.busy_ms,
                        t.latency_ms,
                        t.runs,
                        t.errors,
                        t.last_error,
                        result.note if result is not None else "",
                    )
                )
        return out

    def clear(self) -> None:
        """Forget every result (the source changed)."""
        with self._lock:
            self._generation += 1
            self._results.clear()
            self.version += 1
        self._inbox.clear()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._inbox.put(None)  # wake the thread
        if self._thread.is_alive():
            self._thread.join(timeout)

    def run_once(self, fs: FrameSet, submitted: float | None = None) -> None:
        """Run every enabled stage on ``fs`` (the thread's body; tests call it directly)."""
        submitted = time.perf_counter() if submitted is None else submitted
        generation = self._generation
        for info in self.registry.stages():
            if not info.enabled or self._stop.is_set():
                continue
            t0 = time.perf_counter()
            timing = self._timing.get(info.name)
            if info.max_rate and timing and t0 - timing.started < 1.0 / info.max_rate:
                continue  # capped: the newest result stays
            if timing is not None:
                timing.started = t0
            try:
                result = info.stage(fs)
                if result is not None and result.labels is not None and result.rgba is None:
                    result.rgba = label_rgba(result.labels)
                if result is not None and not result.marks:
                    result.marks = unnamed_marks(result, info.title)
                if result is not None and math.isnan(result.time):
                    result.time = fs.timestamp
                error = ""
            except Exception as exc:  # noqa: BLE001 - one stage's bug must not stop others
                result, error = None, f"{type(exc).__name__}: {exc}"
            done = time.perf_counter()
            with self._lock:
                if generation != self._generation:
                    return  # the source changed while this ran: the result is stale
                t = self._timing.setdefault(info.name, _Timing())
                t.started = max(t.started, t0)
                t.runs += 1
                t.busy_ms = 1e3 * (done - t0)
                if error:
                    t.errors += 1
                    t.last_error = error
                    continue
                t.rate.tick()
                t.latency_ms = 1e3 * (done - submitted)
                if result is None:
                    self._results.pop(info.name, None)
                else:
                    self._results[info.name] = result
                self.version += 1

    def _run(self) -> None:
        lower_priority(OVERLAY_NICE)
        for fs, submitted in newest_items(self._inbox, self._stop):
            self.run_once(fs, submitted)


def newest_items(inbox: LatestSlot[T], stop: threading.Event) -> Iterator[T]:
    """What is put into ``inbox``, the newest only, until ``stop`` is set: a worker
    thread's loop (a ``None`` put wakes it to look at ``stop``)."""
    seen = 0
    while not stop.is_set():
        seen, item = inbox.wait_newer(seen, timeout=0.25)
        if item is not None:
            yield item


#: How much lower than the rest of the app the overlay thread runs (Unix nice steps).
OVERLAY_NICE = 5


def lower_priority(steps: int) -> bool:
    """Lower the calling thread's CPU priority by ``steps`` nice levels (Linux: each
    thread is its own task); False where the OS does not allow it.

    Overlays are the one thing in the preview that may lag: when the CPU is short (two
    cores, other programs), the GUI and capture threads should get it first, so the
    window never stalls because an overlay is being computed.
    """
    if steps <= 0 or not hasattr(os, "setpriority") or not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + steps)
    except OSError:
        return False
    return True
