"""Recording while previewing: the capture thread tees every frame to a writer thread.

:func:`drivers.recorder.record` owns the read loop, which a preview cannot share; here
the capture worker (:mod:`app.live.capture`) keeps reading and hands each frame to a
:class:`RecordingTee`, whose own thread writes it with
:class:`~drivers.session_writer.SessionWriter`. The hand-over is a bounded queue: a
live camera's frame that finds it full is dropped and counted (the camera must never
wait for the disk); files and simulations wait instead, so nothing is lost.

Stopping never loses frames: :meth:`RecordingTee.finish` only asks the writer to
close once it has written everything already queued, and returns at once, so neither
the capture thread nor the GUI waits for the disk. A write error (disk full, the
drive gone) stops the writer, keeps everything written so far in a valid file, and is
reported through :attr:`RecordingStatus.error`; capture and preview go on.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import SourceInfo
from drivers.errors import one_line
from drivers.session_writer import SessionWriter
from drivers.types import Frame, StreamSpec
from drivers.writer_thread import GapWatch, Mark, WriterThread

ACTIVITIES = ("cycling", "treadmill", "calibration", "other")


@dataclass
class RecordingRequest:
    """What a person asked to record; ``rig`` is the rig in force (stored in /rig)."""

    path: Path
    activity: str = "other"
    subject: str = ""
    notes: str = ""
    codec: str = "blosc2-lz4"
    rig: dict[str, Any] | None = None
    min_free_bytes: int = 512 * 2**20
    queue_bytes: int = 256 * 2**20


@dataclass
class RecordingStatus:
    """A recording as the record panel shows it. ``state``: recording, finishing,
    done or failed; ``seconds`` is source time from the first frame to the last."""

    path: Path
    state: str
    frames: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    seconds: float = 0.0
    bytes_on_disk: int = 0
    markers: int = 0
    error: str = ""

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())


class RecordingTee:
    """One recording: a SessionWriter on its own thread, fed by :meth:`offer`.

    Construct on the thread that reads the source; raises a ThermorigError (file
    exists, folder missing, disk full) before anything runs.
    """

    def __init__(
        self,
        request: RecordingRequest,
        streams: dict[str, StreamSpec],
        info: SourceInfo,
        *,
        lossless: bool = False,
        flush_interval: float = 0.5,
    ):
        self.request = request
        self.lossless = lossless
        if request.rig is not None:
            info = dataclasses.replace(info, rig=request.rig)
        self.writer = SessionWriter(
            request.path,
            streams,
            info,
            activity=request.activity,
            subject=request.subject,
            notes=request.notes,
            codec=request.codec,
            flush_interval=flush_interval,
            min_free_bytes=request.min_free_bytes,
        )
        self.path = self.writer.path
        mean = sum(s.frame_bytes for s in streams.values()) / max(len(streams), 1)
        maxsize = max(4, int(request.queue_bytes // max(mean, 1)))
        self._worker = WriterThread(self.writer, maxsize, flush_interval)
        self.done = self._worker.done
        self._lock = threading.Lock()
        self._offered = dict.fromkeys(streams, 0)
        self._dropped = dict.fromkeys(streams, 0)
        self._first_ts: float | None = None
        self._last_ts: float | None = None
        self._markers = 0
        self._gaps: GapWatch | None = None

    # -- capture side -----------------------------------------------------------------
    @property
    def failed(self) -> bool:
        return self._worker.failed.is_set()

    @property
    def error(self) -> BaseException | None:
        return self._worker.error

    def offer(self, frame: Frame) -> bool:
        """Queue one frame; False if it was dropped (queue full, or the writer failed)."""
        if frame.stream not in self._offered or self._worker.finishing:
            return False
        with self._lock:
            if self._first_ts is None:
                self._first_ts = frame.timestamp
            self._last_ts = frame.timestamp
            self._offered[frame.stream] += 1
        if self._worker.offer(frame, wait=self.lossless):
            return True
        with self._lock:
            self._dropped[frame.stream] += 1
        return False

    def mark(self, text: str, timestamp: float | None = None) -> None:
        """An event marker at ``timestamp`` (default: the newest frame's time)."""
        t = timestamp if timestamp is not None else self._last_ts
        if t is None:
            t = time.time()
        with self._lock:
            self._markers += 1
        self._worker.offer(Mark(float(t), str(text)), wait=True)

    def collect_gaps(self, driver: Any, final: bool = False) -> None:
        """Record the intervals a stream delivered nothing, for drivers that report
        them (``fault_intervals()``, see drivers.faults); open ones only at the end."""
        if self.failed:
            return
        if self._gaps is None:
            self._gaps = GapWatch(driver)
        for gap in self._gaps.collect(final):
            self._worker.offer(gap, wait=True)

    def finish(self) -> None:
        """Stop taking frames; the writer writes what is queued, then closes the file."""
        self._worker.finish(wait=False)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    def status(self) -> RecordingStatus:
        if self.done.is_set():
            state = "failed" if self.failed else "done"
        else:
            state = "finishing" if self._worker.finishing else "recording"
        try:
            size = os.path.getsize(self.path)
        except OSError:
            size = 0
        with self._lock:
            seconds = 0.0 if self._first_ts is None else self._last_ts - self._first_ts
            return RecordingStatus(
                path=self.path,
                state=state,
                frames=self.writer.counts(),
                dropped=dict(self._dropped),
                queued=self._worker.queue.qsize(),
                seconds=seconds,
                bytes_on_disk=size,
                markers=self._markers,
                error=one_line(self.error) if self.error else "",
            )
