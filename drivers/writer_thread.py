"""The session writer's own thread, shared by ``thermorig record`` and the GUI's recording.

Capture must never wait for the disk: whoever reads the source hands frames, markers
and gaps to a :class:`WriterThread` through a bounded queue and goes on. A live camera's
frame that finds the queue full is dropped by the caller (``offer(..., wait=False)``);
files and simulations wait instead, so nothing is lost. A write error (disk full, the
drive gone) stops the writer, keeps what was written in a valid file, frees what is
still queued and is kept in :attr:`WriterThread.error` for the capture side to report.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any

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
    """Owns a SessionWriter on its own thread and closes it when done or failed."""

    def __init__(self, writer: SessionWriter, maxsize: int, flush_interval: float = 0.5):
        self.writer = writer
        self.queue: queue.Queue = queue.Queue(maxsize=maxsize)
        self.error: BaseException | None = None
        self.failed = threading.Event()
        self.done = threading.Event()
        self._finish = threading.Event()
        self._poll = flush_interval / 2
        self._thread = threading.Thread(target=self._run, name="session-writer", daemon=True)
        self._thread.start()

    @property
    def finishing(self) -> bool:
        return self._finish.is_set()

    def offer(self, item: Frame | Mark | Gap, wait: bool) -> bool:
        """Queue ``item``; without ``wait`` give up at once if the queue is full.
        False also once the writer has failed (nothing more can be written)."""
        while not self.failed.is_set():
            try:
                if wait:
                    self.queue.put(item, timeout=0.1)
                else:
                    self.queue.put_nowait(item)
                return True
            except queue.Full:
                if not wait:
                    return False
        return False

    def finish(self, wait: bool = True) -> None:
        """Take nothing more; write what is queued, then close the file. With ``wait``
        return once the file is closed, else at once (see :attr:`done`)."""
        self._finish.set()
        try:
            self.queue.put_nowait(None)  # wakes the writer now rather than at its next poll
        except queue.Full:
            pass  # it is busy anyway and sees the request once the queue is empty
        if wait:
            self._thread.join()

    def _run(self) -> None:
        try:
            while True:
                try:
                    item = self.queue.get(timeout=0 if self._finish.is_set() else self._poll)
                except queue.Empty:
                    if self._finish.is_set():
                        break
                    self.writer.flush_if_due()  # a stalled source still gets flushed
                    continue
                if item is None:
                    continue
                if isinstance(item, Frame):
                    self.writer.write(item)
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
        while True:
            try:
                self.queue.get_nowait()
            except queue.Empty:
                return
