"""Active review time per frame: the measure of annotation effort.

Whether pre-labels save a reviewer time is a question about *active* time: the
seconds a person spends on a frame while working on it, not the hours a window sits
open over lunch. So time counts only between inputs (a key, a click, a stroke, the
mouse moving over the window, the wheel), and a gap between two inputs counts at most
:data:`IDLE_CAP_S` seconds: a person who looks at a frame for 20 s and then accepts it
spent 20 s on it, one who went for coffee spent the cap. Losing the window's focus
(:meth:`ReviewTimer.pause`) ends the count until the next input.

Each gap belongs to the frame that was shown during it: the window reports every
input *before* handling it, with the frame shown, so the key that moves on is the
last input on the old frame and the next input's gap is the first on the new one.
Each frame's time carries the label source it had when the person started on it
(none = from scratch, projected or model = pre-labeled). The clock is monotonic
(a wall-clock change must not add or remove review time) and injectable for tests.
GUI-free: :mod:`app.ui.review.effort` forwards the window's events.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

#: A gap between two inputs counts at most this many seconds (longer: idle, not review).
IDLE_CAP_S = 30.0
#: Time not yet handed over is handed over once it reaches this much, so a killed
#: window loses at most about this much review time (plus the gap it was in).
FLUSH_S = 5.0

Key = tuple[str, int]  # (stream, frame)


@dataclass
class Spent:
    """Active seconds on one frame since the last hand-over, and its starting source."""

    stream: str
    frame: int
    seconds: float
    source: int


class ReviewTimer:
    """Counts active seconds per (stream, frame) from the inputs it is told of."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, idle_cap_s: float = IDLE_CAP_S):
        self.clock = clock
        self.idle_cap_s = idle_cap_s
        self._last: float | None = None  # None: not counting (start, or paused)
        self._open: dict[Key, Spent] = {}
        self._sources: dict[Key, int] = {}  # each frame's source when first worked on

    def input(self, stream: str, frame: int, source: int | Callable[[], int]) -> None:
        """A person's input on ``frame`` of ``stream`` (the frame shown since the last
        input), whose label source is ``source`` now (or a function that says it: asked
        only when the frame is first worked on, so a mouse move costs no lookup)."""
        now = self.clock()
        if self._last is not None and frame >= 0:
            gap = min(max(now - self._last, 0.0), self.idle_cap_s)
            first = self._sources.get((stream, frame))
            if first is None:
                first = self._sources[stream, frame] = int(source() if callable(source) else source)
            spent = self._open.setdefault((stream, frame), Spent(stream, frame, 0.0, first))
            spent.seconds += gap
        self._last = now

    def pause(self, stream: str, frame: int, source: int | Callable[[], int]) -> None:
        """The window lost the focus (or closes): the gap up to now counts, then nothing
        until the next input."""
        self.input(stream, frame, source)
        self._last = None

    @property
    def unsaved_s(self) -> float:
        return sum(s.seconds for s in self._open.values())

    def take(self) -> list[Spent]:
        """The time counted since the last take, per frame (frames with none left out)."""
        out = [s for s in self._open.values() if s.seconds > 0]
        self._open = {}
        return out
