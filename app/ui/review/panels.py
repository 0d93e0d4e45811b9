"""The review window's tool bar and the rows under its views.

Kept apart from :mod:`app.ui.review.window` so that module stays about what the
commands do. The tool bar shows the same QActions the keys trigger (one table,
:mod:`app.ui.review.actions`); no control in it takes the keyboard focus, so the
number and arrow keys always reach the review commands instead of a spin box.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from app.display import CLASS_RGB
from app.ui.review.timeline import Timeline, legend_label

_NO_FOCUS = QtCore.Qt.FocusPolicy.NoFocus


def _swatch(k: int) -> QtGui.QIcon:
    pix = QtGui.QPixmap(12, 12)
    pix.fill(QtGui.QColor(*(int(v) for v in CLASS_RGB[k])))
    return QtGui.QIcon(pix)


def tool_bar(window: QtWidgets.QMainWindow, classes: Sequence[str]) -> QtWidgets.QToolBar:
    """The bar: class chooser first (keys 0-9 do the same), actions added later."""
    bar = QtWidgets.QToolBar("Review", window)
    bar.setObjectName("review-toolbar")
    bar.setMovable(False)
    bar.setToolButtonStyle(QtCore.Qt.ToolButtonStyle.ToolButtonTextOnly)
    combo = QtWidgets.QComboBox()
    combo.setObjectName("review-class")
    combo.setFocusPolicy(_NO_FOCUS)
    combo.setToolTip("Class painted by the tools (keys 0-9)")
    for k, name in enumerate(classes):
        combo.addItem(_swatch(k), f"{k}  {name}", k)
    combo.activated.connect(lambda row: window.set_class(int(combo.itemData(row))))
    bar.addWidget(QtWidgets.QLabel(" Class "))
    bar.addWidget(combo)
    bar.addSeparator()
    bar.class_combo = combo  # type: ignore[attr-defined]
    return bar


def add_tools(
    bar: QtWidgets.QToolBar, actions: dict[str, QtGui.QAction], tools: Sequence[str]
) -> None:
    """The tool buttons after the review actions; every button keeps focus off itself."""
    bar.addSeparator()
    for tool in tools:
        bar.addAction(actions[tool])
    for button in bar.findChildren(QtWidgets.QToolButton):
        button.setFocusPolicy(_NO_FOCUS)
    for action in bar.actions():
        keys = action.shortcuts()
        if keys:
            key = keys[0].toString(QtGui.QKeySequence.SequenceFormat.NativeText)
            action.setToolTip(f"{action.text()} ({key})")


def show_class(bar: QtWidgets.QToolBar, k: int) -> None:
    combo: QtWidgets.QComboBox = bar.class_combo  # type: ignore[attr-defined]
    row = combo.findData(k)
    if row >= 0 and row != combo.currentIndex():
        combo.setCurrentIndex(row)


def central(window: QtWidgets.QMainWindow, views: QtWidgets.QWidget) -> None:
    """The window's middle: ``views``, then the note, the info line, the timeline and
    its legend (set on ``window`` as ``note``, ``info``, ``timeline``, ``legend``)."""
    window.info = QtWidgets.QLabel("")
    window.info.setObjectName("review-info")
    # Why the window opened on this frame (worst-first), or that nothing is labeled.
    window.note = QtWidgets.QLabel("")
    window.note.setObjectName("review-note")
    window.note.setStyleSheet("color: #ffd27a;")
    window.note.setSizePolicy(
        QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
    )
    window.timeline = Timeline()
    window.legend = legend_label()
    middle = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(middle)
    layout.setContentsMargins(6, 4, 6, 2)
    for widget, stretch in ((views, 1), (window.note, 0), (window.info, 0),
                            (window.timeline, 0), (window.legend, 0)):  # fmt: skip
        layout.addWidget(widget, stretch)
    window.setCentralWidget(middle)
