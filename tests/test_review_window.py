"""The review window driven like a person drives it (pytest-qt, offscreen): paint,
undo, redo, accept, reject, propagate, fill, wand, polygon — then the label file on
disk must hold exactly the masks, statuses and sources computed independently with
the tools' numpy functions. Plus the errors a person can cause, and a screenshot."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from app.cli import main
from app.display import CLASS_RGB
from app.labels.journal import Journal
from app.labels.sidecar import (
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelReader,
    LabelsError,
    default_labels_path,
)
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from app.review import mask_tools as mt
from app.ui.review.launch import ask_and_open, open_review
from app.ui.review.timeline import SOURCE_COLOURS, STATUS_COLOURS
from drivers.locks import LockFile, LockHeld
from drivers.session import SessionReader
from tests.review_support import open_review_window, projected_session
from tests.scene3d import apart, make_rig, write_session
from tests.screenshots import as_array, region, view_figures
from tests.ui_support import close_message_boxes, message_boxes

Key = QtCore.Qt.Key
LEFT = QtCore.Qt.MouseButton.LeftButton
CTRL = QtCore.Qt.KeyboardModifier.ControlModifier
SHIFT = QtCore.Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    return projected_session(tmp_path_factory.mktemp("review"))


@pytest.fixture
def files(projected, tmp_path):
    session, labels = projected
    copy = tmp_path / "labels.h5"
    shutil.copyfile(labels, copy)
    return session, copy


_open = open_review_window


def _drag(qtbot, window, points):
    """A left-button stroke through image points; the image points it really hit."""
    canvas = window.canvas
    viewport = canvas.glw.viewport()
    pos = [canvas.widget_pos(x, y) for x, y in points]
    qtbot.mousePress(viewport, LEFT, pos=pos[0])
    for p in pos[1:]:
        qtbot.mouseMove(viewport, p)
    qtbot.mouseRelease(viewport, LEFT, pos=pos[-1])
    return [canvas.image_pos(QtCore.QPointF(p)) for p in pos]


def _click(qtbot, window, x, y):
    canvas = window.canvas
    p = canvas.widget_pos(x, y)
    qtbot.mouseClick(canvas.glw.viewport(), LEFT, pos=p)
    qtbot.wait(5)  # apart in time: never a double click
    return canvas.image_pos(QtCore.QPointF(p))


def _key(qtbot, window, key, modifier=QtCore.Qt.KeyboardModifier.NoModifier):
    qtbot.keyClick(window, key, modifier)


def test_review_session_ends_in_exactly_the_expected_label_file(qtbot, files):
    session, labels = files
    with LabelReader(labels) as r:
        n = r.count("thermal")
        expected = [r.mask("thermal", i) for i in range(n)]
        source = r.array("thermal", "source")
    with SessionReader(session) as s:
        thermal = [s.frame("thermal", i).array for i in range(n)]
    assert n >= 6 and (source == SOURCE_PROJECTED).all()
    status = np.full(n, STATUS_UNREVIEWED)

    w = _open(qtbot, session, labels)
    assert not w.store.dirty and "edited" not in w.windowTitle()
    _key(qtbot, w, Key.Key_Home)
    assert w.index == 0
    _key(qtbot, w, Key.Key_BracketRight)  # ] : radius 6 -> 7
    assert w.canvas.editor.radius == 7 and w.canvas.editor.value == 1

    # Frame 0: a brush stroke with the mouse (one undo step), undone, redone.
    hit = _drag(qtbot, w, [(30, 40), (45, 50), (60, 52), (75, 60)])
    painted = expected[0].copy()
    assert mt.brush(painted, hit, 7, 1) is not None
    assert np.array_equal(w.store.mask("thermal", 0), painted)
    assert w.store.dirty and "edited" in w.windowTitle()
    _key(qtbot, w, Key.Key_Z, CTRL)
    assert np.array_equal(w.store.mask("thermal", 0), expected[0])
    assert w.store.status("thermal")[0] == STATUS_UNREVIEWED
    assert np.array_equal(w.canvas.editor.work, expected[0]), "the view shows the undo"
    _key(qtbot, w, Key.Key_Z, CTRL | SHIFT)
    expected[0], status[0] = painted, STATUS_CORRECTED

    # Frame 1 accepted, frame 2 rejected, frame 3 gets frame 2's mask (propagate).
    _key(qtbot, w, Key.Key_Right)
    _key(qtbot, w, Key.Key_A)
    status[1] = STATUS_ACCEPTED
    _key(qtbot, w, Key.Key_Right)
    _key(qtbot, w, Key.Key_X)
    status[2] = STATUS_REJECTED
    _key(qtbot, w, Key.Key_Right)
    assert w.index == 3
    _key(qtbot, w, Key.Key_P)
    expected[3], status[3] = expected[2].copy(), STATUS_CORRECTED
    assert np.array_equal(w.canvas.editor.work, expected[3])

    # Frame 3: the eraser, through the canvas's stroke API (image coordinates).
    _key(qtbot, w, Key.Key_E)
    w.canvas.press(80.0, 70.0)
    w.canvas.move(90.0, 75.5)
    w.canvas.release()
    assert mt.erase(expected[3], [(80.0, 70.0), (90.0, 75.5)], 7) is not None

    # Frame 4: flood fill with class 2, then the temperature wand with class 1 on the
    # warmest pixel; leaving the frame and undoing goes back to it.
    _key(qtbot, w, Key.Key_Right)
    _key(qtbot, w, Key.Key_2)
    _key(qtbot, w, Key.Key_F)
    seed = _click(qtbot, w, 10, 10)
    assert mt.flood_fill(expected[4], seed, 2) is not None
    _key(qtbot, w, Key.Key_1)
    _key(qtbot, w, Key.Key_T)
    _key(qtbot, w, Key.Key_BracketRight)  # wand tolerance 0.5 -> 0.62 °C
    tol = w.canvas.editor.tolerance_c
    assert tol == pytest.approx(0.62)
    row, col = np.unravel_index(np.argmax(thermal[4]), thermal[4].shape)
    seed = _click(qtbot, w, float(col), float(row))
    lo, hi = mt.wand_range(thermal[4], seed, tol)
    after_flood = expected[4].copy()
    assert mt.wand_fill(expected[4], thermal[4], seed, lo, hi, 1) is not None
    status[4] = STATUS_CORRECTED
    _key(qtbot, w, Key.Key_Right)
    _key(qtbot, w, Key.Key_Z, CTRL)
    assert w.index == 4 and np.array_equal(w.store.mask("thermal", 4), after_flood)
    _key(qtbot, w, Key.Key_Y, CTRL)
    assert np.array_equal(w.store.mask("thermal", 4), expected[4])

    # Frame 5: a polygon of class 2 (three clicks, Enter), accepted, then unreviewed.
    _key(qtbot, w, Key.Key_Right)
    _key(qtbot, w, Key.Key_2)
    _key(qtbot, w, Key.Key_G)
    vertices = [_click(qtbot, w, x, y) for x, y in ((100, 20), (140, 30), (120, 80))]
    assert len(w.canvas.editor.vertices) == 3
    _key(qtbot, w, Key.Key_Return)
    assert mt.fill_polygon(expected[5], vertices, 2) is not None
    _key(qtbot, w, Key.Key_A)
    _key(qtbot, w, Key.Key_U)
    status[5] = STATUS_UNREVIEWED

    # Navigation: N and Q go to unreviewed frames other than this one.
    _key(qtbot, w, Key.Key_N)
    assert w.index == 6 and w.store.status("thermal")[6] == STATUS_UNREVIEWED
    _key(qtbot, w, Key.Key_Q)
    assert w.index != 6 and w.store.status("thermal")[w.index] == STATUS_UNREVIEWED
    _key(qtbot, w, Key.Key_S, CTRL)
    assert not w.store.dirty and "edited" not in w.windowTitle()
    assert w.errors == []
    w.close()

    with LabelReader(labels) as r:
        got_status = r.array("thermal", "status")
        got_source = r.array("thermal", "source")
        for i in range(n):
            assert np.array_equal(r.mask("thermal", i), expected[i]), f"frame {i}"
    assert got_status.tolist() == status.tolist()
    assert (got_source == SOURCE_PROJECTED).all(), "painting keeps the provenance"


def test_keys_in_the_help_overlay_come_from_the_action_table(qtbot, files):
    w = _open(qtbot, *files)
    _key(qtbot, w, Key.Key_H)
    assert w.help.isVisible()
    text = " ".join(label.text() for label in w.help.findChildren(QtWidgets.QLabel))
    for needle in ("accept", "propagate", "temperature wand", "Ctrl+Shift+Z", "right_calf"):
        assert needle in text
    _key(qtbot, w, Key.Key_F1)
    assert not w.help.isVisible()
    _key(qtbot, w, Key.Key_9)  # no class 9 in this file: said, not a crash
    assert "no class 9" in w.statusBar().currentMessage() and w.canvas.editor.value == 1
    _key(qtbot, w, Key.Key_O)
    _key(qtbot, w, Key.Key_C)
    assert w.canvas.mask_overlay.contour and w.canvas.mask_overlay.fill_alpha > 0


def test_the_cursor_is_linked_into_the_rgb_frame_through_the_rig(qtbot, files):
    w = _open(qtbot, *files)
    w.frames.prepare_cursor()
    z = w.frames.depth_in_thermal(w.index)
    row, col = (int(v) for v in np.argwhere(z > 0)[len(np.argwhere(z > 0)) // 2])
    w.canvas.hovered.emit("thermal", col + 0.5, row + 0.5)
    assert w.rgb.marker.isVisible()
    assert "°C" in w.readout.text() and " m" in w.readout.text()


def _other_session(path):
    write_session(path, make_rig(), [0.0, 0.01, 0.02], scene=apart)
    return path


def _refused_from_the_menu(qtbot, monkeypatch, session, labels) -> str:
    """The main window's menu "Review labels…" on this session, whose label file
    ``labels`` is beside it: no window, one message box; its text. ONE file dialog."""
    assert labels == default_labels_path(session)
    answers = iter([(str(session), "")])
    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", lambda *a, **k: next(answers))
    shown = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "warning", lambda *a: shown.append(a[2]))
    parent = QtWidgets.QWidget()
    qtbot.addWidget(parent)
    assert ask_and_open(parent) is None
    assert len(shown) == 1
    return shown[0]


def test_labels_of_another_session_are_refused_with_a_clear_message(
    qtbot, projected, tmp_path, monkeypatch, capsys
):
    session = tmp_path / "s.h5"
    shutil.copyfile(projected[0], session)
    other = _other_session(tmp_path / "other.h5")
    foreign = default_labels_path(session)
    with LabelWriter(foreign, session=other, classes=["background", "left_calf"]) as wr:
        wr.create_stream("thermal", 3, (128, 160))
    with pytest.raises(LabelsError, match="another session"):
        open_review(session, foreign)
    shown = _refused_from_the_menu(qtbot, monkeypatch, session, foreign)
    assert "another session" in shown
    # On the command line: one line, exit code 2, and the file untouched.
    before = foreign.read_bytes()
    assert main(["review", str(session), "--labels", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "another session" in err
    assert foreign.read_bytes() == before


def test_labels_of_another_frame_size_are_refused(projected, tmp_path):
    session, _ = projected
    wrong = tmp_path / "wrong.h5"
    with LabelWriter(wrong, session=session, classes=["background", "left_calf"]) as wr:
        wr.create_stream("thermal", 8, (64, 80))
    with pytest.raises(LabelsError, match="64, 80"):
        open_review(session, wrong)


def test_a_file_that_is_no_label_file_is_refused(projected, tmp_path):
    session, _ = projected
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"not hdf5 at all")
    with pytest.raises(LabelsError, match="not an HDF5 file"):
        open_review(session, junk)


def test_review_without_a_display_says_so(monkeypatch, capsys, tmp_path):
    for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setattr("sys.platform", "linux")
    assert main(["review", str(tmp_path / "s.h5")]) == 2
    assert "no display" in capsys.readouterr().err


def test_without_labels_review_makes_an_unlabeled_file_beside_the_session(
    qtbot, projected, tmp_path
):
    session = tmp_path / "s.h5"
    shutil.copyfile(projected[0], session)
    w = _open(qtbot, session, None)
    assert w.store.path == default_labels_path(session) == tmp_path / "s.labels.h5"
    assert (w.store.mask("thermal", 0) == 255).all()
    w.canvas.press(50.0, 50.0)
    w.canvas.release()
    w.close()
    with LabelReader(tmp_path / "s.labels.h5") as r:
        assert (r.mask("thermal", 0) == 1).sum() == (
            mt.stroke_region((128, 160), [(50, 50)], 6)[0]
        ).sum()


def _colour_count(a: np.ndarray, colour, tolerance: int = 40) -> int:
    """Pixels of ``a`` within ``tolerance`` of ``colour`` (``#rrggbb`` or RGB) in every channel."""
    rgb = QtGui.QColor(colour).getRgb()[:3] if isinstance(colour, str) else colour
    return int((np.abs(a.astype(int) - np.asarray(rgb[:3], int)).max(axis=-1) <= tolerance).sum())


def test_screenshot_shows_the_thermogram_masks_rgb_timeline_and_curves(qtbot, files, tmp_path):
    """The review window as a person sees it, after a brush stroke, grabbed and written
    under ``tmp_path``: each part drawn with its content, found by its colours."""
    w = _open(qtbot, *files, curves=True)
    qtbot.waitUntil(lambda: "mean °C" in w.plot.title.text(), timeout=20000)
    w.resize(1400, 850)
    w.frames.prepare_cursor()
    w.canvas.press(60.0, 60.0)
    w.canvas.move(75.0, 66.0)
    w.canvas.release()
    w.canvas.hovered.emit("thermal", 80.5, 70.5)
    qtbot.wait(50)
    image = w.grab()
    assert image.save(str(tmp_path / "review.png"))
    shot = as_array(image.toImage())
    assert shot.shape == (850, 1400, 3)

    def part(widget) -> np.ndarray:
        return shot[region(w, widget)]

    left, right = (tuple(int(v) for v in CLASS_RGB[k]) for k in (1, 2))
    thermal = part(w.canvas.glw)
    # Each figure at about a third of what this (deterministic) state shows, so a part
    # drawn empty, without its overlay or in other colours fails: measured 0.12
    # colourful, outlines 2131 / 1376 px, RGB std 52, timeline 2580 / 11080 px,
    # curves 2499 / 2573 px.
    assert view_figures(thermal)[1] > 0.04, "no thermogram"
    assert _colour_count(thermal, left) > 600, "no left_calf mask"
    assert _colour_count(thermal, right) > 400, "no right_calf mask"
    assert part(w.rgb.glw).std() > 20, "no RGB frame"
    timeline = part(w.timeline)
    assert _colour_count(timeline, STATUS_COLOURS[STATUS_CORRECTED][0], 12) > 800
    assert _colour_count(timeline, SOURCE_COLOURS[SOURCE_PROJECTED][0], 12) > 3000
    curves = part(w.plot)
    assert _colour_count(curves, left) > 800 and _colour_count(curves, right) > 800, "curves"
    assert "x 80  y 70" in w.readout.text() and "°C" in w.readout.text(), w.readout.text()


_KILLED_EDITOR = """
import os, signal, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from app.ui.app import make_app
app = make_app()
from app.ui.review.launch import open_review
w = open_review(sys.argv[1], sys.argv[2], curves=False)
w.show()
app.processEvents()
w.go_to(2)
w.canvas.press(40.0, 40.0)
w.canvas.move(60.0, 50.0)
w.canvas.release()
w.go_to(3)
w.accept()
w.canvas.press(10.0, 10.0)  # a stroke under way when the process dies: lost, by design
w.canvas.move(30.0, 12.0)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_review_window_loses_no_completed_stroke(files):
    session, labels = files
    with LabelReader(labels) as r:
        before = [r.mask("thermal", i) for i in (2, 3)]
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_EDITOR, str(session), str(labels)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    expected = before[0].copy()
    mt.brush(expected, [(40.0, 40.0), (60.0, 50.0)], 6, 1)
    with LabelStore.open(labels, session) as store:
        assert np.array_equal(store.mask("thermal", 2), expected)
        assert np.array_equal(store.mask("thermal", 3), before[1])
        assert store.status("thermal")[2:4].tolist() == [STATUS_CORRECTED, STATUS_ACCEPTED]


def test_closing_while_the_curves_compute_stops_their_thread(qtbot, files, monkeypatch):
    import threading
    import time

    import app.analysis.curves as tc

    slow = tc.centikelvin_to_celsius

    def slowly(raw):  # 8 frames at 0.2 s each: still reading when the window closes
        time.sleep(0.2)
        return slow(raw)

    monkeypatch.setattr(tc, "centikelvin_to_celsius", slowly)
    w = _open(qtbot, *files, curves=True)
    qtbot.waitUntil(lambda: any(t.name == "review-curves" for t in threading.enumerate()))
    w.close()
    assert not [t for t in threading.enumerate() if t.name == "review-curves" and t.is_alive()]


def test_labels_another_program_writes_are_refused_with_a_message_box(
    qtbot, files, monkeypatch, capsys
):
    session, labels = files
    shutil.copyfile(session, labels.with_name("rec.h5"))
    session = labels.with_name("rec.h5")  # its labels rec.labels.h5 found beside it
    labels = labels.rename(default_labels_path(session))
    lock = LockFile.take(labels, "thermorig autolabel")
    try:
        shown = _refused_from_the_menu(qtbot, monkeypatch, session, labels)
        pid = os.getpid()
        assert f"labels.h5 is being written by `thermorig autolabel` (pid {pid}," in shown
        assert shown.endswith("; close it or wait")
        assert main(["review", str(session), "--labels", str(labels)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "is being written by `thermorig autolabel`" in err
    finally:
        lock.release()
    window = _open(qtbot, session, labels)  # now it opens, and holds the lock while open
    with pytest.raises(LockHeld, match="`thermorig review`"):
        LabelWriter(labels, session=session, classes=window.store.classes)
    window.close()
    LabelWriter(labels, session=session, classes=window.store.classes).abort()


def test_a_damaged_journal_is_told_in_a_message_box_and_on_the_command_line(
    qtbot, files, monkeypatch, capsys
):
    session, labels = files
    store = LabelStore.open(labels, session)
    store.accept("thermal", 1)
    store.accept("thermal", 2)
    store.close(save=False)  # killed
    journal = Journal.path_for(labels)
    data = bytearray(journal.read_bytes())
    data[20] ^= 0x40  # in the header
    journal.write_bytes(bytes(data))
    window = _open(qtbot, session, labels)
    qtbot.waitUntil(lambda: bool(window.errors))
    assert "replayed 2 review edit(s) of frames 1, 2" in window.errors[0]
    assert "kept as labels.h5.journal.damaged" in window.errors[0]
    assert window.store.status("thermal")[1:3].tolist() == [STATUS_ACCEPTED] * 2
    assert any("replayed 2 review edit(s)" in t for t in close_message_boxes())
    window.close()
    # `thermorig review` says it on stderr too (the window's event loop skipped here).
    store = LabelStore.open(labels, session)
    store.reject("thermal", 3)
    store.close(save=False)
    journal.write_bytes(b"\0" * 8 + journal.read_bytes()[8:])
    monkeypatch.setattr("app.ui.app.run_window", lambda w: w.dispose() or 0)
    assert main(["review", str(session), "--labels", str(labels)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "labels.h5.journal: replayed 1 review edit(s) of frame 3" in err
    assert "kept as labels.h5.journal.damaged.1" in err
    qtbot.waitUntil(lambda: bool(message_boxes()), timeout=5000)  # and in a box
    assert any("replayed 1 review edit(s)" in t for t in close_message_boxes())
