"""The thermal view of the review window: the thermogram in °C, the mask over it, and
the mouse painting into a working copy of the mask.

A :class:`~app.ui.views.StreamView` (the preview's view: colour bar, fixed levels,
uint8 LUT) with the edit tools added. Left-button events on the view go to the
:class:`~app.review.editor.MaskEditor` and never reach pyqtgraph (so painting never pans);
the wheel zooms and the middle button pans as everywhere else. Each mouse move redraws
only the box the brush changed (:class:`~app.review.overlay.MaskOverlay`); when an edit
is complete (release, polygon closed, a fill) ``edited(name)`` tells the window to
hand the working copy to the label store — one undo step, on disk before it returns.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtGui, QtWidgets

from app.display import celsius_to_raw_levels
from app.review.editor import Edit, MaskEditor
from app.review.mask_tools import Box
from app.review.overlay import MaskOverlay
from app.ui.views import StreamView

_Ev = QtCore.QEvent.Type
_LEFT = QtCore.Qt.MouseButton.LeftButton


class ReviewCanvas(StreamView):
    """Emits ``edited(name)`` when an edit of the working copy is complete.

    The window has two, thermal and RGB (``stream``); the one being edited has
    ``editing`` set, the other only shows its frame and passes the mouse on to
    pyqtgraph. Both hold the same ``editor`` (one tool, class and brush size)."""

    edited = QtCore.Signal(str)

    def __init__(
        self, stream: str = "thermal", title: str = "Thermal", colour_bar: str = "°C", parent=None
    ):
        super().__init__(stream, title, colour_bar=colour_bar, parent=parent)
        self.editor = MaskEditor()
        self.editing = True
        self.mask_overlay: MaskOverlay | None = None
        self.overlay_on = True
        self._pressed = False
        self.brush_item = QtWidgets.QGraphicsEllipseItem()
        pen = QtGui.QPen(QtGui.QColor(255, 255, 255, 200), 1.2)
        pen.setCosmetic(True)
        self.brush_item.setPen(pen)
        self.brush_item.setZValue(40)
        self.brush_item.setVisible(False)
        self.polygon_item = pg.PlotDataItem(
            pen=pg.mkPen("#ffd27a", width=1.5), symbol="o", symbolSize=5, symbolBrush="#ffd27a"
        )
        self.polygon_item.setZValue(41)
        # Outside the view's bounds: the fitted view never follows the brush around.
        self.vb.addItem(self.brush_item, ignoreBounds=True)
        self.vb.addItem(self.polygon_item, ignoreBounds=True)
        self.glw.viewport().installEventFilter(self)
        self.glw.setCursor(QtCore.Qt.CursorShape.CrossCursor)
        self.hovered.connect(self._hover)

    # -- frames -----------------------------------------------------------------------
    def show_frame(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        levels_c: tuple[float, float] | None = None,
        lut: np.ndarray | None = None,
    ) -> None:
        """A new frame: a thermogram (with its °C levels and LUT) or an RGB frame
        (without), and its mask as the new working copy. A stroke under way must be
        released first (the window does, while the frame it belongs to is still the
        current one). Only a thermogram gives the wand temperatures to select by."""
        thermal = levels_c is not None
        levels = celsius_to_raw_levels(*levels_c) if thermal else None
        self.show_image(image, levels=levels, lut=lut)
        self.editor.load(mask, image if thermal else None)
        if self.mask_overlay is None or self.mask_overlay.shape != mask.shape:
            look = self.mask_overlay
            self.mask_overlay = MaskOverlay(mask.shape)
            if look is not None:
                self.mask_overlay.set_look(look.fill_alpha, look.contour)
        self.redraw()
        self._draw_polygon()

    def redraw(self, box: Box | None = None) -> None:
        """Redraw the mask overlay (the part in ``box``, or all of it)."""
        if self.mask_overlay is None or self.editor.work is None:
            return
        self.mask_overlay.render(self.editor.work, box)
        visible = self.overlay_on and (
            self.mask_overlay.fill_alpha > 0 or self.mask_overlay.contour
        )
        self.show_overlay(self.mask_overlay.rgba if visible else None)

    def set_look(self, fill_alpha: int, contour: bool) -> None:
        if self.mask_overlay is not None:
            self.mask_overlay.set_look(fill_alpha, contour)
            self.redraw()

    # -- coordinates ------------------------------------------------------------------
    def image_pos(self, widget_pos: QtCore.QPointF) -> tuple[float, float]:
        """Viewport position → image pixel (x column, y row; centres at integers)."""
        scene = self.glw.mapToScene(widget_pos.toPoint())
        p = self.vb.mapSceneToView(scene)
        return float(p.x()) - 0.5, float(p.y()) - 0.5

    def widget_pos(self, x: float, y: float) -> QtCore.QPoint:
        """Image pixel → viewport position (what a test clicks)."""
        scene = self.vb.mapViewToScene(QtCore.QPointF(x + 0.5, y + 0.5))
        return self.glw.mapFromScene(scene)

    # -- the stroke API (image coordinates) -------------------------------------------
    def press(self, x: float, y: float) -> None:
        self._apply(self.editor.press(x, y))
        self._draw_polygon()

    def move(self, x: float, y: float) -> None:
        self._apply(self.editor.move(x, y))

    def release(self) -> None:
        self._apply(self.editor.release())

    def close_polygon(self) -> None:
        self._apply(self.editor.close_polygon())
        self._draw_polygon()

    def cancel(self) -> None:
        self.editor.cancel()
        self._draw_polygon()

    def set_tool(self, tool: str) -> None:
        """Another tool: a polygon under way is dropped, so its outline goes too."""
        self.editor.set_tool(tool)
        self._draw_polygon()

    def _apply(self, edit: Edit) -> None:
        if edit.box is not None:
            self.redraw(edit.box)
        if edit.done:
            self.edited.emit(edit.done)

    # -- mouse ------------------------------------------------------------------------
    def eventFilter(self, obj: QtCore.QObject, event: QtCore.QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if not self.editing or kind not in (_Ev.MouseButtonPress, _Ev.MouseMove, _Ev.MouseButtonRelease,
                        _Ev.MouseButtonDblClick) or self.image_shape is None:  # fmt: skip
            return super().eventFilter(obj, event)
        x, y = self.image_pos(event.position())
        if kind == _Ev.MouseButtonDblClick and event.button() == _LEFT:
            if self.editor.tool == "polygon":
                self.close_polygon()
            else:
                self._pressed = True
                self.press(x, y)
            return True
        if kind == _Ev.MouseButtonPress and event.button() == _LEFT:
            self._pressed = True
            self.press(x, y)
            return True
        if kind == _Ev.MouseMove and self._pressed:
            self.move(x, y)
            self._show_brush(x, y)
            self.hovered.emit(self.stream, x + 0.5, y + 0.5)
            return True
        if kind == _Ev.MouseButtonRelease and event.button() == _LEFT and self._pressed:
            self._pressed = False
            self.release()
            return True
        return super().eventFilter(obj, event)

    def _hover(self, _stream: str, vx: float, vy: float) -> None:
        self._show_brush(vx - 0.5, vy - 0.5)

    def _show_brush(self, x: float, y: float) -> None:
        """The brush's footprint follows the mouse (brush and eraser only)."""
        on = self.editing and self.editor.tool in ("brush", "eraser")
        self.brush_item.setVisible(on)
        if on:
            r = self.editor.radius
            self.brush_item.setRect(QtCore.QRectF(x + 0.5 - r, y + 0.5 - r, 2 * r, 2 * r))

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.brush_item.setVisible(False)
        super().leaveEvent(event)

    def _draw_polygon(self) -> None:
        v = self.editor.vertices
        if not v:
            self.polygon_item.setData([], [])
            return
        pts = np.asarray(v + [v[0]], float) + 0.5
        self.polygon_item.setData(pts[:, 0], pts[:, 1])

    def dispose(self) -> None:
        self.glw.viewport().removeEventFilter(self)
        super().dispose()
