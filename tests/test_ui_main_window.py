"""The main window on a live source: three views, overlay, recording, bad input."""

import json
import re

import numpy as np
import pytest
from PySide6 import QtCore

from app.ui.main.source_panel import replay_spec
from drivers.errors import DiskFullError
from drivers.session import SessionReader
from drivers.session_writer import SessionWriter
from tests.ui_support import close_message_boxes, make_window, message_boxes, wait_frames


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, w, 3)
    return w


def test_window_shows_all_three_streams_live_with_the_projected_overlay(qtbot, window):
    assert window.live.streams.keys() == {"thermal", "depth", "color"}
    views = window.preview.views
    first = {s: v.image.image.copy() for s, v in views.items()}
    assert first["thermal"].shape == (128, 160) and first["thermal"].dtype == np.uint16
    assert first["depth"].shape == (120, 160) and first["depth"].dtype == np.uint8, "indices"
    assert first["color"].shape == (180, 320, 3) and first["color"].dtype == np.uint8
    wait_frames(qtbot, window, 5)
    for s, v in views.items():
        assert not np.array_equal(v.image.image, first[s]), f"{s} view did not change"
    # Thermal: fixed levels and a LUT (pyqtgraph's fast path), the colour bar in °C.
    lo, hi = window.preview.levels_c
    assert 15.0 < lo < hi < 45.0
    assert views["thermal"].image.lut is window.preview.thermal_lut
    # Projected labels are drawn over the thermal view by the overlay stage.
    qtbot.waitUntil(lambda: views["thermal"].overlay.isVisible(), timeout=10000)
    rgba = views["thermal"].overlay.image
    assert rgba.shape == (128, 160, 4) and (rgba[..., 3] > 0).any()
    assert window.live.runner.results().keys() == {"projected"}
    assert (
        window.live.rig is not None and window.live.rig_origin == "true rig of the synthetic scene"
    )
    qtbot.waitUntil(lambda: window.status_panel.streams.rowCount() == 3, timeout=3000)
    assert "pivot" in window.status_panel.sync.text()


def test_readout_under_the_cursor_reports_celsius(qtbot, window):
    texts = []
    window.preview.readout.connect(texts.append)
    window.preview.views["thermal"].hovered.emit("thermal", 80.5, 64.2)
    # The temperature, then the mark under the cursor when an overlay draws one there.
    assert re.fullmatch(r"thermal  x 80  y 64 +-?\d+\.\d\d °C( +· .+)?", texts[-1]), texts[-1]
    window.preview.views["depth"].hovered.emit("depth", 10.0, 10.0)
    assert texts[-1].endswith(" m") or texts[-1].endswith("no depth")


def test_fixed_thermal_levels_are_used(qtbot, window):
    window.preview.set_levels(False, 25.0, 35.0)
    wait_frames(qtbot, window, 2)
    assert window.preview.levels_c == (25.0, 35.0)
    assert tuple(window.preview.views["thermal"].image.levels) == pytest.approx((29815.0, 30815.0))


def test_recording_from_the_window_writes_a_valid_session(qtbot, window, tmp_path):
    panel = window.record_panel
    panel.folder.setText(str(tmp_path))
    panel.name.setText("gui.h5")
    panel.activity.setCurrentText("cycling")
    panel.subject.setText("S07")
    panel.notes.setText("ramp test")
    qtbot.mouseClick(panel.button, QtCore.Qt.MouseButton.LeftButton)
    assert panel.recording and not window.source_panel.combo.isEnabled()
    wait_frames(qtbot, window, 10)
    qtbot.keyClick(window, QtCore.Qt.Key.Key_M)
    wait_frames(qtbot, window, 5)
    qtbot.mouseClick(panel.button, QtCore.Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.live.last_recording is not None, timeout=20000)
    status = window.live.last_recording
    assert status.state == "done" and not panel.recording
    assert window.source_panel.combo.isEnabled()
    with SessionReader(tmp_path / "gui.h5") as reader:
        assert reader.attrs["subject"] == "S07" and reader.attrs["notes"] == "ramp test"
        assert reader.attrs["activity"] == "cycling"
        for name in ("thermal", "depth", "color"):
            assert reader.count(name) == status.frames[name] >= 10
        assert reader.frame("thermal", 0).array.shape == (128, 160)
        assert len(reader.events()) == 1
        assert reader.truth is not None and reader.truth["rig"] is not None


