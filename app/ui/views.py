"""One camera's live image: a pyqtgraph view with an overlay layer and a colour bar.

Arrays reach pyqtgraph only in the forms its fast paths take (see app.display): the
base image is either uint16 with fixed levels and a 256-entry LUT (thermal), uint8
indices with a LUT and no levels (depth), or uint8 RGB with ``levels=None``. The
overlay layer takes uint8 RGBA prepared off the GUI thread.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

BACKGROUND = "#15171b"
PANEL = "#1d2026"
TEXT = "#d7dbe2"
MUTED = "#8a93a3"


class StreamView(QtWidgets.QFrame):
    """An image view of one stream; emits ``hovered(stream, x, y)`` in image pixels
    (x column, y row) while the mouse is over it and ``left(stream)`` when it leaves."""

    hovered = QtCore.Signal(str, float, float)
    left = QtCore.Signal(str)

    def __init__(self, stream: str, title: str, *, colour_bar: str = "", parent=None):
        super().__init__(parent)
        self.stream = stream
        self.setObjectName(f"view-{stream}")
        self.setFrameShape(QtWidgets.QFrame.Shape.NoFrame)
        self.frames_shown = 0
        self._shape: tuple[int, ...] | None = None

        self.title = QtWidgets.QLabel(title)
        self.title.setStyleSheet(f"color: {TEXT}; font-weight: 600;")
        self.info = QtWidgets.QLabel("")
        self.info.setStyleSheet(f"color: {MUTED};")
        self.info.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
        #: What the overlays of this view say (e.g. why projected labels are off).
        self.note = QtWidgets.QLabel("")
        self.note.setStyleSheet(f"color: {MUTED};")
        self.note.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Preferred
        )
        self.header = QtWidgets.QHBoxLayout()
        self.header.setContentsMargins(6, 2, 6, 2)
        self.header.addWidget(self.title)
        self.header.addSpacing(10)
        self.header.addWidget(self.note, 1)
        self.header.addSpacing(8)  # a cut note ends in "…", apart from the figures
        self.header.addWidget(self.info)

        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(BACKGROUND)
        self.glw.ci.setContentsMargins(2, 2, 2, 2)
        self.vb = self.glw.addViewBox(row=0, col=0, lockAspect=True, invertY=True)
        self.vb.setMenuEnabled(False)
        self.vb.setDefaultPadding(0.0)
        self.image = pg.ImageItem(axisOrder="row-major")
        #: Overlay layers, bottom first; ``overlay`` is the first (more are added on
        #: demand when several overlays of this view are on).
        self.layers: list[pg.ImageItem] = []
        self.overlay = self._layer(0)
        self.points = pg.ScatterPlotItem(
            size=9, pen=pg.mkPen("#ffffff", width=1.5), brush=pg.mkBrush(255, 255, 255, 60)
        )
        self.points.setZValue(20)
        #: The cursor's 3-D point seen from this camera (hovering another view).
        self.marker = pg.ScatterPlotItem(
            size=22, symbol="+", pen=pg.mkPen("#00ffd0", width=2), brush=None
        )
        self.marker.setZValue(30)
        self.marker.setVisible(False)
        self.placeholder = pg.TextItem("waiting for frames…", color=MUTED, anchor=(0.5, 0.5))
        for item in (self.image, self.points, self.marker, self.placeholder):
            self.vb.addItem(item)
        self.placeholder.setPos(0.5, 0.5)
        self.vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        #: Whether the image is shown whole (not zoomed or panned by the person): then
        #: it is fitted again whenever the view changes size (a legend appearing under
        #: it, the window resized), instead of keeping a range made for another shape.
        self.fitted = True
        self.vb.sigRangeChangedManually.connect(self._zoomed_by_hand)
        self.vb.sigResized.connect(self._refit)

        self.bar_image: pg.ImageItem | None = None
        self.bar_axis: pg.AxisItem | None = None
        if colour_bar:
            self._add_colour_bar(colour_bar)

        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(self.header)
        layout.addWidget(self.glw, 1)
        self.setStyleSheet(f"StreamView {{ background: {PANEL}; border-radius: 4px; }}")
        self.glw.scene().sigMouseMoved.connect(self._mouse_moved)
        self.glw.scene().sigMouseClicked.connect(self._mouse_clicked)

    def _add_colour_bar(self, units: str) -> None:
        self.bar_vb = self.glw.addViewBox(row=0, col=1, enableMouse=False)
        self.bar_vb.setMenuEnabled(False)
        self.bar_vb.setFixedWidth(16)
        self.bar_image = pg.ImageItem(axisOrder="row-major")
        self.bar_vb.addItem(self.bar_image)
        self.bar_axis = pg.AxisItem("right")
        self.bar_axis.linkToView(self.bar_vb)
        # °C and metres read as they are: "°C (x0.001)" on a colour bar is noise.
        self.bar_axis.enableAutoSIPrefix(False)
        self.bar_axis.setLabel(units)
        self.bar_axis.setTextPen(TEXT)
        self.bar_axis.setPen(MUTED)
        self.bar_axis.setWidth(44)
        self.glw.addItem(self.bar_axis, row=0, col=2)
        self.bar_image.setVisible(False)
        self._bar_values(False)

    def _bar_values(self, shown: bool) -> None:
        """Ticks and numbers on the colour bar only once it has a range from data: an
        empty bar would otherwise count an invented range (-0.5 to 0.5)."""
        if self.bar_axis is None:
            return
        self.bar_axis.setStyle(showValues=shown)
        self.bar_axis.setTicks(None if shown else [[], []])

    # -- data -------------------------------------------------------------------------
    def show_image(
        self,
        array: np.ndarray,
        *,
        levels: tuple[float, float] | None = None,
        lut: np.ndarray | None = None,
    ) -> None:
        """Display a frame; the view fits itself to a new image size once."""
        self.image.setImage(array, autoLevels=False, levels=levels, lut=lut)
        if array.shape != self._shape:
            self._shape = array.shape
            h, w = array.shape[:2]
            self.placeholder.setVisible(False)
            self.vb.setLimits(xMin=-w, xMax=2 * w, yMin=-h, yMax=2 * h)
            self.reset_zoom()
        self.frames_shown += 1

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """Shape of the image shown, None before the first frame."""
        return self._shape

    def _layer(self, i: int) -> pg.ImageItem:
        while len(self.layers) <= i:
            item = pg.ImageItem(axisOrder="row-major")
            item.setZValue(10 + len(self.layers))
            item.setVisible(False)
            self.vb.addItem(item)
            self.layers.append(item)
        return self.layers[i]

    def show_overlays(self, layers: list[np.ndarray], points: np.ndarray | None = None) -> None:
        """RGBA overlays (H, W, 4 uint8), drawn in order over the image; unused layers
        are hidden (a hidden item costs no paint)."""
        for i, rgba in enumerate(layers):
            item = self._layer(i)
            item.setImage(rgba, autoLevels=False, levels=None)
            item.setVisible(True)
        for item in self.layers[len(layers) :]:
            item.setVisible(False)
        self._show_points(points)

    def show_overlay(self, rgba: np.ndarray | None, points: np.ndarray | None = None) -> None:
        self.show_overlays([] if rgba is None else [rgba], points)

    def set_note(self, text: str, warn: bool = False) -> None:
        """One line over the view, cut to fit (the whole text is the tooltip)."""
        width = max(self.note.width(), 40)
        shown = self.note.fontMetrics().elidedText(text, QtCore.Qt.TextElideMode.ElideRight, width)
        if shown != self.note.text():
            self.note.setText(shown)
        if text != self.note.toolTip():
            self.note.setToolTip(text)
            self.note.setStyleSheet(f"color: {'#e0b050' if warn else MUTED};")

    def show_marker(self, xy: tuple[float, float] | None) -> None:
        """Mark pixel ``xy`` (column, row), or hide the mark (None)."""
        if xy is None:
            self.marker.setVisible(False)
        else:
            self.marker.setData([xy[0]], [xy[1]])
            self.marker.setVisible(True)

    def _show_points(self, points: np.ndarray | None) -> None:
        # An empty scatter still costs a paint per frame: hide it instead.
        if points is None or not len(points):
            self.points.setVisible(False)
        else:
            ok = np.isfinite(points).all(axis=1)
            self.points.setData(points[ok, 0], points[ok, 1])
            self.points.setVisible(True)

    def clear(self, message: str = "waiting for frames…") -> None:
        self.image.clear()
        self.show_overlay(None)
        self.show_marker(None)
        self.set_note("")
        self._shape = None
        self.placeholder.setText(message)
        self.placeholder.setVisible(True)
        if self.bar_image is not None:  # no data, no scale
            self.bar_image.setVisible(False)
            self._bar_values(False)
        self.vb.setRange(xRange=(0, 1), yRange=(0, 1), padding=0)

    def set_colour_bar(self, lut: np.ndarray, lo: float, hi: float) -> None:
        """The colour bar shows ``lut`` spread from ``lo`` to ``hi`` (display units)."""
        if self.bar_image is None:
            return
        self.bar_image.setImage(np.ascontiguousarray(lut[:, None, :]), levels=None)
        self.bar_image.setVisible(True)
        self._bar_values(True)
        self.bar_image.setRect(QtCore.QRectF(0.0, lo, 1.0, max(hi - lo, 1e-6)))
        self.bar_vb.setRange(xRange=(0, 1), yRange=(lo, hi), padding=0)

    def reset_zoom(self) -> None:
        self.fitted = True
        if self._shape is not None:
            h, w = self._shape[:2]
            self.vb.setRange(xRange=(0, w), yRange=(0, h), padding=0)

    def _zoomed_by_hand(self, *_: object) -> None:
        self.fitted = False

    def _refit(self, *_: object) -> None:
        if self.fitted and self._shape is not None:
            self.reset_zoom()

    # -- mouse ------------------------------------------------------------------------
    def _mouse_moved(self, pos) -> None:
        if self._shape is None or not self.vb.sceneBoundingRect().contains(pos):
            self.left.emit(self.stream)
            return
        p = self.vb.mapSceneToView(pos)
        self.hovered.emit(self.stream, float(p.x()), float(p.y()))

    def _mouse_clicked(self, event) -> None:
        if event.double():
            self.reset_zoom()

    def leaveEvent(self, event) -> None:  # noqa: N802 - Qt API
        self.left.emit(self.stream)
        super().leaveEvent(event)

    def dispose(self) -> None:
        """Close and delete the pyqtgraph widget explicitly (Qt 6.11 crashed at exit
        when it was left to garbage collection)."""
        self.glw.scene().sigMouseMoved.disconnect(self._mouse_moved)
        self.glw.scene().sigMouseClicked.disconnect(self._mouse_clicked)
        self.glw.clear()
        self.glw.close()
        self.glw.deleteLater()
