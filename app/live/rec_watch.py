"""Whether a recording is going well, in one glance: elapsed time and an alert level.

A technician watching the subject glances at the window now and then; small grey
figures in a side panel go unread, and a recording that lost 590 frames looked like
any other. :class:`RecordingWatch` turns the recording's figures (and the source's
health, for frames lost before they reached the recording) into one of three levels
and one line saying what is wrong and what to do. The window paints the level
(amber, red) where it cannot be missed. No Qt here, so the thresholds are tested
without a display.

Levels:

- **ok** — nothing lost, the writer keeps up.
- **warn** (amber) — frames were lost earlier but not now, a few are being lost now,
  or the writer's queue is filling (:data:`QUEUE_WARN`) / the writer is behind.
- **alarm** (red) — frames are being lost now (at least :data:`LOSS_ALARM` of those
  due in the last :data:`RECENT_S` seconds), or the queue is nearly full
  (:data:`QUEUE_ALARM`: the next live frames will be dropped), or the recording failed.

A source that waits for the writer (a file, a simulation: ``lossless``) fills its
queue by design and loses nothing, so its queue fill is no warning.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import IntEnum

from drivers.recording import RecordingStatus
from drivers.types import StreamHealth

#: Queue fill (0-1) at which the writer is said to fall behind (amber) ...
QUEUE_WARN = 0.5
#: ... and at which live frames are about to be dropped (red).
QUEUE_ALARM = 0.9
#: Seconds over which "losing frames now" is measured.
RECENT_S = 5.0
#: Share of the frames due in the last :data:`RECENT_S` that, lost, makes the alarm.
LOSS_ALARM = 0.05
#: What to do about it, for the one-line warning.
ADVICE = "close other programs or record fewer streams"


class Level(IntEnum):
    OK = 0
    WARN = 1
    ALARM = 2


@dataclass(frozen=True)
class RecAlert:
    """A level and one line for the person ("" when all is well)."""

    level: Level
    text: str = ""


def elapsed_text(seconds: float) -> str:
    """``mm:ss`` (``h:mm:ss`` from an hour on): whole seconds, as a clock shows them."""
    whole = max(int(seconds), 0)
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class RecordingWatch:
    """Call :meth:`start` when a recording starts (with the source's health then, so
    that only frames lost since count), then :meth:`update` with each new status.

    ``clock`` times the recent window (tests pass a fake one).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic, recent_s: float = RECENT_S):
        self._clock = clock
        self._recent_s = recent_s
        self._base: dict[str, int] = {}
        #: (time, frames lost so far, frames due so far), oldest first.
        self._history: deque[tuple[float, int, int]] = deque()

    def start(self, health: Mapping[str, StreamHealth] | None = None) -> None:
        self._base = {name: h.drops for name, h in (health or {}).items()}
        self._history.clear()

    def lost_at_source(
        self, status: RecordingStatus, health: Mapping[str, StreamHealth] | None
    ) -> dict[str, int]:
        """Frames each recorded stream's source lost since :meth:`start` (a stream
        whose figures were not known then: since they were first seen)."""
        lost = {}
        for name, h in (health or {}).items():
            if name in status.frames:
                lost[name] = max(0, h.drops - self._base.setdefault(name, h.drops))
        return lost

    def update(
        self, status: RecordingStatus, health: Mapping[str, StreamHealth] | None = None
    ) -> RecAlert:
        """The alert for ``status`` (and the source's ``health`` at the same moment)."""
        if status.state == "failed":
            return RecAlert(Level.ALARM, f"recording failed: {status.error or 'see the message'}")
        at_source = self.lost_at_source(status, health)
        per_stream = {n: status.dropped.get(n, 0) + at_source.get(n, 0) for n in status.frames}
        lost = sum(per_stream.values())
        due = status.total_frames + status.queued + lost
        now = self._clock()
        self._history.append((now, lost, due))
        while len(self._history) > 1 and self._history[1][0] <= now - self._recent_s:
            self._history.popleft()
        t0, lost0, due0 = self._history[0]
        recent_lost, recent_due = lost - lost0, due - due0
        if t0 > now - self._recent_s:  # the recording is younger than the window
            recent_lost, recent_due = lost, due
        fill = 0.0 if status.lossless else status.queue_fill

        if recent_lost > 0:
            worst = max(per_stream, key=lambda n: per_stream[n])
            fps = _fps(worst, status, health)
            text = f"dropping frames: {lost} lost, {fps:.1f} fps — {ADVICE}"
            share = recent_lost / max(recent_due, 1)
            return RecAlert(Level.ALARM if share >= LOSS_ALARM else Level.WARN, text)
        earlier = f"{lost} frames lost earlier · " if lost > 0 else ""
        if fill >= QUEUE_ALARM:
            return RecAlert(
                Level.ALARM,
                f"{earlier}writer falling behind: queue {100 * fill:.0f} % full, "
                f"frames will be dropped — {ADVICE}",
            )
        if fill >= QUEUE_WARN:
            writer = f"writer falling behind: queue {100 * fill:.0f} % full — {ADVICE}"
        elif status.behind:
            writer = f"writer behind: storing frames uncompressed to keep up — {ADVICE}"
        elif lost > 0:
            writer = f"none in the last {self._recent_s:.0f} s"
        else:
            return RecAlert(Level.OK)
        return RecAlert(Level.WARN, earlier + writer)


def _fps(stream: str, status: RecordingStatus, health: Mapping[str, StreamHealth] | None) -> float:
    """The rate ``stream`` is delivered at: the source's measure, else frames recorded
    over the recording's time."""
    h = (health or {}).get(stream)
    if h is not None and h.fps > 0:
        return h.fps
    return status.frames.get(stream, 0) / status.seconds if status.seconds > 0 else 0.0
