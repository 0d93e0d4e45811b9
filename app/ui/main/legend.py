"""A view's legend: one small swatch and name per kind of mark drawn on it.

The marks come from the overlays themselves (:mod:`app.live.legend`), so the strip
lists exactly what can be seen; each chip's tooltip is the mark's sentence. The strip
paints its swatches the way the overlays are drawn (fill with outline, hatching, a
grey tint, an outline, a point, the cursor's cross) and wraps onto a second line when
the view is narrow, so it never widens the window.
"""

from __future__ import annotations

from collections.abc import Sequence

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.legend import CROSS, FILL, HATCH, OUTLINE, POINT, TINT, Mark
from app.ui.views import MUTED

_SWATCH = 12  # px, the side of a swatch
_GAP = 5  # px between a swatch and its name
_SPACING = 14  # px between two chips
_MARGIN = 6
_MIN_WIDTH = 240


class LegendStrip(QtWidgets.QWidget):
    """Chips for ``marks``; hidden while there are none."""

    def __init__(self, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.marks: tuple[Mark, ...] = ()
        self._chips: list[tuple[QtCore.QRect, Mark]] = []
        self.setObjectName("legend")
        self.setMouseTracking(True)
        self.setSizePolicy(QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed)
        self.setVisible(False)

    def set_marks(self, marks: Sequence[Mark]) -> None:
        marks = tuple(marks)
        if marks == self.marks:
            return
        self.marks = marks
        self.setVisible(bool(marks))
        self._chips = []
        self._fit()
        self.update()

    def _fit(self) -> None:
        """Take the height the chips need at this width. Never measured narrower than
        _MIN_WIDTH: before the first layout a widget is 0 px wide, which would ask for
        a line per chip and squeeze the image view above it to nothing."""
        height = self._layout(max(self.width(), _MIN_WIDTH))[1] if self.marks else 0
        if height != self.height() or height != self.minimumHeight():
            self.setFixedHeight(height)

    # -- layout -----------------------------------------------------------------------
    def _layout(self, width: int) -> tuple[list[tuple[QtCore.QRect, Mark]], int]:
        fm = self.fontMetrics()
        line = max(fm.height(), _SWATCH) + 4
        x, y, chips = _MARGIN, 2, []
        for mark in self.marks:
            w = _SWATCH + _GAP + fm.horizontalAdvance(mark.title)
            if x > _MARGIN and x + w > width - _MARGIN:
                x, y = _MARGIN, y + line
            chips.append((QtCore.QRect(x, y, w, line), mark))
            x += w + _SPACING
        return chips, y + line + 2

    def resizeEvent(self, event: QtGui.QResizeEvent) -> None:  # noqa: N802 - Qt API
        self._chips = []
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._fit()

    # -- painting ---------------------------------------------------------------------
    def paintEvent(self, _event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt API
        self._chips = self._layout(self.width())[0]
        p = QtGui.QPainter(self)
        p.setRenderHint(QtGui.QPainter.RenderHint.Antialiasing)
        for rect, mark in self._chips:
            box = QtCore.QRect(rect.x(), rect.center().y() - _SWATCH // 2, _SWATCH, _SWATCH)
            _swatch(p, box, mark)
            p.setPen(QtGui.QColor(MUTED))
            text = rect.adjusted(_SWATCH + _GAP, 0, 0, 0)
            p.drawText(text, QtCore.Qt.AlignmentFlag.AlignVCenter, mark.title)
        p.end()

    def mark_at(self, pos: QtCore.QPoint) -> Mark | None:
        """The chip under ``pos`` (widget coordinates), if any."""
        chips = self._chips or self._layout(self.width())[0]
        return next((m for r, m in chips if r.contains(pos)), None)

    def event(self, event: QtCore.QEvent) -> bool:
        if event.type() == QtCore.QEvent.Type.ToolTip:
            mark = self.mark_at(event.pos())
            if mark is None:
                QtWidgets.QToolTip.hideText()
                event.ignore()
            else:
                QtWidgets.QToolTip.showText(event.globalPos(), f"{mark.title}: {mark.text}", self)
            return True
        return super().event(event)


def _swatch(p: QtGui.QPainter, box: QtCore.QRect, mark: Mark) -> None:
    """Draw ``mark``'s sample into ``box`` as the overlays draw it on the image."""
    colour = QtGui.QColor(*mark.rgb)
    p.save()
    p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
    if mark.style == FILL:
        fill = QtGui.QColor(colour)
        fill.setAlpha(110)
        p.setBrush(fill)
        p.setPen(QtGui.QPen(colour, 2))
        p.drawRect(box.adjusted(1, 1, -1, -1))
    elif mark.style == HATCH:
        p.setPen(QtCore.Qt.PenStyle.NoPen)
        p.setBrush(QtGui.QBrush(colour, QtCore.Qt.BrushStyle.BDiagPattern))
        p.drawRect(box)
    elif mark.style == TINT:
        fill = QtGui.QColor(colour)
        fill.setAlpha(60)
        p.setBrush(fill)
        p.setPen(QtGui.QPen(colour, 1))
        p.drawRect(box.adjusted(0, 0, -1, -1))
    elif mark.style == OUTLINE:
        p.setPen(QtGui.QPen(colour, 2))
        p.drawRect(box.adjusted(1, 1, -1, -1))
    elif mark.style == POINT:
        p.setPen(QtGui.QPen(colour, 1.5))
        fill = QtGui.QColor(colour)
        fill.setAlpha(60)
        p.setBrush(fill)
        p.drawEllipse(box.adjusted(2, 2, -2, -2))
    elif mark.style == CROSS:
        p.setPen(QtGui.QPen(colour, 2))
        c = box.center()
        p.drawLine(box.left(), c.y(), box.right(), c.y())
        p.drawLine(c.x(), box.top(), c.x(), box.bottom())
    p.restore()
