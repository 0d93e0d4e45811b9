"""The session writer's own thread, shared by ``thermorig record`` and the GUI's recording.

Capture must never wait for the disk: whoever reads the source hands frames, markers
and gaps to a :class:`WriterThread` through a queue bounded in bytes and goes on. A
live camera's frame that finds the queue full is dropped by the caller
(``offer(..., wait=False)``); files and simulations wait instead, so nothing is lost.
A write error (disk full, the drive gone) stops the writer, keeps what was written in
a valid file, frees what is still queued and is kept in :attr:`WriterThread.error` for
the capture side to report.

A writer that falls behind (a busy machine: compression is most of its work) stores
frames uncompressed until it has caught up (:mod:`drivers.catch_up` decides which,
:mod:`drivers.codecs` says how): about ten times cheaper, so the backlog drains instead
of growing until frames must be dropped. The queue's size is then only the last resort.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from drivers.catch_up import CatchUp
from drivers.session_writer import SessionWriter
from drivers.types import Frame


@dataclass(frozen=True)
class Mark:
    """An event marker (the M key, a CLI mark) at a source timestamp."""

    timestamp: float
    text: str


@dataclass(frozen=True)
class Gap:
    """An interval a stream delivered nothing (``end`` NaN: still open at the end)."""

    stream: str
    start: float
    end: float
    message: str


class GapWatch:
    """Forwards a driver's closed fault intervals (and, at the end, open ones) once each.

    Drivers that can lose a stream expose ``fault_intervals()`` (see drivers.faults);
    others simply have no gaps to record.
    """

    def __init__(self, driver: Any):
        self._source = getattr(driver, "fault_intervals", None)
        self._seen: set[tuple[str, float]] = set()

    def collect(self, final: bool) -> list[Gap]:
        if self._source is None:
            return []
        out = []
        for iv in self._source():
            key = (iv.stream, iv.start)
            if key in self._seen or (iv.end is None and not final):
                continue
            self._seen.add(key)
            end = float("nan") if iv.end is None else float(iv.end)
            out.append(Gap(iv.stream, float(iv.start), end, iv.message))
        return out


class WriterThread:
    """Owns a SessionWriter on its own thread and closes it when done or failed.

    The queue holds at most ``max_bytes`` of frames (always at least one) and
    ``max_items`` items. With ``behind_at`` set, once that many items wait the
    writer stores frames uncompressed until it has caught up (:class:`CatchUp`).
    """

    def __init__(
        self,
        writer: SessionWriter,
        max_bytes: int,
        flush_interval: float = 0.5,
        *,
        max_items: int | None = None,
        behind_at: int | None = None,
    ):
        self.writer = writer
        self.max_bytes = int(max_bytes)
        self.max_items = max_items
        self.catch_up = CatchUp(behind_at) if behind_at is not None else None
        self.queued_bytes = 0
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self.done = threading.Event()
        self._items: deque[Frame | Mark | Gap] = deque()
        self._ready = threading.Condition()
        self._finish = threading.Event()
        self._poll = flush_interval / 2
        self._thread = threading.Thread(target=self._run, name="session-writer", daemon=True)
        self._thread.start()

    @property
    def finishing(self) -> bool:
        return self._finish.is_set()

    @property
    def queued(self) -> int:
        return len(self._items)

    @property
    def fill(self) -> float:
        """How full the queue is, 0 to 1: the larger of its share of ``max_bytes`` and
        of ``max_items``. A live frame that finds it at 1 is dropped, so a person is
        warned well before (the window's recording indicator)."""
        share = self.queued_bytes / self.max_bytes if self.max_bytes > 0 else 0.0
        if self.max_items:
            share = max(share, len(self._items) / self.max_items)
        return min(share, 1.0)

    @property
    def behind(self) -> bool:
        """True while the writer stores frames uncompressed to catch up."""
        return self.catch_up is not None and self.catch_up.behind

    def _fits(self, size: int) -> bool:
        if self.max_items is not None and len(self._items) >= self.max_items:
            return False
        return not self._items or self.queued_bytes + size <= self.max_bytes

    def offer(self, item: Frame | Mark | Gap, wait: bool) -> bool:
        """Queue ``item``; without ``wait`` give up at once if the queue is full.
        False also once the writer has failed (nothing more can be written)."""
        size = item.array.nbytes if isinstance(item, Frame) else 0
        with self._ready:
            while not self._fits(size):
                if not wait or self.failed.is_set():
                    return False
                self._ready.wait(0.1)
            if self.failed.is_set():
                return False
            self._items.append(item)
            self.queued_bytes += size
            self._ready.notify_all()
        return True

    def finish(self, wait: bool = True) -> None:
        """Take nothing more; write what is queued, then close the file. With ``wait``
        return once the file is closed, else at once (see :attr:`done`)."""
        self._finish.set()
        with self._ready:
            self._ready.notify_all()  # wakes the writer now rather than at its next poll
        if wait:
            self._thread.join()

    def _take(self) -> Frame | Mark | Gap | None:
        """The next item, or None after a poll interval without one (or when done)."""
        with self._ready:
            if not self._items and not self._finish.is_set():
                self._ready.wait(self._poll)
            if not self._items:
                return None
            item = self._items.popleft()
            if isinstance(item, Frame):
                self.queued_bytes -= item.array.nbytes
            self._ready.notify_all()
            backlog = len(self._items)
        if self.catch_up is not None:
            self.catch_up.update(backlog)
        return item

    def _write(self, frame: Frame) -> None:
        policy = self.catch_up
        if policy is None:
            self.writer.write(frame)
            return
        raw = self.writer.store_raw = policy.store_raw(frame.stream)
        before = self.writer.write_seconds  # the frame alone, not a flush it was due for
        self.writer.write(frame)
        policy.observe(frame.stream, raw, self.writer.write_seconds - before)

    def _run(self) -> None:
        try:
            while True:
                item = self._take()
                if item is None:
                    if self._finish.is_set():
                        break
                    self.writer.flush_if_due()  # a stalled source still gets flushed
                elif isinstance(item, Frame):
                    self._write(item)
                elif isinstance(item, Mark):
                    self.writer.mark(item.timestamp, item.text)
                else:
                    self.writer.gap(item.stream, item.start, item.end, item.message)
        except BaseException as exc:  # noqa: BLE001 - handed to the capture side
            self.error = exc
            self.failed.set()
            self._drain()
        finally:
            try:
                self.writer.close()
            except Exception as exc:  # noqa: BLE001 - closing after a failure
                if self.error is None:
                    self.error = exc
                    self.failed.set()
            self.done.set()

    def _drain(self) -> None:
        """Free queued frames after a failure (they can no longer be written)."""
        with self._ready:
            self._items.clear()
            self.queued_bytes = 0
            self._ready.notify_all()
