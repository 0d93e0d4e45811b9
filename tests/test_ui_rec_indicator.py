"""The recording state in the main window: the REC badge and the title, the warning
line's colours, Record only with a source, the activity of the source, and the file
dialogs starting in the folder in use."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.live.rec_watch import Level
from app.ui.main import file_dialogs
from app.ui.main.rec_indicator import AMBER, RED
from app.ui.main.source_panel import replay_spec
from drivers.recording import RecordingStatus
from drivers.types import StreamHealth
from tests.fakes import FakeRig, write_fake_session
from tests.ui_support import close_message_boxes, make_window, message_boxes, wait_frames


def _recording(qtbot, tmp_path, source: str = "synthetic:cycling"):
    w = make_window(qtbot, tmp_path, source)
    wait_frames(qtbot, w, 3)
    w.record_panel.folder.setText(str(tmp_path))
    return w


def _stop(qtbot, w) -> None:
    w.stop_recording()
    qtbot.waitUntil(lambda: not w.live.recording, timeout=20000)


def test_recording_shows_a_red_rec_badge_with_elapsed_time_in_the_bar_and_the_title(
    qtbot, tmp_path
):
    w = _recording(qtbot, tmp_path)
    bar = w.rec_bar
    assert w.windowTitle() == "thermorig" and bar.badge.text() == "not recording"
    qtbot.keyClick(w, QtCore.Qt.Key.Key_R, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert w.live.recording, "Ctrl+R records"
    assert bar.badge.text() == "● REC 00:00" and RED in bar.badge.styleSheet()
    assert w.windowTitle().startswith("● REC 00:00")
    qtbot.waitUntil(lambda: bar.badge.text() == "● REC 00:01", timeout=15000)
    assert w.windowTitle().startswith("● REC 00:01") and w.windowTitle().endswith("thermorig")
    assert bar.button.text() == "■ Stop"
    qtbot.keyClick(w, QtCore.Qt.Key.Key_R, QtCore.Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: bar.button.text() == "Finishing…", timeout=3000)
    w._set_available(True)  # figures arriving while the file closes change nothing
    assert not bar.button.isEnabled() and not w.record_panel.button.isEnabled()
    qtbot.waitUntil(lambda: w.live.last_recording is not None, timeout=20000)
    assert w.live.last_recording.state == "done"
    assert bar.badge.text() == "not recording" and w.windowTitle() == "thermorig"
    assert bar.button.text() == "● Record" and bar.button.isEnabled()


def test_lost_frames_turn_the_warning_line_amber_then_red(qtbot, tmp_path):
    w = _recording(qtbot, tmp_path)
    assert w.start_recording()
    bar = w.rec_bar
    health = {n: StreamHealth(fps=30.0) for n in ("thermal", "depth", "color")}
    bar.started(health)  # the window's own figures are replaced by these from here on
    w.timer.stop()

    def status(frames: int, dropped: int = 0, fill: float = 0.0) -> RecordingStatus:
        return RecordingStatus(
            path=tmp_path / "x.h5",
            state="recording",
            frames=dict.fromkeys(health, frames),
            dropped={"thermal": 0, "depth": 0, "color": dropped},
            seconds=frames / 30.0,
            queue_fill=fill,
        )

    assert bar.show_status(status(300), health).level is Level.OK
    assert bar.warning.full_text() == "" and bar.warning.isVisible()
    alert = bar.show_status(status(330, fill=0.6), health)
    assert alert.level is Level.WARN and AMBER in bar.warning.styleSheet()
    health["color"].fps = 18.5
    alert = bar.show_status(status(360, dropped=590), health)
    assert alert.level is Level.ALARM and RED in bar.warning.styleSheet()
    assert bar.warning.toolTip().startswith("dropping frames: 590 lost, 18.5 fps")
    assert "⚠" in w.windowTitle()
    w.record_panel.show_status(status(360, dropped=590), alert.level)
    assert "#ff5449" in w.record_panel.figures.styleSheet()
    w.timer.start(16)
    _stop(qtbot, w)


def test_record_is_offered_only_with_a_source(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, None)
    assert not w.record_panel.button.isEnabled() and not w.rec_bar.button.isEnabled()
    assert not w.live.can_record
    w.open_source("synthetic:cycling")
    wait_frames(qtbot, w, 2)
    assert w.record_panel.button.isEnabled() and w.rec_bar.button.isEnabled()
    assert w.open_source("nope:x")  # only the worker can tell: it fails there
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=10000)
    close_message_boxes()
    assert not w.record_panel.button.isEnabled() and not w.rec_bar.button.isEnabled()
    assert w.record_panel.button.toolTip() == "no source to record"


def test_a_calibration_source_records_as_calibration(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, w, 2)
    assert w.record_panel.activity.currentText() == "cycling"
    w.open_source("synthetic:calibration")
    wait_frames(qtbot, w, 2)
    panel = w.record_panel
    assert panel.activity.currentText() == "calibration"
    assert panel.name.placeholderText() == "automatic: calibration-date-time.h5"
    panel.folder.setText(str(tmp_path))
    request = panel.request()
    assert request.activity == "calibration" and request.path.name.startswith("calibration-")


def test_open_session_starts_in_the_folder_in_use(qtbot, tmp_path, monkeypatch):
    asked: list[str] = []

    def dialog(parent, title, folder, filters):
        asked.append(folder)
        return "", ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", dialog)
    records = tmp_path / "records"
    records.mkdir()
    w = make_window(qtbot, tmp_path, None)
    w.record_panel.folder.setText(str(records))
    w.settings.remove(file_dialogs.SESSION_DIR_KEY)
    w.settings.remove(file_dialogs.RIG_DIR_KEY)
    w.source_panel.open_button.click()
    w.source_panel.rig_button.click()
    assert asked == [str(records)] * 2, "nothing else known: the recording folder"

    elsewhere = tmp_path / "study" / "S07"
    elsewhere.mkdir(parents=True)
    session = elsewhere / "a.h5"
    write_fake_session(session, FakeRig(duration=0.5, scale=2))
    assert w.open_source(replay_spec(session))
    qtbot.waitUntil(lambda: w.live.replay is not None, timeout=10000)
    w.source_panel.open_button.click()
    assert Path(asked[-1]) == elsewhere, "the session being replayed"

    rigs = tmp_path / "rigs"
    rigs.mkdir()
    w.settings.setValue(file_dialogs.RIG_DIR_KEY, str(rigs))
    w.source_panel.rig_button.click()
    assert Path(asked[-1]) == rigs, "where the last rig came from"
