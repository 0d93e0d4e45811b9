"""Stream faults: outage records, retry back-off, stall detection, and a fault injector.

A rig is three cameras on three cables; one of them will stop for a while (a loose USB
plug, a thermal camera's shutter hanging, a bus reset). The session must go on with the
other streams and say exactly which stream had no frames from when to when, so that a
recorder can mark the gap instead of silently stretching time. This module holds the
pieces every live driver shares for that:

- :class:`FaultLog` records outages as :class:`FaultInterval` (stream, last frame before,
  first frame after, message) and mirrors the open ones into ``HealthMonitor.fault``;
- :class:`Backoff` paces reconnection attempts (0.5 s, 1 s, 2 s, ... up to a ceiling);
- :class:`StallWatch` says which streams have gone quiet;
- :class:`FaultyDriver` wraps any driver and silences one stream for a while, so the
  rest of the system (synchronizer, recorder, GUI) can be tested against an outage.

Every clock is injectable: tests drive time by hand and never sleep.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from drivers.base import BaseDriver, Driver, HealthMonitor
from drivers.errors import SourceError
from drivers.types import Frame, StreamHealth

Clock = Callable[[], float]


@dataclass
class FaultInterval:
    """One outage of one stream: no frames strictly between ``start`` and ``end``.

    ``start`` is the host timestamp of the last frame delivered before the outage (or
    the time the stream was expected to begin, if it never delivered); ``end`` is the
    timestamp of the first frame after it, ``None`` while the outage lasts.
    """

    stream: str
    start: float
    end: float | None
    message: str
    retries: int = 0

    @property
    def ongoing(self) -> bool:
        return self.end is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "start": self.start,
            "end": self.end,
            "message": self.message,
            "retries": self.retries,
        }


@runtime_checkable
class ReportsFaults(Protocol):
    """A driver that can tell when each of its streams had no frames."""

    def fault_intervals(self) -> list[FaultInterval]:
        """Every outage so far, oldest first; ongoing ones have ``end=None``."""


class FaultLog:
    """Thread-safe record of outages per stream (grab threads write, the app reads)."""

    def __init__(self, monitor: Callable[[], HealthMonitor | None] | None = None):
        self._lock = threading.Lock()
        self._intervals: list[FaultInterval] = []
        self._open: dict[str, FaultInterval] = {}
        self._monitor = monitor or (lambda: None)

    def begin(self, stream: str, start: float, message: str) -> FaultInterval:
        """Open an outage (or update the message of the one already open)."""
        with self._lock:
            interval = self._open.get(stream)
            if interval is None:
                interval = FaultInterval(stream, start, None, message)
                self._open[stream] = interval
                self._intervals.append(interval)
            else:
                interval.message = message
        monitor = self._monitor()
        if monitor is not None:
            monitor.fault(stream, message)
        return interval

    def retried(self, stream: str) -> None:
        with self._lock:
            if stream in self._open:
                self._open[stream].retries += 1

    def end(self, stream: str, end: float) -> FaultInterval | None:
        """Close the stream's open outage at the first frame after it, if any is open."""
        with self._lock:
            interval = self._open.pop(stream, None)
            if interval is not None:
                interval.end = end
        if interval is not None:
            monitor = self._monitor()
            if monitor is not None:
                monitor.fault(stream, "")
        return interval

    def is_open(self, stream: str) -> bool:
        with self._lock:
            return stream in self._open

    def open_faults(self) -> dict[str, FaultInterval]:
        with self._lock:
            return {s: FaultInterval(**vars(i)) for s, i in self._open.items()}

    def intervals(self) -> list[FaultInterval]:
        with self._lock:
            return [FaultInterval(**vars(i)) for i in self._intervals]


class Backoff:
    """When to try reconnecting next: ``initial``, ×``factor`` per failure, capped.

    ``due()`` is True when an attempt may be made; call ``failed()`` after each attempt
    that did not bring frames back (it schedules the next one) and ``succeeded()`` once
    frames flow again (it resets the delay).
    """

    def __init__(
        self,
        initial: float = 0.5,
        factor: float = 2.0,
        maximum: float = 10.0,
        clock: Clock = time.monotonic,
    ):
        if initial <= 0 or factor < 1 or maximum < initial:
            raise ValueError("back-off needs initial > 0, factor >= 1, maximum >= initial")
        self.initial, self.factor, self.maximum = initial, factor, maximum
        self._clock = clock
        self.attempts = 0
        self.next_at = -math.inf

    @property
    def delay(self) -> float:
        """The wait that follows the next failure."""
        return min(self.maximum, self.initial * self.factor**self.attempts)

    def due(self) -> bool:
        return self._clock() >= self.next_at

    def failed(self) -> float:
        """Record a failed attempt; returns the seconds until the next one is due."""
        wait = self.delay
        self.attempts += 1
        self.next_at = self._clock() + wait
        return wait

    def succeeded(self) -> None:
        self.attempts = 0
        self.next_at = -math.inf


