"""The recording state where it cannot be missed: a toolbar across the window's top.

While recording, a red ``● REC mm:ss`` badge (also in the window title, which the
task bar shows), and beside it one line that turns amber, then red, when frames are
lost or the writer falls behind (:mod:`app.live.rec_watch` decides; this module only
paints). The bar also holds a Record / Stop button, so that recording can be started
and stopped with the Controls column scrolled or hidden on a small screen.

The bar's widgets keep their width whatever they say (the badge is as wide as its
longest text, the warning line is cut to fit with the whole text as its tooltip), so
nothing around them moves when a recording starts or stops.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.rec_watch import Level, RecAlert, RecordingWatch, elapsed_text
from app.ui.views import MUTED
from drivers.recording import RecordingStatus
from drivers.types import StreamHealth

RED = "#d93025"
AMBER = "#f2a900"
#: Badge and warning line per level: (background, text colour).
COLOURS = {Level.OK: ("transparent", MUTED), Level.WARN: (AMBER, "#1d1d1d"), Level.ALARM: (RED, "white")}  # fmt: skip
APP_TITLE = "thermorig"
#: Record / Stop from the keyboard.
RECORD_KEY = "Ctrl+R"
START_TIP = f"Start recording the source ({RECORD_KEY}; file and folder: see Controls)"


class ElidedLabel(QtWidgets.QLabel):
    """A one-line label that never asks for more width than it has: its text is cut
    with "…" to fit, the whole of it in the tooltip."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._full = ""
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Preferred
        )
        self.setMinimumWidth(40)

    def set_full_text(self, text: str) -> None:
        self._full = text
        self.setToolTip(text)
        self._elide()

    def full_text(self) -> str:
        return self._full

    def minimumSizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt API
        return QtCore.QSize(40, super().minimumSizeHint().height())

    def sizeHint(self) -> QtCore.QSize:  # noqa: N802 - Qt API
        return QtCore.QSize(40, super().sizeHint().height())

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt API
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        width = max(self.contentsRect().width() - 8, 10)
        mode = QtCore.Qt.TextElideMode.ElideRight
        super().setText(self.fontMetrics().elidedText(self._full, mode, width))


class RecIndicator(QtWidgets.QToolBar):
    """Emits ``record_clicked()`` for its Record / Stop button. The window calls
    :meth:`started`, :meth:`show_status` with each new figure, :meth:`finishing`
    and :meth:`stopped`; :attr:`title` is the window title to show."""

    record_clicked = QtCore.Signal()

    def __init__(self, parent=None):
        super().__init__("Recording", parent)
        self.setObjectName("recording-bar")
        self.setMovable(False)
        self.setFloatable(False)
        self.toggleViewAction().setEnabled(False)  # the state must stay in sight
        self.button = QtWidgets.QPushButton("● Record")
        self.button.setToolTip(START_TIP)
        widest = self.button.fontMetrics().horizontalAdvance("■ Finishing…")
        self.button.setMinimumWidth(widest + 24)
        self.badge = QtWidgets.QLabel()
        self.badge.setObjectName("rec-badge")
        self.badge.setAlignment(QtCore.Qt.AlignmentFlag.AlignCenter)
        font = self.badge.font()
        font.setBold(True)
        self.badge.setFont(font)
        widest = QtGui.QFontMetrics(font).horizontalAdvance("● REC 00:00:00")
        self.badge.setFixedWidth(widest + 20)
        self.warning = ElidedLabel()
        self.warning.setObjectName("rec-warning")
        for widget in (self.button, self.badge, self.warning):
            self.addWidget(widget)
        self.button.clicked.connect(self.record_clicked)
        # RECORD_KEY is bound by the window's shortcut table (app.ui.main.shortcuts),
        # not as the button's own shortcut: setText resets that to its mnemonic.

        self.watch = RecordingWatch()
        self.recording = False
        self._finishing = False
        self.available = False
        self.alert = RecAlert(Level.OK)
        self.elapsed = ""
        self.stopped()

    def key_pressed(self) -> None:
        """RECORD_KEY: what a click on Record / Stop does, when the button allows it."""
        if self.button.isEnabled():
            self.button.click()

    # -- what the window tells it -----------------------------------------------------
    def set_available(self, available: bool) -> None:
        """Record makes sense (a source delivers); Stop always does while recording."""
        self.available = available
        self.button.setEnabled(not self._finishing and (self.recording or available))

    def started(self, health: Mapping[str, StreamHealth] | None = None) -> None:
        """A recording started; ``health``: the source's figures now (only frames lost
        from here on count)."""
        self.watch.start(health)
        self.recording = True
        self.button.setText("■ Stop")
        self.button.setEnabled(True)
        self.button.setToolTip(f"Stop recording ({RECORD_KEY}; every frame so far is kept)")
        self._show(RecAlert(Level.OK), "00:00")

    def show_status(
        self, status: RecordingStatus, health: Mapping[str, StreamHealth] | None = None
    ) -> RecAlert:
        """Elapsed time and the alert for the recording's newest figures."""
        if not self.recording:
            return self.alert
        alert = self.watch.update(status, health)
        self._show(alert, elapsed_text(status.seconds))
        return alert

    def finishing(self) -> None:
        """Stop was asked: the writer empties its queue (the badge stays red)."""
        self._finishing = True
        self.button.setText("Finishing…")
        self.button.setEnabled(False)

    def stopped(self) -> None:
        """No recording (never started, finished or failed)."""
        self.recording = False
        self._finishing = False
        self.button.setEnabled(self.available)
        self.button.setText("● Record")
        self.button.setToolTip(START_TIP)
        self.elapsed = ""
        self.alert = RecAlert(Level.OK)
        self.badge.setText("not recording")
        self.badge.setStyleSheet(f"color: {MUTED}; border: 1px solid {MUTED}; border-radius: 3px;")
        self.warning.set_full_text("")
        self.warning.setStyleSheet("")
        self._retitle()

    # -- painting ---------------------------------------------------------------------
    def _show(self, alert: RecAlert, elapsed: str) -> None:
        self.alert, self.elapsed = alert, elapsed
        self.badge.setText(f"● REC {elapsed}")
        self.badge.setStyleSheet(
            f"background: {RED}; color: white; border-radius: 3px; padding: 2px 6px;"
        )
        background, colour = COLOURS[alert.level]
        self.warning.set_full_text(alert.text)
        self.warning.setStyleSheet(
            f"background: {background}; color: {colour}; font-weight: 600; padding: 2px 6px;"
            if alert.text
            else ""
        )
        self._retitle()

    @property
    def title(self) -> str:
        """The window title: the badge first while recording (a task bar shows the
        start of a title), a warning sign when frames are being lost."""
        if not self.recording:
            return APP_TITLE
        sign = " ⚠" if self.alert.level >= Level.WARN else ""
        return f"● REC {self.elapsed}{sign} — {APP_TITLE}"

    def _retitle(self) -> None:
        window = self.window()
        if window is not None and window is not self:
            window.setWindowTitle(self.title)
