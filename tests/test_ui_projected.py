"""Projected labels in the live window: the default overlay on synthetic:cycling agrees
with the thermal truth, follows the rig in force, says why it is off, and the cursor's
3-D point is marked in the other views."""

import json

import cv2
import numpy as np
import pytest

from app.live.capture import CaptureWorker, SourceOpened
from drivers.base import SourceInfo
from drivers.types import Frame, FrameSet, StreamSpec
from tests.mask_checks import calf_iou
from tests.ui_support import close_message_boxes, make_window, wait_frames


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, w, 3)
    qtbot.waitUntil(lambda: "projected" in w.live.runner.results(), timeout=15000)
    return w


def _same_frame_results(qtbot, window, after: int = -1) -> tuple:
    """Projected and truth results computed from one FrameSet (from ``after`` on)."""
    found = []

    def ready() -> bool:
        r = window.live.runner.results()
        if {"projected", "truth"} <= r.keys() and r["projected"].frameset == r[
            "truth"
        ].frameset >= after:
            found[:] = [r["projected"], r["truth"]]
            return r["projected"].labels is not None
        return False

    qtbot.waitUntil(ready, timeout=10000)
    return tuple(found)


def test_projected_calf_labels_are_the_default_overlay_and_agree_with_the_truth(qtbot, window):
    thermal = window.preview.views["thermal"]
    assert window.live.rig is not None and window.live.projected.rig is window.live.rig
    qtbot.waitUntil(lambda: thermal.overlay.isVisible(), timeout=10000)
    assert [o.objectName() for o in window.overlay_menu.actions()][:2] == [
        "overlay-projected",
        "overlay-truth",
    ]
    truth_action = window.overlay_menu.actions()[1]
    assert not truth_action.isChecked(), "ground truth is a toggle for comparison, off at first"
    truth_action.trigger()
    projected, truth = _same_frame_results(qtbot, window)
    assert projected.labels.shape == (128, 160)
    assert {1, 2} <= set(np.unique(projected.labels)), "both calves projected"
    assert calf_iou(projected.labels, truth.labels) > 0.8
    # Unknown pixels (no depth, hidden from the RGB camera) are drawn, not left blank.
    assert (projected.labels == 255).any() and (
        projected.rgba[projected.labels == 255, 3] > 0
    ).any()
    # Both overlays are drawn: projected (filled) under the truth (outline).
    qtbot.waitUntil(lambda: sum(layer.isVisible() for layer in thermal.layers) == 2, timeout=5000)
    qtbot.waitUntil(
        lambda: "projected from RGB ground truth" in thermal.note.toolTip(), timeout=3000
    )
    stats = {s.name: s for s in window.live.runner.stats()}
    assert stats["projected"].runs > 0 and stats["projected"].errors == 0
    qtbot.waitUntil(lambda: window.status_panel.stages.item(0, 1) is not None, timeout=3000)
    assert window.status_panel.stages.item(0, 1).text().endswith("/s")


def test_a_new_rig_rebuilds_the_projection_and_a_bad_rig_file_is_refused(qtbot, window, tmp_path):
    truth_action = window.overlay_menu.actions()[1]
    truth_action.trigger()
    projected, truth = _same_frame_results(qtbot, window)
    good = calf_iou(projected.labels, truth.labels)
    # The thermal camera 6 cm off: the labels land beside the calves.
    rig = window.live.rig.to_dict()
    rig["cameras"]["thermal"]["T_ref_cam"][0][3] += 0.06
    path = tmp_path / "shifted.json"
    path.write_text(json.dumps(rig))
    assert window.load_rig_file(path)
    assert (
        window.live.projected.rig is window.live.rig
        and window.live.rig_origin == "file shifted.json"
    )
    qtbot.waitUntil(
        lambda: getattr(window.live.projected.last, "rig", None) is window.live.rig, timeout=15000
    )
    first_new = window.live.projected.last.frameset
    projected, truth = _same_frame_results(qtbot, window, after=first_new)
    assert calf_iou(projected.labels, truth.labels) < good - 0.2
    (tmp_path / "bad.json").write_text('{"cameras": 3}')
    assert not window.load_rig_file(tmp_path / "bad.json")
    assert "not a rig" in close_message_boxes()[0]
    assert window.live.rig_origin == "file shifted.json", "the rig in force stays"
    wait_frames(qtbot, window, 3)  # the app keeps running


def test_the_cursor_marks_the_same_3d_point_in_the_other_views(qtbot, window):
    views = window.preview.views
    qtbot.waitUntil(lambda: window.live.projected.last is not None, timeout=10000)
    texts = []
    window.preview.readout.connect(texts.append)
    depth = window.live.projected.last.transfer.depth
    # A pixel inside a flat patch: a mark beside a depth edge may fall on either side.
    kernel = np.ones((7, 7), np.uint8)
    flat = (depth > 0) & (cv2.dilate(depth, kernel) - cv2.erode(depth, kernel) < 0.02)
    candidates = np.argwhere(flat)
    row, col = candidates[len(candidates) // 2]
    views["thermal"].hovered.emit("thermal", col + 0.5, row + 0.5)
    assert " z " in texts[-1] and texts[-1].endswith(" m")
    assert views["depth"].marker.isVisible() and views["color"].marker.isVisible()
    assert not views["thermal"].marker.isVisible()
    # The depth camera sees that point at about the same range.
    x, y = views["depth"].marker.getData()
    z = window.preview.arrays["depth"][int(round(y[0])), int(round(x[0]))]
    z *= window.live.streams["depth"].depth_scale
    assert z == pytest.approx(float(depth[row, col]), abs=0.15)
    views["depth"].hovered.emit("depth", x[0], y[0])
    assert views["thermal"].marker.isVisible()
    views["color"].hovered.emit("color", 100.0, 90.0)  # no depth of its own: no marks
    assert not any(v.marker.isVisible() for v in views.values())
    views["color"].left.emit("color")


def test_without_a_rig_the_overlay_says_why_it_is_off(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, None)
    specs = {
        "thermal": StreamSpec("thermal", "thermal", (32, 40), "uint16", "centikelvin", 30.0),
        "depth": StreamSpec("depth", "depth", (30, 40), "uint16", "depth_units", 30.0, 0.001),
        "color": StreamSpec("color", "color", (30, 40, 3), "uint8", "rgb", 30.0),
    }
    worker = CaptureWorker(lambda: None, "bench")
    worker.events.put(SourceOpened("bench", specs, SourceInfo(spec="bench")))
    window.live.attach_worker(worker)
    qtbot.waitUntil(lambda: bool(window.live.streams), timeout=3000)
    frames = {
        "thermal": Frame("thermal", 0, 0.0, np.full((32, 40), 30000, np.uint16)),
        "depth": Frame("depth", 0, 0.0, np.full((30, 40), 1500, np.uint16)),
        "color": Frame("color", 0, 0.0, np.zeros((30, 40, 3), np.uint8)),
    }
    fs = FrameSet(0, 0.0, "thermal", frames)
    worker.latest.put(fs)
    window.live.runner.submit(fs)
    thermal = window.preview.views["thermal"]
    qtbot.waitUntil(lambda: "projected labels off: no rig" in thermal.note.toolTip(), timeout=5000)
    assert not thermal.overlay.isVisible()
    assert window.status_panel.stages.item(0, 1).text() == "off"
    window.live.close_source()
