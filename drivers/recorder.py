"""``thermorig record``'s read loop: a driver read on the calling thread, every frame
handed to a :class:`~drivers.recording.Recording` (the one recording engine, which the
window's capture worker feeds too), until a limit, ``stop``, or the source's end.

A live camera's frame that finds the writer's queue full is dropped and counted in the
summary, never silently lost and never allowed to stall capture; sources that are not
real-time (replay, offline simulation) wait for the writer instead, so nothing is
dropped. Frames the source itself lost while recording (a camera's full buffer, a
synthetic rig starved of CPU: the driver's health figures) are counted apart.
"""

from __future__ import annotations

import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from drivers import stop_request
from drivers.base import Driver
from drivers.codecs import CODECS, resolve_codec
from drivers.errors import EndOfStream, SessionError, SourceError, ThermorigError
from drivers.recording import Recording, RecordingRequest
from drivers.session import SessionReader
from drivers.session_state import NEEDS_REPAIR, repair_command, session_state
from drivers.session_writer import SessionWriter

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
    stored_raw: dict[str, int] = field(default_factory=dict)
    source_dropped: dict[str, int] = field(default_factory=dict)
    wall_seconds: float = 0.0
    stopped_by: str = ""  # end | duration | frames | stop | error | SIGINT | SIGTERM
    #: The source's outages during the recording (drivers.faults.FaultInterval), also
    #: stored in the file as gaps: a camera that was lost is said, not only stored.
    gaps: list = field(default_factory=list)


def _is_realtime(driver: Driver) -> bool:
    """Live sources must never wait for the disk; files and simulations may."""
    realtime = getattr(driver, "realtime", None)
    if realtime is None:
        realtime = driver.info.extra.get("realtime", True)
    return bool(realtime)


def _source_drops(driver: Driver) -> dict[str, int]:
    """Frames each stream of the source has lost so far, as its driver observed."""
    return {name: h.drops for name, h in driver.health().items()}


def _outages(driver: Driver, streams: dict) -> list:
    """The driver's outages of the recorded streams (none if it cannot tell)."""
    intervals = getattr(driver, "fault_intervals", None)
    return [iv for iv in intervals() if iv.stream in streams] if intervals else []


@stop_request.deferred()
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
    queue_bytes: int | None = None,
    adaptive: bool = True,
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
    instead of dropping frames. The queue holds ``queue_bytes`` of frames (default:
    half the free memory); ``adaptive`` lets a live recording's writer store frames
    uncompressed while it is behind (see :class:`~drivers.recording.Recording`).
    The driver is started but neither stopped nor closed: the caller owns it.
    A stop signal (:mod:`drivers.stop_request`) ends the recording like the end of a
    source (``stopped_by`` is the signal's name) and can never interrupt the file's
    close. An error that ends it (a full disk, a failing source) says how many frames
    the file kept and carries the summary as ``.summary``.
    """
    if seconds is not None and seconds <= 0:
        raise SessionError(f"recording length must be positive, got {seconds} s")
    streams = dict(driver.streams)
    request = RecordingRequest(
        Path(path),
        activity=activity,
        subject=subject,
        notes=notes,
        codec=codec,
        min_free_bytes=min_free_bytes,
        queue_bytes=queue_bytes,
        overwrite=overwrite,
        adaptive=adaptive,
    )
    rec = Recording(
        request,
        streams,
        driver.info,
        lossless=not _is_realtime(driver) if lossless is None else lossless,
        flush_interval=flush_interval,
        queue_frames=queue_frames,
    )

    def report() -> None:
        fractions = []
        if seconds:
            fractions.append(rec.seconds / seconds)
        if max_frames:
            fractions.append(rec.total_offered / max_frames)
        stats = {
            "frames": dict(rec.offered),
            "written": rec.writer.counts(),
            "dropped": dict(rec.dropped),
            "queued": rec.queued,
            "stored_raw": rec.writer.counts(raw=True),
            "elapsed": rec.seconds,
            "bytes": rec.writer.bytes_written,
            "ms_per_frame": rec.ms_per_frame,
        }
        progress(min(1.0, max(fractions)) if fractions else rec.seconds, stats)

    wall0 = last_frame_wall = last_progress = time.monotonic()
    lost_before = _source_drops(driver)
    stopped_by = ""
    failure: BaseException | None = None
    try:
        driver.start()
        while not stopped_by:
            if stop is not None and stop.is_set():
                stopped_by = "stop"
                break
            if stop_request.requested() is not None:
                stopped_by = signal.Signals(stop_request.requested()).name
                break
            if rec.failed:
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
                rec.collect_gaps(driver)
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
            if (
                seconds is not None
                and rec.first_ts is not None
                and frame.timestamp - rec.first_ts >= seconds
            ):
                stopped_by = "duration"
                break
            rec.offer(frame)
            while marks is not None and not marks.empty():
                t, text = marks.get_nowait()
                rec.mark(text, t)
            if max_frames is not None and rec.total_offered >= max_frames:
                stopped_by = "frames"
    except ThermorigError as exc:  # the source failed (a damaged replay, a camera gone)
        failure, stopped_by = exc, "error"
    finally:
        rec.collect_gaps(driver, final=True)
        rec.finish(wait=True)
    summary = RecordingSummary(
        path=rec.path,
        frames=rec.writer.counts(),
        dropped=dict(rec.dropped),
        seconds=rec.seconds,
        bytes=rec.path.stat().st_size if rec.path.exists() else 0,
        ms_per_frame=rec.ms_per_frame,
        stored_raw=rec.writer.counts(raw=True),
        source_dropped={
            n: c - lost_before.get(n, 0) for n, c in _source_drops(driver).items() if n in streams
        },
        wall_seconds=time.monotonic() - wall0,
        stopped_by=stopped_by,
        gaps=_outages(driver, streams),
    )
    failure = rec.error or failure
    if isinstance(failure, ThermorigError):
        raise _with_what_was_kept(failure, summary) from failure
    if failure is not None:
        raise failure  # a bug: its traceback matters more than the figures
    if progress is not None:
        report()
    return summary


def _with_what_was_kept(error: ThermorigError, summary: RecordingSummary) -> ThermorigError:
    """``error`` (of its own type, ``.summary`` attached) saying what the file kept: a
    recording that fails mid-way is still a recording of everything before. A file
    that could not be closed keeps what its last flush declared, which may be fewer
    frames than were written: those are counted from the file itself."""
    unclosed = summary.path.exists() and session_state(summary.path) == NEEDS_REPAIR
    if unclosed:
        try:
            with SessionReader(summary.path) as reader:
                summary.frames = {s: reader.count(s) for s in reader.streams}
        except ThermorigError:
            pass  # unreadable: the figures written are all there is to tell
    total = sum(summary.frames.values())
    if total:
        per_stream = ", ".join(f"{n} {c}" for n, c in summary.frames.items())
        kept = f"{summary.path} keeps {total} frames ({per_stream}; {summary.seconds:.1f} s)"
    else:
        kept = f"{summary.path} holds no frames"
    if unclosed:
        kept += f"; it could not be closed: with space freed, run {repair_command(summary.path)}"
    kept_error = type(error)(f"{error}; {kept}")
    kept_error.summary = summary
    return kept_error
