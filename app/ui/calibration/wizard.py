"""The calibration wizard: calibrate the rig live from the board, then use the rig.

The person holds the board still in front of the rig at a few places, distances and
tilts. Every camera's view shows the corners it finds (green: still); the coverage
bars fill as new views are captured — automatically when the board is still and the
view new, or with Space. *Calibrate* fits the rig on a worker thread (the progress
bar moves, the window stays responsive); the per-view error bars show which views
fit worst, and clicking one drops it and refits. *Calibrate* is offered once the views
are enough (:mod:`calibration.readiness`: poses and coverage; a line says what is
missing); after the fit the intrinsics and a verdict are shown. *Save rig…* writes the
rig file and puts it to work in the preview at once (the projected labels use it);
a line under the buttons confirms what was saved and used. Closing the wizard puts
back the source the preview had before it switched to the calibration scene.

The search runs on :class:`~app.live.calibration_workers.DetectionWorker` (latest-wins),
a frame sink of the preview's :class:`~app.live.controller.LiveController`; this dialog
only draws what it reports, and talks to the preview only through that controller.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.calibration_workers import DetectionWorker, FitJob
from app.live.controller import LiveController, SourceBookmark
from app.ui.calibration.widgets import BoardViews, CoverageBars, ErrorChart
from app.ui.views import MUTED
from calibration.live import DEFAULT_BOARD, LiveCalibration, LiveState, view_errors
from calibration.readiness import fit_report, readiness, verdict
from calibration.rig import Rig
from calibration.rig_calibration import RIG_CAMERAS, RigCalibration
from calibration.still import CAMERA_STREAMS
from drivers.errors import ThermorigError
from drivers.types import FrameSet, StreamSpec

CALIBRATION_SOURCE = "synthetic:calibration"
WARN = "#e0b050"
#: Colour of the verdict line per level.
VERDICT_COLOURS = {"good": "#3ee07a", "acceptable": WARN, "poor": "#e04848"}
PAUSED = "paused while the calibration wizard is open"


class CalibrationWizard(QtWidgets.QDialog):
    """Non-modal: the live preview keeps running beside it. ``controller`` is the
    preview's (the source searched, the rig replaced); ``settings`` remembers the rig
    folder; ``report(title, message)`` tells the person of a problem (default: a box)."""

    def __init__(
        self,
        controller: LiveController,
        parent: QtWidgets.QWidget | None = None,
        *,
        settings: QtCore.QSettings | None = None,
        report: Callable[[str, str], None] | None = None,
    ):
        super().__init__(parent)
        self.setWindowTitle("Calibrate rig")
        self.setObjectName("calibration-wizard")
        self.controller = controller
        self.settings = settings or QtCore.QSettings("thermorig", "thermorig")
        self._report = report or (
            lambda title, text: QtWidgets.QMessageBox.warning(self, title, text)
        )
        self.streams: dict[str, StreamSpec] = {}
        self.live: LiveCalibration | None = None
        self.job: FitJob | None = None
        self.result: RigCalibration | None = None
        self.rig: Rig | None = None
        self.saved_to: Path | None = None
        #: The source to put back on close (set when the wizard switched the preview).
        self.return_to: SourceBookmark | None = None
        self.ready = False
        self._refit = False
        self._seen = 0
        self._disposed = False
        self.worker = DetectionWorker()
        # The projected labels use the rig being replaced and compete with the board
        # search for the CPU (half the search rate on two cores): paused until the
        # new rig is applied or the wizard closes.
        controller.pause_projection(PAUSED)
        self._build()
        self.resize(1180, 860)
        controller.add_frame_sink(self.worker.submit)
        self.timer = QtCore.QTimer(self)
        self.timer.timeout.connect(self.poll)
        self.timer.start(40)
        self.attach(controller.streams, controller.info)

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        self.board_edit = QtWidgets.QLineEdit(DEFAULT_BOARD)
        self.board_edit.setToolTip("checker:COLSxROWS:MM, coded:COLSxROWS:MM or charuco:…")
        self.restart_button = QtWidgets.QPushButton("Use board")
        self.open_calib = QtWidgets.QPushButton(f"Open {CALIBRATION_SOURCE}")
        self.open_calib.setVisible(False)
        top = QtWidgets.QHBoxLayout()
        top.addWidget(QtWidgets.QLabel("Board"))
        top.addWidget(self.board_edit, 1)
        top.addWidget(self.restart_button)
        top.addWidget(self.open_calib)

        streams = [(c, CAMERA_STREAMS[c][0]) for c in RIG_CAMERAS]
        self.views = BoardViews(streams)
        self.coverage = CoverageBars(list(RIG_CAMERAS))
        self.auto_check = QtWidgets.QCheckBox("Capture automatically (board still, view new)")
        self.auto_check.setChecked(True)
        self.capture_button = QtWidgets.QPushButton("Capture (Space)")
        self.message = QtWidgets.QLabel("")
        self.message.setWordWrap(True)
        self.rate = QtWidgets.QLabel("")
        self.rate.setStyleSheet(f"color: {MUTED};")
        capture = QtWidgets.QHBoxLayout()
        capture.addWidget(self.auto_check)
        capture.addWidget(self.capture_button)
        capture.addWidget(self.message, 1)
        capture.addWidget(self.rate)

        self.fit_button = QtWidgets.QPushButton("&Calibrate")
        self.fit_button.setEnabled(False)
        self.fit_progress = QtWidgets.QProgressBar()
        self.fit_progress.setRange(0, 1)
        self.fit_progress.setValue(0)
        self.fit_progress.setFormat("")
        self.restore_button = QtWidgets.QPushButton("Restore dropped views")
        self.restore_button.setEnabled(False)
        fit = QtWidgets.QHBoxLayout()
        fit.addWidget(self.fit_button)
        fit.addWidget(self.fit_progress, 1)
        fit.addWidget(self.restore_button)
        self.ready_line = QtWidgets.QLabel("")
        self.ready_line.setWordWrap(True)
        self.verdict = QtWidgets.QLabel("")
        self.outcome = QtWidgets.QLabel("")  # what Save / Use in preview did
        self.outcome.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary = QtWidgets.QLabel("Capture views of the board, then calibrate.")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chart = ErrorChart(list(RIG_CAMERAS))
        self.chart.setVisible(False)  # until a fit has errors to show
        self.save_button = QtWidgets.QPushButton("&Save rig…")
        self.apply_button = QtWidgets.QPushButton("&Use in preview")
        for b in (self.save_button, self.apply_button):
            b.setEnabled(False)
        bottom = QtWidgets.QHBoxLayout()
        bottom.addWidget(self.outcome, 1)
        bottom.addWidget(self.apply_button)
        bottom.addWidget(self.save_button)

        self._steady_text()
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.views, 5)
        layout.addWidget(self.coverage)
        layout.addLayout(capture)
        layout.addWidget(self.ready_line)
        layout.addLayout(fit)
        layout.addWidget(self.summary)
        layout.addWidget(self.verdict)
        layout.addWidget(self.chart, 3)
        layout.addLayout(bottom)

        self.restart_button.clicked.connect(self.restart)
        self.board_edit.returnPressed.connect(self.restart)
        self.open_calib.clicked.connect(self.open_calibration_source)
        self.auto_check.toggled.connect(self._auto_toggled)
        self.capture_button.clicked.connect(self.capture_now)
        self.fit_button.clicked.connect(self.calibrate)
        self.restore_button.clicked.connect(self.restore_views)
        self.chart.drop.connect(self.drop_view)
        self.save_button.clicked.connect(lambda: self.save_rig())
        self.apply_button.clicked.connect(lambda: self.apply_rig())
        QtGui.QShortcut(QtGui.QKeySequence(QtCore.Qt.Key.Key_Space), self, self.capture_now)

    def _steady_text(self) -> None:
        """Room kept for the lines that change while the board is followed (the rate,
        the message, what is missing), so that new text never moves the layout: a
        layout that moved resized the views and the error chart, whose repaint (axes,
        grid, ~10 ms) was the GUI thread's longest stall with the wizard open."""
        metrics = self.rate.fontMetrics()
        self.rate.setMinimumWidth(metrics.horizontalAdvance("search 00.0/s, 000 ms each"))
        two_lines = 2 * metrics.lineSpacing()
        for label in (self.message, self.ready_line):
            label.setMinimumHeight(two_lines)
            label.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft | QtCore.Qt.AlignmentFlag.AlignTop)
        for label in (self.verdict, self.outcome):
            label.setMinimumHeight(metrics.lineSpacing())

    # -- source and board -------------------------------------------------------------
    def open_calibration_source(self) -> bool:
        """Switch the preview to the synthetic calibration scene (the source before it
        comes back when the wizard closes)."""
        mark = self.controller.bookmark()
        problem = self.controller.open_source(CALIBRATION_SOURCE)
        if problem is None and self.return_to is None and mark.spec != CALIBRATION_SOURCE:
            self.return_to = mark
        if problem is not None:
            self._report(problem.title, problem.message)
        return problem is None

    def attach(self, streams: dict[str, StreamSpec], info=None) -> None:
        """The preview's source changed: restart with its streams (and its board, if
        it names one)."""
        if self._disposed:
            return
        self.streams = dict(streams)
        board = ((info.truth or {}).get("board") if info is not None else None) or ""
        if board:
            self.board_edit.setText(board)
        self.restart()

    def restart(self) -> bool:
        """Start over with the board in the field: views and coverage are cleared."""
        self.live = self.worker.live = None
        self.result = self.rig = None
        self.job, self._refit = None, False  # a fit still running belongs to the old views
        self.fit_progress.setRange(0, 1)
        self.fit_progress.setValue(0)
        self.fit_progress.setFormat("")
        self.chart.show_errors([])
        self.verdict.setText("")
        self._set_done(False)
        self._show_ready({}, {})
        if not self.streams:
            return self._say(
                f"no source: open one with the rig's cameras (e.g. {CALIBRATION_SOURCE})"
            )
        try:
            self.live = LiveCalibration(self.board_edit.text().strip(), self.streams)
        except ThermorigError as exc:
            self.open_calib.setVisible(CALIBRATION_SOURCE != self.controller.spec)
            return self._say(str(exc))
        self.open_calib.setVisible(False)
        self.live.auto = self.auto_check.isChecked()
        self.worker.live = self.live
        self.coverage.show_progress({}, {})
        self._show_ready({}, {})
        self.summary.setText("Capture views of the board, then calibrate.")
        return self._say(f"looking for {self.live.board.spec}: show it to the cameras")

    def _say(self, text: str, warn: bool = False) -> bool:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {WARN};" if warn else "")
        return self.live is not None

    def _auto_toggled(self, on: bool) -> None:
        if self.live is not None:
            self.live.auto = bool(on)

    def capture_now(self) -> None:
        """Capture the next still view (Space), new or not."""
        if self.live is not None:
            self.live.request_capture()
            self._say("capturing: hold the board still…")

    # -- live -------------------------------------------------------------------------
    def process_frameset(self, fs: FrameSet) -> LiveState | None:
        """Search ``fs`` now, on the calling thread, and draw the result (the worker
        does this for live frames; tests and scripts feed frames this way)."""
        state = self.worker.process(fs)
        self.poll()
        return state

    def poll(self) -> None:
        """Draw the newest search result and follow the fit (the GUI timer)."""
        seq, state = self.worker.states.get_newer(self._seen)
        if state is not None and self.live is not None:
            self._seen = seq
            self.views.show_state(state)
            self.coverage.show_progress(state.progress, state.views)
            if state.message:
                self._say(f"{state.message} · {state.poses} poses")
            self._show_ready(state.progress, state.views)
            self.rate.setText(
                f"search {self.worker.rate.rate:.1f}/s, {self.worker.busy_ms:.0f} ms each"
            )
        self._follow_fit()

    def _show_ready(self, progress: dict, views: dict) -> None:
        """Offer the fit only when the views are enough; say what is missing."""
        cameras = list(self.live.streams) if self.live is not None else []
        r = readiness(progress, views, cameras)
        self.ready = r.ready and bool(cameras)
        self.fit_button.setEnabled(self.ready and self.job is None)
        self.ready_line.setText(r.text if cameras else "")
        self.ready_line.setStyleSheet("" if self.ready else f"color: {WARN};")

    # -- the fit ----------------------------------------------------------------------
    def calibrate(self) -> None:
        """Fit the rig to the views so far, on a worker (again after it, if running)."""
        if self.live is None:
            return
        if self.job is not None:
            self._refit = True
            return
        self.job = FitJob(self.live)
        self.fit_button.setEnabled(False)
        self.fit_progress.setRange(0, 0)  # busy until the first progress report
        self.fit_progress.setFormat("fitting…")

    def _follow_fit(self) -> None:
        job = self.job
        if job is None:
            return
        _, p = job.progress.get()
        if p is not None and not job.done.is_set():
            stage, done, total = p
            self.fit_progress.setRange(0, max(total, 1))
            self.fit_progress.setValue(done)
            self.fit_progress.setFormat(f"{stage} %v/%m")
        if not job.done.is_set():
            return
        self.job = None
        self.fit_progress.setRange(0, 1)
        self.fit_progress.setValue(1 if job.result is not None else 0)
        self.fit_progress.setFormat("done" if job.result is not None else "failed")
        self.fit_button.setEnabled(self.ready)
        if job.result is None:
            self.summary.setText(f"Calibration failed: {job.error}")
            self.summary.setStyleSheet(f"color: {WARN};")
        else:
            self.result, self.rig = job.result, job.result.to_rig()
            self.summary.setStyleSheet("")
            self.summary.setText("\n".join(fit_report(self.result, self.rig)[:-1]))
            v = verdict(self.result.quality())
            self.verdict.setText("Verdict: " + v.text)
            colour = VERDICT_COLOURS[v.level]
            self.verdict.setStyleSheet(f"color: {colour}; font-weight: 600;")
            self.chart.show_errors(view_errors(self.result))
            self._set_done(True)
        if self._refit:
            self._refit = False
            self.calibrate()

    @property
    def disposed(self) -> bool:
        return self._disposed

    @property
    def fitting(self) -> bool:
        return self.job is not None

    def drop_view(self, camera: str, pose: int) -> None:
        """Leave one camera's view of one pose out and refit (a click on its bar)."""
        if self.live is not None and self.live.drop(camera, pose):
            self.restore_button.setEnabled(True)
            self._say(f"dropped the {camera} view of pose {pose}; refitting")
            self.calibrate()

    def restore_views(self) -> None:
        if self.live is not None and self.live.restore():
            self.restore_button.setEnabled(False)
            self.calibrate()

    def _set_done(self, done: bool) -> None:
        self.save_button.setEnabled(done)
        self.apply_button.setEnabled(done)

    # -- the result -------------------------------------------------------------------
    def save_rig(self, path: str | Path | None = None) -> bool:
        """Write the rig file (a dialog asks where if no ``path``) and use it."""
        if self.rig is None:
            return False
        if path is None:
            start = self.settings.value("rig/dir", str(Path.home()), type=str)
            chosen, _ = QtWidgets.QFileDialog.getSaveFileName(
                self, "Save rig", str(Path(start) / "rig.json"), "Rig files (*.json)"
            )
            if not chosen:
                return False
            path = chosen
        path = Path(path)
        try:
            self.rig.save(path)
        except OSError as exc:
            self._report("Cannot save rig", f"cannot write {path}: {exc.strerror or exc}")
            return False
        self.saved_to = path
        self.settings.setValue("rig/dir", str(path.parent))
        if not self.apply_rig(f"file {path.name} (calibrated in the wizard)"):
            self.outcome.setText(f"saved to {path}; not used in the preview")
            return False
        self.outcome.setText(f"saved to {path}; the preview uses it")
        return True

    def apply_rig(self, origin: str = "calibrated in the wizard (not saved)") -> bool:
        """Use the fitted rig in the preview: the projected labels are rebuilt with it."""
        if self.rig is None:
            return False
        problem = self.controller.use_rig(self.rig, origin)
        if problem is not None:
            self._report(problem.title, problem.message)
            return False
        self.controller.pause_projection("")
        self.outcome.setText(f"the preview now uses this rig ({origin})")
        return True

    # -- closing ----------------------------------------------------------------------
    def closeEvent(self, event: QtGui.QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.dispose()
        self.give_back_source()
        super().closeEvent(event)
        self.deleteLater()

    def reject(self) -> None:
        """Escape closes the wizard (not only hides it): the preview gets its source back."""
        self.close()

    def give_back_source(self) -> None:
        """Put back the preview's source from before the calibration scene, if the
        preview still shows that scene (the person may have chosen another since)."""
        mark, self.return_to = self.return_to, None
        if mark is None or self.controller.spec != CALIBRATION_SOURCE or self.controller.recording:
            return
        problem = self.controller.restore(mark)
        if problem is not None:
            self._report(problem.title, problem.message)

    def dispose(self) -> None:
        """Unhook from the capture worker, stop the search thread, free the plots."""
        if self._disposed:
            return
        self._disposed = True
        self.timer.stop()
        self.controller.pause_projection("")
        self.controller.remove_frame_sink(self.worker.submit)
        self.worker.stop()
        self.views.dispose()
        self.chart.dispose()
