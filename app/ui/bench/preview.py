"""The preview benchmark's Qt side (offscreen window, live source, recording, wizard);
``app/bench/preview.py`` registers it so that the bench package itself stays Qt-free.

Benchmark of the live preview: frames shown per second, GUI-thread stalls, and how
far the projected labels drawn are from the thermal frame under them.

Runs the real main window offscreen on the live synthetic rig (three views, overlays
on: the projected labels — RGB truth carried into the thermal view through depth and
the rig, on the overlay thread at a lower OS priority — and the ground-truth outline
over them) and measures what a person would see: how many FrameSets per second reach
the screen, the longest time the GUI thread was unavailable (the gap between two
ticks of its ~60 Hz timer), and, through :class:`OverlayLagProbe`, the time between
the labels' frame and the frame they are drawn on. It runs twice side by side: as the
window draws now (frames wait for their labels, :mod:`app.live.pacing`, labels on
every FrameSet) and, as the peer, as it drew before (the newest frame at once, labels
capped at 15/s and drawn on whatever frame is shown). A last figure feeds pre-rendered
full-size FrameSets straight into the window's display path, with no source, to show
how much headroom the drawing itself leaves.
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from app.bench import Result

#: Issue 21's targets: paced preview frames/s (labels on every frame), longest GUI
#: stall on a quiet machine, wizard board searches/s across the three cameras.
TARGET_FPS = 29.5
TARGET_STALL_MS = 50.0
TARGET_SEARCHES = 10.0


def _process_for(app, seconds: float, until=None) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()
        if until is not None and until():
            return True
        time.sleep(0.002)
    return until is None


class OverlayLagProbe:
    """What a person sees of the projected labels: at every change of the thermal view
    (a new frame, new overlays), how far in time the labels drawn are from the frame
    under them, weighted by how long that lasted; and how long each FrameSet took from
    capture to screen.

    It wraps the window's preview and capture slot in place, so it measures the window
    as it is (paced or not). An overlay's ``time`` (the timestamp of its FrameSet, set
    by the stage runner) is what it is compared by: FrameSet indices restart at a seek.
    """

    def __init__(self, window, stage: str = "projected"):
        self.stage = stage
        self._published: dict[int, float] = {}  # frameset index -> wall time captured
        self._shown = None
        self._drawn = None
        self._next: tuple = (None, None)  # (shown, drawn) once this GUI update returns
        self._commit_due = False
        self._since = time.perf_counter()
        self.spans: list[tuple[float, float]] = []  # (lag s or NaN if none drawn, seconds)
        self.delays: list[float] = []  # capture -> screen, seconds
        self._wrap(window)

    def _wrap(self, window) -> None:
        preview, slot = window.preview, window.live.worker.latest
        show_frameset, show_overlays, put = preview.show_frameset, preview.show_overlays, slot.put

        def probed_put(fs):
            self._published[fs.index] = time.perf_counter()
            return put(fs)

        def probed_show_frameset(fs):
            show_frameset(fs)
            published = self._published.get(fs.index)
            if published is not None:
                self.delays.append(time.perf_counter() - published)
            self._change(fs, self._next[1])

        def probed_show_overlays(results):
            show_overlays(results)
            o = results.get(self.stage)
            self._change(self._next[0], o if o is not None and o.rgba is not None else None)

        slot.put = probed_put
        preview.show_frameset, preview.show_overlays = probed_show_frameset, probed_show_overlays

    def _lag(self) -> float:
        if self._shown is None or self._drawn is None:
            return math.nan
        return self._shown.timestamp - self._drawn.time

    def current_lag(self) -> float:
        """Seconds between the frame shown now and the labels drawn over it (NaN: none)."""
        return self._lag()

    def _change(self, shown, drawn) -> None:
        """The view changed. A person sees the state at the end of the GUI update that
        changed it (a frame and its overlays are set in one tick and painted after it),
        so the change is committed once that update has returned: a new frame still
        under the previous frame's labels for a few microseconds is not a lag anyone saw."""
        from PySide6 import QtCore  # Qt loads only when a window is measured

        self._next = (shown, drawn)
        if not self._commit_due:
            self._commit_due = True
            QtCore.QTimer.singleShot(0, self._commit)

    def _commit(self) -> None:
        self._commit_due = False
        shown, drawn = self._next
        now = time.perf_counter()
        if self._shown is not None:
            self.spans.append((self._lag(), now - self._since))
        self._shown, self._drawn, self._since = shown, drawn, now

    def reset(self) -> None:
        self.spans.clear()
        self.delays.clear()
        self._since = time.perf_counter()

    def figures(self) -> dict[str, float]:
        """Lag median and p95 (ms, over the time labels were drawn), the share of the
        time labels were drawn, capture-to-screen delay median and p95 (ms)."""
        lags = np.array([lag for lag, _ in self.spans if math.isfinite(lag)])
        weights = np.array([w for lag, w in self.spans if math.isfinite(lag)])
        total = sum(w for _, w in self.spans)
        out = {"drawn_share": float(weights.sum() / total) if total else math.nan}
        for q in (50, 95):
            out[f"lag_p{q}_ms"] = 1e3 * _weighted_percentile(lags, weights, q)
            out[f"delay_p{q}_ms"] = (
                1e3 * float(np.percentile(self.delays, q)) if self.delays else math.nan
            )
        return out