def test_recording_error_is_shown_and_the_app_keeps_running(qtbot, window, tmp_path, monkeypatch):
    def full(self, frame):
        raise DiskFullError(
            f"disk nearly full: 1 MB free in {tmp_path}; free space or record elsewhere"
        )

    monkeypatch.setattr(SessionWriter, "write", full)
    window.record_panel.folder.setText(str(tmp_path))
    assert window.start_recording()
    # Its own box: another test's may still be open (a module run before this one).
    qtbot.waitUntil(
        lambda: any(b.text().startswith("disk nearly full") for b in message_boxes()),
        timeout=10000,
    )
    close_message_boxes()
    assert not window.record_panel.recording and window.record_panel.button.isEnabled()
    wait_frames(qtbot, window, 3)  # the preview goes on


def test_existing_file_name_is_refused_before_recording(qtbot, window, tmp_path):
    (tmp_path / "taken.h5").write_bytes(b"")
    window.record_panel.folder.setText(str(tmp_path))
    window.record_panel.name.setText("taken.h5")
    assert not window.start_recording()
    assert "exists" in window.errors[-1] and not window.record_panel.recording
    close_message_boxes()


def test_bad_session_file_shows_an_error_and_keeps_the_current_source(qtbot, window, tmp_path):
    bad = tmp_path / "broken.h5"
    bad.write_bytes(b"this is not HDF5" * 100)
    assert not window.open_source(replay_spec(bad))
    texts = close_message_boxes()
    assert texts and "not an HDF5 file" in texts[0]
    assert window.live.spec == "synthetic:cycling"
    wait_frames(qtbot, window, 3)


def test_unknown_source_is_reported_and_a_good_one_opens_after(qtbot, window):
    assert window.open_source("nope:x")  # only the worker can tell: it fails there
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=10000)
    assert "unknown source 'nope:x'" in close_message_boxes()[0]
    assert window.open_source("synthetic:cycling")
    wait_frames(qtbot, window, 3)


def test_rig_that_does_not_fit_the_streams_is_refused(qtbot, window, tmp_path):
    rig = window.live.rig.to_dict()
    rig["cameras"]["thermal"]["width"] = 640
    path = tmp_path / "other.json"
    path.write_text(json.dumps(rig))
    assert not window.load_rig_file(path)
    assert "'thermal' camera is 640x128 but the stream is 160x128" in close_message_boxes()[0]
    assert window.live.rig_origin == "true rig of the synthetic scene"
    (tmp_path / "junk.json").write_text("{")
    assert not window.load_rig_file(tmp_path / "junk.json")
    assert "not valid JSON" in close_message_boxes()[0]
    good = tmp_path / "good.json"
    good.write_text(json.dumps(window.live.rig.to_dict()))
    assert window.load_rig_file(good)
    assert window.live.rig_origin == "file good.json"
    wait_frames(qtbot, window, 2)


def test_choices_persist_in_settings(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, None)
    w.preview.set_thermal_map("ironbow")
    w.preview.set_levels(False, 22.0, 36.0)
    w.record_panel.subject.setText("S11")
    w.record_panel.folder.setText(str(tmp_path))
    w.resize(1000, 700)
    w.dispose()
    again = make_window(qtbot, tmp_path, None)
    assert again.preview.thermal_map == "ironbow"
    assert not again.preview.auto_levels and again.preview.fixed_levels == (22.0, 36.0)
    assert again.record_panel.subject.text() == "S11"
    assert again.record_panel.folder.text() == str(tmp_path)


def test_overlay_can_be_switched_off_from_the_view_menu(qtbot, window):
    thermal = window.preview.views["thermal"]
    qtbot.waitUntil(lambda: thermal.overlay.isVisible(), timeout=10000)
    (action,) = [a for a in window.overlay_menu.actions() if a.objectName() == "overlay-projected"]
    action.trigger()
    qtbot.waitUntil(lambda: not thermal.overlay.isVisible(), timeout=3000)
    wait_frames(qtbot, window, 3)
    assert not thermal.overlay.isVisible()
    action.trigger()
    qtbot.waitUntil(lambda: thermal.overlay.isVisible(), timeout=5000)


def test_detected_cameras_are_offered_as_sources(qtbot, tmp_path, monkeypatch):
    import drivers.discovery as discovery

    window = make_window(qtbot, tmp_path, None)
    found = [discovery.DeviceInfo("thermal", "PureThermal (FLIR Lepton)", "uvc:2")]
    monkeypatch.setattr(discovery, "discover", lambda: found)
    qtbot.mouseClick(window.source_panel.detect_button, QtCore.Qt.MouseButton.LeftButton)
    combo = window.source_panel.combo
    assert combo.findData("uvc:2") >= 0
    assert "PureThermal" in combo.itemText(combo.findData("uvc:2"))
    monkeypatch.setattr(discovery, "discover", lambda: [])
    window.detect_cameras()
    assert window.statusBar().currentMessage().startswith("No cameras found")
