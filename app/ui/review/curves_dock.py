"""The review window's temperature-curves dock: computed at open, current after edits.

The whole session's curves are computed once from the label file, on a thread (a long
session takes seconds). After that every edit only notes the frames it touched; a
moment after the last one (:data:`SETTLE_MS`, so a burst of strokes is one update) the
rows of those frames are recomputed on the GUI thread from the store's working state
(:func:`app.review.live_curves.update_rows`: a few frames, milliseconds) — nothing is
saved for it. The dock is tall enough to read a curve (:data:`MIN_HEIGHT`), its
legend sits beside the title, outside the lines.
"""

from __future__ import annotations

import threading

from PySide6 import QtCore, QtWidgets

from app.review.live_curves import frames_in_history, update_rows
from app.ui.review.temperature_plot import TemperaturePlot
from drivers.errors import ThermorigError

#: Initial and smallest height of the dock (pixels): a readable curve, the frames
#: staying the main thing (at 1000x700 the views keep about 300 px).
DOCK_HEIGHT = 190
MIN_HEIGHT = 150
#: Quiet time after the last edit before the curves are brought up to date.
SETTLE_MS = 400


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


class CurvesDock(QtWidgets.QDockWidget):
    """The plot (``self.plot``) in a dock under the views of ``window``; the plot's
    ``frame_clicked`` goes to that frame (or the RGB frame nearest it)."""

    def __init__(self, window):
        super().__init__("Temperature curves", window)
        self.window_ = window
        self.setObjectName("review-curves")
        self.plot = TemperaturePlot()
        self.plot.setMinimumHeight(MIN_HEIGHT - 30)
        self.status = self.plot.note
        self.setWidget(self.plot)
        self.setMinimumHeight(MIN_HEIGHT)
        self.setFeatures(
            QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetMovable
            | QtWidgets.QDockWidget.DockWidgetFeature.DockWidgetClosable
        )
        window.addDockWidget(QtCore.Qt.DockWidgetArea.BottomDockWidgetArea, self)
        window.resizeDocks([self], [DOCK_HEIGHT], QtCore.Qt.Orientation.Vertical)
        self.pending: set[int] = set()
        self.updates = 0  # rows brought up to date after edits (tests read it)
        self._timer = QtCore.QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(SETTLE_MS)
        self._timer.timeout.connect(self.apply_pending)
        self._computing = False
        self._job = _CurvesJob(self)
        self._job.done.connect(self._finished)
        self.plot.frame_clicked.connect(window.go_to_thermal)

    def compute(self) -> None:
        """The whole session's curves from the label file, in the background; the
        edits not yet saved (a recovered journal's too) are applied when it is done."""
        w = self.window_
        self._computing = True
        self.pending |= frames_in_history(w.store.history)
        self.status.setText("computing…")
        self._job.start(w.frames.path, w.store.path)

    def _finished(self, result) -> None:
        self._computing = False
        if self.window_.closed:  # the window closed while the curves were computed
            return
        if isinstance(result, Exception):
            self.status.setText(f"cannot compute the curves: {result}")
            return
        self.status.setText("")
        self.plot.set_curves(result)
        self.apply_pending()
        self.plot.set_current(max(self.window_.thermal_index, 0))

    def edited(self, frames) -> None:
        """Frames an edit (or undo) changed: their rows follow after a quiet moment."""
        self.pending |= {int(f) for f in frames}
        self._timer.start()

    def apply_pending(self) -> None:
        w = self.window_
        if self._computing or self.plot.curves is None or not self.pending or w.closed:
            return  # before the first computation ends, its end applies them
        frames, self.pending = self.pending, set()
        store = w.store
        try:
            done = update_rows(
                self.plot.curves,
                frames,
                w.frames.thermal,
                lambda i: store.mask("thermal", i),
                store.status("thermal"),
                store.source("thermal"),
            )
        except (ThermorigError, OSError) as exc:
            self.status.setText(f"cannot update the curves: {exc}")
            return
        self.updates += len(done)
        self.plot.refresh()

    def stop(self) -> None:
        self._timer.stop()
        self._job.stop()