class StallWatch:
    """Streams that delivered nothing for longer than their allowance.

    The allowance is ``max(timeout_s, periods / fps)``; before a stream's first frame
    it is measured from :meth:`arm` plus ``startup_s`` (cameras take a while to start).
    """

    def __init__(
        self,
        fps: dict[str, float],
        timeout_s: float = 2.0,
        periods: float = 10.0,
        startup_s: float = 5.0,
        clock: Clock = time.monotonic,
    ):
        self._allow = {
            s: max(timeout_s, periods / f if f and f > 0 else timeout_s) for s, f in fps.items()
        }
        self._startup = startup_s
        self._clock = clock
        self._last: dict[str, float] = {}
        now = clock()
        self._armed = {s: now for s in self._allow}

    def arm(self, streams: list[str] | None = None) -> None:
        """(Re)start waiting for first frames, e.g. after a (re)connection."""
        now = self._clock()
        for s in streams if streams is not None else list(self._allow):
            self._last.pop(s, None)
            self._armed[s] = now

    def fed(self, stream: str) -> None:
        self._last[stream] = self._clock()

    def silent_for(self, stream: str) -> float:
        """Seconds beyond the last frame (or beyond arming + start-up allowance)."""
        now = self._clock()
        if stream in self._last:
            return now - self._last[stream]
        return now - self._armed.get(stream, now) - self._startup

    def stalled(self) -> list[str]:
        return [s for s, allow in self._allow.items() if self.silent_for(s) > allow]


class FaultyDriver(BaseDriver):
    """Wraps a driver and makes one stream stop delivering for a while.

    Time is measured on the frames' own timestamps from the first frame read, so an
    outage lands on the same frames every run (replay, synthetic) and the test of a
    recorder's gap marking is deterministic. Frames of ``stream`` with timestamps in
    ``[t0 + fail_after_s, t0 + fail_after_s + recover_after_s)`` are swallowed; with
    ``recover_after_s=None`` the stream never comes back. The other streams pass
    through untouched. The outage is reported like a live driver's: in ``health()``
    (the stream's ``fault``) and in :meth:`fault_intervals`.
    """

    def __init__(
        self,
        inner: Driver,
        stream: str,
        fail_after_s: float,
        recover_after_s: float | None = None,
        message: str = "injected fault: no frames",
    ):
        super().__init__(getattr(inner.info, "spec", "faulty"))
        if fail_after_s < 0 or (recover_after_s is not None and recover_after_s <= 0):
            raise SourceError("fault injection needs fail_after_s >= 0 and recover_after_s > 0")
        self.inner = inner
        self.stream = stream
        self.fail_after_s = fail_after_s
        self.recover_after_s = recover_after_s
        self.message = message
        self._t0: float | None = None
        self._last_ts: float | None = None
        self._swallowed = 0
        self._log = FaultLog(lambda: self._monitor)

    def open(self) -> None:
        self.inner.open()
        self._streams = dict(self.inner.streams)
        self._info = self.inner.info
        if self.stream not in self._streams:
            raise SourceError(
                f"cannot inject a fault into '{self.stream}': the source has "
                f"{', '.join(sorted(self._streams))}"
            )

    def start(self) -> None:
        self.inner.start()
        super().start()

    def stop(self) -> None:
        self.inner.stop()
        super().stop()

    def close(self) -> None:
        self.inner.close()
        super().close()

    def _silenced(self, t: float) -> bool:
        assert self._t0 is not None
        begin = self._t0 + self.fail_after_s
        if t < begin:
            return False
        return self.recover_after_s is None or t < begin + self.recover_after_s

    def _next_frame(self, timeout: float | None) -> Frame | None:
        while True:
            frame = self.inner.read(timeout)  # EndOfStream passes through
            if frame is None:
                return None
            if self._t0 is None:
                self._t0 = frame.timestamp
            if frame.stream != self.stream:
                return frame
            if self._silenced(frame.timestamp):
                if not self._log.is_open(self.stream):
                    start = self._last_ts if self._last_ts is not None else self._t0
                    self._log.begin(self.stream, start, self.message)
                self._swallowed += 1
                continue
            self._log.end(self.stream, frame.timestamp)
            self._last_ts = frame.timestamp
            return frame

    def health(self) -> dict[str, StreamHealth]:
        """The inner driver's figures, minus swallowed frames, plus the fault."""
        out = self.inner.health()
        h = out.get(self.stream)
        if h is not None:
            h.frames = max(0, h.frames - self._swallowed)
            open_fault = self._log.open_faults().get(self.stream)
            h.fault = open_fault.message if open_fault else h.fault
        return out

    def fault_intervals(self) -> list[FaultInterval]:
        return self._log.intervals()
