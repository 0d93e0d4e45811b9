"""Frames read ahead on a worker thread, so a frame switch in review seldom waits for
the disk.

A 1280x720 RGB frame takes 8-25 ms to read and decompress (blosc2) on a two-core
laptop — most of a review frame switch when it was read on the GUI thread. The
:class:`FrameCache` reads on its own thread instead (h5py releases the GIL while
HDF5 decompresses), keeps the last frames it read, and reads the neighbours of the
frame shown before they are asked for: stepping with the arrow keys then finds each
frame already decoded. Requests are latest-wins: a new one replaces the queue, so a
fast scrub never works through frames nobody looks at any more. Session frames never
change while reviewed, so nothing cached ever goes stale; labels are not cached
(they change with every edit).

GUI-free: the window is told a frame is ready through ``on_ready`` (called on the
worker thread; the Qt side turns it into a queued signal).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable

import numpy as np

Key = tuple[str, int]

#: Frames kept: the neighbours read ahead on both sides plus the few just shown
#: (about 35 MB of 1280x720 RGB at most).
CAPACITY = 12


class FrameCache:
    """Frames of a session by ``(stream, row)``, read by ``read`` on one worker thread.

    ``read(stream, row)`` returns the frame or raises; an error is kept in place of the
    frame and raised again by :meth:`get` (the window shows it, once per request)."""

    def __init__(
        self,
        read: Callable[[str, int], np.ndarray],
        on_ready: Callable[[str, int], None] | None = None,
        capacity: int = CAPACITY,
    ):
        self._read = read
        self.on_ready = on_ready
        self.capacity = capacity
        self._done: OrderedDict[Key, np.ndarray | BaseException] = OrderedDict()
        self._queue: list[Key] = []
        self._busy: Key | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="review-prefetch", daemon=True)
        self._thread.start()

    def get(self, stream: str, row: int) -> np.ndarray | None:
        """The frame if it is read (None: not yet); raises the error its read raised."""
        with self._cond:
            got = self._done.get((stream, row))
            if got is not None:
                self._done.move_to_end((stream, row))
        if isinstance(got, BaseException):
            raise got
        return got

    def want(self, keys: Iterable[Key]) -> None:
        """Read ``keys`` in this order (the one shown first, then its neighbours),
        dropping whatever was queued before: latest wins."""
        with self._cond:
            wanted = list(dict.fromkeys(keys))
            for k in reversed(wanted):  # kept: the reads that follow must not evict them
                if k in self._done:
                    self._done.move_to_end(k)
            self._queue = [k for k in wanted if k not in self._done and k != self._busy]
            self._cond.notify()

    def pending(self) -> bool:
        """Reads queued or under way (what a test waits on)."""
        with self._cond:
            return bool(self._queue) or self._busy is not None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue = []
            self._cond.notify()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                key = self._busy = self._queue.pop(0)
            try:
                got: np.ndarray | BaseException = self._read(*key)
            except Exception as exc:  # kept for the GUI thread, which says what failed
                got = exc
            with self._cond:
                if self._closed:
                    return
                self._done[key] = got
                while len(self._done) > self.capacity:
                    self._done.popitem(last=False)
            if self.on_ready is not None:
                self.on_ready(*key)
            with self._cond:  # pending until "ready" is on its way: a waiter sees it
                self._busy = None


def neighbours(i: int, step: int, count: int) -> list[int]:
    """Frames to read ahead of frame ``i`` after a move by ``step``: two further the
    way the person is going, one back (a step back is the next most likely), within
    ``0..count-1``."""
    d = 1 if step >= 0 else -1
    return [k for k in (i + d, i + 2 * d, i - d) if 0 <= k < count]
