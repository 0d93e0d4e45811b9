"""The main window: live preview of the rig, sources and replay, recording, status.

The window holds no pixels of its own and does no capture work: a
:class:`~app.live.capture.CaptureWorker` thread owns the source, a
:class:`~app.live.stages.StageRunner` thread computes overlays, and a ~60 Hz timer on
the GUI thread takes whatever is newest from both and draws it. A slow stage or a
slow disk therefore never freezes the window, and the window never slows capture.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.capture import (
    CaptureWorker,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    SourceEnded,
    SourceFailed,
    SourceOpened,
    SourceProgress,
)
from app.live.pacing import FramePacer
from app.live.stages import RateMeter, StageRegistry, StageRunner, StallMeter
from app.ui.main.frame_dispatch import FrameDispatchMixin
from app.ui.main.model_menu import ModelMenu
from app.ui.main.overlays import OverlaysMixin
from app.ui.main.preview import PreviewArea
from app.ui.main.record_panel import RecordPanel
from app.ui.main.replay_bar import ReplayBar
from app.ui.main.settings import restore_window, save_window
from app.ui.main.source_panel import SourcePanel
from app.ui.main.sources import SourcesMixin
from app.ui.main.status_panel import StatusPanel
from app.ui.main.tools import ToolsMixin
from calibration.rig import Rig
from drivers.errors import ThermorigError
from drivers.types import StreamSpec

DEFAULT_SOURCE = "synthetic:cycling"
STATS_INTERVAL_MS = 250


class MainWindow(
    SourcesMixin, ToolsMixin, OverlaysMixin, FrameDispatchMixin, QtWidgets.QMainWindow
):
    """``source`` opens at start (None: none until one is picked); ``source_options``
    maps a scheme to keyword options for :func:`~drivers.sources.open_source` (e.g.
    smaller synthetic images)."""

    def __init__(
        self,
        source: str | None = DEFAULT_SOURCE,
        *,
        rig_path: str | Path | None = None,
        source_options: dict[str, dict[str, Any]] | None = None,
        settings: QtCore.QSettings | None = None,
        poll_ms: int = 16,
    ):
        super().__init__()
        self.setWindowTitle("thermorig")
        self.settings = settings or QtCore.QSettings("thermorig", "thermorig")
        self.source_options = dict(source_options or {})
        self.spec = ""
        self.streams: dict[str, StreamSpec] = {}
        self.info = None
        self.worker: CaptureWorker | None = None
        self.user_rig: Rig | None = None
        self._user_rig_name = ""
        self.rig: Rig | None = None
        self.rig_origin = ""
        self.errors: list[str] = []
        self.error_box: QtWidgets.QMessageBox | None = None
        self.last_recording = None
        self.display_rate = RateMeter()
        self.pacer = FramePacer("projected")  # frames wait (briefly) for their labels
        self.stall = StallMeter()
        self._seen = 0
        self._overlay_version = -1
        self._disposed = False
        self._markers = 0
        self._points = None  # RigPoints of the rig in force, made on first hover

        #: Extra consumers of every FrameSet (the calibration wizard's detector); each
        #: is called on the capture thread and must return at once.
        self.frame_sinks: list = []
        self.registry = StageRegistry()
        self._register_stages()  # projected labels, ground truth, bundled models
        self.runner = StageRunner(self.registry)
        self.runner.start()
        self.wizard = None
        self._build()
        self.preview.point_lookup = self.cursor_points
        restore_window(self)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.timer.start(poll_ms)
        self._stats_timer = QtCore.QElapsedTimer()
        self._stats_timer.start()
        if rig_path:
            self.load_rig_file(rig_path)
        if source:
            self.open_source(source)
        else:
            self.preview.clear("no source: pick one under Source")

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        self.preview = PreviewArea()
        self.replay_bar = ReplayBar()
        self.replay_bar.setVisible(False)
        central = QtWidgets.QWidget()
        layout = QtWidgets.QVBoxLayout(central)
        layout.setContentsMargins(6, 6, 6, 2)
        layout.addWidget(self.preview, 1)
        layout.addWidget(self.replay_bar)
        self.setCentralWidget(central)

        self.source_panel = SourcePanel()
        self.record_panel = RecordPanel()
        self.status_panel = StatusPanel()
        side = QtWidgets.QWidget()
        side_layout = QtWidgets.QVBoxLayout(side)
        side_layout.setContentsMargins(0, 0, 0, 0)
        for panel in (self.source_panel, self.record_panel, self.status_panel):
            side_layout.addWidget(panel)
        side_layout.addStretch(1)
        side.setMinimumWidth(400)
        self.dock = QtWidgets.QDockWidget("Controls", self)
        self.dock.setObjectName("controls")
        self.dock.setWidget(side)
        self.dock.setFeatures(
            QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, self.dock)

        self.readout = QtWidgets.QLabel("")
        self.readout.setMinimumWidth(320)
        self.statusBar().addWidget(self.readout, 1)
        self.preview.readout.connect(self.readout.setText)

        self._menus()
        self.source_panel.source_chosen.connect(self.open_source)
        self.source_panel.open_session.connect(self._open_session_dialog)
        self.source_panel.load_rig.connect(self._load_rig_dialog)
        self.source_panel.detect.connect(self.detect_cameras)
        self.record_panel.record_requested.connect(lambda _=None: self.start_recording())
        self.record_panel.stop_requested.connect(self.stop_recording)
        self.record_panel.marker_requested.connect(self.add_marker)
        self.replay_bar.play.connect(self._play)
        self.replay_bar.step.connect(lambda: self.worker and self.worker.step())
        self.replay_bar.seek.connect(lambda row: self.worker and self.worker.seek(row))
        self.replay_bar.speed.connect(lambda s: self.worker and self.worker.set_speed(s))
        self.replay_bar.loop.connect(lambda on: self.worker and self.worker.set_loop(on))
        for key, slot in (("M", self.add_marker), ("Space", self._toggle_play)):
            QtGui.QShortcut(QtGui.QKeySequence(key), self, activated=slot)
        QtGui.QShortcut(
            QtGui.QKeySequence(QtCore.Qt.Key.Key_Right),
            self,
            activated=lambda: self.replay_bar.isVisible() and self.replay_bar.step_once(),
        )

    def _menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        file.addAction("&Open session…", QtGui.QKeySequence.StandardKey.Open).triggered.connect(
            self._open_session_dialog
        )
        file.addAction("Load &rig…").triggered.connect(self._load_rig_dialog)
        file.addSeparator()
        file.addAction("&Quit", QtGui.QKeySequence.StandardKey.Quit).triggered.connect(self.close)
        view = bar.addMenu("&View")
        self.overlay_menu = view.addMenu("Overlays")
        for stage in self.registry.stages():
            self._add_overlay_action(stage.name, stage.title, stage.enabled)
        view.addAction("Reset zoom").triggered.connect(
            lambda: [v.reset_zoom() for v in self.preview.views.values()]
        )
        view.addAction(self.dock.toggleViewAction())
        self.model_menu = ModelMenu(self)  # Models: load a model, RGB labels for projection
        #: Tools that open a window of their own; more can be added with add_tool.
        self.tools_menu = bar.addMenu("&Tools")
        self.add_tool("&Calibrate rig…", self.open_calibration_wizard)
        self.add_tool("&Review labels…", self._review_labels)

    def add_tool(self, title: str, callback) -> QtGui.QAction:
        """Add an entry to the Tools menu (where dialogs such as a wizard live)."""
        action = self.tools_menu.addAction(title)
        action.triggered.connect(callback)
        return action

    def _review_labels(self) -> None:
        """Tools > Review labels…: a session's labels in a review window of its own
        (it closes, and saves, with this window)."""
        from app.ui.review.launch import ask_and_open

        ask_and_open(self)

    # -- messages ---------------------------------------------------------------------
    def show_error(self, title: str, message: str) -> None:
        """Tell the person, without blocking the preview (a window-modal box)."""
        self.errors.append(message)
        self.statusBar().showMessage(message, 15000)
        box = QtWidgets.QMessageBox(self)
        box.setIcon(QtWidgets.QMessageBox.Icon.Warning)
        box.setWindowTitle(title)
        box.setText(message)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box

    # -- recording --------------------------------------------------------------------
    def start_recording(self) -> bool:
        if self.worker is None or not self.streams:
            self.show_error("Nothing to record", "no source is delivering frames")
            return False
        try:
            request = self.record_panel.request()
        except ThermorigError as exc:
            self.show_error("Cannot record", str(exc))
            return False
        if self.user_rig is not None and self.rig is self.user_rig:
            request.rig = self.user_rig.to_dict()
        self._markers = 0
        self.worker.start_recording(request)
        self.record_panel.set_recording(True)
        self.source_panel.set_busy(True)
        return True

    def stop_recording(self) -> None:
        if self.worker is not None and self.record_panel.recording:
            self.worker.stop_recording()
            self.record_panel.button.setEnabled(False)
            self.record_panel.button.setText("Finishing…")

    def add_marker(self) -> None:
        """Key M: an event marker at the newest frame's time in the recording."""
        if self.worker is not None and self.record_panel.recording:
            self._markers += 1
            self.worker.mark(f"marker {self._markers}")
            self.statusBar().showMessage(f"marker {self._markers} set", 2000)

    def _recording_over(self) -> None:
        self.record_panel.set_recording(False)
        self.record_panel.button.setEnabled(True)
        self.source_panel.set_busy(False)

    # -- replay -----------------------------------------------------------------------
    def _play(self, playing: bool) -> None:
        if self.worker is not None:
            (self.worker.play if playing else self.worker.pause)()

    def _toggle_play(self) -> None:
        if self.replay_bar.isVisible():
            self.replay_bar.toggle()

    # -- the loop ---------------------------------------------------------------------
    def tick(self) -> None:
        """One GUI update: events, the newest FrameSet, overlays, and (4 Hz) figures."""
        self.stall.tick()
        worker = self.worker
        if worker is None:
            return
        self._events(worker)
        self._dispatch(worker)  # the due FrameSet and the overlays that belong to it
        if self._stats_timer.elapsed() >= STATS_INTERVAL_MS:
            self._stats_timer.restart()
            self._figures(worker)

    def _events(self, worker: CaptureWorker) -> None:
        while True:
            try:
                event = worker.events.get_nowait()
            except queue.Empty:
                return
            if isinstance(event, SourceOpened):
                self.streams, self.info = event.streams, event.info
                self.preview.set_streams(event.streams)
                self.replay_bar.set_info(event.replay)
                self.source_panel.set_state(f"{', '.join(event.streams)} · opened")
                self._apply_rig()
                if self.wizard is not None:
                    self.wizard.attach(event.streams, event.info)
            elif isinstance(event, SourceProgress):
                text = f"rendering the synthetic scene once: {event.done}/{event.total}"
                if event.done % 10 == 0 or event.done == event.total:
                    self.source_panel.set_state(text)
                    for view in self.preview.views.values():
                        if view.image_shape is None:
                            view.placeholder.setText(text)
            elif isinstance(event, SourceFailed):
                self.source_panel.set_state(f"failed: {event.message}")
                if not self.streams:
                    self.preview.clear("no source")
                self.show_error("Source problem", event.message)
            elif isinstance(event, SourceEnded):
                self.source_panel.set_state(f"{', '.join(self.streams)} · ended")
                self.replay_bar.set_playing(False)
            elif isinstance(event, RecordingStarted):
                self.statusBar().showMessage(f"recording to {event.path}", 5000)
            elif isinstance(event, RecordingFinished):
                self.last_recording = event.status
                self._recording_over()
                self.record_panel.show_idle(event.status)
                self.statusBar().showMessage(f"saved {event.status.path}", 10000)
            elif isinstance(event, RecordingFailed):
                self.last_recording = event.status
                self._recording_over()
                kept = ""
                if event.status is not None:
                    kept = f" ({event.status.total_frames} frames kept in {event.status.path})"
                self.show_error("Recording stopped", event.message + kept)

    def _figures(self, worker: CaptureWorker) -> None:
        _, stats = worker.stats.get()
        if stats is not None:
            self.status_panel.show_capture(stats)
            if self.streams:
                state = "ended" if stats.ended else "playing" if stats.playing else "paused"
                if self.replay_bar.info is None and not stats.ended:
                    state = "live"
                self.source_panel.set_state(f"{', '.join(self.streams)} · {state}")
            if stats.recording is not None:
                self.record_panel.show_status(stats.recording)
            elif not self.record_panel.recording:
                self.record_panel.show_idle(self.last_recording)
        self.status_panel.show_stages(self.runner.stats())
        self.preview.show_notes()
        self.status_panel.show_preview(
            self.display_rate.rate, 1e3 * self.stall.longest, self.preview.frames_displayed
        )

    # -- shutdown ---------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.record_panel.recording and not self._disposed:
            answer = QtWidgets.QMessageBox.question(
                self,
                "Recording",
                "A recording is running. Stop it (every frame so far is kept) and quit?",
            )
            if answer != QtWidgets.QMessageBox.StandardButton.Yes:
                event.ignore()
                return
        self.dispose()
        super().closeEvent(event)

    def dispose(self) -> None:
        """Save settings, finish any recording, stop the threads, free the views."""
        if self._disposed:
            return
        self._disposed = True
        save_window(self)
        self.timer.stop()
        if self.wizard is not None:
            self.wizard.dispose()
            self.wizard.deleteLater()
            self.wizard = None
        self.close_source()
        self.runner.stop()
        self.preview.dispose()
