"""The rig check's badge in the main window: the check on the first seconds of a
replayed session calls its true rig ok and a turned one drifted, and offers the
refinement. Full-size images: the check's figures are measured at the synthetic rig's
640x512 thermal resolution (docs/rig-check.md)."""

import numpy as np
from PySide6 import QtCore, QtWidgets

from app.ui.main.source_panel import replay_spec
from calibration.alignment import rotate_camera
from tests.synthetic_sessions import session
from tests.ui_support import make_window, message_boxes


def _state(badge) -> str:
    return badge.verdict.state if badge.verdict is not None else ""


def test_the_badge_says_ok_for_the_true_rig_and_drifted_for_a_turned_one(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, replay_spec(session("cycling", 3.0)), rig_check=True)
    window.live.rig_watch.collect_s = 2.5  # the default 6 s: a shorter look for a test
    window.live.set_loop(True)  # frames for the second rig too
    badge = window.rig_badge
    qtbot.waitUntil(lambda: _state(badge) == "checking" and badge.isVisible(), timeout=30000)
    assert badge.text() == "rig: checking…"
    # Up to three collections when a busy machine's frames come too sparse to judge
    # (app.live.rig_watch.SPARSE_RETRIES): a loaded CI run once needed over 60 s.
    qtbot.waitUntil(lambda: _state(badge) in ("ok", "drifted", "unchecked"), timeout=150000)
    assert _state(badge) == "ok", badge.toolTip()
    assert badge.text() == "rig ok" and "rotation 0." in badge.toolTip()

    turned = rotate_camera(window.live.rig, "thermal", np.radians([0.0, -2.0, 0.0]))
    turned.save(tmp_path / "turned.json")
    assert window.load_rig_file(tmp_path / "turned.json")
    qtbot.waitUntil(lambda: _state(badge) == "drifted", timeout=150000)
    result = badge.verdict.result
    assert abs(result.rotation_error_deg - 2.0) < 0.5, badge.toolTip()
    assert badge.text().startswith("rig drifted 2.") and badge.text().endswith("use refined…")

    def take_it():  # the question the click asks: "Use"
        boxes = message_boxes()
        if not boxes:
            QtCore.QTimer.singleShot(50, take_it)
            return
        use = next(b for b in boxes[0].buttons() if b.text().replace("&", "") == "Use")
        use.click()

    QtCore.QTimer.singleShot(50, take_it)
    badge.click()
    in_force = window.live.rig["thermal"].T_ref_cam
    assert np.allclose(in_force, result.refined["thermal"].T_ref_cam)
    assert not np.allclose(in_force, turned["thermal"].T_ref_cam)
    assert window.live.rig_origin == "refined by the rig check (not saved)"
    assert _state(badge) == "checking"  # the refined rig is checked in turn
    assert not [
        w
        for w in QtWidgets.QApplication.topLevelWidgets()
        if w.isVisible() and isinstance(w, QtWidgets.QMessageBox)
    ]
