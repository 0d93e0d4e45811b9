"""The main window: live preview of the rig, sources and replay, recording, status.

The window holds no pixels of its own and does no capture work: a
:class:`~app.live.controller.LiveController` owns the source, its capture thread, the
overlay thread, pacing, the rig in force and recording. The window builds the widgets,
forwards what the person does to the controller, and on a ~60 Hz timer draws what
:meth:`~app.live.controller.LiveController.poll` hands back. A slow stage or a slow
disk therefore never freezes the window, and the window never slows capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.controller import LiveController
from app.live.events import (
    Problem,
    RecordingFailed,
    RecordingFinished,
    RecordingStarted,
    RigChanged,
    SourceEnded,
    SourceFailed,
    SourceOpened,
    SourceOpening,
    SourceProgress,
)
from app.live.frame_dispatch import LiveFigures
from app.live.rig_watch import RigVerdict
from app.live.stages import Stage
from app.ui.help_menu import add_help_menu
from app.ui.main import shortcuts
from app.ui.main.controls_dock import controls_dock
from app.ui.main.file_dialogs import ask_rig, ask_session
from app.ui.main.model_menu import ModelMenu
from app.ui.main.overlay_menu import OverlayMenu
from app.ui.main.preview import PreviewArea
from app.ui.main.rec_indicator import APP_TITLE, RecIndicator
from app.ui.main.record_panel import RecordPanel
from app.ui.main.replay_bar import ReplayBar
from app.ui.main.rig_badge import RigBadge
from app.ui.main.settings import restore_window, save_window
from app.ui.main.source_panel import SourcePanel, replay_spec
from app.ui.main.status_panel import StatusPanel

DEFAULT_SOURCE = "synthetic:cycling"


class MainWindow(QtWidgets.QMainWindow):
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
        self.setWindowTitle(APP_TITLE)
        self.settings = settings or QtCore.QSettings("thermorig", "thermorig")
        #: The source, its threads and the rig in force (no Qt): what the window shows.
        self.live = LiveController(source_options)
        self.errors: list[str] = []
        self.error_box: QtWidgets.QMessageBox | None = None
        self.wizard = None
        self._disposed = False
        self._build()
        self.preview.point_lookup = self._cursor_points
        restore_window(self)
        self.timer = QtCore.QTimer(self)
        self.timer.setTimerType(QtCore.Qt.TimerType.PreciseTimer)
        self.timer.timeout.connect(self.tick)
        self.timer.start(poll_ms)
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
        panels = (self.source_panel, self.record_panel, self.status_panel)
        self.dock = controls_dock(self, panels)  # scrolls; its width never changes
        #: The toolbar across the top: Record / Stop, the REC badge, the warning line.
        self.rec_bar = RecIndicator(self)
        self.addToolBar(QtCore.Qt.ToolBarArea.TopToolBarArea, self.rec_bar)
        self.rig_badge = RigBadge(self)  # the rig check's verdict, after the REC state
        self.rig_badge.place_on(self.rec_bar)
        self.rig_badge.use_refined.connect(
            lambda rig, origin: self._accepted(self.live.use_rig(rig, origin))
        )
        self._set_available(False)

        self.readout = QtWidgets.QLabel("")
        self.readout.setMinimumWidth(200)
        self.statusBar().addWidget(self.readout, 1)
        self.preview.readout.connect(self.readout.setText)

        self._menus()
        live = self.live
        self.source_panel.source_chosen.connect(self.open_source)
        self.source_panel.open_session.connect(self._open_session_dialog)
        self.source_panel.load_rig.connect(self._load_rig_dialog)
        self.source_panel.detect.connect(self.detect_cameras)
        self.record_panel.record_requested.connect(lambda _=None: self.start_recording())
        self.record_panel.stop_requested.connect(self.stop_recording)
        self.record_panel.marker_requested.connect(self.add_marker)
        self.rec_bar.record_clicked.connect(self.record_panel.button.click)
        self.replay_bar.play.connect(live.play)
        self.replay_bar.step.connect(live.step)
        self.replay_bar.step_back.connect(live.step_back)
        self.replay_bar.seek.connect(live.seek)
        self.replay_bar.speed.connect(live.set_speed)
        self.replay_bar.loop.connect(live.set_loop)

    def _menus(self) -> None:
        bar = self.menuBar()
        #: Every key of the window, from one table (app.ui.main.shortcuts).
        self.shortcuts = shortcuts.install(self)
        file = bar.addMenu("&File")
        file.addAction(self.shortcuts["open"])
        file.addAction("Load &rig…").triggered.connect(self._load_rig_dialog)
        file.addSeparator()
        file.addAction(self.shortcuts["quit"])
        view = bar.addMenu("&View")
        #: View › Overlays: one toggle per stage of the controller.
        self.overlays = OverlayMenu(view.addMenu("Overlays"), self.live)
        self.overlay_menu = self.overlays.menu
        view.addAction("Reset zoom").triggered.connect(
            lambda: [v.reset_zoom() for v in self.preview.views.values()]
        )
        view.addAction(self.dock.toggleViewAction())
        self.model_menu = ModelMenu(self)  # Models: load a model, RGB labels for projection
        #: Tools that open a window of their own; more can be added with add_tool.
        self.tools_menu = bar.addMenu("&Tools")
        self.add_tool("&Calibrate rig…", self.open_calibration_wizard)
        self.add_tool("&Review labels…", self._review_labels)
        self.help_menu = add_help_menu(self, "Main window", shortcuts.rows)

    def show_shortcuts(self) -> None:
        """F1, Help › Keyboard shortcuts: every key of this window."""
        self.help_menu.findChild(QtGui.QAction, "help-shortcuts").trigger()

    def add_tool(self, title: str, callback) -> QtGui.QAction:
        """Add an entry to the Tools menu (where dialogs such as a wizard live)."""
        action = self.tools_menu.addAction(title)
        action.triggered.connect(callback)
        return action

    def add_overlay(self, name: str, stage: Stage, title: str, **options: Any) -> QtGui.QAction:
        """Register an overlay stage with the controller and offer it under View ›
        Overlays (``enabled``, ``max_rate``: :meth:`~app.ui.main.overlay_menu.OverlayMenu.add`)."""
        return self.overlays.add(name, stage, title, **options)

    def overlay_action(self, name: str) -> QtGui.QAction | None:
        """The View › Overlays toggle of overlay ``name`` (None if there is none)."""
        return self.overlays.action(name)

    def set_overlay_enabled(self, name: str, enabled: bool) -> None:
        self.live.set_overlay_enabled(name, enabled)

    # -- tools ------------------------------------------------------------------------
    def open_calibration_wizard(self):
        """The calibration wizard (one per window; raised if already open)."""
        from app.ui.calibration.wizard import CalibrationWizard

        if self.wizard is None or self.wizard.disposed:
            wizard = CalibrationWizard(
                self.live, self, settings=self.settings, report=self.show_error
            )
            self.wizard = wizard
            wizard.destroyed.connect(lambda *_: self._forget_wizard(wizard))
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def _forget_wizard(self, wizard) -> None:
        if self.wizard is wizard:
            self.wizard = None

    def _review_labels(self) -> None:
        """Tools > Review labels…: a session's labels in a review window of its own
        (it closes, and saves, with this window)."""
        from app.ui.main.file_dialogs import session_start
        from app.ui.review.launch import ask_and_open

        ask_and_open(self, str(session_start(self)))

    def _cursor_points(self, stream: str, x: float, y: float):
        depth = self.preview.arrays.get("depth")
        return self.live.cursor_points(stream, x, y, depth, tuple(self.preview.views))

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

    def _accepted(self, problem: Problem | None) -> bool:
        """Show the controller's answer to a request at once: ``problem`` if it was
        refused, else what it changed (its events, otherwise shown on the next tick)."""
        if problem is not None:
            self.show_error(problem.title, problem.message)
        self._show_events(self.live.take_events())
        return problem is None

    # -- sources and the rig ----------------------------------------------------------
    def open_source(self, spec: str) -> bool:
        """Switch to ``spec``; False (and a message) if refused."""
        if not self._accepted(self.live.open_source(spec)):
            self.source_panel.set_current(self.live.spec)
            return False
        return True

    def load_rig_file(self, path: str | Path) -> bool:
        """Use the rig in ``path`` from now on, if it reads and fits the streams."""
        return self._accepted(self.live.load_rig_file(path))

    def _open_session_dialog(self) -> None:
        if path := ask_session(self):  # starts in the folder in use
            self.open_source(replay_spec(path))

    def _load_rig_dialog(self) -> None:
        if path := ask_rig(self):
            self.load_rig_file(path)

    def _remember_session(self, spec: str) -> None:
        recent = [s for s in self.settings.value("source/recent", [], type=list) if s != spec]
        recent = [spec, *recent][:8]
        self.settings.setValue("source/recent", recent)
        self.source_panel.set_recent(recent)

    def detect_cameras(self) -> None:
        from drivers.discovery import NOTHING_FOUND, discover

        try:
            devices = discover()
        except Exception as exc:  # noqa: BLE001 - a broken driver stack is reported, not fatal
            self.show_error("Detect cameras", f"camera detection failed: {exc}")
            return
        self.source_panel.set_devices([(d.spec, f"{d.kind}: {d.name}") for d in devices])
        self.statusBar().showMessage(
            NOTHING_FOUND if not devices else f"found {len(devices)} camera(s)", 10000
        )

    # -- recording and replay ---------------------------------------------------------
    def start_recording(self) -> bool:
        if not self._accepted(self.live.start_recording(self.record_panel.request)):
            return False
        self.record_panel.set_recording(True)
        self.source_panel.set_busy(True)
        _, stats = self.live.worker.stats.get()  # lost at the source from now on counts
        self.rec_bar.started(stats.health if stats is not None else None)
        return True

    def stop_recording(self) -> None:
        if self.live.stop_recording():
            self.record_panel.set_finishing()
            self.rec_bar.finishing()

    def add_marker(self) -> None:
        """Key M: an event marker at the newest frame's time in the recording."""
        text = self.live.mark()
        if text is not None:
            self.statusBar().showMessage(f"{text} set", 2000)

    def _recording_over(self) -> None:
        self.record_panel.set_recording(False)
        self.source_panel.set_busy(False)
        self.rec_bar.stopped()

    def _set_available(self, available: bool) -> None:
        """Record is offered only while a source delivers frames."""
        self.record_panel.set_available(available)
        self.rec_bar.set_available(available)

    def _toggle_play(self) -> None:
        if self.replay_bar.isVisible():
            self.replay_bar.toggle()

    # -- the loop ---------------------------------------------------------------------
    def tick(self) -> None:
        """One GUI update: draw what the controller hands out (events, the FrameSet
        due now, the overlays that belong to it, and 4 times a second the figures)."""
        update = self.live.poll()
        self._show_events(update.events)
        if update.frameset is not None:
            self.preview.show_frameset(update.frameset)
            if update.replay_row is not None:
                self.replay_bar.show_position(update.replay_row)
        if update.overlays is not None:
            self.preview.show_overlays(update.overlays)
        if update.figures is not None:
            self._show_figures(update.figures)

    def _show_events(self, events: list) -> None:
        if events:
            self._set_available(self.live.can_record)
        for event in events:
            if isinstance(event, SourceOpening):
                self.preview.clear(f"opening {event.spec}…")
                self.replay_bar.set_info(None)
                self.source_panel.set_current(event.spec)
                self.source_panel.set_state(f"opening {event.spec}…")
                if event.scheme == "replay":
                    self._remember_session(event.spec)
                if event.notice:
                    self.statusBar().showMessage(event.notice, 60000)
            elif isinstance(event, SourceOpened):
                self.preview.set_streams(event.streams)
                self.replay_bar.set_info(event.replay, event.playing)
                self.source_panel.set_state(f"{', '.join(event.streams)} · opened")
                self.record_panel.follow_source(event.info.activity)
                if self.wizard is not None:
                    self.wizard.attach(event.streams, event.info)
            elif isinstance(event, RigChanged):
                self.source_panel.set_rig(event.text)
            elif isinstance(event, RigVerdict):
                self.rig_badge.show_verdict(event)
            elif isinstance(event, Problem):
                self.show_error(event.title, event.message)
            elif isinstance(event, SourceProgress):
                text = f"rendering the scene's cycle before recording: {event.done}/{event.total}"
                if event.done % 10 == 0 or event.done == event.total:
                    self.source_panel.set_state(text)
                    for view in self.preview.views.values():
                        if view.image_shape is None:
                            view.placeholder.setText(text)
            elif isinstance(event, SourceFailed):
                self.source_panel.set_state(f"failed: {event.message}")
                if not self.live.streams:
                    self.preview.clear("no source")
                self.show_error("Source problem", event.message)
            elif isinstance(event, SourceEnded):
                self.source_panel.set_state(f"{', '.join(self.live.streams)} · ended")
                self.replay_bar.set_playing(False)
            elif isinstance(event, RecordingStarted):
                self.statusBar().showMessage(f"recording to {event.path}", 5000)
            elif isinstance(event, RecordingFinished):
                self._recording_over()
                self.record_panel.show_idle(event.status)
                self.statusBar().showMessage(f"saved {event.status.path}", 10000)
            elif isinstance(event, RecordingFailed):
                self._recording_over()
                kept = ""
                if event.status is not None:
                    kept = f" ({event.status.total_frames} frames kept in {event.status.path})"
                self.show_error("Recording stopped", event.message + kept)

    def _show_figures(self, figures: LiveFigures) -> None:
        stats = figures.capture
        if stats is not None:
            self.status_panel.show_capture(stats)
            if self.live.streams:
                self.source_panel.set_state(f"{', '.join(self.live.streams)} · {figures.state}")
            if stats.recording is not None:
                alert = self.rec_bar.show_status(stats.recording, stats.health)
                self.record_panel.show_status(stats.recording, alert.level)
            elif not self.record_panel.recording:
                self.record_panel.show_idle(self.live.last_recording)
        self.status_panel.show_stages(figures.stages)
        self.preview.show_notes()
        self.status_panel.show_preview(
            figures.display_rate, figures.longest_stall_ms, self.preview.frames_displayed
        )

    # -- shutdown ---------------------------------------------------------------------
    @property
    def disposed(self) -> bool:
        return self._disposed

    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt API
        if self.live.recording and not self._disposed:
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
        self.live.dispose()
        self.preview.dispose()
