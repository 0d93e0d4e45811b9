"""The review window's RGB side: RGB keyframes painted with the thermal tools, in the
same journal and undo, saved as manual color rows (app.ui.review.sides,
app.review.streams, LabelStore.add_stream)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys

import numpy as np
import pytest
from PySide6 import QtCore

from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_NONE,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelReader,
)
from app.labels.store import LabelStore
from app.review import mask_tools as mt
from drivers.session import SessionReader
from drivers.truth import UNKNOWN_LABEL
from tests.review_support import open_review_window, projected_session

Key = QtCore.Qt.Key
LEFT = QtCore.Qt.MouseButton.LeftButton
CTRL = QtCore.Qt.KeyboardModifier.ControlModifier
SHIFT = QtCore.Qt.KeyboardModifier.ShiftModifier


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    return projected_session(tmp_path_factory.mktemp("review-rgb"))


@pytest.fixture
def files(projected, tmp_path):
    session, labels = projected
    copy = tmp_path / "labels.h5"
    shutil.copyfile(labels, copy)
    return session, copy


_open = open_review_window


def _drag(qtbot, window, points):
    """A left-button stroke on the edited view; the image points it really hit."""
    canvas = window.canvas
    viewport = canvas.glw.viewport()
    pos = [canvas.widget_pos(x, y) for x, y in points]
    qtbot.mousePress(viewport, LEFT, pos=pos[0])
    for p in pos[1:]:
        qtbot.mouseMove(viewport, p)
    qtbot.mouseRelease(viewport, LEFT, pos=pos[-1])
    return [canvas.image_pos(QtCore.QPointF(p)) for p in pos]


def test_a_painted_rgb_frame_is_saved_as_a_manual_color_row_and_undo_restores_it(qtbot, files):
    session, labels = files
    with LabelReader(labels) as r:
        assert r.streams == ["thermal"], "the file starts without RGB labels"
        thermal_before = [r.mask("thermal", i) for i in range(r.count("thermal"))]
    with SessionReader(session) as s:
        n_color, color_shape = s.count("color"), tuple(s.streams["color"].shape[:2])

    w = _open(qtbot, session, labels)
    assert w.stream == "thermal" and w.canvas is w.thermal_view
    thermal_index = w.index
    qtbot.keyClick(w, Key.Key_R)
    assert w.errors == []
    assert w.stream == "color" and w.canvas is w.rgb and w.rgb.editing
    assert not w.thermal_view.editing
    assert "added" in w.statusBar().currentMessage()
    # The file gained the color stream at once, every row unlabeled.
    with LabelReader(labels, check_journal=False) as r:
        assert r.count("color") == n_color and r.shape("color") == color_shape
        assert (r.array("color", "source") == SOURCE_NONE).all()
        assert (r.mask("color", 0) == UNKNOWN_LABEL).all()
    # The RGB frame opened is the one nearest in time to the thermal frame shown;
    # the edited view is the larger; the timeline counts RGB frames.
    assert w.index == w.frames.match("thermal", "color", thermal_index)
    assert w.rgb.width() > w.thermal_view.width()
    assert w.info.text().startswith(f"RGB frame {w.index + 1} of {n_color}")
    qtbot.waitUntil(lambda: w.thermal_view.info.text().startswith("frame"))
    assert w.thermal_view.info.text() == f"frame {w.thermal_index + 1}"

    # A brush stroke on RGB frame 3: one journaled step, source manual.
    qtbot.keyClick(w, Key.Key_Home)
    for _ in range(3):
        qtbot.keyClick(w, Key.Key_Right)
    assert w.index == 3
    hit = _drag(qtbot, w, [(60, 50), (100, 70), (140, 90)])
    expected = np.full(color_shape, UNKNOWN_LABEL, np.uint8)
    assert mt.brush(expected, hit, w.canvas.editor.radius, 1) is not None
    assert np.array_equal(w.store.mask("color", 3), expected)
    assert w.store.source("color")[3] == SOURCE_MANUAL
    assert w.store.status("color")[3] == STATUS_CORRECTED

    # Undo restores the unlabeled row (mask and provenance), redo brings it back.
    qtbot.keyClick(w, Key.Key_Z, CTRL)
    assert (w.store.mask("color", 3) == UNKNOWN_LABEL).all()
    assert w.store.source("color")[3] == SOURCE_NONE
    assert w.store.status("color")[3] == STATUS_UNREVIEWED
    assert (w.canvas.editor.work == UNKNOWN_LABEL).all(), "the view shows the undo"
    qtbot.keyClick(w, Key.Key_Z, CTRL | SHIFT)
    assert np.array_equal(w.store.mask("color", 3), expected)

    # Back to thermal: undo of the RGB stroke goes to the RGB side and takes it back.
    qtbot.keyClick(w, Key.Key_R)
    assert w.stream == "thermal" and w.canvas is w.thermal_view
    qtbot.keyClick(w, Key.Key_Z, CTRL)
    assert w.stream == "color" and w.index == 3
    assert (w.store.mask("color", 3) == UNKNOWN_LABEL).all()
    qtbot.keyClick(w, Key.Key_Y, CTRL)
    qtbot.keyClick(w, Key.Key_S, CTRL)
    assert not w.store.dirty and w.errors == []
    w.close()

    with LabelReader(labels) as r:
        source, status = r.array("color", "source"), r.array("color", "status")
        assert np.array_equal(r.mask("color", 3), expected)
        assert source[3] == SOURCE_MANUAL and status[3] == STATUS_CORRECTED
        others = np.arange(n_color) != 3
        assert (source[others] == SOURCE_NONE).all()
        assert (status[others] == STATUS_UNREVIEWED).all()
        assert (r.array("thermal", "source") == SOURCE_PROJECTED).all()
        for i, before in enumerate(thermal_before):
            assert np.array_equal(r.mask("thermal", i), before), f"thermal frame {i}"


def test_accept_and_reject_set_the_status_of_color_rows_only(qtbot, files):
    session, labels = files
    w = _open(qtbot, session, labels, stream="color")
    assert w.stream == "color" and w.canvas is w.rgb
    thermal_status = w.store.status("thermal")
    w.go_to(1)
    qtbot.keyClick(w, Key.Key_A)
    qtbot.keyClick(w, Key.Key_Right)
    qtbot.keyClick(w, Key.Key_X)
    status = w.store.status("color")
    assert status[1:3].tolist() == [STATUS_ACCEPTED, STATUS_REJECTED]
    assert (np.delete(status, [1, 2]) == STATUS_UNREVIEWED).all()
    assert np.array_equal(w.store.status("thermal"), thermal_status)
    # N goes to the next unreviewed RGB frame; the timeline shows the RGB rows.
    qtbot.keyClick(w, Key.Key_N)
    assert w.index == 3
    qtbot.keyClick(w, Key.Key_U)  # unreviewing an unreviewed row changes nothing
    w.go_to(2)
    qtbot.keyClick(w, Key.Key_U)
    assert w.store.status("color")[2] == STATUS_UNREVIEWED
    w.close()
    with LabelReader(labels) as r:
        assert r.array("color", "status")[1:3].tolist() == [STATUS_ACCEPTED, STATUS_UNREVIEWED]


_KILLED_EDITOR = """
import os, signal, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
from app.ui.app import make_app
app = make_app()
from app.ui.review.launch import open_review
w = open_review(sys.argv[1], sys.argv[2], curves=False, stream="color")
w.show()
app.processEvents()
w.go_to(2)
w.canvas.press(40.0, 40.0)
w.canvas.move(90.0, 60.0)
w.canvas.release()
w.go_to(4)
w.reject()
w.canvas.press(10.0, 10.0)  # a stroke under way when the process dies: lost, by design
w.canvas.move(30.0, 12.0)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_killed_review_window_loses_no_completed_rgb_stroke(files):
    session, labels = files
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_EDITOR, str(session), str(labels)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with LabelReader(labels, check_journal=False) as r:
        assert (r.mask("color", 2) == UNKNOWN_LABEL).all(), "the stroke is only journaled"
        shape = r.shape("color")
    expected = np.full(shape, UNKNOWN_LABEL, np.uint8)
    mt.brush(expected, [(40.0, 40.0), (90.0, 60.0)], 6, 1)
    with LabelStore.open(labels, session) as store:
        assert store.recovery_note == ""
        assert np.array_equal(store.mask("color", 2), expected)
        assert (store.mask("color", 4) == UNKNOWN_LABEL).all()
        assert store.source("color")[[2, 4]].tolist() == [SOURCE_MANUAL, SOURCE_NONE]
        assert store.status("color")[[2, 4]].tolist() == [STATUS_CORRECTED, STATUS_REJECTED]


def test_adding_the_color_stream_keeps_unsaved_thermal_edits_replayable(files):
    """The stream is added to the file while thermal edits are only journaled: a
    killed editor's journal still applies exactly (same generation, same rows)."""
    session, labels = files
    store = LabelStore.open(labels, session)
    try:
        store.accept("thermal", 1)
        generation = store.generation
        store.add_stream("color")
        store.set_status("color", 0, STATUS_REJECTED)
        assert store.generation == generation and store.streams == ["color", "thermal"]
    finally:
        store._journal.close()  # as if killed: nothing saved, the lock let go
        store._f.close()
        store._lock.release()
    with LabelStore.open(labels, session) as again:
        assert again.recovered == 2 and again.recovery_note == ""
        assert again.status("thermal")[1] == STATUS_ACCEPTED
        assert again.status("color")[0] == STATUS_REJECTED