def _weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    if not len(values) or weights.sum() <= 0:
        return math.nan
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cum, q / 100.0 * cum[-1])])


def _configure(window, paced: bool) -> str:
    """The window as it draws now (frames wait for their labels, which run on every
    FrameSet), or as it drew before (the newest frame at once, labels capped at 15/s
    and drawn whatever frame they came from)."""
    from app.live.pacing import FramePacer

    for info in window.live.registry.stages():
        if info.name == "projected":
            info.max_rate = None if paced else 15.0
    if paced:
        window.live.dispatch.pacer = FramePacer("projected")
        return "paced: frames wait for their labels (labels on every FrameSet)"
    window.live.dispatch.pacer = FramePacer("", tolerance=math.inf)
    return "unpaced (as before): newest frame at once, labels capped 15/s, drawn on any frame"


def _live(app, window, seconds: float, paced: bool, probe: OverlayLagProbe) -> list[Result]:
    thermal = window.preview.views["thermal"]
    if not _process_for(app, 180.0, lambda: thermal.frames_shown > 5):
        return [Result("preview", "live synthetic:cycling", float("nan"), "", note="no frames")]
    mode = _configure(window, paced)
    _process_for(app, 1.5)
    # The projected stage's first result comes a few seconds after the window opens
    # (its projector is built on the first frame): until labels of a recent frame are
    # drawn, the probe would time a start-up, not the mode (2.0-2.6 s lags for the
    # first 0.4 s made a 2.3 s p95 in an earlier run).
    _process_for(app, 20.0, lambda: probe.current_lag() < 0.25)
    shown0, t0 = window.preview.frames_displayed, time.perf_counter()
    window.live.dispatch.stall.reset()
    probe.reset()
    _process_for(app, seconds)
    elapsed = time.perf_counter() - t0
    fps = (window.preview.frames_displayed - shown0) / elapsed
    gaps = 1e3 * np.asarray(window.live.dispatch.stall.gaps)
    stages = [s for s in window.live.runner.stats() if s.enabled]
    _, stats = window.live.worker.stats.get()
    source = stats.set_rate if stats is not None else float("nan")
    lag = probe.figures()
    # The targets are the window's as it draws now (paced); the old way is the peer.
    fps_target = f"target >= {TARGET_FPS:g}" if paced else "the peer, no target"
    stall_target = f"target <= {TARGET_STALL_MS:g}" if paced else "the peer, no target"
    return [
        Result(
            "preview",
            f"{mode}: displayed frames/s, synthetic:cycling live {seconds:g} s, 3 views + "
            f"{len(stages)} overlays ({', '.join(s.name for s in stages)})",
            fps,
            "frames/s",
            note=f"source {source:.1f} FrameSets/s; {fps_target}; load average "
            f"{os.getloadavg()[0]:.1f}",
        ),
        Result(
            "preview",
            f"{mode}: projected labels vs the thermal frame under them, median (time-weighted)",
            lag["lag_p50_ms"],
            "ms",
            note=f"p95 {lag['lag_p95_ms']:.0f} ms; labels drawn {100 * lag['drawn_share']:.0f}%"
            f" of the time; capture to screen median {lag['delay_p50_ms']:.0f} ms,"
            f" p95 {lag['delay_p95_ms']:.0f} ms",
        ),
        Result(
            "preview",
            f"{mode}: longest GUI-thread stall (gap between 60 Hz ticks)",
            float(gaps.max()) if gaps.size else float("nan"),
            "ms",
            note=f"p99 {np.percentile(gaps, 99):.1f} ms, median {np.median(gaps):.1f} ms; "
            f"{stall_target}"
            if gaps.size
            else "",
        ),
    ] + [
        Result(
            "preview",
            f"{mode}: overlay stage '{stage.title}'",
            stage.rate,
            "results/s",
            note=f"{stage.busy_ms:.1f} ms compute, {stage.latency_ms:.0f} ms from FrameSet"
            + (f"; {stage.errors} errors: {stage.last_error}" if stage.errors else ""),
        )
        for stage in stages
    ]


