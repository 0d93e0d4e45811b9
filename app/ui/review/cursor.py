"""The review window's cursor readout: pixel, °C, class and depth under the mouse,
and the linked marker in the RGB frame (on the RGB side: pixel and class).

It remembers where the cursor last was, so that anything that changes what lies under
a still cursor — undo, redo, a wand or flood fill, a stroke, another frame — shows
the new values at once (:meth:`CursorReadout.refresh`) instead of the old ones until
the mouse moves.
"""

from __future__ import annotations

from PySide6 import QtWidgets

from app.review.texts import readout
from drivers.types import centikelvin_to_celsius


class CursorReadout:
    """Drives ``window.readout`` (a status-bar label) and ``window.rgb``'s marker."""

    def __init__(self, window, label: QtWidgets.QLabel):
        self.window = window
        self.label = label
        self.position: tuple[float, float] | None = None  # view coordinates

    def hovered(self, stream: str, vx: float, vy: float) -> None:
        w = self.window
        if stream != w.stream:  # the view beside the edited one reads nothing
            return
        self.position = (vx, vy)
        x, y = vx - 0.5, vy - 0.5
        col, row = int(round(x)), int(round(y))
        work, thermal = w.canvas.editor.work, w._thermal
        if work is None or not (0 <= row < work.shape[0] and 0 <= col < work.shape[1]):
            return
        k = int(work[row, col])
        name = w.store.classes[k] if k < len(w.store.classes) else "unlabeled"
        if thermal is None:  # the RGB side: no temperature, no linked point
            self.label.setText(readout(col, row, float("nan"), name, float("nan")))
            return
        c = centikelvin_to_celsius(thermal[row, col])
        uv, z = w.frames.cursor(w.index, x, y)
        w.rgb.show_marker(None if uv is None else (uv[0] + 0.5, uv[1] + 0.5))
        self.label.setText(readout(col, row, float(c), name, z))

    def left(self, _stream: str) -> None:
        self.position = None
        self.window.rgb.show_marker(None)

    def refresh(self) -> None:
        """The readout again where the cursor last was (nothing once it left)."""
        if self.position is not None:
            self.hovered(self.window.stream, *self.position)
