"""The review window as a newcomer meets it (issue 15): it finds the labels or offers to
make them, says why it opened on a frame, numbers frames from 1, explains the timeline,
keeps the cursor readout and the curves current without a hidden save, fits 1000x700
and says what closing saved. pytest-qt, offscreen."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6 import QtCore, QtGui, QtWidgets

from app.analysis.curves import frame_stats
from app.cli import main
from app.labels.sidecar import (
    SOURCE_NONE,
    STATUS_UNREVIEWED,
    LabelReader,
    default_labels_path,
)
from app.review.label_makers import label_makers
from app.review.texts import frame_no, opening_note, saved_note
from app.ui.review import open_dialog
from app.ui.review.curves_dock import MIN_HEIGHT, SETTLE_MS
from app.ui.review.launch import ask_and_open
from app.ui.review.timeline import SOURCE_COLOURS, STATUS_COLOURS
from drivers.errors import ThermorigError
from drivers.types import centikelvin_to_celsius
from tests.review_support import open_review_window, projected_session

Key = QtCore.Qt.Key


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    return projected_session(tmp_path_factory.mktemp("guidance"))


@pytest.fixture
def beside(projected, tmp_path):
    """A copy of the session with its labels beside it as SESSION.labels.h5."""
    session = tmp_path / "ride.h5"
    shutil.copyfile(projected[0], session)
    shutil.copyfile(projected[1], default_labels_path(session))
    return session, default_labels_path(session)


@pytest.fixture
def bare(projected, tmp_path):
    """A copy of the session without labels."""
    session = tmp_path / "bare.h5"
    shutil.copyfile(projected[0], session)
    return session


_open = open_review_window


# -- what it says at open -----------------------------------------------------------------


def test_it_says_why_it_opened_on_the_worst_frame_counting_from_one(qtbot, beside):
    w = _open(qtbot, *beside)
    worst = int(np.nanargmin(w.confidence))
    assert w.index == worst
    note = w.note.text()
    assert note.startswith(f"worst-first: opened on frame {worst + 1} because")
    assert f"({w.confidence[worst]:.2f})" in note and w.note.isVisible()
    assert w.info.text().startswith(f"frame {worst + 1} of {w.frames.count}")
    w.go_to(0)
    assert w.note.text() == "", "the reason is dropped once the person moves on"
    assert w.info.text().startswith("frame 1 of")
    w.accept()
    assert w.statusBar().currentMessage() == "frame 1 accepted"
    qtbot.waitUntil(lambda: w.rgb.info.text() != "")
    assert w.rgb.info.text().startswith(f"frame {w.frames.partner('color', 0) + 1}")


def test_the_notes_for_unlabeled_and_unrated_frames():
    status = np.full(4, STATUS_UNREVIEWED, np.uint8)
    none = np.full(4, SOURCE_NONE, np.uint8)
    nan = np.full(4, np.nan)
    assert opening_note(status, none, nan, 0).startswith("no labels yet: all 4 frames")
    assert "thermorig autolabel" in opening_note(status, none, nan, 0)
    model = np.full(4, 2, np.uint8)
    assert "carry no confidence" in opening_note(status, model, nan, 0)
    assert "frame 1 is the first unreviewed" in opening_note(status, model, nan, 0)
    conf = np.array([0.9, 0.4, 0.8, 0.7])
    assert "frame 2 because it has the lowest transfer confidence (0.40)" in opening_note(
        status, model, conf, 1
    )
    assert frame_no(0) == 1 and saved_note(1, "/x/a.labels.h5") == "saved 1 edit to a.labels.h5"
    assert saved_note(0, "a.h5") == "no edits to save; a.h5 unchanged"


def test_the_timeline_has_a_legend_of_every_colour(qtbot, beside):
    w = _open(qtbot, *beside)
    assert w.legend.isVisible() and w.legend.y() > w.timeline.y()
    text = w.legend.text()
    for colour, name in list(STATUS_COLOURS.values()) + list(SOURCE_COLOURS.values()):
        assert f"color:{colour}'>■</span>&nbsp;{name}" in text
    assert "Confidence" in text and "low" in text and "high" in text


# -- finding the labels -------------------------------------------------------------------


def _one_dialog(monkeypatch, session):
    calls = []

    def dialog(*args, **kwargs):
        calls.append(args[1])
        return str(session), ""

    monkeypatch.setattr(QtWidgets.QFileDialog, "getOpenFileName", dialog)
    return calls


def test_the_menu_asks_one_dialog_and_finds_the_labels_beside_the_session(
    qtbot, beside, monkeypatch
):
    session, labels = beside
    calls = _one_dialog(monkeypatch, session)
    monkeypatch.setattr(open_dialog, "ask_missing", lambda *a: pytest.fail("labels exist"))
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    window = ask_and_open(parent)  # deletes itself on close
    assert len(calls) == 1 and "made if missing" not in calls[0]
    assert window.store.path == labels
    window.close()


def test_without_labels_the_box_offers_autolabel_and_infer(qtbot, bare):
    makers = label_makers(bare)
    box, answers = open_dialog.missing_labels_box(None, bare, makers)
    qtbot.addWidget(box)
    by_key = {k: b for b, k in answers.items()}
    assert set(by_key) == {"autolabel", "infer", open_dialog.EMPTY}
    assert by_key["autolabel"].isEnabled(), "a synthetic session has its true rig"
    assert by_key["infer"].isEnabled(), "the bundled thermal segmenter is installed"
    assert "bare.labels.h5 is not beside it" in box.text()
    assert box.defaultButton() is by_key["autolabel"]


def test_makers_say_why_they_cannot_run(tmp_path):
    from tests.scene3d import make_rig, write_session

    no_depth = tmp_path / "no_depth.h5"
    write_session(no_depth, make_rig(), [0.0, 0.01], streams=("thermal", "color"))
    auto, model = label_makers(no_depth)
    assert auto.problem == "the session has no depth stream" and model.problem == ""
    no_rig = tmp_path / "no_rig.h5"
    write_session(no_rig, make_rig(), [0.0, 0.01], with_truth=False)
    auto, _ = label_makers(no_rig)
    assert auto.problem.startswith("the session has no rig")
    with pytest.raises(ThermorigError, match="cannot autolabel: the session has no rig"):
        auto.run()


def test_choosing_autolabel_makes_the_labels_with_progress_then_opens(qtbot, bare, monkeypatch):
    _one_dialog(monkeypatch, bare)
    monkeypatch.setattr(open_dialog, "ask_missing", lambda *a: "autolabel")
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    job = ask_and_open(parent)
    assert isinstance(job, open_dialog.LabelJob) and job.dialog.isVisible()
    ticks = []
    job._progress.connect(lambda d, t: ticks.append((d, t)))
    parent.show()
    qtbot.waitUntil(lambda: bool(parent.findChildren(QtWidgets.QMainWindow)), timeout=60000)
    window = parent.findChildren(QtWidgets.QMainWindow)[0]
    assert ticks and ticks[-1][0] == ticks[-1][1], "progress reached its end"
    assert not job.dialog.isVisible()
    assert window.store.path == default_labels_path(bare)
    assert (window.store.source("thermal") != SOURCE_NONE).all()
    assert "autolabel wrote bare.labels.h5" in window.statusBar().currentMessage()
    assert window.note.text().startswith("worst-first")
    window.close()


def test_cancelling_the_job_leaves_no_file(qtbot, bare):
    maker = label_makers(bare)[0]
    job = open_dialog.LabelJob(maker)
    job.dialog.findChild(QtWidgets.QPushButton).click()  # Cancel, before the first frame
    with qtbot.waitSignal(job.finished, timeout=60000) as got:
        job.start()
    assert "cancelled; no label file was made" in str(got.args[0])
    assert not default_labels_path(bare).exists()
    job.dialog.close()


def test_opening_unlabeled_says_so_and_cancel_opens_nothing(qtbot, bare, monkeypatch):
    _one_dialog(monkeypatch, bare)
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    monkeypatch.setattr(open_dialog, "ask_missing", lambda *a: "")
    assert ask_and_open(parent) is None and not default_labels_path(bare).exists()
    monkeypatch.setattr(open_dialog, "ask_missing", lambda *a: open_dialog.EMPTY)
    window = ask_and_open(parent)
    assert window.note.text().startswith("no labels yet: all")
    window.close()


def test_review_on_the_command_line_asks_too_and_cancel_makes_nothing(bare, monkeypatch, capsys):
    monkeypatch.setattr(open_dialog, "ask_missing", lambda *a: "")
    assert main(["review", str(bare)]) == 0
    assert "no label file; nothing opened" in capsys.readouterr().err
    assert not default_labels_path(bare).exists()


# -- keeping current ----------------------------------------------------------------------


def test_the_readout_follows_undo_and_the_wand_without_a_mouse_move(qtbot, beside):
    w = _open(qtbot, *beside)
    w.go_to(0)
    mask = w.store.mask("thermal", 0)
    row, col = (int(v) for v in np.argwhere(mask == 0)[0])  # background
    w.canvas.hovered.emit("thermal", col + 0.5, row + 0.5)
    assert w.readout.text().endswith("background") or "background   z" in w.readout.text()
    w.set_tool("brush")
    w.set_class(1)
    w.canvas.press(float(col), float(row))
    w.canvas.release()
    assert "left_calf" in w.readout.text(), "after a stroke"
    qtbot.keyClick(w, Key.Key_Z, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert "background" in w.readout.text() and "left_calf" not in w.readout.text()
    w.set_tool("wand")
    w.set_class(2)
    w.canvas.press(float(col), float(row))
    assert "right_calf" in w.readout.text(), "after the wand"


def test_curves_follow_edits_without_saving(qtbot, beside):
    session, labels = beside
    before = labels.read_bytes()
    w = _open(qtbot, session, labels, curves=True)
    qtbot.waitUntil(lambda: w.plot.curves is not None, timeout=20000)
    assert not [b for b in w.findChildren(QtWidgets.QPushButton) if "Update" in b.text()]
    w.go_to(2)
    w.set_class(2)
    w.canvas.press(40.0, 40.0)
    w.canvas.move(70.0, 60.0)
    w.canvas.release()
    qtbot.wait(SETTLE_MS + 100)
    expected = frame_stats(
        centikelvin_to_celsius(w.frames.thermal(2)), w.store.mask("thermal", 2), 3
    )
    assert np.allclose(w.plot.curves.mean[2], expected[:, 0], equal_nan=True)
    x, y = w.plot.mean_items[1].getData()
    assert y[2] == pytest.approx(expected[1, 0]), "the line drawn shows it"
    w.reject()
    qtbot.wait(SETTLE_MS + 100)
    assert np.isnan(w.plot.curves.mean[2]).all(), "a rejected frame leaves a gap"
    assert w.store.dirty and labels.read_bytes() == before, "nothing saved for the curves"


def test_the_curves_dock_is_tall_and_its_legend_beside_the_lines(qtbot, beside):
    w = _open(qtbot, *beside, size=(1000, 700), curves=True)
    qtbot.waitUntil(lambda: "left_calf" in w.plot.legend.text(), timeout=20000)
    assert w.curves_dock.height() >= MIN_HEIGHT
    legend = w.plot.legend
    top_left = legend.mapTo(w, QtCore.QPoint(0, 0))
    plot_top_left = w.plot.plot.mapTo(w, QtCore.QPoint(0, 0))
    legend_rect = QtCore.QRect(top_left, legend.size())
    plot_rect = QtCore.QRect(plot_top_left, w.plot.plot.size())
    assert not legend_rect.intersects(plot_rect)


# -- 1000 x 700 -----------------------------------------------------------------------------


def _fits(label: QtWidgets.QLabel) -> bool:
    """The label's text drawn whole inside its rectangle."""
    if label.wordWrap() or label.textFormat() == QtCore.Qt.TextFormat.RichText:
        doc = QtGui.QTextDocument()
        doc.setDefaultFont(label.font())
        doc.setDocumentMargin(0)  # as QLabel draws it
        doc.setHtml(label.text())
        doc.setTextWidth(label.width())
        return doc.idealWidth() <= label.width() + 1 and doc.size().height() <= label.height() + 1
    return label.fontMetrics().horizontalAdvance(label.text()) <= label.width()


