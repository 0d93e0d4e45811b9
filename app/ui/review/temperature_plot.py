"""Temperature curves over a session: one line per labeled class, a cursor at the frame
shown, and a click that jumps to the nearest frame.

The review window shows it under the thermal view: the mean °C of each class (a calf's
skin) over the whole session, so a person sees the warming and spots frames whose
mask is off (a spike or a dip) and clicks there to fix them. Median and max, fainter,
are a toggle away: max finds hot spots, the median a mask that leaks into background.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from app.analysis.curves import TemperatureCurves
from app.display import CLASS_RGB
from app.review.texts import frame_text
from app.ui.views import BACKGROUND, MUTED, TEXT

CURSOR = "#ffffff"


def class_colour(k: int, alpha: int = 255) -> tuple[int, int, int, int]:
    """The overlay colour of class id ``k`` (1 = the first class after background)."""
    r, g, b = (int(v) for v in CLASS_RGB[k])
    return r, g, b, alpha


class TemperaturePlot(QtWidgets.QWidget):
    """Emits ``frame_clicked(row)``: the frame nearest in time to a click on the plot."""

    frame_clicked = QtCore.Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.curves: TemperatureCurves | None = None
        self.has_values: bool | None = None  # any finite value drawn (None: not yet known)
        self.current: int | None = None
        self.plot = pg.PlotWidget()
        self.plot.setBackground(BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=True, y=False)
        self.plot.hideButtons()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        for side, text in (("left", "°C"), ("bottom", "time (s)")):
            self.plot.setLabel(side, text, color=MUTED)
            self.plot.getAxis(side).enableAutoSIPrefix(False)
        # The legend is a label beside the title, not a pyqtgraph legend in the plot:
        # inside, it covered the first seconds of the lines in a short dock.
        self.legend = QtWidgets.QLabel("")
        self.legend.setObjectName("curves-legend")
        self.legend.setTextFormat(QtCore.Qt.TextFormat.RichText)
        self.cursor = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen(CURSOR, width=1))
        self.cursor.setVisible(False)
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.mean_items: list[pg.PlotDataItem] = []
        self.detail_items: list[pg.PlotDataItem] = []

        self.title = QtWidgets.QLabel("Temperature: no labels")
        self.title.setStyleSheet(f"color: {TEXT}; font-weight: 600;")
        self.readout = QtWidgets.QLabel("")
        self.readout.setStyleSheet(f"color: {MUTED};")
        self.note = QtWidgets.QLabel("")  # what the curves are doing (computing…)
        self.note.setStyleSheet(f"color: {MUTED};")
        self.details = QtWidgets.QCheckBox("median && max")
        self.details.setToolTip("also draw each class's median (dotted) and max (dashed)")
        self.details.toggled.connect(self._show_details)
        header = QtWidgets.QHBoxLayout()
        header.setContentsMargins(6, 2, 6, 2)
        header.addWidget(self.title)
        header.addSpacing(12)
        header.addWidget(self.legend)
        header.addSpacing(12)
        header.addWidget(self.readout, 1)
        header.addWidget(self.note)
        header.addWidget(self.details)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.plot, 1)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    # -- data -------------------------------------------------------------------------
    def set_curves(self, curves: TemperatureCurves | None) -> None:
        """Draw ``curves`` (replacing any); None clears the plot."""
        for item in self.mean_items + self.detail_items:
            self.plot.removeItem(item)
        self.mean_items, self.detail_items = [], []
        self.legend.setText("")
        self.curves = curves
        if curves is None or not len(curves):
            self.title.setText("Temperature: no labels")
            self.cursor.setVisible(False)
            return
        t = curves.time
        for k, name in enumerate(curves.classes):
            colour = class_colour(k + 1)
            mean = self.plot.plot(
                t,
                curves.mean[:, k].copy(),
                pen=pg.mkPen(colour, width=2),
                name=name,
                connect="finite",
            )
            self.mean_items.append(mean)
            for stat, style in (("median", QtCore.Qt.PenStyle.DotLine), ("max", None)):
                pen = pg.mkPen(class_colour(k + 1, 110), width=1)
                pen.setStyle(style or QtCore.Qt.PenStyle.DashLine)
                item = self.plot.plot(
                    t, getattr(curves, stat)[:, k].copy(), pen=pen, connect="finite"
                )
                item.setVisible(self.details.isChecked())
                self.detail_items.append(item)
        self.legend.setText(
            "  ".join(
                f"<span style='color:rgb{class_colour(k + 1)[:3]}'>━━</span>"
                f" <span style='color:{TEXT}'>{html.escape(name)}</span>"
                for k, name in enumerate(curves.classes)
            )
        )
        self.title.setToolTip(
            f"mean °C inside each class's mask, eroded {curves.erode_px} px; rejected and"
            " unlabeled frames leave gaps"
        )
        self.has_values = None
        self._show_values()
        if self.current is not None:
            self.set_current(self.current)

    def _show_values(self) -> None:
        """No °C scale before there is a value to read on it (an axis of 0-1 over an
        unlabeled session reads as data); the range follows the first values."""
        has = bool(self.curves is not None and np.isfinite(self.curves.mean).any())
        if has == self.has_values:
            return
        self.has_values = has
        self.plot.getAxis("left").setStyle(showValues=has)
        self.title.setText(
            "Temperature: mean °C per class" if has else "Temperature: no labeled frame yet"
        )
        self.plot.enableAutoRange()

    def refresh(self) -> None:
        """Draw the current ``curves`` arrays again (rows changed in place by edits);
        the view's range stays where the person put it."""
        c = self.curves
        if c is None or not len(c):
            return
        stats = ("median", "max")
        for k, item in enumerate(self.mean_items):
            item.setData(c.time, c.mean[:, k].copy(), connect="finite")
            for j, stat in enumerate(stats):
                detail = self.detail_items[k * len(stats) + j]
                detail.setData(c.time, getattr(c, stat)[:, k].copy(), connect="finite")
        self._show_values()
        if self.current is not None:
            self.set_current(self.current)

    def _show_details(self, on: bool) -> None:
        for item in self.detail_items:
            item.setVisible(on)

    # -- cursor -----------------------------------------------------------------------
    def set_current(self, frame_index: int) -> None:
        """Put the cursor on frame ``frame_index`` and read its values out."""
        self.current = int(frame_index)
        c = self.curves
        if c is None or not 0 <= self.current < len(c):
            self.cursor.setVisible(False)
            self.readout.setText("")
            return
        t = float(c.time[self.current])
        self.cursor.setPos(t)
        self.cursor.setVisible(True)
        parts = []
        for k, name in enumerate(c.classes):
            v = float(c.mean[self.current, k])
            parts.append(f"{name} {v:.2f} °C" if math.isfinite(v) else f"{name} -")
        self.readout.setText(f"{frame_text(self.current)}, {t:.1f} s: " + ", ".join(parts))

    def frame_at(self, t: float) -> int | None:
        """The frame nearest in time to ``t`` seconds, None without curves."""
        if self.curves is None or not len(self.curves):
            return None
        return int(np.argmin(np.abs(self.curves.time - t)))

    def _clicked(self, event) -> None:
        vb = self.plot.getPlotItem().vb
        if event.button() != QtCore.Qt.MouseButton.LeftButton:
            return
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        row = self.frame_at(vb.mapSceneToView(event.scenePos()).x())
        if row is not None:
            self.frame_clicked.emit(row)

    def dispose(self) -> None:
        """Close the pyqtgraph widget explicitly (see StreamView.dispose)."""
        self.plot.scene().sigMouseClicked.disconnect(self._clicked)
        self.plot.clear()
        self.plot.close()
        self.plot.deleteLater()
