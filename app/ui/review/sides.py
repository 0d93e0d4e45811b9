"""The review window's two views: the stream being edited, large and with the tools,
and the other beside it, small, at the frame nearest in time with its labels.

Thermal and RGB each have a :class:`~app.ui.review.canvas.ReviewCanvas`; switching
moves the edited one first in the splitter and gives it the larger share, and hands
the mouse tools to it (both canvases hold the same editor, so tool, class and brush
size carry over). The view beside follows the edited frame from the event loop,
latest-wins: while a key repeats only the newest partner is read (a 1280x720 RGB
decode is the costliest read of a frame switch).
"""

from __future__ import annotations

from PySide6 import QtCore, QtWidgets

from app.display import celsius_to_raw_levels, label_rgba
from app.review.streams import TITLES, other_stream
from app.review.texts import frame_text
from app.ui.review.canvas import ReviewCanvas
from drivers.errors import ThermorigError

#: The edited view's share of the splitter's width.
EDITED_SHARE = 0.6


class Sides:
    """The two canvases of ``window`` and which one is edited."""

    def __init__(self, window: QtWidgets.QMainWindow):
        self.window = window
        self.thermal = ReviewCanvas()
        self.rgb = ReviewCanvas("color", "RGB", colour_bar="")
        self.rgb.editor = self.thermal.editor
        self.rgb.editing = False
        self.views = {"thermal": self.thermal, "color": self.rgb}
        self.stream = "thermal"
        self.split = QtWidgets.QSplitter(QtCore.Qt.Orientation.Horizontal)
        self.split.addWidget(self.thermal)
        self.split.addWidget(self.rgb)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self._pending: int | None = None
        # The RGB header keeps a short note (the full one as tooltip): at 1000 px the
        # whole sentence ran into the frame number beside it.
        self._rig_note = window.frames.rig_note.split(":")[0].split(" through ")[0]
        self.rgb.note.setText(self._rig_note)
        self.rgb.note.setToolTip(window.frames.rig_note)
        for view in self.views.values():
            for w in (view, view.glw):
                w.setFocusPolicy(QtCore.Qt.FocusPolicy.StrongFocus)

    @property
    def edited(self) -> ReviewCanvas:
        return self.views[self.stream]

    @property
    def beside(self) -> ReviewCanvas:
        return self.views[other_stream(self.stream)]

    def set_stream(self, stream: str) -> None:
        """Edit ``stream``: its view first and large, the other's tools off."""
        old, self.stream = self.edited, stream
        new = self.edited
        old.release()  # a stroke under way ends on its own frame
        old.cancel()
        old.editing, new.editing = False, True
        old.brush_item.setVisible(False)
        for view in self.views.values():
            view.show_marker(None)
        # The linked cursor runs from thermal pixels only: the RGB side says what it is for.
        self.rgb.note.setText(self._rig_note if stream == "thermal" else "keyframes for propagate")
        total = sum(self.split.sizes()) or self.split.width()
        self.split.insertWidget(0, new)
        self.split.setStretchFactor(0, 3)
        self.split.setStretchFactor(1, 2)
        self.split.setSizes([round(total * EDITED_SHARE), total - round(total * EDITED_SHARE)])

    # -- the view beside --------------------------------------------------------------
    def follow(self, i: int) -> None:
        """Show, soon, the other stream's frame nearest in time to edited frame ``i``."""
        if self._pending is None:
            QtCore.QTimer.singleShot(0, self.window, self._show_pending)
        self._pending = i

    def _show_pending(self) -> None:
        i, self._pending = self._pending, None
        if i is None or self.window.closed:
            return
        name = other_stream(self.stream)
        try:
            self._show(name, i)
        except (ThermorigError, OSError) as exc:
            self.views[name].clear(f"cannot show the {TITLES[name]} frame: {exc}")

    def _show(self, name: str, i: int) -> None:
        w, view = self.window, self.views[name]
        j = w.frames.match(self.stream, name, i)
        if j < 0:
            none = w.frames.count_of(name) == 0  # else a broken clock: the note says which
            view.clear(f"no {TITLES[name]} stream in this session" if none else w.frames.rig_note)
            return
        if name == "thermal":
            levels = celsius_to_raw_levels(*w.levels_c)
            view.show_image(w.frames.image(name, j), levels=levels, lut=w.lut)
        else:
            view.show_image(w.frames.image(name, j), levels=None)
        labels = None
        if name in w.store.streams and j < w.store.count(name):
            labels = w.store.mask(name, j)
        view.show_overlay(label_rgba(labels) if labels is not None else None)
        view.info.setText(
            frame_text(j) + ("" if labels is not None else f" · no {TITLES[name]} labels")
        )

    def reset_zoom(self) -> None:
        for view in self.views.values():
            view.vb.enableAutoRange()

    def dispose(self) -> None:
        for view in self.views.values():
            view.dispose()
