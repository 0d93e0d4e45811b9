"""The review window's inputs, forwarded to the review timer (annotation effort).

:class:`~app.review.effort.ReviewTimer` decides what counts; this only tells it of
every key, click, stroke, wheel turn and mouse move in the review window — seen by
an application event filter *before* the window handles them, so each input is
counted on the frame it was made on — and of the window losing the focus. Time goes
to the label store's journal (:meth:`app.labels.store.LabelStore.record_time`) when
the person moves to another frame, on each key and button release (so a save holds
the time up to it), every few seconds of work, and when the window closes.
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.review.effort import FLUSH_S, ReviewTimer
from drivers.errors import ThermorigError

_Ev = QtCore.QEvent.Type
_INPUTS = {_Ev.KeyPress, _Ev.MouseButtonPress, _Ev.MouseButtonRelease, _Ev.MouseMove, _Ev.Wheel}
_HAND_OVER = {_Ev.KeyPress, _Ev.MouseButtonRelease}


class EffortWatcher(QtCore.QObject):
    """Watches ``window`` (a ReviewWindow: ``store``, ``stream``, ``index``) for inputs."""

    def __init__(self, window: QtWidgets.QMainWindow, timer: ReviewTimer | None = None):
        super().__init__(window)
        self.window = window
        self.timer = timer or ReviewTimer()
        self._key: tuple[str, int] | None = None
        self._failed = False
        QtWidgets.QApplication.instance().installEventFilter(self)

    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind in _INPUTS and obj.isWidgetType() and obj.window() is self.window:
            key = (self.window.stream, self.window.index)
            self.timer.input(*key, lambda: self._source(*key))
            if key != self._key or kind in _HAND_OVER or self.timer.unsaved_s >= FLUSH_S:
                self.hand_over()
            self._key = key
        elif kind == _Ev.WindowDeactivate and obj is self.window:
            self.timer.pause(self.window.stream, self.window.index, self._source_now)
            self.hand_over()
        return False

    def _source(self, stream: str, frame: int) -> int:
        return int(self.window.store.source(stream)[frame])

    def _source_now(self) -> int:
        return self._source(self.window.stream, self.window.index)

    def hand_over(self) -> None:
        """Journal the time counted so far (one record per frame)."""
        for s in self.timer.take():
            try:
                self.window.store.record_time(s.stream, s.frame, s.seconds, s.source)
            except (ThermorigError, OSError) as exc:
                if not self._failed:  # said once: the edits' own errors say the rest
                    self._failed = True
                    self.window.show_error(f"could not journal review time: {exc}")

    def stop(self) -> None:
        """The window closes: the time up to now counts and goes to the journal."""
        QtWidgets.QApplication.instance().removeEventFilter(self)
        if self.window.index >= 0:
            self.timer.pause(self.window.stream, self.window.index, self._source_now)
        self.hand_over()
