"""The review window's two views: the stream being edited, large and with the tools,
and the other beside it, small, at the frame nearest in time with its labels.

Thermal and RGB each have a :class:`~app.ui.review.canvas.ReviewCanvas`; switching
moves the edited one first in the splitter and gives it the larger share, and hands
the mouse tools to it (both canvases hold the same editor, so tool, class and brush
size carry over). The view beside follows the edited frame from the event loop,
latest-wins: while a key repeats only the newest partner is drawn.

Frames come through a :class:`~app.review.prefetch.FrameCache`: a 1280x720 RGB decode
(8-25 ms, the costliest read of a frame switch) happens on its worker thread, never on
the GUI thread, and the neighbours of the frame shown are read ahead, so stepping finds
them decoded. The view beside is drawn lazily: when its frame has arrived, and only if
it is another frame than the one it shows (a slower RGB camera's frame stays up while
the thermal frames beside it change).
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtWidgets

from app.display import celsius_to_raw_levels, label_rgba
from app.review.prefetch import FrameCache, neighbours
from app.review.streams import TITLES, other_stream
from app.review.texts import frame_text
from app.ui.review.canvas import ReviewCanvas
from drivers.errors import ThermorigError

#: Neighbour masks kept read ahead (a step reads one more).
MASKS_AHEAD = 4
#: The edited view's share of the splitter's width.
EDITED_SHARE = 0.6


class _Ready(QtCore.QObject):
    """Carries "frame (stream, row) is read" from the prefetch thread to the GUI's."""

    ready = QtCore.Signal(str, int)


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
        #: The frame beside that the view waits for, and the one it shows.
        self._waiting: tuple[str, int] | None = None
        self._shown: tuple[str, int] | None = None
        self._last = 0  # the edited frame before, for the direction of travel
        self._ahead: list[tuple[str, int]] = []  # what to read ahead once drawn
        self._masks: dict[tuple[str, int], np.ndarray] = {}  # the neighbours' masks
        self._ready = _Ready()
        self._ready.ready.connect(self._arrived, QtCore.Qt.ConnectionType.QueuedConnection)
        self.cache = FrameCache(window.frames.image, self._ready.ready.emit)
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
        self._shown, self._waiting, self._last = None, None, 0  # the views trade places
        self._masks.clear()
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

    # -- frames -----------------------------------------------------------------------
    def frame(self, i: int) -> np.ndarray:
        """Edited frame ``i``: read ahead already, or read now (it is shown at once)."""
        got = self.cache.get(self.stream, i)
        return got if got is not None else self.window.frames.image(self.stream, i)

    def follow(self, i: int) -> None:
        """Show, soon, the other stream's frame nearest in time to edited frame ``i``
        (its read starts now, on the worker), and read the neighbours of both ahead
        once it is drawn (so that reading ahead never delays the switch itself)."""
        if self._pending is None:
            QtCore.QTimer.singleShot(0, self.window, self._show_pending)
        self._pending = i
        frames, name = self.window.frames, other_stream(self.stream)
        now = (name, frames.match(self.stream, name, i))
        ahead = [now]
        for k in neighbours(i, i - self._last, self.window.count):
            ahead += [(self.stream, k), (name, frames.match(self.stream, name, k))]
        self._last, self._ahead = i, [key for key in ahead if key[1] >= 0]
        self.cache.want([now] if now[1] >= 0 else [])

    def _read_ahead(self) -> None:
        """Read the neighbours: their masks here, before the worker starts on their
        frames (the label store is the GUI thread's; HDF5 serves one call at a time, so
        a mask read while the worker decodes a frame would wait for it), their frames on
        the worker."""
        if self._pending is not None or self._waiting is not None or self.window.closed:
            return
        store, stream = self.window.store, self.stream
        try:
            for key in self._ahead:
                if key[0] == stream and key not in self._masks:
                    self._masks[key] = store.mask(*key)
        except (ThermorigError, OSError):
            pass  # read again when shown, which says what is wrong
        while len(self._masks) > MASKS_AHEAD:
            self._masks.pop(next(iter(self._masks)))
        self.cache.want(self._ahead)

    def mask(self, i: int) -> np.ndarray:
        """Edited frame ``i``'s mask: read ahead (unless an edit came since), or now."""
        got = self._masks.pop((self.stream, i), None)
        return got if got is not None else self.window.store.mask(self.stream, i)

    def forget_masks(self) -> None:
        """An edit step: masks read ahead may be out of date."""
        self._masks.clear()

    def _show_pending(self) -> None:
        i, self._pending = self._pending, None
        if i is None or self.window.closed:
            return
        name = other_stream(self.stream)
        w, view = self.window, self.views[name]
        j = w.frames.match(self.stream, name, i)
        self._waiting = None
        if j < 0:
            none = w.frames.count_of(name) == 0  # else a broken clock: the note says which
            view.clear(f"no {TITLES[name]} stream in this session" if none else w.frames.rig_note)
            self._shown = None
            self._read_ahead()
            return
        self._waiting = (name, j)
        self._arrived(name, j)  # shown now if read ahead, else when the worker has it

    def _arrived(self, name: str, j: int) -> None:
        """Frame ``j`` of ``name`` is read: draw it if it is the one the view waits for
        (an older one, overtaken by a newer switch, stays in the cache only)."""
        if self._waiting != (name, j) or self.window.closed:
            return
        try:
            image = self.cache.get(name, j)
            if image is None:
                return  # still being read: the worker says when
            self._waiting = None
            self._show(name, j, image)
            # Drawn now, so that reading ahead (a core busy decoding) starts after it.
            self.views[name].glw.viewport().repaint()
            self._read_ahead()
        except (ThermorigError, OSError) as exc:
            self._shown = self._waiting = None
            self.views[name].clear(f"cannot show the {TITLES[name]} frame: {exc}")

    def _show(self, name: str, j: int, image: np.ndarray) -> None:
        w, view = self.window, self.views[name]
        if self._shown != (name, j):  # the same partner as before: the image stays
            if name == "thermal":
                levels = celsius_to_raw_levels(*w.levels_c)
                view.show_image(image, levels=levels, lut=w.lut)
            else:
                view.show_image(image, levels=None)
            self._shown = (name, j)
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
        self.cache.close()
        for view in self.views.values():
            view.dispose()
