"""What live camera drivers share: a hand-over queue, clock mapping, and supervision.

A camera delivers on its own schedule; the application consumes on its own. The grab
side (a thread or an SDK callback) puts frames into a bounded :class:`FrameQueue` that
drops the *oldest* frame when full, so a slow consumer loses stale frames, never the
latest, and the camera is never made to wait. File playback uses the same queue in
blocking mode, where nothing may be lost.

Device timestamps are mapped onto the host clock by :class:`ClockMap`. Frame counters
travel with the frames through the queue so that :class:`LiveDriver.read` can count
drops from counter gaps (which also catches frames the queue itself discarded).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from drivers.base import BaseDriver
from drivers.faults import Clock, FaultInterval, FaultLog, StallWatch
from drivers.loop_thread import LoopThread
from drivers.types import Frame, StreamHealth

#: The host clock every live driver maps onto unless told otherwise. On Linux the
#: kernel stamps V4L2 buffers with this same clock (CLOCK_MONOTONIC).
HOST_CLOCK: Clock = time.monotonic


class FrameQueue:
    """Bounded, thread-safe hand-over from a grab thread to the consumer.

    ``drop_oldest=True`` (live cameras): ``put`` never blocks; when full it discards
    the oldest item and counts it in ``discarded``. ``drop_oldest=False`` (playback):
    ``put`` waits for room, up to ``timeout``, and returns False if none came.
    """

    def __init__(self, maxsize: int, drop_oldest: bool = True):
        if maxsize < 1:
            raise ValueError("queue size must be at least 1")
        self._items: deque[Any] = deque()
        self._maxsize = maxsize
        self._drop_oldest = drop_oldest
        self._cond = threading.Condition()
        self.discarded = 0

    def put(self, item: Any, timeout: float | None = None) -> bool:
        with self._cond:
            if len(self._items) >= self._maxsize:
                if self._drop_oldest:
                    self._items.popleft()
                    self.discarded += 1
                elif not self._cond.wait_for(
                    lambda: len(self._items) < self._maxsize, timeout=timeout
                ):
                    return False
            self._items.append(item)
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Any | None:
        """The oldest item, or None if none arrived within ``timeout`` (0 = poll)."""
        with self._cond:
            if not self._items:
                if timeout is not None and timeout <= 0:
                    return None
                if not self._cond.wait_for(lambda: bool(self._items), timeout=timeout):
                    return None
            item = self._items.popleft()
            self._cond.notify_all()
            return item

    def clear(self) -> None:
        with self._cond:
            self._items.clear()
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._items)


class ClockMap:
    """Maps device timestamps (seconds) onto the host clock.

    Per clock ``key`` (one device clock; streams sharing it share the mapping, so their
    relative timing stays the device's): the offset starts as host time at first
    arrival minus the device time, then follows device deltas. A frame cannot have been
    exposed after it arrived, so whenever a frame arrives *earlier* than its mapped time
    the offset moves down to match; it creeps up by at most ``max_drift`` (seconds per
    second, 200 ppm) so that a device crystal slower than the host's is tracked too.
    """

    def __init__(self, max_drift: float = 2e-4):
        self.max_drift = max_drift
        self._offset: dict[Any, float] = {}
        self._last_arrival: dict[Any, float] = {}

    def map(self, key: Any, device_s: float, arrival_s: float) -> float:
        latest = arrival_s - device_s
        offset = self._offset.get(key)
        if offset is None:
            offset = latest
        else:
            elapsed = max(0.0, arrival_s - self._last_arrival[key])
            offset = min(offset + self.max_drift * elapsed, latest)
        self._offset[key] = offset
        self._last_arrival[key] = arrival_s
        return device_s + offset

    def reset(self, key: Any | None = None) -> None:
        """Forget a mapping (the device restarted its clock after a reconnect)."""
        if key is None:
            self._offset.clear()
            self._last_arrival.clear()
        else:
            self._offset.pop(key, None)
            self._last_arrival.pop(key, None)


class LiveDriver(BaseDriver):
    """A driver whose frames arrive through a :class:`FrameQueue` as (frame, counter).

    Subclasses fill ``self._queue`` from their grab side with :meth:`_deliver`, and may
    override :meth:`_accept` to hold back frames (e.g. duplicates) after the health
    monitor has seen them. Outages go to ``self._faults``; frames arriving end them.
    """

    def __init__(self, spec: str, queue_size: int = 8, clock: Clock = HOST_CLOCK):
        super().__init__(spec)
        self._clock = clock
        self._queue = FrameQueue(queue_size, drop_oldest=True)
        self._faults = FaultLog(lambda: self._monitor)
        self._last_ts: dict[str, float] = {}
        self._counts: dict[str, int] = {}
        self._count_lock = threading.Lock()

    # -- grab side ------------------------------------------------------------------
    def _next_index(self, stream: str) -> int:
        with self._count_lock:
            i = self._counts.get(stream, 0)
            self._counts[stream] = i + 1
            return i

    def _monotonic_ts(self, stream: str, t: float) -> float:
        """Per-stream timestamps never go back (offset corrections are tiny but real)."""
        last = self._last_ts.get(stream)
        if last is not None and t <= last:
            t = last + 1e-6
        self._last_ts[stream] = t
        return t

    def _deliver(self, frame: Frame, counter: int | None = None) -> None:
        """Hand a frame to the consumer; closes the stream's outage if one is open."""
        if self._faults.is_open(frame.stream):
            self._faults.end(frame.stream, frame.timestamp)
        self._queue.put((frame, counter))

    # -- consumer side --------------------------------------------------------------
    def _accept(self, frame: Frame, duplicate: bool) -> bool:
        return True

    def read(self, timeout: float | None = None) -> Frame | None:
        if not self._running:
            self.start()
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            remaining = None if deadline is None else max(0.0, deadline - self._clock())
            item = self._next_item(remaining)
            if item is None:
                return None
            frame, counter = item
            duplicate = False
            if self._monitor is not None:
                duplicate = self._monitor.observe(frame, counter=counter)
            if self._accept(frame, duplicate):
                return frame

    def _next_item(self, timeout: float | None) -> tuple[Frame, int | None] | None:
        return self._queue.get(timeout)

    def _next_frame(self, timeout: float | None) -> Frame | None:
        item = self._next_item(timeout)
        return None if item is None else item[0]

    def health(self) -> dict[str, StreamHealth]:
        out = super().health()
        for stream, interval in self._faults.open_faults().items():
            if stream in out:
                out[stream].fault = interval.message
        return out

    def fault_intervals(self) -> list[FaultInterval]:
        return self._faults.intervals()


class WatchedLiveDriver(LiveDriver):
    """A live driver with a grab loop (:meth:`_run`, on its own thread unless
    ``threaded`` is False: tests step it by hand) and a :class:`StallWatch` on its
    streams (``self._watch``, set at open): a camera that hangs inside its SDK's read
    call shows as an outage when the consumer reads or asks for health, before the
    grab loop itself gives up on it."""

    def __init__(
        self,
        spec: str,
        queue_size: int = 8,
        clock: Clock = HOST_CLOCK,
        threaded: bool = True,
    ):
        super().__init__(spec, queue_size, clock)
        self._watch: StallWatch | None = None
        self._threaded = threaded
        self._loop = LoopThread(self._run, f"grab-{spec}")

    def _run(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        super().start()
        if self._watch is not None:
            self._watch.arm()
        if self._threaded:
            self._loop.start()

    def stop(self) -> None:
        self._loop.stop()
        super().stop()

    def _check_stalls(self) -> None:
        if self._watch is None or not self._running:
            return
        for stream in self._watch.stalled():
            if not self._faults.is_open(stream):
                silent = self._watch.silent_for(stream)
                last = self._last_ts.get(stream, self._clock())
                self._faults.begin(stream, last, f"no frames for {silent:.1f} s")

    def read(self, timeout: float | None = None) -> Frame | None:
        frame = super().read(timeout)
        if frame is None:
            self._check_stalls()
        return frame

    def health(self) -> dict[str, StreamHealth]:
        self._check_stalls()
        return super().health()
