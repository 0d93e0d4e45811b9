"""The main window's hand-over of frames and overlays to the preview, once per tick.

A mixin of :class:`~app.ui.main.window.MainWindow` (it uses the window's capture
worker, stage runner, registry, preview and replay bar); kept apart so each module
stays short. A :class:`~app.live.pacing.FramePacer` decides which FrameSet to draw —
held back until its projected labels arrive, so that they are drawn on the frame they
were computed from — and which overlays are near enough in time to that frame.
"""

from __future__ import annotations

from app.live.capture import CaptureWorker
from app.live.pacing import FramePacer, draws_on_image


class FrameDispatchMixin:
    """Draws the frame the pacer says is due and the overlays that belong to it."""

    pacer: FramePacer

    def _dispatch(self, worker: CaptureWorker) -> None:
        pacer = self.pacer
        if getattr(self, "_paced_worker", None) is not worker:
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
        pacing = info is not None and info.enabled and (paced is None or draws_on_image(paced))
        shown = pacer.next_frame(paced, pacing)
        if shown is not None:
            self.preview.show_frameset(shown)
            self.display_rate.tick()
            if self.replay_bar.info is not None and shown.pivot in shown.frames:
                row = self.replay_bar.info.row_of(shown.frames[shown.pivot].index)
                self.replay_bar.show_position(row)
        if (shown is not None and pacer.filters) or version != self._overlay_version:
            self._overlay_version = version
            # A stage capped at r results/s is expected to be up to 1/r s old.
            allowance = {n: 1.0 / s.max_rate for n, s in stages.items() if s.max_rate}
            self.preview.show_overlays(pacer.overlays(results, allowance))
