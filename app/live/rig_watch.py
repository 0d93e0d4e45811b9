"""Is the rig in force still calibrated? The targetless check, run on the preview's frames.

When a source starts delivering with a rig in force (a camera opened, a replay, a rig
loaded or calibrated), the watch keeps the thermal and depth frames of the next
:data:`COLLECT_S` seconds in memory (about 1.3 MB a FrameSet at full size, so ~250 MB
at most, released once the check is done), then runs
:func:`calibration.alignment.check_alignment` on them on its own thread, at lower
priority. The window shows the verdict as a badge (ok / drifted by X° / clock off by Y
ms) with the refined rig one click away. A new source or rig starts over; a check whose
rig is no longer in force is dropped.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from calibration.alignment import AlignmentResult, check_alignment
from calibration.alignment.check import CLOCK_LIMIT_MS, ROTATION_LIMIT_DEG, SparseFramesError
from calibration.rig import Rig
from drivers.errors import ThermorigError, one_line
from drivers.types import FrameSet, StreamSpec

#: Seconds of frames the check reads: several pedal strokes or strides (the clock
#: estimate follows the legs' motion), a few seconds after the source starts.
COLLECT_S = 6.0
#: Times the watch collects again when the frames kept were too sparse (a source
#: starting up, a busy machine dropping sets) before it says it could not check.
SPARSE_RETRIES = 3
#: What the check needs of each FrameSet.
NEEDED = ("thermal", "depth")

#: ``(frames, rig, progress) -> AlignmentResult``: the check (tests give their own).
Checker = Callable[..., AlignmentResult]


@dataclass
class RigVerdict:
    """What the badge shows. ``state``: "checking", "ok", "drifted", "unchecked" (the
    check could not run: ``text`` says why) or "none" (no rig in force: no badge)."""

    state: str
    text: str
    detail: str = ""
    result: AlignmentResult | None = None
    rig: Rig | None = None  # the rig that was checked


class KeptFrames:
    """FrameSets kept in memory, read the way the check reads a session file (a
    :class:`calibration.alignment.frames.FrameStore`). Frames are kept in time order,
    each once, so their timestamps are sound by construction."""

    path = "the preview's first seconds"

    def __init__(self, streams: dict[str, StreamSpec]):
        self.streams = {n: streams[n] for n in NEEDED}
        self._frames: dict[str, list] = {n: [] for n in NEEDED}

    def count(self, stream: str) -> int:
        return len(self._frames.get(stream, ()))

    def require_timestamps(self, streams, purpose: str) -> None:
        """Nothing to refuse: :meth:`add` keeps only frames later than the last."""

    def add(self, fs: FrameSet) -> None:
        for name in NEEDED:
            frame = fs.frames.get(name)
            kept = self._frames[name]
            if frame is not None and (not kept or frame.timestamp > kept[-1].timestamp):
                kept.append(frame)

    @property
    def span_s(self) -> float:
        spans = [f[-1].timestamp - f[0].timestamp if f else 0.0 for f in self._frames.values()]
        return min(spans)

    def timestamps(self, stream: str) -> np.ndarray:
        return np.array([f.timestamp for f in self._frames[stream]], np.float64)

    def frame(self, stream: str, i: int):
        return self._frames[stream][i]

    def __len__(self) -> int:
        return min(len(f) for f in self._frames.values())


class RigWatch:
    """Collects frames on the capture thread, checks them on its own; see the module
    docstring. :meth:`take` hands the newest verdict to the GUI once."""

    def __init__(self, checker: Checker = check_alignment, collect_s: float = COLLECT_S):
        self._checker = checker
        self.collect_s = collect_s
        #: Off: no frames kept, no check, no badge (a test that is about something else).
        self.enabled = True
        self._lock = threading.Lock()
        self._kept: KeptFrames | None = None
        self._rig: Rig | None = None
        self._generation = 0
        self._verdict: RigVerdict | None = None
        self._fresh = False
        self._retries = 0

    def restart(self, rig: Rig | None, streams: dict[str, StreamSpec]) -> None:
        """Check ``rig`` on the frames of the next seconds (None: nothing to check)."""
        with self._lock:
            self._generation += 1
            self._rig = rig
            missing = [n for n in NEEDED if n not in streams]
            if rig is None or not self.enabled:
                self._kept, verdict = None, RigVerdict("none", "")
            elif missing:
                self._kept = None
                verdict = RigVerdict("unchecked", f"rig not checked: no {' or '.join(missing)}")
            else:
                self._kept = KeptFrames(streams)
                self._retries = 0
                verdict = RigVerdict("checking", "rig: checking…", rig=rig)
            shown = self._verdict is not None and self._verdict.state != "none"
            if verdict.state != "none" or shown:  # else nothing shown, nothing to hide
                self._publish(verdict)

    def sink(self, fs: FrameSet) -> None:
        """A frame sink (capture thread): keep the set until enough time is covered."""
        with self._lock:
            kept = self._kept
            if kept is None:
                return
            kept.add(fs)
            if kept.span_s < self.collect_s:
                return
            self._kept = None
            rig, generation = self._rig, self._generation
        thread = threading.Thread(
            target=self._check, args=(kept, rig, generation), name="rig-check", daemon=True
        )
        thread.start()

    def _check(self, kept: KeptFrames, rig: Rig, generation: int) -> None:
        if hasattr(os, "nice"):  # the preview and any recording come first
            try:
                os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
            except OSError:
                pass
        try:
            result = self._checker(kept, rig)
            verdict = verdict_of(result, rig)
        except SparseFramesError as exc:
            with self._lock:
                if generation == self._generation and self._retries < SPARSE_RETRIES:
                    self._retries += 1  # collect again, in the same generation
                    self._kept = KeptFrames(kept.streams)
                    return
            verdict = RigVerdict("unchecked", "rig not checked", one_line(exc), rig=rig)
        except ThermorigError as exc:
            verdict = RigVerdict("unchecked", "rig not checked", one_line(exc), rig=rig)
        with self._lock:
            if generation == self._generation:  # else: another source or rig since
                self._publish(verdict)

    def _publish(self, verdict: RigVerdict) -> None:
        self._verdict, self._fresh = verdict, True

    def take(self) -> RigVerdict | None:
        """The verdict if it changed since the last call, else None."""
        with self._lock:
            fresh, self._fresh = self._fresh, False
            return self._verdict if fresh else None


def verdict_of(result: AlignmentResult, rig: Rig) -> RigVerdict:
    """The badge's words for a check's result."""
    clocks = ", ".join(f"{s} {ms:+.0f} ms" for s, ms in result.time_offset_ms.items())
    detail = f"rotation {result.rotation_error_deg:.2f}°"
    detail += f"; clock offsets against depth: {clocks}" if clocks else ""
    detail += "".join(f"\n{r}" for r in result.reasons)
    if result.ok:
        return RigVerdict("ok", "rig ok", detail, result, rig)
    # The words name what is over its limit; the tooltip has every figure.
    parts = []
    if result.rotation_error_deg > ROTATION_LIMIT_DEG:
        parts.append(f"{result.rotation_error_deg:.1f}°")
    parts += [
        f"{s} clock {ms:+.0f} ms"
        for s, ms in result.time_offset_ms.items()
        if abs(ms) > CLOCK_LIMIT_MS
    ]
    return RigVerdict("drifted", "rig drifted " + ", ".join(parts), detail, result, rig)
