"""The live preview without a window: one object that owns a source and all it feeds.

A :class:`LiveController` holds the source spec and its options, the capture worker
that reads the source, the overlay stages and the thread that runs them, the frame
pacer, the rig in force, the extra frame sinks (the calibration wizard's board
search), recording and replay. The main window builds widgets, forwards what the
person does to the controller, and once per timer tick draws what :meth:`poll` hands
back: the events to show, the FrameSet due now, the overlays to draw with it and, four
times a second, the figures. The calibration wizard talks to the same controller.

Nothing here imports Qt, so all of it is tested without a window. A request the
controller refuses (a source switch while recording, a rig that does not fit) returns
a :class:`~app.live.events.Problem` — a title and one line — and the window decides how
to show it; problems found later (a new source that the person's rig does not fit)
come out of :meth:`poll` as events.
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.live.builtin_stages import register_builtin_stages
from app.live.capture import CaptureWorker
from app.live.events import (
    Problem,
    RecordingFailed,
    RecordingFinished,
    ReplayInfo,
    RigChanged,
    SourceEnded,
    SourceFailed,
    SourceOpened,
    SourceOpening,
)
from app.live.frame_dispatch import FrameDispatch, LiveUpdate
from app.live.rig_watch import RigWatch
from app.live.stages import Stage, StageRegistry, StageRunner
from calibration.rig import Rig
from calibration.rig_points import RigPoints
from calibration.rig_streams import rig_problem, source_rig
from calibration.rig_yaml import load_rig
from drivers.base import Driver, SourceInfo
from drivers.errors import ThermorigError
from drivers.recording import RecordingRequest, RecordingStatus
from drivers.session import SessionReader
from drivers.session_state import NEEDS_REPAIR, repair_advice, session_state
from drivers.sources import open_source, parse_spec
from drivers.types import FrameSet, StreamSpec

Sink = Callable[[FrameSet], None]


@dataclass(frozen=True)
class SourceBookmark:
    """Where the preview was: its source, and for a replay the row shown and whether
    it played — what a tool that borrows the preview (the calibration wizard's
    calibration scene) puts back when it is done."""

    spec: str
    row: int | None = None
    playing: bool = True


class LiveController:
    """The live preview's state and threads; see the module docstring.

    ``source_options`` maps a scheme to keyword options for ``opener`` (by default
    :func:`~drivers.sources.open_source`; tests give small synthetic images or a fake
    driver). ``clock`` times the figures' interval.
    """

    def __init__(
        self,
        source_options: dict[str, dict[str, Any]] | None = None,
        *,
        opener: Callable[..., Driver] = open_source,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.source_options = dict(source_options or {})
        self._opener = opener
        self.spec = ""
        self.streams: dict[str, StreamSpec] = {}
        self.info: SourceInfo | None = None
        self.replay: ReplayInfo | None = None
        self.worker: CaptureWorker | None = None
        #: The rig the person chose (a file, the wizard), and where it came from.
        self.user_rig: Rig | None = None
        self.user_rig_origin = ""
        #: The rig in force: the person's if it fits the streams, else the source's.
        self.rig: Rig | None = None
        self.rig_origin = ""
        #: From a request to record until the worker says the recording is over.
        self.recording = False
        self.last_recording: RecordingStatus | None = None
        self._delivering = False  # see can_record
        self.registry = StageRegistry()
        self.projected = register_builtin_stages(self.registry)
        self.runner = StageRunner(self.registry)
        self.runner.start()
        #: Which FrameSet and overlays each poll hands out; the stall meter.
        self.dispatch = FrameDispatch(self.registry, self.runner, clock)
        self._sinks: tuple[Sink, ...] = ()
        #: The targetless rig check on the first seconds of each source with a rig.
        self.rig_watch = RigWatch()
        self._pending: list[Any] = []
        self._markers = 0
        self._open_paused = False  # the source being opened starts paused (restore)
        self._points: RigPoints | None = None  # of the rig in force, made on first hover
        self._disposed = False

    # -- sources ----------------------------------------------------------------------
    def open_source(self, spec: str) -> Problem | None:
        """Switch to ``spec``; a session file is checked first so that a bad one keeps
        the current source running. A Problem if refused."""
        if self.recording:
            return Problem("Recording", "stop the recording before switching sources")
        notice = ""
        try:
            scheme, arg = parse_spec(spec)
            if scheme == "replay":
                SessionReader(arg).close()
                if session_state(arg) == NEEDS_REPAIR:  # it replays; other programs refuse it
                    notice = repair_advice(arg)
        except ThermorigError as exc:
            return Problem("Cannot open source", str(exc))
        self.close_source()
        self.projected.set_rig(None, {})  # until the new source says what it delivers
        self.spec, self.streams, self.info, self.replay = spec, {}, None, None
        self._open_paused = False
        self._delivering = False
        self._pending.append(SourceOpening(spec, scheme, notice))
        options, opener = self.source_options.get(scheme, {}), self._opener
        self.worker = CaptureWorker(
            lambda: opener(spec, **options), spec, sinks=(self.runner.submit, self._fan_out)
        )
        self.worker.start()
        self.dispatch.new_source()
        return None

    def bookmark(self) -> SourceBookmark:
        """The source now, and for a replay the row shown and whether it plays."""
        row, playing = None, True
        shown = self.dispatch.pacer.shown
        if self.replay is not None and shown is not None and shown.pivot in shown.frames:
            row = self.replay.row_of(shown.frames[shown.pivot].index)
        if self.worker is not None:
            stats = self.worker.stats.get()[1]
            playing = stats is None or stats.playing
        return SourceBookmark(self.spec, row, playing)

    def restore(self, mark: SourceBookmark) -> Problem | None:
        """Open ``mark``'s source again; a replay goes back to its row, paused if it
        was (the commands wait in the worker's queue until the file is open)."""
        problem = self.open_source(mark.spec)
        if problem is None and mark.row is not None:
            if not mark.playing:
                self.play(False)
                self._open_paused = True
            self.seek(mark.row)
        return problem

    def attach_worker(self, worker: CaptureWorker) -> None:
        """Read from ``worker`` from now on (started by whoever made it: the bench and
        the tests feed an unstarted one by hand); the current source is closed first."""
        self.close_source()
        self.worker = worker
        self.dispatch.new_source()

    def close_source(self) -> None:
        """Stop the capture worker (any recording finishes first) and forget overlays."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
            self.recording = False
        self.rig_watch.restart(None, {})
        self.runner.clear()
        self.dispatch.redraw_overlays()

    # -- the rig ----------------------------------------------------------------------
    def load_rig_file(self, path: str | Path) -> Problem | None:
        """Use the rig in ``path`` from now on, if it reads and fits the streams."""
        try:
            rig = load_rig(path)
        except ThermorigError as exc:
            return Problem("Cannot load rig", str(exc))
        return self.use_rig(rig, f"file {Path(path).name}")

    def use_rig(self, rig: Rig, origin: str) -> Problem | None:
        """Use ``rig`` (from a file, or just calibrated) from now on, if it fits the
        streams; the projected overlay is rebuilt with it."""
        if self.streams:
            problem = rig_problem(rig, self.streams)
            if problem:
                return Problem("Rig does not fit", f"{origin}: {problem}")
        self.user_rig, self.user_rig_origin = rig, origin
        if self.streams:
            self._pending += self._apply_rig()
        else:  # nothing to project yet, but the person sees which rig will be used
            text = f"{origin} · {len(rig.cameras)} cameras (used once a source opens)"
            self._pending.append(RigChanged(None, origin, text))
        return None

    @property
    def rig_text(self) -> str:
        """The rig in force in a few words: where it came from, how many cameras."""
        if self.rig is None:
            return "none (load a rig file)"
        return f"{self.rig_origin} · {len(self.rig.cameras)} cameras"

    def _apply_rig(self) -> list[Any]:
        """Put the person's rig (if it fits the streams) or the source's in force."""
        events: list[Any] = []
        if self.user_rig is not None:
            problem = rig_problem(self.user_rig, self.streams)
            if problem is None:
                self.rig, self.rig_origin = self.user_rig, self.user_rig_origin
            else:
                events.append(Problem("Rig does not fit", f"{self.user_rig_origin}: {problem}"))
                self.user_rig = None
        if self.user_rig is None:
            try:
                self.rig, self.rig_origin = source_rig(self.info)
            except ThermorigError as exc:
                self.rig, self.rig_origin = None, ""
                events.append(Problem("Rig", f"the source's rig cannot be used: {exc}"))
        self.projected.set_rig(self.rig, self.streams)
        self.rig_watch.restart(self.rig, self.streams)
        self.dispatch.redraw_overlays()
        return [*events, RigChanged(self.rig, self.rig_origin, self.rig_text)]

    # -- overlays ---------------------------------------------------------------------
    def add_overlay(
        self,
        name: str,
        stage: Stage,
        title: str,
        enabled: bool = True,
        max_rate: float | None = None,
    ) -> None:
        """Register an overlay stage (``FrameSet -> Overlay | None``, run off the GUI
        thread, latest-wins, at most ``max_rate`` results per second); a second call
        with the same name replaces the stage."""
        self.registry.register(name, stage, title=title, enabled=enabled, max_rate=max_rate)

    def set_overlay_enabled(self, name: str, enabled: bool) -> None:
        self.registry.set_enabled(name, enabled)
        self.dispatch.redraw_overlays()  # redraw overlays on the next poll

    def pause_projection(self, why: str) -> None:
        """Pause the projected labels, saying ``why`` on the view ("" resumes): they
        yield the CPU to another tool (the calibration wizard's board search)."""
        self.projected.paused = why

    # -- frame sinks ------------------------------------------------------------------
    @property
    def frame_sinks(self) -> tuple[Sink, ...]:
        """Extra consumers of every FrameSet (the calibration wizard's detector)."""
        return self._sinks

    def add_frame_sink(self, sink: Sink) -> None:
        """Call ``sink`` with every FrameSet, on the capture thread: it must return at
        once (e.g. put the set in a latest-wins slot)."""
        self._sinks = (*self._sinks, sink)  # swapped whole: the capture thread reads it

    def remove_frame_sink(self, sink: Sink) -> None:
        self._sinks = tuple(s for s in self._sinks if s != sink)

    def _fan_out(self, fs: FrameSet) -> None:
        """The capture worker's sink for :attr:`frame_sinks` (runs on its thread)."""
        self.rig_watch.sink(fs)
        for sink in self._sinks:
            sink(fs)

    # -- recording --------------------------------------------------------------------
    def start_recording(
        self, request: RecordingRequest | Callable[[], RecordingRequest]
    ) -> Problem | None:
        """Record the source (``request``, or a function making it that may raise
        ThermorigError, called once a source delivers); a Problem if refused."""
        if self.worker is None or not self.streams:
            return Problem("Nothing to record", "no source is delivering frames")
        try:
            req = request() if callable(request) else request
        except ThermorigError as exc:
            return Problem("Cannot record", str(exc))
        if self.user_rig is not None and self.rig is self.user_rig:
            req.rig = self.user_rig.to_dict()
        self._markers = 0
        self.worker.start_recording(req)
        self.recording = True
        return None

    @property
    def can_record(self) -> bool:
        """A source delivers frames (or, a replay that ended, can again after a seek):
        the moment a Record button means something. False while opening, after a
        failure, and after a live source ended."""
        return self.worker is not None and bool(self.streams) and self._delivering

    def stop_recording(self) -> bool:
        """Ask the recording to finish (every queued frame is written); False if none."""
        if self.worker is None or not self.recording:
            return False
        self.worker.stop_recording()
        return True

    def mark(self) -> str | None:
        """An event marker at the newest frame's time in the recording; its text, or
        None when nothing is recording."""
        if self.worker is None or not self.recording:
            return None
        self._markers += 1
        text = f"marker {self._markers}"
        self.worker.mark(text)
        return text

    # -- replay -----------------------------------------------------------------------
    def play(self, playing: bool = True) -> None:
        if self.worker is not None:
            (self.worker.play if playing else self.worker.pause)()

    def step(self) -> None:
        if self.worker is not None:
            self.worker.step()

    def step_back(self) -> None:
        """Pause on the FrameSet before the one shown last."""
        if self.worker is not None:
            self.worker.step_back()

    def seek(self, row: int) -> None:
        if self.worker is not None:
            self.worker.seek(row)

    def set_speed(self, speed: float) -> None:
        if self.worker is not None:
            self.worker.set_speed(speed)

    def set_loop(self, loop: bool) -> None:
        if self.worker is not None:
            self.worker.set_loop(loop)

    # -- the cursor -------------------------------------------------------------------
    def cursor_points(
        self, stream: str, x: float, y: float, depth: np.ndarray | None, views: tuple[str, ...]
    ) -> tuple[dict[str, tuple[float, float]], str]:
        """Where the hovered pixel's 3-D point lies in the other ``views``, and its range.

        Depth at the cursor comes from the depth frame shown (``depth``, depth view) or
        from the newest projection's depth rendered into the thermal camera (thermal
        view); the RGB view has no depth of its own, so it gets no mark.
        """
        rig = self.rig
        if rig is None:
            return {}, ""
        z = 0.0
        if stream == "depth":
            spec = self.streams.get("depth")
            if depth is not None and spec is not None and spec.depth_scale:
                z = float(depth[int(y), int(x)]) * spec.depth_scale
        elif stream == self.projected.dst:
            last = self.projected.last
            if last is not None and last.rig is rig:
                rendered = last.transfer.depth
                if 0 <= int(y) < rendered.shape[0] and 0 <= int(x) < rendered.shape[1]:
                    z = float(rendered[int(y), int(x)])
        if not z > 0:
            return {}, ""
        if self._points is None or self._points.rig is not rig:
            self._points = RigPoints(rig)
        return self._points.others(stream, x, y, z, views), f"z {z:.3f} m"

    # -- the loop ---------------------------------------------------------------------
    def take_events(self) -> list[Any]:
        """Every event since the last call, in order: the controller's own and the
        capture worker's, with what each one changed here already done."""
        events, self._pending = self._pending, []
        worker = self.worker
        while worker is not None:
            try:
                event = worker.events.get_nowait()
            except queue.Empty:
                break
            events.append(event)
            if isinstance(event, SourceOpened):
                self.streams, self.info, self.replay = event.streams, event.info, event.replay
                event.playing = not (self._open_paused and event.replay is not None)
                self._delivering = True
                events += self._apply_rig()
            elif isinstance(event, (SourceFailed, SourceEnded)):
                self._delivering = isinstance(event, SourceEnded) and self.replay is not None
            elif isinstance(event, (RecordingFinished, RecordingFailed)):
                self.recording = False
                self.last_recording = event.status
        verdict = self.rig_watch.take()
        return events if verdict is None else [*events, verdict]

    def poll(self) -> LiveUpdate:
        """One GUI tick: events, the FrameSet due now (the pacer holds each one until
        its projected labels arrive), the overlays to draw with it, and the figures
        every :data:`~app.live.frame_dispatch.STATS_INTERVAL_S`. Call it from a steady
        timer: the gaps between calls are the stall meter's."""
        self.dispatch.tick()
        update = LiveUpdate(self.take_events())
        worker = self.worker
        if worker is None:
            return update
        self.dispatch.draw(worker, self.replay, update)
        if self.dispatch.figures_due():
            update.figures = self.dispatch.figures(worker, self.replay)
        return update

    # -- shutdown ---------------------------------------------------------------------
    @property
    def disposed(self) -> bool:
        return self._disposed

    def dispose(self) -> None:
        """Finish any recording, stop the capture, overlay and labeler threads."""
        if self._disposed:
            return
        self._disposed = True
        self.close_source()
        self.runner.stop()
        self.projected.stop()
