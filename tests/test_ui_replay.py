"""Replay in the window: pause, seek by slider, step back and forth, Home/End, event
markers on the timeline, speed, loop, end of session."""

import numpy as np
import pytest
from PySide6 import QtCore, QtGui

from app.ui.main.replay_bar import MARKER_COLOUR
from app.ui.main.source_panel import replay_spec
from drivers.session import SessionReader
from tests.fakes import FakeRig, write_fake_session
from tests.ui_support import make_window, wait_frames


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("ui-replay") / "fake.h5"
    # FakeRig starts at t = 1000 s: markers 1.0 s and 2.0 s into the session.
    marks = [(1001.0, "marker 1"), (1002.0, "sprint ends")]
    write_fake_session(path, FakeRig(duration=3.0, scale=8), marks=marks)
    return path


def _thermal_is(window, array) -> bool:
    shown = window.preview.views["thermal"].image.image
    return shown is not None and np.array_equal(shown, array)


def test_replay_pause_seek_step(qtbot, tmp_path, session):
    window = make_window(qtbot, tmp_path, replay_spec(session))
    wait_frames(qtbot, window, 2)
    bar = window.replay_bar
    assert bar.isVisible() and bar.slider.maximum() == 26, "27 thermal frames (9 fps, 3 s)"
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)  # Space pauses
    assert not bar.playing and bar.play_button.text() == "Play"
    with SessionReader(session) as reader:
        frames = [reader.frame("thermal", i).array for i in (10, 11, 12)]
    bar.slider.setValue(10)  # a click on the slider track seeks
    qtbot.waitUntil(lambda: _thermal_is(window, frames[0]), timeout=5000)
    assert "frame 11 / 27" in bar.position.text()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Right)  # Right steps one FrameSet
    qtbot.waitUntil(lambda: _thermal_is(window, frames[1]), timeout=5000)
    assert bar.slider.value() == 11 and "frame 12 / 27" in bar.position.text()
    qtbot.mouseClick(bar.step_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _thermal_is(window, frames[2]), timeout=5000)
    shown = window.preview.views["thermal"].frames_shown
    qtbot.wait(300)
    assert window.preview.views["thermal"].frames_shown == shown, "paused: no new frames"


def test_replay_to_the_end_then_loop_at_speed(qtbot, tmp_path, session):
    window = make_window(qtbot, tmp_path, replay_spec(session))
    wait_frames(qtbot, window, 1)
    bar = window.replay_bar
    bar.speed_combo.setCurrentIndex(bar.speed_combo.findData(4.0))
    qtbot.waitUntil(lambda: window.source_panel.state.text().endswith("ended"), timeout=10000)
    assert not bar.playing
    # the last frame set may still be held (≤ 0.1 s) for its projected labels
    qtbot.waitUntil(lambda: bar.slider.value() == 26, timeout=2000)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Home)  # back to the start, still paused
    qtbot.waitUntil(lambda: bar.slider.value() == 0, timeout=5000)
    qtbot.wait(300)
    assert bar.slider.value() == 0 and not bar.playing, "Home after the end does not play"
    bar.loop_check.setChecked(True)
    qtbot.mouseClick(bar.play_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.slider.value() < 20, timeout=5000)  # started over
    sets = window.live.worker.stats.get()[1].sets
    qtbot.waitUntil(lambda: window.live.worker.stats.get()[1].sets > sets + 30, timeout=10000)
    assert not window.source_panel.state.text().endswith("ended"), "looping never ends"


def test_step_back_home_end_and_markers_on_the_timeline(qtbot, tmp_path, session):
    window = make_window(qtbot, tmp_path, replay_spec(session))
    wait_frames(qtbot, window, 1)
    bar = window.replay_bar
    # 9 fps thermal: 1.0 s and 2.0 s into the session are frames 10 and 19 (rows 9, 18).
    assert bar.slider.markers == [(9, "marker 1"), (18, "sprint ends")]
    with SessionReader(session) as reader:
        thermal = {i: reader.frame("thermal", i).array for i in (0, 8, 9, 26)}
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Space)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_End)  # the last frame
    qtbot.waitUntil(lambda: _thermal_is(window, thermal[26]), timeout=5000)
    assert bar.slider.value() == 26 and "frame 27 / 27" in bar.position.text()
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Home)  # the first frame
    qtbot.waitUntil(lambda: _thermal_is(window, thermal[0]), timeout=5000)
    assert bar.slider.value() == 0 and "frame 1 / 27" in bar.position.text()
    bar.slider.setValue(10)
    qtbot.waitUntil(lambda: bar.slider.value() == 10 and "frame 11" in bar.position.text())
    qtbot.keyClick(window, QtCore.Qt.Key.Key_Left)  # one frame back: on the marker
    qtbot.waitUntil(lambda: _thermal_is(window, thermal[9]), timeout=5000)
    assert bar.slider.value() == 9 and bar.position.text().endswith("frame 10 / 27 · marker 1")
    qtbot.mouseClick(bar.back_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _thermal_is(window, thermal[8]), timeout=5000)
    assert not bar.playing and "marker" not in bar.position.text()
    assert window.live.worker.stats.get()[1].sync["complete_sets"] == 1

    # The markers are drawn: amber ticks where rows 9 and 18 sit on the groove, none
    # half-way between them.
    image = bar.slider.grab().toImage()
    amber = QtGui.QColor(MARKER_COLOUR)

    def amber_at(x: int) -> int:
        near = 0
        for y in range(image.height()):
            c = image.pixelColor(x, y)
            near += abs(c.red() - amber.red()) + abs(c.green() - amber.green()) < 60
        return near

    for row, _ in bar.slider.markers:
        assert amber_at(bar.slider.marker_x(row)) >= 6, row
    assert amber_at((bar.slider.marker_x(9) + bar.slider.marker_x(18)) // 2) == 0
    assert bar.slider.marker_near(bar.slider.marker_x(18) + 2) == (18, "sprint ends")
    assert bar.slider.marker_near(bar.slider.marker_x(13)) is None
