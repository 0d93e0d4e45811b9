"""The Models menu: a person's own model from a file or the user folder becomes a live
overlay, a broken one is refused with the loader's one-line message while the preview
goes on, and the projected overlay takes its RGB labels from MediaPipe on request."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtWidgets

from models.catalog import BUNDLED_DIR, BUNDLED_SEGMENTER
from models.errors import ModelError
from tests.ui_support import close_message_boxes, make_window, wait_frames


def _copy_segmenter(folder: Path, name: str, edit=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.onnx", folder / f"{name}.onnx")
    d = json.loads((BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.json").read_text())
    if edit is not None:
        edit(d)
    (folder / f"{name}.json").write_text(json.dumps(d))
    return folder / f"{name}.onnx"


def _wrong_size(d: dict) -> None:
    d["input"]["size"] = [256, 256]


def _pick(monkeypatch, path: Path) -> None:
    """The file dialog answers ``path`` at once (nothing blocks offscreen)."""
    monkeypatch.setattr(
        QtWidgets.QFileDialog, "getOpenFileName", staticmethod(lambda *a, **k: (str(path), ""))
    )


def _menu_action(window, text: str):
    return next(a for a in window.model_menu.menu.actions() if a.text() == text)


def _settings(tmp_path: Path) -> QtCore.QSettings:
    return QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)


def test_broken_models_are_refused_with_the_reason_and_a_good_one_becomes_an_overlay(
    qtbot, tmp_path, user_dir, monkeypatch
):
    _copy_segmenter(user_dir, "folder-seg")
    (user_dir / "folder-broken.onnx").write_bytes(b"not a network")
    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    menu = window.model_menu
    listed = menu.menu.actions()
    for bundled in ("model-seg", "model-kp"):
        assert window.overlay_action(bundled) in listed, "the bundled toggles are listed too"
    qtbot.waitUntil(lambda: menu.busy == 0, timeout=10000)
    folder_seg = menu.entry("folder-seg")
    assert folder_seg.isCheckable() and not folder_seg.isChecked(), "listed, off at first"
    assert window.overlay_action("model-user-folder-seg") is folder_seg
    broken = menu.entry("folder-broken")
    assert not broken.isEnabled() and "has no folder-broken.json beside it" in broken.toolTip()
    assert not close_message_boxes(), "the folder scan at start pops up nothing"
    wait_frames(qtbot, window, 2)

    pick = tmp_path / "pick"
    lonely = pick / "lonely.onnx"
    pick.mkdir()
    shutil.copy(BUNDLED_DIR / f"{BUNDLED_SEGMENTER}.onnx", lonely)
    corrupt = _copy_segmenter(pick, "corrupt")
    corrupt.write_bytes(b"\x08\x01garbage")
    cases = {
        _copy_segmenter(pick, "wrong-size", _wrong_size): "1×1×256×256",
        lonely: "has no lonely.json beside it",
        corrupt: "is not a readable ONNX model",
    }
    load = _menu_action(window, "&Load model…")
    for path, problem in cases.items():
        _pick(monkeypatch, path)
        load.trigger()
        qtbot.waitUntil(lambda: menu.busy == 0, timeout=10000)
        texts = close_message_boxes()
        assert len(texts) == 1 and problem in texts[0] and "\n" not in texts[0]
        assert problem in window.statusBar().currentMessage()
        assert window.overlay_action(f"model-user-{path.stem}") is None
        wait_frames(qtbot, window, 2)  # the preview goes on

    _pick(monkeypatch, _copy_segmenter(pick, "my-seg"))
    load.trigger()
    qtbot.waitUntil(lambda: menu.entry("my-seg") is not None, timeout=10000)
    action = window.overlay_action("model-user-my-seg")
    assert action is menu.entry("my-seg") and action.isChecked()
    assert action.text() == "my-seg (your model, thermal)"
    assert "model my-seg loaded: segmentation on the thermal view" in (
        window.statusBar().currentMessage()
    )
    qtbot.waitUntil(lambda: "model-user-my-seg" in window.live.runner.results(), timeout=15000)
    result = window.live.runner.results()["model-user-my-seg"]
    assert {1, 2} <= set(np.unique(result.labels).tolist()), "it finds both calves"
    assert not close_message_boxes()
    window.close()

    again = _settings(tmp_path)
    assert again.value("models/paths", [], type=list) == [str(pick / "my-seg.onnx")]
    later = make_window(qtbot, tmp_path, None)  # the same settings file
    qtbot.waitUntil(lambda: later.model_menu.entry("my-seg") is not None, timeout=10000)
    assert later.overlay_action("model-user-my-seg").isChecked(), "back, and on, next time"


def test_projected_labels_switch_to_mediapipe_which_finds_nobody_on_the_synthetic_rig(
    qtbot, tmp_path, user_dir
):
    window = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, window, 2)
    qtbot.waitUntil(
        lambda: "projected from RGB ground truth" in window.preview.views["thermal"].note.toolTip(),
        timeout=15000,
    )
    window.model_menu.rgb_actions["mediapipe-pose"].trigger()

    def says_no_person() -> bool:
        r = window.live.runner.results().get("projected")
        return r is not None and "MediaPipe pose: no person detected" in r.note

    qtbot.waitUntil(says_no_person, timeout=15000)
    assert window.live.runner.results()["projected"].labels is None, "no stale labels"
    assert window.live.projected.labeler_name == "MediaPipe pose"
    thermal = window.preview.views["thermal"]
    qtbot.waitUntil(
        lambda: (
            "projected labels off: MediaPipe pose: no person detected" in thermal.note.toolTip()
        ),
        timeout=5000,
    )
    assert not thermal.overlay.isVisible()
    assert not close_message_boxes()
    stats = {s.name: s for s in window.live.runner.stats()}["projected"]
    assert stats.errors == 0
    # The labeler runs on its own thread: its rate and age are a row of the stage table.
    table = window.status_panel.stages

    def labeler_row() -> list[str]:
        rows = [[table.item(r, c).text() for c in range(3)] for r in range(table.rowCount())]
        return next((row for row in rows if row[0] == "RGB labeler"), [])

    qtbot.waitUntil(lambda: labeler_row()[1:2] not in ([], ["0.0/s"]), timeout=10000)
    assert labeler_row()[1].endswith("/s") and float(labeler_row()[2]) > 0.0

    window.model_menu.rgb_actions["truth"].trigger()
    qtbot.waitUntil(lambda: thermal.overlay.isVisible(), timeout=15000)
    assert window.live.runner.results()["projected"].note.startswith(
        "projected from RGB ground truth"
    )
    window.model_menu.rgb_actions["mediapipe-pose"].trigger()  # loaded once, kept
    assert window.live.projected.labeler_name == "MediaPipe pose" and window.model_menu.busy == 0
    window.close()
    assert _settings(tmp_path).value("models/rgb_labels") == "mediapipe-pose"


def test_a_mediapipe_labeler_that_cannot_load_says_why_and_keeps_ground_truth(
    qtbot, tmp_path, user_dir, monkeypatch
):
    def broken(*_a, **_k):
        raise ModelError("resources/models/mediapipe lacks pose_detection.onnx/.json")

    monkeypatch.setattr("app.ui.main.model_menu.threaded_mediapipe_labeler", broken)
    window = make_window(qtbot, tmp_path, None)
    window.model_menu.rgb_actions["mediapipe-pose"].trigger()
    qtbot.waitUntil(lambda: window.model_menu.busy == 0, timeout=10000)
    assert close_message_boxes() == ["resources/models/mediapipe lacks pose_detection.onnx/.json"]
    assert window.model_menu.rgb_labels == "truth"
    assert window.model_menu.rgb_actions["truth"].isChecked()
    assert window.live.projected.labeler_name == "RGB ground truth"
