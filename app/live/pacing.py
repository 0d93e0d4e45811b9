"""Which FrameSet the preview draws, and which overlays are drawn with it.

Overlays are computed on a worker from FrameSets the window has already received, so
each one arrives some milliseconds after its frame. Drawn on whatever frame is newest,
a label overlay sits where a moving leg *was*: measured before this module, the
projected labels were drawn about 70 ms behind the thermal frame under them.

The pacer holds each new FrameSet back until the *paced* overlay (the projected labels)
computed from it has arrived, for at most ``max_hold_s``, and shows it together with
that overlay. Every other overlay is drawn only on a frame within ``tolerance`` frame
periods of the one it came from (plus, for a stage capped at ``r`` results per second,
the ``1/r`` s it is expected to age); one further off is left out and its note says
how far. So the display runs a few milliseconds late (the paced stage's latency) but
never shows labels on the wrong frame, and every frame still reaches the screen.

Holding pays only while the paced stage keeps up with the frames. When fewer than
``min_coverage`` of the recent frames got their paced overlay within ``max_hold_s``
(a loaded machine, a rate cap), the pacer stops holding and shows each frame at once
(its overlays still only where near enough in time), and holds again once the stage
covers the frames again.

Frames are told apart by index *and* timestamp: FrameSet indices restart when a replay
seeks, and an overlay from before a seek must never match a frame after it.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

from app.live.stages import Overlay
from drivers.types import FrameSet

#: Frame period assumed until the frames' own timestamps tell it (seconds).
DEFAULT_PERIOD = 1.0 / 30.0
#: FrameSets kept waiting at most (older ones are dropped unseen): 0.4 s at 30/s, the
#: longest hold (a labeler on its own thread, app.live.labeler_worker.MAX_HOLD_S).
MAX_PENDING = 12


def same_frame(overlay: Overlay, fs: FrameSet) -> bool:
    """Whether ``overlay`` was computed from ``fs`` (index and timestamp both agree)."""
    return overlay.frameset == fs.index and overlay.time == fs.timestamp


def draws_on_image(overlay: Overlay) -> bool:
    """A mask, a rendered layer or points: something that must match its frame."""
    return overlay.rgba is not None or overlay.labels is not None or overlay.points is not None


@dataclass
class _Offered:
    """A FrameSet as it arrived: when, and whether its paced overlay came in time."""

    fs: FrameSet
    arrived: float
    covered: bool = False


class FramePacer:
    """Holds FrameSets for their paced overlay; see the module docstring.

    Per GUI tick: :meth:`offer` each new FrameSet, then :meth:`next_frame` says which
    one to draw (if any) and :meth:`overlays` which overlays go on it.
    """

    def __init__(
        self,
        pace: str = "projected",
        *,
        max_hold_s: float = 0.1,
        tolerance: float = 1.5,
        min_coverage: float = 0.6,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.pace = pace
        self.max_hold_s = max_hold_s
        self.tolerance = tolerance
        self.min_coverage = min_coverage
        self._clock = clock
        self._pending: deque[_Offered] = deque()
        self._recent: deque[_Offered] = deque(maxlen=30)  # offered, for coverage
        self._diffs: deque[float] = deque(maxlen=30)
        self._last_time: float | None = None
        #: Whether frames are held for their paced overlay now (see module docstring).
        self.holding = True
        #: The FrameSet drawn last, and how long each drawn one waited (seconds).
        self.shown: FrameSet | None = None
        self.waits: deque[float] = deque(maxlen=4096)

    @property
    def filters(self) -> bool:
        """Whether which overlays are drawn depends on the frame shown (a finite
        tolerance): then they are redrawn with every frame, not only when they change."""
        return math.isfinite(self.tolerance)

    def reset(self) -> None:
        """Forget every frame (a new source)."""
        self._pending.clear()
        self._recent.clear()
        self._diffs.clear()
        self._last_time = None
        self.holding = True
        self.shown = None

    @property
    def period(self) -> float:
        """The frames' period (median spacing of their timestamps), in seconds."""
        if not self._diffs:
            return DEFAULT_PERIOD
        return sorted(self._diffs)[len(self._diffs) // 2]

    @property
    def coverage(self) -> float:
        """Share of recent frames whose paced overlay arrived within ``max_hold_s``
        (NaN until some frames have waited that long)."""
        now = self._clock()
        done = [o for o in self._recent if o.covered or now - o.arrived > self.max_hold_s]
        return sum(o.covered for o in done) / len(done) if done else math.nan

    def offer(self, fs: FrameSet) -> None:
        """A FrameSet the window just received."""
        if self._pending and self._pending[-1].fs is fs:
            return
        if self._last_time is not None and 0.0 < fs.timestamp - self._last_time < 1.0:
            self._diffs.append(fs.timestamp - self._last_time)
        self._last_time = fs.timestamp
        item = _Offered(fs, self._clock())
        self._pending.append(item)
        self._recent.append(item)
        while len(self._pending) > MAX_PENDING:
            self._pending.popleft()

    def next_frame(self, paced: Overlay | None, pacing: bool) -> FrameSet | None:
        """The FrameSet to draw now, or None (keep the one shown).

        ``paced`` is the paced stage's newest result; ``pacing`` says whether that stage
        is on and making overlays (not just a note saying why it is off). While holding,
        frames are drawn in order, one per call: the oldest waiting one as soon as its
        labels are in — or as soon as a newer frame's are (the stage skipped it, latest
        wins, and never goes back) — or once it has waited ``max_hold_s``. Frames that
        waited twice that long are dropped (the window fell behind), the newest never.
        """
        now = self._clock()
        if not pacing:
            self._recent.clear()  # coverage counts only while the stage makes overlays
            self.holding = True
        elif paced is not None:
            for item in self._recent:
                if not item.covered and same_frame(paced, item.fs):
                    item.covered = now - item.arrived <= self.max_hold_s
        self._update_holding()
        if not self._pending:
            return None
        if not (pacing and self.holding):
            return self._take(len(self._pending) - 1, now)
        while len(self._pending) > 1 and now - self._pending[0].arrived >= 2 * self.max_hold_s:
            self._pending.popleft()
        labelled = paced is not None and any(same_frame(paced, i.fs) for i in self._pending)
        if labelled or now - self._pending[0].arrived >= self.max_hold_s:
            return self._take(0, now)
        return None

    def _take(self, i: int, now: float) -> FrameSet:
        """Draw pending frame ``i``; any older ones are dropped unseen."""
        item = self._pending[i]
        for _ in range(i + 1):
            self._pending.popleft()
        self.waits.append(now - item.arrived)
        self.shown = item.fs
        return item.fs

    def _update_holding(self) -> None:
        coverage = self.coverage
        if math.isnan(coverage):
            return
        if self.holding and coverage < self.min_coverage:
            self.holding = False
        elif not self.holding and coverage >= min(1.0, self.min_coverage + 0.2):
            self.holding = True

    def overlays(
        self, results: dict[str, Overlay], allowance_s: dict[str, float] | None = None
    ) -> dict[str, Overlay]:
        """``results`` for the shown frame: an overlay drawn on the image that is more
        than ``tolerance`` periods (plus its stage's ``allowance_s``) away from the
        shown frame in time is replaced by its note alone, saying how far it is."""
        shown = self.shown
        if shown is None:
            return results
        allowance_s = allowance_s or {}
        out: dict[str, Overlay] = {}
        base = self.tolerance * self.period  # a sort of the recent spacings: once a tick
        for name, o in results.items():
            gap = shown.timestamp - o.time
            limit = base + allowance_s.get(name, 0.0)
            if not draws_on_image(o) or not math.isfinite(o.time) or abs(gap) <= limit:
                out[name] = o
                continue
            note = f"{o.note} — " if o.note else ""
            note += f"not drawn: computed {1e3 * abs(gap):.0f} ms from this frame"
            out[name] = replace(o, labels=None, rgba=None, points=None, note=note)
        return out
