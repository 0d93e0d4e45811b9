"""The main window on a laptop screen: it really takes 1000×700, the Controls column
scrolls instead of laying rows over each other, no label or table is cut, and the
column keeps its width when a recording starts and stops."""

from __future__ import annotations

import itertools

import pytest
from PySide6 import QtCore, QtWidgets

from tests.ui_support import make_window, wait_frames

LAPTOP = QtCore.QSize(1000, 700)


def _geometry_in(widget: QtWidgets.QWidget, ancestor: QtWidgets.QWidget) -> QtCore.QRect:
    return QtCore.QRect(widget.mapTo(ancestor, QtCore.QPoint(0, 0)), widget.size())


def _laid_out(root: QtWidgets.QWidget) -> list[QtWidgets.QWidget]:
    """``root`` and every visible widget under it that lays out children of its own
    (a layout): the containers whose children must not overlap."""
    found = [root] if root.layout() is not None else []
    for w in root.findChildren(QtWidgets.QWidget):
        if w.layout() is not None and w.isVisibleTo(root):
            found.append(w)
    return found


def _overlaps(root: QtWidgets.QWidget) -> list[str]:
    """Pairs of visible sibling widgets, placed by one layout, that share pixels."""
    problems = []
    for container in _laid_out(root):
        layout = container.layout()
        direct = container.findChildren(
            QtWidgets.QWidget, options=QtCore.Qt.FindChildOption.FindDirectChildrenOnly
        )
        children = [w for w in direct if w.isVisibleTo(container) and _in_layout(layout, w)]
        for a, b in itertools.combinations(children, 2):
            if a.geometry().intersects(b.geometry()):
                problems.append(f"{_name(a)} overlaps {_name(b)} in {_name(container)}")
    return problems


def _in_layout(layout: QtWidgets.QLayout, widget: QtWidgets.QWidget) -> bool:
    """``widget`` is placed by ``layout`` or a layout nested in it."""
    for i in range(layout.count()):
        item = layout.itemAt(i)
        if item.widget() is widget:
            return True
        if item.layout() is not None and _in_layout(item.layout(), widget):
            return True
    return False


def _name(w: QtWidgets.QWidget) -> str:
    text = w.text() if hasattr(w, "text") and callable(w.text) else ""
    return f"{type(w).__name__}({w.objectName() or text[:30]!r})"


def _cut_texts(root: QtWidgets.QWidget) -> list[str]:
    """Labels and buttons narrower (or, wrapped, shorter) than their text needs, and
    tables whose columns or rows do not fit."""
    problems = []
    for w in root.findChildren(QtWidgets.QWidget):
        if not w.isVisibleTo(root) or w.width() <= 0:
            continue
        if isinstance(w, QtWidgets.QLabel) and w.text() and not w.pixmap():
            if w.wordWrap():
                if w.height() < w.heightForWidth(w.width()):
                    problems.append(f"{_name(w)}: {w.height()} px high, needs more")
            elif w.toolTip() != w.text() and w.width() < w.minimumSizeHint().width():
                problems.append(f"{_name(w)}: {w.width()} px < {w.minimumSizeHint().width()}")
        elif isinstance(w, QtWidgets.QPushButton) and w.text():
            need = w.fontMetrics().horizontalAdvance(w.text()) + 6  # text and a margin
            if w.width() < need:
                problems.append(f"{_name(w)}: {w.width()} px < {need}")
        elif isinstance(w, QtWidgets.QAbstractButton) and w.text():  # check boxes
            if w.width() < w.minimumSizeHint().width():
                problems.append(f"{_name(w)}: {w.width()} px < {w.minimumSizeHint().width()}")
        elif isinstance(w, QtWidgets.QTableWidget) and w.rowCount():
            view = w.viewport()
            last = w.rowCount() - 1
            if w.rowViewportPosition(last) + w.rowHeight(last) > view.height():
                problems.append(f"{_name(w)}: the last row is cut")
            if w.horizontalHeader().length() > view.width():
                problems.append(f"{_name(w)}: columns wider than the table")
            for col in range(w.columnCount()):
                if w.columnWidth(col) < w.sizeHintForColumn(col):
                    problems.append(f"{_name(w)}: column {col} cuts its text")
    return problems


@pytest.fixture
def recording_window(qtbot, tmp_path):
    """A window at laptop size, recording (the state with the most text in it)."""
    w = make_window(qtbot, tmp_path, "synthetic:cycling")
    wait_frames(qtbot, w, 3)
    w.record_panel.folder.setText(str(tmp_path))
    assert w.start_recording()
    qtbot.waitUntil(lambda: w.live.worker.stats.get()[1].recording is not None, timeout=10000)
    w.resize(LAPTOP)
    qtbot.waitUntil(lambda: w.size() == LAPTOP, timeout=3000)
    qtbot.waitUntil(lambda: w.status_panel.stages.rowCount() > 0, timeout=3000)
    qtbot.wait(600)  # figures twice more, layouts settled
    yield w
    if w.live.recording:
        w.stop_recording()
        qtbot.waitUntil(lambda: not w.live.recording, timeout=20000)


def test_the_main_window_takes_1000_by_700(recording_window):
    w = recording_window
    hint = w.minimumSizeHint().expandedTo(w.minimumSize())
    assert hint.width() <= LAPTOP.width() and hint.height() <= LAPTOP.height(), hint
    assert w.size() == LAPTOP
    assert w.dock.isVisible() and w.dock.width() < LAPTOP.width() // 2


def test_at_1000_by_700_nothing_overlaps(recording_window):
    w = recording_window
    roots = [w.dock.widget().widget(), w.rec_bar, w.preview]
    problems = [p for root in roots for p in _overlaps(root)]
    assert not problems, "\n".join(problems)
    # The status panel's rows themselves (the bug seen: rows drawn over each other).
    panel = w.status_panel
    parts = [panel.streams, panel.sync, panel.stages, panel.preview]
    for a, b in itertools.pairwise(parts):
        assert _geometry_in(a, panel).bottom() < _geometry_in(b, panel).top(), (a, b)


def test_at_1000_by_700_no_text_is_cut(recording_window):
    w = recording_window
    problems = []
    for root in (w.dock.widget().widget(), w.rec_bar, w.preview):
        problems += _cut_texts(root)
    for view in w.preview.views.values():
        if view.title.width() < view.title.minimumSizeHint().width():
            problems.append(f"{view.stream} view's title is cut")
    assert not problems, "\n".join(problems)


def test_the_controls_scroll_when_taller_than_the_window(recording_window):
    w = recording_window
    scroll = w.dock.widget()
    assert isinstance(scroll, QtWidgets.QScrollArea)
    column = scroll.widget()
    assert column.height() >= column.minimumSizeHint().height(), "never squeezed"
    assert scroll.verticalScrollBar().maximum() > 0, "at 700 px the column scrolls"


def test_the_controls_keep_their_width_through_a_recording(qtbot, recording_window):
    w = recording_window
    during = w.dock.width()
    w.record_panel.name.setText("")  # (the automatic name is long)
    w.stop_recording()
    qtbot.waitUntil(lambda: w.live.last_recording is not None, timeout=20000)
    qtbot.wait(600)  # the "saved …" line is shown
    assert "saved" in w.record_panel.figures.text()
    assert w.dock.width() == during
    assert w.start_recording()
    qtbot.wait(600)
    assert w.dock.width() == during