def _recording(app, window, folder: Path, seconds: float, probe: OverlayLagProbe) -> list[Result]:
    """The same figures while the window records the live rig to disk (paced)."""
    window.record_panel.folder.setText(str(folder))
    window.record_panel.name.setText("bench.h5")
    if not window.start_recording():
        return []
    _process_for(app, 1.0)
    shown0, t0 = window.preview.frames_displayed, time.perf_counter()
    window.live.dispatch.stall.reset()
    probe.reset()
    _process_for(app, seconds)
    lag = probe.figures()
    fps = (window.preview.frames_displayed - shown0) / (time.perf_counter() - t0)
    gaps = 1e3 * np.asarray(window.live.dispatch.stall.gaps)
    window.stop_recording()
    _process_for(app, 60.0, lambda: window.live.last_recording is not None)
    status = window.live.last_recording
    note = "recording did not finish"
    if status is not None:
        note = (
            f"{status.total_frames} frames, {status.total_dropped} dropped, "
            f"{status.bytes_on_disk / 1e6:.0f} MB; max GUI stall {gaps.max():.1f} ms, "
            f"p99 {np.percentile(gaps, 99):.1f} ms; labels vs frame median "
            f"{lag['lag_p50_ms']:.0f} ms, p95 {lag['lag_p95_ms']:.0f} ms, drawn "
            f"{100 * lag['drawn_share']:.0f}% of the time"
        )
    return [
        Result(
            "preview",
            f"displayed frames/s while recording {seconds:g} s (blosc2-lz4)",
            fps,
            "frames/s",
            note=note,
        )
    ]


def _wizard(app, window, seconds: float) -> list[Result]:
    """The calibration wizard live on the synthetic calibration scene: how often the
    board is searched (every FrameSet searched to the end counts, whether or not the
    board was in view) and what it costs the GUI thread."""
    window.open_source("synthetic:calibration")
    wizard = window.open_calibration_wizard()
    thermal = window.preview.views["thermal"]
    if not _process_for(app, 180.0, lambda: thermal.frames_shown > 5 and wizard.live is not None):
        return [Result("preview", "calibration wizard", float("nan"), "", note="no frames")]
    _process_for(app, 2.0)
    shown0, t0 = window.preview.frames_displayed, time.perf_counter()
    searched0, cpu0 = wizard.worker.searches, wizard.worker.cpu_ms
    window.live.dispatch.stall.reset()
    _process_for(app, seconds)
    elapsed = time.perf_counter() - t0
    fps = (window.preview.frames_displayed - shown0) / elapsed
    gaps = 1e3 * np.asarray(window.live.dispatch.stall.gaps)
    # Over the whole run: the worker's own meter covers only the last 2 s, which a pose
    # capture (a full-resolution search, ~0.3 s) in them pulls down by a third.
    rate = (wizard.worker.searches - searched0) / elapsed
    busy, poses = wizard.worker.busy_ms, len(wizard.live.poses)
    searched = wizard.worker.searches - searched0
    cpu = (wizard.worker.cpu_ms - cpu0) / max(searched, 1)
    wizard.close()
    load = os.getloadavg()[0]
    return [
        Result(
            "preview",
            f"calibration wizard: board searches/s (3 cameras, with or without a board in "
            f"view), synthetic:calibration live {seconds:g} s",
            rate,
            "searches/s",
            note=f"target >= {TARGET_SEARCHES:g}; {busy:.0f} ms each, {cpu:.0f} ms of CPU "
            f"({1e3 / max(cpu, 1e-3):.0f}/s on a free core); {poses} poses captured "
            f"(each searched in full in the background); load average {load:.1f}",
        ),
        Result(
            "preview",
            "calibration wizard open: longest GUI-thread stall (gap between 60 Hz ticks)",
            float(gaps.max()) if gaps.size else float("nan"),
            "ms",
            note=f"target <= {TARGET_STALL_MS:g} on a quiet machine; p99 "
            f"{np.percentile(gaps, 99):.1f} ms; preview {fps:.1f} frames/s (the live "
            f"calibration scene renders every move frame, no phase cache)"
            if gaps.size
            else "",
        ),
    ]


