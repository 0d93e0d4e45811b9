"""What the live side tells the GUI: events, figures, and a replay's frame grid.

Plain data. The capture worker's pass from its thread to the GUI thread through a
queue and latest-wins slots (see :mod:`app.live.capture`); the live controller adds
its own (a source being opened, the rig in force, a problem to show) and hands all of
them out, in order, from :meth:`~app.live.controller.LiveController.poll`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from calibration.rig import Rig
from drivers.base import SourceInfo
from drivers.recording import RecordingStatus
from drivers.session import SessionReader
from drivers.types import StreamHealth, StreamSpec


@dataclass
class ReplayInfo:
    """Frame grid of a replayed session: the pivot stream's frames are the slider."""

    path: Path
    pivot: str
    times: np.ndarray  # seconds from the session start, per pivot frame
    indices: np.ndarray  # recorded frame index per pivot frame
    duration: float
    #: Event markers set while recording: (seconds from the session start, text).
    markers: list[tuple[float, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.times)

    def marker_rows(self) -> list[tuple[int, str]]:
        """Each marker at the row (slider position) nearest its time, in time order."""
        if not self.count:
            return []
        out = []
        for t, text in sorted(self.markers):
            row = int(np.argmin(np.abs(self.times - t)))
            out.append((row, text))
        return out

    def row_of(self, frame_index: int) -> int:
        """Row (slider position) of a recorded pivot frame index."""
        row = int(np.searchsorted(self.indices, frame_index))
        return min(max(row, 0), max(self.count - 1, 0))

    @classmethod
    def read(cls, path: Path, pivot: str) -> ReplayInfo:
        with SessionReader(path) as reader:
            starts = [reader.timestamps(n)[:1] for n in reader.streams]
            t0 = float(np.concatenate(starts).min()) if any(len(s) for s in starts) else 0.0
            ts = reader.timestamps(pivot)
            ends = [reader.timestamps(n)[-1:] for n in reader.streams]
            t1 = float(np.concatenate(ends).max()) if any(len(e) for e in ends) else t0
            markers = [(t - t0, text) for t, text in reader.events()]
            return cls(Path(path), pivot, ts - t0, reader.indices(pivot), t1 - t0, markers)


@dataclass
class SourceOpening:
    """The controller is opening ``spec`` (``scheme`` its part before the colon): the
    previous source is closed, nothing is known yet of the new one."""

    spec: str
    scheme: str
    #: Something the person should know about the source, for the status bar (e.g. a
    #: killed recording: it replays, but other programs refuse it until repaired).
    notice: str = ""


@dataclass
class SourceOpened:
    spec: str
    streams: dict[str, StreamSpec]
    info: SourceInfo
    replay: ReplayInfo | None = None
    #: False for a replay opened paused (a source put back where it was).
    playing: bool = True


@dataclass
class SourceProgress:
    """Preparing the source before a recording starts (the synthetic rig renders the
    rest of its motion cycle once, so that the recording gets every frame at full
    rate; the preview does not wait for it and renders on demand meanwhile)."""

    spec: str
    done: int
    total: int


@dataclass
class SourceFailed:
    spec: str
    message: str


@dataclass
class SourceEnded:
    spec: str


@dataclass
class RecordingStarted:
    path: Path


@dataclass
class RecordingFinished:
    status: RecordingStatus


@dataclass
class RecordingFailed:
    message: str
    status: RecordingStatus | None = None


@dataclass
class CaptureStats:
    """What the status panel shows, published by the capture thread ~4× a second."""

    health: dict[str, StreamHealth] = field(default_factory=dict)
    sync: dict[str, Any] = field(default_factory=dict)
    frames_read: int = 0
    sets: int = 0
    set_rate: float = 0.0
    offsets_ms: dict[str, float] = field(default_factory=dict)
    playing: bool = True
    ended: bool = False
    replay_row: int | None = None
    replay_position: float = 0.0
    recording: RecordingStatus | None = None


@dataclass
class RigChanged:
    """The rig in force changed (None: none); ``text`` says where it came from."""

    rig: Rig | None
    origin: str
    text: str


@dataclass
class Problem:
    """Something the person must be told (a refusal, a rig that no longer fits): a
    title and one line. Returned by a refused request or handed out as an event."""

    title: str
    message: str