def _rect(widget, window) -> QtCore.QRect:
    return QtCore.QRect(widget.mapTo(window, QtCore.QPoint(0, 0)), widget.size())


def test_at_1000x700_nothing_overlaps_or_is_cut(qtbot, beside):
    w = _open(qtbot, *beside, size=(1000, 700))
    qtbot.waitUntil(lambda: w.rgb.info.text() != "")
    qtbot.wait(50)
    assert (w.width(), w.height()) == (1000, 700)
    heads = [w.rgb.title, w.rgb.note, w.rgb.info, w.canvas.title]
    rects = [_rect(h, w) for h in heads]
    for i, (a, la) in enumerate(zip(rects, heads, strict=True)):
        assert _fits(la), f"{la.text()!r} cut at {la.width()} px"
        for b in rects[i + 1 :]:
            assert not a.intersects(b), f"{la.text()!r} overlaps"
    for label in (w.note, w.info, w.legend):
        assert _fits(label), f"{label.text()[:60]!r} cut at {label.width()} px"
    bar = w.toolbar
    for action in bar.actions():
        widget = bar.widgetForAction(action)
        if widget is not None and not action.isSeparator():
            assert widget.isVisible(), f"{action.text()} pushed off the tool bar"
    assert w.canvas.glw.height() > 200 and w.rgb.glw.height() > 200
    w.toggle_help()
    qtbot.wait(20)
    assert w.help.isVisible() and w.help.geometry() == w.rect()
    for column in w.help.columns:
        assert _fits(column), "a help column is cut off"
        assert _rect(column, w).bottom() < w.height()
    footer = w.help.findChildren(QtWidgets.QLabel)[-1]
    assert _rect(footer, w).bottom() < w.height() and _fits(footer)


