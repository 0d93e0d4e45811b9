"""Records a source into a session file without ever making the source wait.

:func:`record` reads the driver on the calling thread and hands frames to a writer
thread (:class:`~drivers.session_writer.SessionWriter`) through a bounded queue. A live
camera's frame that finds the queue full is dropped and counted in the summary, never
silently lost and never allowed to stall capture; sources that are not real-time
(replay, offline simulation) wait for the writer instead, so nothing is dropped.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drivers.base import Driver
from drivers.errors import EndOfStream, SessionError, SourceError
from drivers.session_writer import CODECS, SessionWriter, resolve_codec
from drivers.writer_thread import GapWatch, Mark, WriterThread

__all__ = ["CODECS", "RecordingSummary", "SessionWriter", "record", "resolve_codec"]


@dataclass
class RecordingSummary:
    """What a recording produced; ``seconds`` is the source time covered."""

    path: Path
    frames: dict[str, int]
    dropped: dict[str, int]
    seconds: float
    bytes: int
    ms_per_frame: float
    wall_seconds: float = 0.0
    stopped_by: str = ""  # end | duration | frames | stop | error


@dataclass
class _Tally:
    read: dict[str, int]
    dropped: dict[str, int] = field(default_factory=dict)
    first_ts: float | None = None
    last_ts: float | None = None
    total: int = 0

    @property
    def elapsed(self) -> float:
        return 0.0 if self.first_ts is None else self.last_ts - self.first_ts


def _is_realtime(driver: Driver) -> bool:
    """Live sources must never wait for the disk; files and simulations may."""
    realtime = getattr(driver, "realtime", None)
    if realtime is None:
        realtime = driver.info.extra.get("realtime", True)
    return bool(realtime)


def record(
    driver: Driver,
    path: str | os.PathLike,
    *,
    seconds: float | None = None,
    max_frames: int | None = None,
    activity: str | None = None,
    subject: str | None = None,
    notes: str | None = None,
    codec: str = "blosc2-lz4",
    progress: Callable[[float, dict], None] | None = None,
    stop: threading.Event | None = None,
    overwrite: bool = False,
    marks: queue.Queue | None = None,
    lossless: bool | None = None,
    queue_bytes: int = 256 * 2**20,
    queue_frames: int | None = None,
    flush_interval: float = 0.5,
    min_free_bytes: int = 512 * 2**20,
    stall_timeout: float = 10.0,
) -> RecordingSummary:
    """Record an opened driver into ``path`` until a limit, ``stop``, or its end.

    ``seconds`` counts source time from the first frame; ``max_frames`` counts frames
    read over all streams. ``progress(value, stats)`` runs on the capture thread about
    four times a second (keep it quick): ``value`` is the fraction done in [0, 1] when
    a limit is set, else the seconds recorded (always in ``stats["elapsed"]``).
    ``marks`` yields ``(timestamp or None, text)`` event markers (None: the latest
    frame's time). ``lossless`` (default: when the driver says it is not real-time via
    ``driver.realtime`` or ``info.extra["realtime"]``) makes capture wait for the writer
    instead of dropping frames. The queue holds about ``queue_bytes`` of frames.
    The driver is started but neither stopped nor closed: the caller owns it.
    A DiskFullError carries the summary of what was kept as ``.summary``.
    """
    if seconds is not None and seconds <= 0:
        raise SessionError(f"recording length must be positive, got {seconds} s")
    streams = dict(driver.streams)
    writer = SessionWriter(
        path,
        streams,
        driver.info,
        activity=activity,
        subject=subject,
        notes=notes,
        codec=codec,
        flush_interval=flush_interval,
        min_free_bytes=min_free_bytes,
        overwrite=overwrite,
    )
    if lossless is None:
        lossless = not _is_realtime(driver)
    if queue_frames is None:
        mean = sum(s.frame_bytes for s in streams.values()) / len(streams)
        queue_frames = max(4, int(queue_bytes // max(mean, 1)))
    worker = WriterThread(writer, queue_frames, flush_interval)
    tally = _Tally(read=dict.fromkeys(streams, 0), dropped=dict.fromkeys(streams, 0))
    gaps = GapWatch(driver)

    def report() -> None:
        fractions = []
        if seconds:
            fractions.append(tally.elapsed / seconds)
        if max_frames:
            fractions.append(tally.total / max_frames)
        stats = {
            "frames": dict(tally.read),
            "written": writer.counts(),
            "dropped": dict(tally.dropped),
            "queued": worker.queue.qsize(),
            "elapsed": tally.elapsed,
            "bytes": writer.bytes_written,
            "ms_per_frame": 1e3 * writer.write_seconds / max(writer.frames_written, 1),
        }
        progress(min(1.0, max(fractions)) if fractions else tally.elapsed, stats)

    wall0 = last_frame_wall = last_progress = time.monotonic()
    stopped_by = ""
    try:
        driver.start()
        while not stopped_by:
            if stop is not None and stop.is_set():
                stopped_by = "stop"
                break
            if worker.failed.is_set():
                stopped_by = "error"
                break
            try:
                frame = driver.read(timeout=0.1)
            except EndOfStream:
                stopped_by = "end"
                break
            now = time.monotonic()
            if now - last_progress >= 0.25:
                last_progress = now
                for gap in gaps.collect(final=False):
                    worker.offer(gap, wait=True)
                if progress is not None:
                    report()
            if frame is None:
                if now - last_frame_wall > stall_timeout:
                    raise SourceError(
                        f"{driver.info.spec} delivered no frame for {stall_timeout:.0f} s;"
                        " check the camera connection"
                    )
                continue
            last_frame_wall = now
            if frame.stream not in streams:
                continue
            if tally.first_ts is None:
                tally.first_ts = tally.last_ts = frame.timestamp
            if seconds is not None and frame.timestamp - tally.first_ts >= seconds:
                stopped_by = "duration"
                break
            tally.last_ts = frame.timestamp
            tally.read[frame.stream] += 1
            tally.total += 1
            if not worker.offer(frame, wait=lossless):
                tally.dropped[frame.stream] += 1
            while marks is not None and not marks.empty():
                t, text = marks.get_nowait()
                worker.offer(Mark(tally.last_ts if t is None else t, text), wait=True)
            if max_frames is not None and tally.total >= max_frames:
                stopped_by = "frames"
    finally:
        if not worker.failed.is_set():
            for gap in gaps.collect(final=True):
                worker.offer(gap, wait=True)
        worker.finish()
    summary = RecordingSummary(
        path=writer.path,
        frames=writer.counts(),
        dropped=tally.dropped,
        seconds=tally.elapsed,
        bytes=writer.path.stat().st_size if writer.path.exists() else 0,
        ms_per_frame=1e3 * writer.write_seconds / max(writer.frames_written, 1),
        wall_seconds=time.monotonic() - wall0,
        stopped_by=stopped_by,
    )
    if worker.error is not None:
        worker.error.summary = summary
        raise worker.error
    if progress is not None:
        report()
    return summary
