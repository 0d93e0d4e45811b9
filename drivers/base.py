"""The Driver protocol every source implements, and the pieces they share.

A driver is pull-based: the capture loop calls :meth:`Driver.read` and gets the next
frame of any stream, in timestamp order per stream. Live drivers grab on their own
threads and hand frames over through a queue, so a slow consumer never stalls a
camera; finite drivers (replay, simulation) raise :class:`EndOfStream` when done.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from drivers.errors import EndOfStream
from drivers.types import Frame, StreamHealth, StreamSpec


@dataclass
class SourceInfo:
    """What a source knows about itself, beyond its streams; recorded into sessions.

    ``rig`` is the rig JSON (docs/formats/rig.md) in force if the source knows one (a device's
    factory calibration, the rig a session was recorded with). ``truth`` is set by
    synthetic sources and by replay of synthetic sessions: ``{"rig": dict, "classes":
    [...], "keypoints": [...], "board": spec-or-None}``.
    """

    spec: str
    activity: str = "other"
    devices: dict[str, str] = field(default_factory=dict)
    rig: dict[str, Any] | None = None
    truth: dict[str, Any] | None = None
    hw_sync: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Driver(Protocol):
    """A source of frames: cameras, files, or the synthetic rig."""

    def open(self) -> None:
        """Acquire the device or file; raise a ThermorigError if that is impossible."""

    def start(self) -> None:
        """Begin delivering frames."""

    def stop(self) -> None:
        """Stop delivering frames; may be started again."""

    def close(self) -> None:
        """Release everything; safe to call twice."""

    @property
    def streams(self) -> dict[str, StreamSpec]:
        """The streams this source delivers, by name (valid after open)."""

    @property
    def info(self) -> SourceInfo:
        """Device and provenance facts (valid after open)."""

    def read(self, timeout: float | None = None) -> Frame | None:
        """The next frame of any stream; ``None`` if none came within ``timeout``.

        Raises EndOfStream when a finite source is exhausted.
        """

    def health(self) -> dict[str, StreamHealth]:
        """Per-stream fps, drops, duplicates and faults, as observed so far."""


class HealthMonitor:
    """Counts frames, drops and duplicates per stream from what a driver delivers.

    Drops come from gaps in a device frame counter when the driver has one, else from
    timestamp gaps over 1.5 nominal periods. Duplicates are frames whose pixels equal
    the previous frame's — a camera re-sending an image (a Lepton sends ~9 unique
    frames/s at 27 Hz); real sensors have noise, so equal pixels mean no new exposure.
    """

    def __init__(self, streams: dict[str, StreamSpec]):
        self._specs = dict(streams)
        self._health = {name: StreamHealth() for name in streams}
        self._last_array: dict[str, np.ndarray] = {}
        self._last_counter: dict[str, int] = {}

    def observe(self, frame: Frame, counter: int | None = None) -> bool:
        """Record one delivered frame; returns True if it duplicates the previous one."""
        h = self._health[frame.stream]
        spec = self._specs[frame.stream]
        period = 1.0 / spec.fps if spec.fps > 0 else 0.0
        if counter is not None and frame.stream in self._last_counter:
            gap = counter - self._last_counter[frame.stream]
            if gap > 1:
                h.drops += gap - 1
        elif h.frames and period > 0:
            gap = frame.timestamp - h.last_timestamp
            if gap > 1.5 * period:
                h.drops += max(0, round(gap / period) - 1)
        if counter is not None:
            self._last_counter[frame.stream] = counter
        if h.frames:
            dt = frame.timestamp - h.last_timestamp
            if dt > 0:
                inst = 1.0 / dt
                h.fps = inst if h.fps == 0 else 0.9 * h.fps + 0.1 * inst
        duplicate = self._is_duplicate(frame)
        if duplicate:
            h.duplicates += 1
        h.frames += 1
        h.last_timestamp = frame.timestamp
        return duplicate

    def _is_duplicate(self, frame: Frame) -> bool:
        prev = self._last_array.get(frame.stream)
        self._last_array[frame.stream] = frame.array
        if prev is None or prev.shape != frame.array.shape or prev is frame.array:
            return prev is frame.array
        # A strided sample rejects almost every fresh frame at a tiny fraction of the cost.
        if not np.array_equal(prev[::16, ::16], frame.array[::16, ::16]):
            return False
        return bool(np.array_equal(prev, frame.array))

    def fault(self, stream: str, message: str) -> None:
        self._health[stream].fault = message

    def snapshot(self) -> dict[str, StreamHealth]:
        return {n: StreamHealth(**vars(h)) for n, h in self._health.items()}


class BaseDriver:
    """Shared plumbing: context manager, iteration, health bookkeeping.

    Subclasses implement ``open``, ``_next_frame`` and set ``self._streams`` and
    ``self._info`` in ``open``.
    """

    def __init__(self, spec: str):
        self._spec = spec
        self._streams: dict[str, StreamSpec] = {}
        self._info = SourceInfo(spec=spec)
        self._monitor: HealthMonitor | None = None
        self._running = False

    # -- protocol -------------------------------------------------------------------
    def open(self) -> None:
        raise NotImplementedError

    def start(self) -> None:
        if self._monitor is None:
            self._monitor = HealthMonitor(self._streams)
        self._running = True

    def stop(self) -> None:
        self._running = False

    def close(self) -> None:
        self._running = False

    @property
    def streams(self) -> dict[str, StreamSpec]:
        return self._streams

    @property
    def info(self) -> SourceInfo:
        return self._info

    def read(self, timeout: float | None = None) -> Frame | None:
        if not self._running:
            self.start()
        frame = self._next_frame(timeout)
        if frame is not None and self._monitor is not None:
            self._monitor.observe(frame)
        return frame

    def health(self) -> dict[str, StreamHealth]:
        if self._monitor is None:
            return {n: StreamHealth() for n in self._streams}
        return self._monitor.snapshot()

    # -- for subclasses -------------------------------------------------------------
    def _next_frame(self, timeout: float | None) -> Frame | None:
        raise NotImplementedError

    # -- conveniences ---------------------------------------------------------------
    def frames(self) -> Iterator[Frame]:
        """Every frame until the source ends (finite sources) or forever (live ones)."""
        while True:
            try:
                frame = self.read(timeout=1.0)
            except EndOfStream:
                return
            if frame is not None:
                yield frame

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
