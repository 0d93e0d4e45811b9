"""Replay in the window: pause, seek by slider, step, speed, loop, end of session."""

import numpy as np
import pytest
from PySide6 import QtCore

from app.ui.main.source_panel import replay_spec
from drivers.session import SessionReader
from tests.fakes import FakeRig, write_fake_session
from tests.ui_support import make_window, wait_frames


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("ui-replay") / "fake.h5"
    write_fake_session(path, FakeRig(duration=3.0, scale=8))
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
    bar.loop_check.setChecked(True)
    qtbot.mouseClick(bar.play_button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bar.slider.value() < 20, timeout=5000)  # started over
    sets = window.live.worker.stats.get()[1].sets
    qtbot.waitUntil(lambda: window.live.worker.stats.get()[1].sets > sets + 30, timeout=10000)
    assert not window.source_panel.state.text().endswith("ended"), "looping never ends"