# -- closing ---------------------------------------------------------------------------------


def test_closing_says_what_it_saved(qtbot, beside):
    session, labels = beside
    parent = QtWidgets.QMainWindow()
    qtbot.addWidget(parent)
    w = _open(qtbot, session, labels, parent=parent)
    w.accept()
    w.go_to(1)
    w.reject()
    qtbot.keyClick(w, Key.Key_S, QtCore.Qt.KeyboardModifier.ControlModifier)
    assert w.statusBar().currentMessage() == "saved 2 edits to ride.labels.h5"
    w.unreview()
    w.close()
    assert w.closing_note == "saved 1 edit to ride.labels.h5"
    assert parent.statusBar().currentMessage() == "review closed: saved 1 edit to ride.labels.h5"
    with LabelReader(labels) as r:
        assert r.array("thermal", "status")[1] == STATUS_UNREVIEWED


def test_thermorig_review_prints_what_closing_saved(beside, monkeypatch, capsys):
    session, _ = beside

    def run(window):
        window.accept()
        window.dispose()
        return 0

    monkeypatch.setattr("app.ui.app.run_window", run)
    assert main(["review", str(session)]) == 0
    assert "saved 1 edit to ride.labels.h5" in capsys.readouterr().out


def test_unlabeled_curves_show_no_scale_until_a_frame_is_labeled(qtbot, bare):
    w = _open(qtbot, bare, None, curves=True)
    qtbot.waitUntil(lambda: w.plot.curves is not None, timeout=20000)
    axis = w.plot.plot.getAxis("left")
    assert w.plot.title.text() == "Temperature: no labeled frame yet"
    assert not axis.style["showValues"], "no °C scale over no data"
    w.set_class(1)
    w.canvas.press(60.0, 60.0)
    w.canvas.move(70.0, 64.0)
    w.canvas.release()
    qtbot.waitUntil(lambda: w.plot.has_values, timeout=SETTLE_MS + 2000)
    assert axis.style["showValues"] and "mean °C" in w.plot.title.text()
