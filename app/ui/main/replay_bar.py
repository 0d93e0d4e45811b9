"""Replay controls: play/pause, step back and forward, first/last frame, a timeline over
the pivot stream's frames with the session's event markers on it, speed, loop.

Frames are numbered from 1 for the person (the slider's rows count from 0): frame 1 is
the first FrameSet of the session, as in the review window.
"""

from __future__ import annotations

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.capture import ReplayInfo

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
#: Event markers on the timeline (the same amber as a marker set while recording).
MARKER_COLOUR = "#ffb020"
#: How near (pixels) the pointer must be to a marker for its tooltip.
MARKER_HOVER_PX = 5

#: The replay's keys: (key, what it does, the ReplayBar method it calls). The window
#: binds them through its shortcut table (:mod:`app.ui.main.shortcuts`), which also
#: makes Help › Keyboard shortcuts.
REPLAY_KEYS: tuple[tuple[str, str, str], ...] = (
    ("Left", "step back one frame (pauses)", "step_back_once"),
    ("Right", "step forward one frame (pauses)", "step_once"),
    ("Home", "first frame", "first"),
    ("End", "last frame", "last"),
)


class MarkedSlider(QtWidgets.QSlider):
    """A horizontal slider that draws event markers over its groove and names the one
    under the pointer in a tooltip."""

    def __init__(self, parent=None):
        super().__init__(QtCore.Qt.Orientation.Horizontal, parent)
        #: (row, text) per marker, in row order.
        self.markers: list[tuple[int, str]] = []
        self.setMouseTracking(True)

    def set_markers(self, markers: list[tuple[int, str]]) -> None:
        self.markers = list(markers)
        self.update()

    def marker_x(self, row: int) -> int:
        """Pixel x of ``row`` along the groove (where the handle's centre would be)."""
        opt = QtWidgets.QStyleOptionSlider()
        self.initStyleOption(opt)
        style = self.style()
        groove = style.subControlRect(
            QtWidgets.QStyle.ComplexControl.CC_Slider,
            opt,
            QtWidgets.QStyle.SubControl.SC_SliderGroove,
            self,
        )
        handle = style.subControlRect(
            QtWidgets.QStyle.ComplexControl.CC_Slider,
            opt,
            QtWidgets.QStyle.SubControl.SC_SliderHandle,
            self,
        )
        span = max(groove.width() - handle.width(), 1)
        pos = QtWidgets.QStyle.sliderPositionFromValue(
            self.minimum(), self.maximum(), row, span, opt.upsideDown
        )
        return groove.x() + pos + handle.width() // 2

    def marker_near(self, x: float) -> tuple[int, str] | None:
        """The marker drawn within :data:`MARKER_HOVER_PX` of pixel ``x``, if any."""
        best = min(self.markers, key=lambda m: abs(self.marker_x(m[0]) - x), default=None)
        if best is None or abs(self.marker_x(best[0]) - x) > MARKER_HOVER_PX:
            return None
        return best

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt API
        super().paintEvent(event)
        if not self.markers:
            return
        painter = QtGui.QPainter(self)
        painter.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        colour = QtGui.QColor(MARKER_COLOUR)
        painter.setPen(QtGui.QPen(colour, 2))
        painter.setBrush(colour)
        h = self.height()
        for row, _ in self.markers:
            x = self.marker_x(row)
            painter.drawLine(x, 2, x, h - 2)
            painter.drawPolygon(
                QtGui.QPolygon(
                    [QtCore.QPoint(x - 4, 0), QtCore.QPoint(x + 4, 0), QtCore.QPoint(x, 5)]
                )
            )
        painter.end()

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt API
        hit = self.marker_near(event.position().x())
        if hit is not None:
            QtWidgets.QToolTip.showText(
                event.globalPosition().toPoint(), f"{hit[1]} — frame {hit[0] + 1}", self
            )
        else:
            QtWidgets.QToolTip.hideText()
        super().mouseMoveEvent(event)


