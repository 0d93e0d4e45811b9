"""The review window's tool bar and its temperature-curves dock.

Kept apart from :mod:`app.ui.review.window` so that module stays about what the
commands do. The tool bar shows the same QActions the keys trigger (one table,
:mod:`app.ui.review.actions`); no control in it takes the keyboard focus, so the
number and arrow keys always reach the review commands instead of a spin box.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from app.display import CLASS_RGB
from app.ui.review.temperature_plot import TemperaturePlot
from drivers.errors import ThermorigError

_NO_FOCUS = QtCore.Qt.FocusPolicy.NoFocus
#: Initial height of the curves dock (pixels): the frames stay the main thing.
DOCK_HEIGHT = 190


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


# -- temperature curves -----------------------------------------------------------------


class _Stopped(Exception):
    """Raised from the progress callback to end a curves job early."""


class _CurvesJob(QtCore.QObject):
    """Computes the curves of the saved labels on a thread; ``done(curves or error)``.
    :meth:`stop` ends it at the next frame (a closing window must not leave a thread
    reading HDF5 while the interpreter shuts down)."""

    done = QtCore.Signal(object)

    def __init__(self, parent=None):
        super().__init__(parent)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, session_path, labels_path) -> None:
        self._stop.clear()

        def progress(done: int, total: int) -> None:
            if self._stop.is_set():
                raise _Stopped

        def work() -> None:
            from app.analysis.curves import compute_curves

            try:
                result = compute_curves(session_path, labels_path, "thermal", progress=progress)
            except _Stopped:
                return
            except (ThermorigError, OSError) as exc:
                result = exc
            try:
                self.done.emit(result)
            except RuntimeError:  # the window closed meanwhile
                pass

        self._thread = threading.Thread(target=work, name="review-curves", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5.0)


def temperature_dock(window) -> TemperaturePlot:
    """A dock with the temperature plot under the views; the plot's ``frame_clicked``
    goes to that frame. The curves are computed from the saved labels, on a thread (a
    long session takes seconds): once at open and on request."""
    plot = TemperaturePlot()
    dock = QtWidgets.QDockWidget("Temperature curves", window)
    dock.setObjectName("review-curves")
    body = QtWidgets.QWidget()
    layout = QtWidgets.QVBoxLayout(body)
    layout.setContentsMargins(4, 2, 4, 2)
    button = QtWidgets.QPushButton("Update curves")
    button.setToolTip("Save the labels and compute the curves from them (in the background)")
    button.setFocusPolicy(_NO_FOCUS)
    status = QtWidgets.QLabel("")
    row = QtWidgets.QHBoxLayout()
    row.addWidget(button)
    row.addWidget(status, 1)
    row.addStretch(0)
    layout.addWidget(plot, 1)
    layout.addLayout(row)
    dock.setWidget(body)
    dock.setFeatures(
        QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
        | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
    )
    window.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, dock)
    window.resizeDocks([dock], [DOCK_HEIGHT], QtCore.Qt.Orientation.Vertical)
    job = _CurvesJob(dock)

    def update() -> None:
        window.save()
        button.setEnabled(False)
        status.setText("computing…")
        job.start(window.frames.path, window.store.path)

    def finished(result) -> None:
        if window.closed:  # the window closed while the curves were computed
            return
        button.setEnabled(True)
        if isinstance(result, Exception):
            status.setText(f"cannot compute the curves: {result}")
            return
        status.setText("")
        plot.set_curves(result)
        plot.set_current(max(window.index, 0))

    button.clicked.connect(update)
    job.done.connect(finished)
    plot.frame_clicked.connect(window.go_to)
    plot.dock = dock  # type: ignore[attr-defined]
    plot.update_curves = update  # type: ignore[attr-defined]
    plot.stop_curves = job.stop  # type: ignore[attr-defined]
    return plot
