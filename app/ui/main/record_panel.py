"""Recording controls: where, what activity, who, notes; record/stop; live figures."""

from __future__ import annotations

import shutil
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.live.rec_watch import Level
from app.live.record_defaults import default_name, recording_activity
from app.live.start_folders import start_folder
from app.ui.views import MUTED
from drivers.recording import RecordingRequest, RecordingStatus, check_output
from drivers.session import ACTIVITIES

RECORD_STYLE = "QPushButton { background: #b3261e; color: white; font-weight: 600; padding: 6px; }"
STOP_STYLE = (
    "QPushButton { background: #3a3f4b; color: white; font-weight: 600; padding: 4px;"
    " border: 2px solid #d93025; }"
)
#: The figures' colour per alert level (app.live.rec_watch): grey, amber, red.
FIGURE_COLOURS = {Level.OK: MUTED, Level.WARN: "#f2a900", Level.ALARM: "#ff5449"}


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(n) < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000.0
    return f"{n:.1f} TB"


def _clock(seconds: float) -> str:
    m, s = divmod(max(seconds, 0.0), 60.0)
    h, m = divmod(m, 60.0)
    return f"{int(h):d}:{int(m):02d}:{s:04.1f}"


class RecordPanel(QtWidgets.QGroupBox):
    """Emits ``record_requested(RecordingRequest)``, ``stop_requested()``,
    ``marker_requested()``. :meth:`request` raises ThermorigError for a bad name."""

    record_requested = QtCore.Signal(object)
    stop_requested = QtCore.Signal()
    marker_requested = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__("Recording", parent)
        self.folder = QtWidgets.QLineEdit(str(Path.home()))
        self.browse = QtWidgets.QPushButton("…")
        self.browse.setFixedWidth(28)
        self.browse.setToolTip("Choose the folder for recordings")
        self.name = QtWidgets.QLineEdit()
        self.name.setToolTip("Empty: activity-subject-date-time.h5")
        self.activity = QtWidgets.QComboBox()
        self.activity.addItems(ACTIVITIES)
        self.subject = QtWidgets.QLineEdit()
        self.subject.setPlaceholderText("pseudonym, e.g. S07")
        self.notes = QtWidgets.QLineEdit()
        self.notes.setPlaceholderText("protocol, load, room temperature…")
        self.button = QtWidgets.QPushButton("● Record")
        self.button.setStyleSheet(RECORD_STYLE)
        self.marker = QtWidgets.QPushButton("Marker (M)")
        self.marker.setEnabled(False)
        self.figures = QtWidgets.QLabel("")
        self.figures.setStyleSheet(f"color: {MUTED};")
        self.figures.setWordWrap(True)  # a long file name wraps, never widens the column
        self.figures.setTextInteractionFlags(QtCore.Qt.TextInteractionFlag.TextSelectableByMouse)

        folder = QtWidgets.QHBoxLayout()
        folder.addWidget(self.folder, 1)
        folder.addWidget(self.browse)
        form = QtWidgets.QFormLayout()
        form.addRow("Folder", folder)
        form.addRow("File", self.name)
        form.addRow("Activity", self.activity)
        form.addRow("Subject", self.subject)
        form.addRow("Notes", self.notes)
        buttons = QtWidgets.QHBoxLayout()
        buttons.addWidget(self.button, 2)
        buttons.addWidget(self.marker, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.figures)

        self.recording = False
        self.finishing = False  # Stop asked, the writer empties its queue
        self.available = True
        self._fields = (
            self.folder,
            self.browse,
            self.name,
            self.activity,
            self.subject,
            self.notes,
        )
        self.button.clicked.connect(self._clicked)
        self.marker.clicked.connect(self.marker_requested)
        self.browse.clicked.connect(self._browse)
        self.activity.currentTextChanged.connect(self._propose_name)
        self.subject.textChanged.connect(self._propose_name)
        self._propose_name()
        self.show_idle()

    def _browse(self) -> None:
        start = str(start_folder(self.folder.text().strip()))
        folder = QtWidgets.QFileDialog.getExistingDirectory(self, "Folder", start)
        if folder:
            self.folder.setText(folder)

    def _propose_name(self, _=None) -> None:
        """Show the automatic name the fields make (the time is filled in at Record)."""
        name = default_name(self.activity.currentText(), self.subject.text(), "date-time")
        self.name.setPlaceholderText(f"automatic: {name}")

    def follow_source(self, source_activity: str | None) -> None:
        """Propose the activity the source says it shows (a calibration scene, a
        replayed session); a live camera does not say, and the choice stays."""
        if not self.recording:
            self.activity.setCurrentText(
                recording_activity(source_activity, self.activity.currentText())
            )

    def set_available(self, available: bool) -> None:
        """Record only while a source delivers; Stop whenever recording."""
        self.available = available
        self.button.setEnabled(not self.finishing and (self.recording or available))
        self.button.setToolTip("" if available or self.recording else "no source to record")

    def request(self) -> RecordingRequest:
        """The recording the fields describe; ThermorigError if the file is unusable."""
        name = self.name.text().strip() or default_name(
            self.activity.currentText(), self.subject.text()
        )
        path = Path(self.folder.text().strip() or ".").expanduser() / name
        check_output(path, overwrite=None)
        return RecordingRequest(
            path=path,
            activity=self.activity.currentText(),
            subject=self.subject.text().strip(),
            notes=self.notes.text().strip(),
        )

    def _clicked(self) -> None:
        if self.recording:
            self.stop_requested.emit()
        else:
            self.record_requested.emit(None)

    def set_finishing(self) -> None:
        """Stop was asked: nothing to click until the file is closed."""
        self.finishing = True
        self.button.setEnabled(False)
        self.button.setText("Finishing…")

    def set_recording(self, recording: bool) -> None:
        self.recording = recording
        self.finishing = False
        self.button.setText("■ Stop" if recording else "● Record")
        self.button.setStyleSheet(STOP_STYLE if recording else RECORD_STYLE)
        self.marker.setEnabled(recording)
        for w in self._fields:
            w.setEnabled(not recording)
        if not recording:
            self.name.clear()  # the next recording gets a fresh automatic name
            self.button.setEnabled(self.available)

    def show_status(self, status: RecordingStatus, level: Level = Level.OK) -> None:
        free = self._free()
        lines = [
            f"{status.state}: {status.path.name}",
            f"elapsed {_clock(status.seconds)} · {_size(status.bytes_on_disk)} · free {free}",
            f"{status.total_frames} frames · {status.total_dropped} dropped · "
            f"{status.markers} markers · {status.queued} queued",
        ]
        if status.total_raw:
            lines.append(f"{status.total_raw} frames stored uncompressed (the machine was busy)")
        if status.behind:
            lines.append("writer behind: preview slowed so recording keeps every frame")
        self.figures.setText("\n".join(lines))
        self.figures.setStyleSheet(f"color: {FIGURE_COLOURS[level]};")

    def show_idle(self, last: RecordingStatus | None = None) -> None:
        text = f"free disk {self._free()}"
        if last is not None:
            text = (
                f"saved {last.path.name}: {last.total_frames} frames, "
                f"{_clock(last.seconds)}, {_size(last.bytes_on_disk)}\n" + text
            )
        self.figures.setText(text)
        self.figures.setStyleSheet(f"color: {MUTED};")

    def _free(self) -> str:
        """Free space where the recording will go (the nearest existing folder)."""
        folder = Path(self.folder.text().strip() or ".").expanduser().absolute()
        while not folder.exists() and folder != folder.parent:
            folder = folder.parent
        try:
            return _size(shutil.disk_usage(folder).free)
        except OSError:
            return "unknown"