def _display_path(app, window, frames: int) -> Result:
    from app.live.capture import CaptureWorker, SourceOpened
    from drivers.base import SourceInfo
    from drivers.types import Frame, FrameSet, StreamSpec, celsius_to_centikelvin

    specs = {
        "thermal": StreamSpec("thermal", "thermal", (512, 640), "uint16", "centikelvin", 30.0),
        "depth": StreamSpec("depth", "depth", (480, 640), "uint16", "depth_units", 30.0, 0.001),
        "color": StreamSpec("color", "color", (720, 1280, 3), "uint8", "rgb", 30.0),
    }
    rng = np.random.default_rng(0)
    sets = []
    for i in range(8):
        thermal = celsius_to_centikelvin(rng.normal(30.0, 3.0, (512, 640)))
        labels = (rng.random((512, 640)) < 0.2).astype(np.uint8)
        depth = rng.integers(0, 3000, (480, 640), dtype=np.uint16)
        color = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)
        frames_ = {
            "thermal": Frame("thermal", i, i / 30, thermal, truth={"labels": labels}),
            "depth": Frame("depth", i, i / 30, depth),
            "color": Frame("color", i, i / 30, color),
        }
        sets.append(FrameSet(i, i / 30, "thermal", frames_))
    worker = CaptureWorker(lambda: None, "bench")
    worker.events.put(SourceOpened("bench", specs, SourceInfo(spec="bench")))
    window.live.attach_worker(worker)  # the window stays; its source is replaced

    def show(i: int) -> None:
        worker.latest.put(sets[i % len(sets)])
        window.live.runner.submit(sets[i % len(sets)])
        window.tick()
        app.processEvents()

    for i in range(30):
        show(i)
    # Until the projected stage says it is off (no rig): before that, frames would wait
    # for its labels, and this figure is about drawing, not waiting.
    _process_for(app, 10.0, lambda: "projected" in window.live.runner.results())
    for i in range(30):
        show(i)
    t0 = time.perf_counter()
    for i in range(frames):
        show(i)
    ms = 1e3 * (time.perf_counter() - t0) / frames
    return Result(
        "preview",
        "display path alone: tick + paint, pre-rendered 640x512/640x480/1280x720 sets"
        " (no rig: the projected overlay is off, the truth outline is drawn)",
        ms,
        "ms/frame",
        note=f"{1e3 / ms:.0f} frames/s possible",
    )


def run_preview_bench(quick: bool) -> list[Result]:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6 import QtCore

    from app.ui.app import make_app
    from app.ui.main.window import MainWindow

    app = make_app()
    with tempfile.TemporaryDirectory() as tmp:
        settings = QtCore.QSettings(str(Path(tmp) / "bench.ini"), QtCore.QSettings.Format.IniFormat)
        window = MainWindow("synthetic:cycling", settings=settings)
        # The rig check (a few seconds of CPU once per source) would land in one mode's
        # window and not the other's: the bench times the preview alone.
        window.live.rig_watch.enabled = False
        for action in window.overlay_menu.actions():
            # Projected labels (the default) and the truth outline over them; models off.
            action.setChecked(action.objectName() in ("overlay-projected", "overlay-truth"))
        window.resize(1440, 900)
        window.show()
        try:
            probe = OverlayLagProbe(window)
            live = 5.0 if quick else 15.0
            results = _live(app, window, live, paced=False, probe=probe)  # the peer: as before
            results += _live(app, window, live, paced=True, probe=probe)
            results += _recording(app, window, Path(tmp), 3.0 if quick else 8.0, probe)
            results += _wizard(app, window, 6.0 if quick else 20.0)
            results.append(_display_path(app, window, 150 if quick else 600))
        finally:
            window.dispose()
            window.deleteLater()
            app.processEvents()
    return results