class ReplayBar(QtWidgets.QWidget):
    """Emits ``play(bool)``, ``step()``, ``step_back()``, ``seek(row)``,
    ``speed(float)``, ``loop(bool)``.

    The slider counts frames of the replay's pivot stream (the slowest one: every
    position is a FrameSet); the label shows time, the frame (from 1) and the marker
    at that frame, if any.
    """

    play = QtCore.Signal(bool)
    step = QtCore.Signal()
    step_back = QtCore.Signal()
    seek = QtCore.Signal(int)
    speed = QtCore.Signal(float)
    loop = QtCore.Signal(bool)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.info: ReplayInfo | None = None
        self.playing = True
        self.play_button = QtWidgets.QPushButton("Pause")
        self.play_button.setToolTip("Play / pause (Space)")
        self.play_button.setFixedWidth(70)
        self.back_button = QtWidgets.QPushButton("◂")
        self.back_button.setToolTip("Previous frame (Left arrow); Home: first frame")
        self.step_button = QtWidgets.QPushButton("▸")
        self.step_button.setToolTip("Next frame (Right arrow); End: last frame")
        for b in (self.back_button, self.step_button):
            b.setFixedWidth(32)
        self.slider = MarkedSlider()
        self.slider.setTracking(False)
        self.position = QtWidgets.QLabel("")
        self.position.setMinimumWidth(210)
        self.speed_combo = QtWidgets.QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s:g}×", s)
        self.speed_combo.setCurrentIndex(SPEEDS.index(1.0))
        self.loop_check = QtWidgets.QCheckBox("Loop")
        layout = QtWidgets.QHBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        for w in (self.play_button, self.back_button, self.step_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.speed_combo)
        layout.addWidget(self.loop_check)

        self.play_button.clicked.connect(self.toggle)
        self.back_button.clicked.connect(self.step_back_once)
        self.step_button.clicked.connect(self.step_once)
        self.slider.valueChanged.connect(self.seek)
        self.speed_combo.currentIndexChanged.connect(
            lambda i: self.speed.emit(float(self.speed_combo.itemData(i)))
        )
        self.loop_check.toggled.connect(self.loop)

    def set_info(self, info: ReplayInfo | None, playing: bool = True) -> None:
        """A new source: its replay frame grid (None: not a replay), and whether the
        replay starts playing."""
        self.info = info
        self.setVisible(info is not None)
        if info is None:
            self.slider.set_markers([])
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(info.count - 1, 0))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        markers = info.marker_rows()
        self.slider.set_markers(markers)
        self.slider.setToolTip(
            "markers: " + ", ".join(f"{t} (frame {r + 1})" for r, t in markers)
            if markers
            else "no event markers in this session (M sets one while recording)"
        )
        self.set_playing(playing)
        self.show_position(0)

    def set_playing(self, playing: bool) -> None:
        self.playing = playing
        self.play_button.setText("Pause" if playing else "Play")

    def show_position(self, row: int) -> None:
        """Move the slider to ``row`` without seeking (unless the person is dragging it)."""
        if self.info is None or not self.info.count:
            return
        if not self.slider.isSliderDown():
            self.slider.blockSignals(True)
            self.slider.setValue(row)
            self.slider.blockSignals(False)
        t = float(self.info.times[row])
        text = f"{t:6.2f} / {self.info.duration:.2f} s   frame {row + 1} / {self.info.count}"
        here = [m for r, m in self.slider.markers if r == row]
        if here:
            text += f" · {', '.join(here)}"
        self.position.setText(text)

    def toggle(self) -> None:
        """Play if paused, pause if playing (button and Space)."""
        self.set_playing(not self.playing)
        self.play.emit(self.playing)

    def step_once(self) -> None:
        """Pause and show the next FrameSet (button and Right arrow)."""
        self.set_playing(False)
        self.step.emit()

    def step_back_once(self) -> None:
        """Pause and show the previous FrameSet (button and Left arrow)."""
        self.set_playing(False)
        self.step_back.emit()

    def first(self) -> None:
        """The first frame (Home); playing or paused as before."""
        self.seek.emit(0)

    def last(self) -> None:
        """The last frame (End), paused: nothing follows it."""
        if self.info is not None and self.info.count:
            self.set_playing(False)
            self.play.emit(False)
            self.seek.emit(self.info.count - 1)
