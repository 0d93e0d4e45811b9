"""One recording: the engine both ``thermorig record`` and the window record through.

Whoever reads the source — :func:`drivers.recorder.record`'s loop on the command line,
the capture worker (``app.live.capture``) in the window — hands each frame to a
:class:`Recording` and goes on. The recording owns a
:class:`~drivers.session_writer.SessionWriter` on its own thread
(:class:`~drivers.writer_thread.WriterThread`) behind a queue bounded in bytes: a live
camera's frame that finds it full is dropped and counted (the camera must never wait
for the disk); files and simulations wait instead (``lossless``), so nothing is lost.

A live recording must keep its frames even when other programs take the CPU: a writer
that falls half a second behind stores frames uncompressed until it has caught up
(``adaptive``; see :mod:`drivers.catch_up`), and the queue may take half the memory
available at the start, so frames are dropped only when memory would run out.

The recording keeps the figures a person watches (frames written, dropped and stored
uncompressed, source time covered, markers, size on disk) and forwards a driver's
outages as gaps and a person's markers as events.

Stopping never loses frames: :meth:`Recording.finish` only asks the writer to close
once it has written everything already queued. A write error (disk full, the drive
gone) stops the writer, keeps everything written so far in a valid file, and is
reported through :attr:`Recording.error` and :attr:`RecordingStatus.error`.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from drivers.base import SourceInfo
from drivers.errors import one_line
from drivers.outputs import SESSION_SUFFIXES, check_outputs, file_output
from drivers.session_writer import SessionWriter
from drivers.types import Frame, StreamSpec
from drivers.writer_thread import GapWatch, Mark, WriterThread


def check_output(
    path: Path, overwrite: bool | None, inputs: Iterable[str | os.PathLike | None] = ()
) -> None:
    """Refuse to clobber a recording (a session is raw data that must never be lost) or
    to record over what the source reads, by the rule every output follows
    (:mod:`drivers.outputs`). ``overwrite`` None: the caller offers no --overwrite (the
    window's record panel)."""
    check_outputs([file_output("", path, SESSION_SUFFIXES)], inputs, overwrite=overwrite)


@dataclass
class RecordingRequest:
    """What a person asked to record; ``rig`` is the rig in force (stored in /rig).
    ``activity``, ``subject`` and ``notes`` left None take the source's own (a replayed
    session passes its subject and notes on)."""

    path: Path
    activity: str | None = None
    subject: str | None = None
    notes: str | None = None
    codec: str = "blosc2-lz4"
    rig: dict[str, Any] | None = None
    min_free_bytes: int = 512 * 2**20
    queue_bytes: int | None = None  # None: sized from free memory (queue_budget)
    overwrite: bool = False
    adaptive: bool = True  # a live recording stores frames uncompressed while behind


@dataclass
class RecordingStatus:
    """A recording as a person watches it. ``state``: recording, finishing, done or
    failed; ``seconds`` is source time from the first frame to the last."""

    path: Path
    state: str
    frames: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    queued: int = 0
    stored_raw: dict[str, int] = field(default_factory=dict)
    behind: bool = False
    seconds: float = 0.0
    bytes_on_disk: int = 0
    markers: int = 0
    error: str = ""
    #: How full the writer's queue is (0 to 1); at 1 a live frame is dropped.
    queue_fill: float = 0.0
    #: The source waits for the writer (a file, a simulation): a full queue only slows
    #: reading and loses nothing, so it is no warning.
    lossless: bool = False

    @property
    def total_frames(self) -> int:
        return sum(self.frames.values())

    @property
    def total_dropped(self) -> int:
        return sum(self.dropped.values())

    @property
    def total_raw(self) -> int:
        """Frames stored uncompressed because the writer was behind."""
        return sum(self.stored_raw.values())


#: The least a recording's queue may hold, and all it holds where memory is unknown.
MIN_QUEUE_BYTES = 256 * 2**20
#: Seconds of the source's frames waiting in the queue at which the writer is behind.
BEHIND_SECONDS = 0.5


def available_memory() -> int | None:
    """Bytes that new allocations may take without swapping (Linux: MemAvailable),
    None where the system does not say."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def queue_budget(requested: int | None, live: bool = True) -> int:
    """Bytes a recording's queue may hold: ``requested``, else for a ``live`` source
    half the memory available now (at least :data:`MIN_QUEUE_BYTES`), so a live frame
    is dropped only when memory would run out, never while half of it lies idle. A
    source that can wait for the writer (a file, a simulation) gets the minimum: more
    would only fill memory with frames read ahead."""
    if requested is not None:
        return int(requested)
    if not live:
        return MIN_QUEUE_BYTES
    return max(MIN_QUEUE_BYTES, (available_memory() or 0) // 2)


class Recording:
    """A SessionWriter on its own thread, fed by :meth:`offer` from the reading thread.

    Raises a ThermorigError (file exists, folder missing, disk full) before anything
    runs. The queue holds :func:`queue_budget` bytes of frames; ``queue_frames`` caps
    it in frames too. A live recording (not ``lossless``) with ``request.adaptive`` is
    behind once :data:`BEHIND_SECONDS` of frames wait (at most half the queue).
    """

    def __init__(
        self,
        request: RecordingRequest,
        streams: dict[str, StreamSpec],
        info: SourceInfo,
        *,
        lossless: bool = False,
        flush_interval: float = 0.5,
        queue_frames: int | None = None,
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
            overwrite=request.overwrite,
        )
        self.path = self.writer.path
        largest = max(s.frame_bytes for s in streams.values())
        max_bytes = max(queue_budget(request.queue_bytes, live=not lossless), 4 * largest)
        behind_at = None
        if request.adaptive and not lossless:
            rate = sum(s.fps for s in streams.values())
            fit = min(max_bytes // largest, queue_frames or max_bytes)
            behind_at = max(1, min(round(BEHIND_SECONDS * rate), fit // 2))
        self._worker = WriterThread(
            self.writer,
            max_bytes,
            flush_interval,
            max_items=queue_frames,
            behind_at=behind_at,
        )
        self.done = self._worker.done
        self._lock = threading.Lock()
        self.offered = dict.fromkeys(streams, 0)
        self.dropped = dict.fromkeys(streams, 0)
        self.first_ts: float | None = None
        self.last_ts: float | None = None
        self._markers = 0
        self._gaps: GapWatch | None = None

    # -- the reading side -------------------------------------------------------------
    @property
    def failed(self) -> bool:
        return self._worker.failed.is_set()

    @property
    def error(self) -> BaseException | None:
        return self._worker.error

    @property
    def seconds(self) -> float:
        """Source time covered so far, first frame to newest."""
        return 0.0 if self.first_ts is None else self.last_ts - self.first_ts

    @property
    def total_offered(self) -> int:
        return sum(self.offered.values())

    def offer(self, frame: Frame) -> bool:
        """Queue one frame; False if it was dropped (queue full, or the writer failed)."""
        if frame.stream not in self.offered or self._worker.finishing:
            return False
        with self._lock:
            if self.first_ts is None:
                self.first_ts = frame.timestamp
            self.last_ts = frame.timestamp
            self.offered[frame.stream] += 1
        if self._worker.offer(frame, wait=self.lossless):
            return True
        with self._lock:
            self.dropped[frame.stream] += 1
        return False

    def mark(self, text: str, timestamp: float | None = None) -> None:
        """An event marker at ``timestamp`` (default: the newest frame's time)."""
        t = timestamp if timestamp is not None else self.last_ts
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

    def finish(self, wait: bool = False) -> None:
        """Stop taking frames; the writer writes what is queued, then closes the file.
        With ``wait`` return once the file is closed, else at once (see :attr:`done`)."""
        self._worker.finish(wait=wait)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # -- figures ----------------------------------------------------------------------
    @property
    def queued(self) -> int:
        return self._worker.queued

    @property
    def behind(self) -> bool:
        """True while the writer stores frames uncompressed to catch up: the moment
        for everything else the app does (the preview) to give way."""
        return self._worker.behind

    @property
    def ms_per_frame(self) -> float:
        """Mean time the writer took per frame (compression and disk)."""
        return 1e3 * self.writer.write_seconds / max(self.writer.frames_written, 1)

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
            return RecordingStatus(
                path=self.path,
                state=state,
                frames=self.writer.counts(),
                dropped=dict(self.dropped),
                queued=self.queued,
                stored_raw=self.writer.counts(raw=True),
                behind=self.behind,
                seconds=self.seconds,
                bytes_on_disk=size,
                markers=self._markers,
                error=one_line(self.error) if self.error else "",
                queue_fill=self._worker.fill,
                lossless=self.lossless,
            )
