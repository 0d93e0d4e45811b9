"""What the window draws on each tick: the FrameSet due now, its overlays, the figures.

A :class:`~app.live.pacing.FramePacer` decides which FrameSet to draw — held back until
its projected labels arrive, so that they are drawn on the frame they were computed
from — and which overlays are near enough in time to that frame. Overlays are handed
out again only when they changed (or, pacing, with every frame). The gaps between two
ticks are the stall meter's: the time the GUI thread was busy elsewhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from app.live.capture import CaptureWorker
from app.live.events import CaptureStats, ReplayInfo
from app.live.pacing import FramePacer, draws_on_image
from app.live.stages import Overlay, RateMeter, StageRegistry, StageRunner, StageStats, StallMeter
from drivers.types import FrameSet

#: How often the figures are handed out (seconds).
STATS_INTERVAL_S = 0.25


@dataclass
class LiveFigures:
    """What the status panel shows, ~4 times a second."""

    capture: CaptureStats | None
    stages: list[StageStats]
    display_rate: float  # FrameSets handed out to be drawn per second
    longest_stall_ms: float  # longest gap between two ticks since the first frame
    state: str = ""  # "live", "playing", "paused", "ended"; "" before any figures


@dataclass
class LiveUpdate:
    """What one tick hands the window, in drawing order."""

    events: list[Any] = field(default_factory=list)
    frameset: FrameSet | None = None  # draw this now (None: keep the one shown)
    replay_row: int | None = None  # the replay slider's row of ``frameset``
    overlays: dict[str, Overlay] | None = None  # draw these now (None: unchanged)
    figures: LiveFigures | None = None


class FrameDispatch:
    """Per tick: :meth:`tick` first, then :meth:`draw` with the source's worker, then
    :meth:`figures` when :meth:`figures_due`."""

    def __init__(
        self,
        registry: StageRegistry,
        runner: StageRunner,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.registry = registry
        self.runner = runner
        self.pacer = FramePacer("projected")  # frames wait (briefly) for their labels
        self._hold_s = self.pacer.max_hold_s
        self.stall = StallMeter()
        self.display_rate = RateMeter()
        self._clock = clock
        self._seen = 0
        self._paced_worker: CaptureWorker | None = None
        self._overlay_version = -1
        self._stats_at = clock()

    def tick(self) -> None:
        self.stall.tick()

    def new_source(self) -> None:
        """A new capture worker: its first FrameSet ends the opening (no stall)."""
        self._seen = 0

    def redraw_overlays(self) -> None:
        """Hand the overlays out on the next tick even if none changed."""
        self._overlay_version = -1

    def draw(self, worker: CaptureWorker, replay: ReplayInfo | None, update: LiveUpdate) -> None:
        """Fill in ``update``'s FrameSet, replay row and overlays."""
        pacer = self.pacer
        if self._paced_worker is not worker:
            pacer.reset()  # a new source: nothing of the old one may be drawn
            self._paced_worker = worker
        seq, fs = worker.latest.get_newer(self._seen)
        if fs is not None:
            if self._seen == 0:
                self.stall.reset()  # opening a source and the first layout are not a stall
            self._seen = seq
            pacer.offer(fs)
        version = self.runner.version  # read first: a result landing meanwhile redraws next
        results = self.runner.results()
        stages = {s.name: s for s in self.registry.stages()}
        paced, info = results.get(pacer.pace), stages.get(pacer.pace)
        # A labeler on its own thread labels a frame once its next result is in: hold longer.
        pacer.max_hold_s = (getattr(info.stage, "hold_s", None) if info else None) or self._hold_s
        pacing = info is not None and info.enabled and (paced is None or draws_on_image(paced))
        shown = pacer.next_frame(paced, pacing)
        if shown is not None:
            update.frameset = shown
            self.display_rate.tick()
            if replay is not None and shown.pivot in shown.frames:
                update.replay_row = replay.row_of(shown.frames[shown.pivot].index)
        if (shown is not None and pacer.filters) or version != self._overlay_version:
            self._overlay_version = version
            # A stage capped at r results/s is expected to be up to 1/r s old.
            allowance = {n: 1.0 / s.max_rate for n, s in stages.items() if s.max_rate}
            update.overlays = pacer.overlays(results, allowance)

    def figures_due(self) -> bool:
        now = self._clock()
        if now - self._stats_at < STATS_INTERVAL_S:
            return False
        self._stats_at = now
        return True

    def figures(self, worker: CaptureWorker, replay: ReplayInfo | None) -> LiveFigures:
        _, stats = worker.stats.get()
        state = ""
        if stats is not None:
            state = "ended" if stats.ended else "playing" if stats.playing else "paused"
            if replay is None and not stats.ended:
                state = "live"
        stages = self.runner.stats()
        for info in self.registry.stages():  # a stage's own worker (a threaded labeler)
            own = getattr(info.stage, "labeler_stats", None)
            if info.enabled and own is not None and (row := own()) is not None:
                stages.append(row)
        return LiveFigures(stats, stages, self.display_rate.rate, 1e3 * self.stall.longest, state)
