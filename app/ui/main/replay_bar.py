"""Replay controls: play/pause, step, a slider over the pivot stream's frames, speed, loop."""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.live.capture import ReplayInfo

SPEEDS = (0.1, 0.25, 0.5, 1.0, 2.0, 4.0)


class ReplayBar(QtWidgets.QWidget):
    """Emits ``play(bool)``, ``step()``, ``seek(row)``, ``speed(float)``, ``loop(bool)``.

    The slider counts frames of the replay's pivot stream (the slowest one: every
    position is a FrameSet); the label shows time and frame.
    """

    play = QtCore.Signal(bool)
    step = QtCore.Signal()
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
        self.step_button = QtWidgets.QPushButton("Step ▸")
        self.step_button.setToolTip("Next frame set (Right arrow)")
        self.slider = QtWidgets.QSlider(QtCore.Qt.Orientation.Horizontal)
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
        for w in (self.play_button, self.step_button):
            layout.addWidget(w)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.position)
        layout.addWidget(self.speed_combo)
        layout.addWidget(self.loop_check)

        self.play_button.clicked.connect(self.toggle)
        self.step_button.clicked.connect(self.step_once)
        self.slider.valueChanged.connect(self.seek)
        self.speed_combo.currentIndexChanged.connect(
            lambda i: self.speed.emit(float(self.speed_combo.itemData(i)))
        )
        self.loop_check.toggled.connect(self.loop)

    def set_info(self, info: ReplayInfo | None) -> None:
        self.info = info
        self.setVisible(info is not None)
        if info is None:
            return
        self.slider.blockSignals(True)
        self.slider.setRange(0, max(info.count - 1, 0))
        self.slider.setValue(0)
        self.slider.blockSignals(False)
        self.set_playing(True)
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
        self.position.setText(
            f"{t:6.2f} / {self.info.duration:.2f} s   frame {row + 1} / {self.info.count}"
        )

    def toggle(self) -> None:
        """Play if paused, pause if playing (button and Space)."""
        self.set_playing(not self.playing)
        self.play.emit(self.playing)

    def step_once(self) -> None:
        """Pause and show the next FrameSet (button and Right arrow)."""
        self.set_playing(False)
        self.step.emit()
