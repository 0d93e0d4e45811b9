"""Replay of a recorded session as a source (``replay:PATH.h5``).

Frames come back exactly as recorded — pixels, timestamps, frame indices, device
timestamps and ground truth — merged over all streams in timestamp order, so that
recording a replay reproduces the session bit for bit. Pacing follows the recorded
timestamps on the monotonic clock (``speed`` × real time), or runs as fast as the
reader allows with ``realtime=False``. Frames are read by index, so playback can
seek, pause and step without dropping or repeating frames.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np

from drivers.base import BaseDriver, HealthMonitor
from drivers.errors import EndOfStream, SourceError
from drivers.session import SessionReader
from drivers.types import Frame


class ReplayDriver(BaseDriver):
    """A session file as a finite (or looping) source.

    ``clock`` and ``sleep`` default to ``time.monotonic`` and ``time.sleep``; tests
    pass a fake pair to check pacing without waiting.
    """

    def __init__(
        self,
        arg: str,
        *,
        realtime: bool = True,
        speed: float = 1.0,
        loop: bool = False,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        super().__init__(f"replay:{arg}")
        if not arg:
            raise SourceError("replay needs a session file: replay:PATH.h5")
        if not speed > 0:
            raise SourceError(f"replay speed must be positive, got {speed}")
        self.path = arg
        self.realtime = realtime
        self.speed = float(speed)
        self.loop = loop
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._reader: SessionReader | None = None
        self._pos = 0
        self._laps = 0
        self._position = 0.0
        self._anchor: tuple[float, float] | None = None  # (wall, recorded) time pair
        #: After a seek with a lead: (stream id, position) — that stream's frames before
        #: the position are skipped (only the other streams lead in).
        self._lead_skip: tuple[int, int] | None = None

    # -- protocol -------------------------------------------------------------------
    def open(self) -> None:
        if self._reader is not None:
            return
        reader = SessionReader(self.path)
        try:
            reader.require_timestamps(reader.streams, "replay")
        except BaseException:
            reader.close()
            raise
        self._reader = reader
        self._streams = dict(reader.streams)
        self._info = reader.info
        self._info.spec = self._spec
        names = list(self._streams)
        ts = [reader.timestamps(n) for n in names]
        stream_ids = np.concatenate([np.full(len(t), k) for k, t in enumerate(ts)])
        rows = np.concatenate([np.arange(len(t)) for t in ts])
        times = np.concatenate(ts) if ts else np.zeros(0)
        # Timestamp order; ties keep stream order and row order, so order is stable.
        order = np.lexsort((rows, stream_ids, times))
        self._names = names
        self._times = times[order]
        self._stream_of = stream_ids[order].astype(np.int64)
        self._row_of = rows[order].astype(np.int64)
        self._per_stream_ts = dict(zip(names, ts, strict=True))
        self._start = float(self._times[0]) if len(self._times) else 0.0
        self._end = float(self._times[-1]) if len(self._times) else 0.0
        self._lap = (self._end - self._start) + self._min_period()

    def _min_period(self) -> float:
        """Gap between the last frame of a lap and the first of the next (loop)."""
        periods = [np.median(np.diff(t)) for t in self._per_stream_ts.values() if len(t) > 1]
        periods = [p for p in periods if p > 0]
        return float(min(periods)) if periods else 1.0 / 30.0

    def start(self) -> None:
        super().start()
        self._anchor = None

    def stop(self) -> None:
        super().stop()
        self._anchor = None

    def close(self) -> None:
        super().close()
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- playback -------------------------------------------------------------------
    @property
    def duration(self) -> float:
        """Seconds from the first to the last recorded frame (any stream)."""
        return self._end - self._start

    @property
    def position(self) -> float:
        """Recorded seconds since the session start of the last frame delivered or
        the seek target."""
        return self._position

    @property
    def count(self) -> int:
        """Frames over all streams in one pass."""
        return len(self._times)

    def _require_open(self) -> SessionReader:
        if self._reader is None:
            self.open()
        return self._reader

    def _wrap(self) -> None:
        if self._lead_skip is not None:
            sid, until = self._lead_skip
            while self._pos < until and self._stream_of[self._pos] == sid:
                self._pos += 1
            if self._pos >= until:
                self._lead_skip = None
        if self._pos < len(self._times):
            return
        if not self.loop or not len(self._times):
            raise EndOfStream(self._spec)
        self._pos = 0
        self._laps += 1
        self._anchor = None

    def _deliver(self) -> Frame:
        reader = self._require_open()
        k = self._pos
        frame = reader.frame(self._names[self._stream_of[k]], int(self._row_of[k]))
        if self._laps:
            frame.timestamp += self._laps * self._lap
        self._pos += 1
        self._position = float(self._times[k] - self._start)
        return frame

    def _next_frame(self, timeout: float | None) -> Frame | None:
        self._require_open()
        self._wrap()
        if self.realtime:
            recorded = float(self._times[self._pos]) + self._laps * self._lap
            now = self._clock()
            if self._anchor is None:
                self._anchor = (now, recorded)
            wall0, rec0 = self._anchor
            wait = wall0 + (recorded - rec0) / self.speed - now
            if wait > 0:
                if timeout is not None and wait > timeout:
                    self._sleep(timeout)
                    return None
                self._sleep(wait)
        return self._deliver()

    def step(self) -> Frame:
        """The next frame at once, whatever the pacing (for pause-and-step review)."""
        self._require_open()
        self._wrap()
        frame = self._deliver()
        if self._monitor is not None:
            self._monitor.observe(frame)
        self._anchor = None
        return frame

    def seek(self, index: int, stream: str | None = None, lead: float = 0.0) -> None:
        """Continue from the instant of frame ``index`` of ``stream`` (default: the
        slowest stream); every other stream resumes at its first frame at or after
        ``lead`` seconds before it.

        The lead lets a synchronizer find the partners recorded just *before* the
        frame sought (a camera whose frames precede the pivot's by a few ms): without
        it, the first FrameSet after a seek lacks them.
        """
        self._require_open()
        if stream is None:  # The slowest stream: the fewest frames recorded.
            stream = min(self._names, key=lambda n: (len(self._per_stream_ts[n]), n))
        if stream not in self._per_stream_ts:
            raise SourceError(f"no stream {stream!r} in {self.path}; it has {self._names}")
        ts = self._per_stream_ts[stream]
        if not 0 <= index < len(ts):
            raise SourceError(
                f"frame {index} out of range: {stream} has {len(ts)} frames in {self.path}"
            )
        t = ts[index]
        at = int(np.searchsorted(self._times, t, side="left"))
        self._pos = int(np.searchsorted(self._times, t - max(lead, 0.0), side="left"))
        self._lead_skip = (self._names.index(stream), at) if self._pos < at else None
        self._laps = 0
        self._position = float(t - self._start)
        self._anchor = None
        if self._monitor is not None:  # A jump is not a drop.
            self._monitor = HealthMonitor(self._streams)
