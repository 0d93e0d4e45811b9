"""The session as a strip: one column per frame, coloured by status, source and
transfer confidence; click or drag to go to a frame.

Three bands, top to bottom: review status (what is done), label source (where the
mask came from) and transfer confidence (dark red = worst, where to look first). The
bands are one small QImage of N columns, rebuilt only when statuses change and
stretched to the widget's width when painted, so a 10-minute session (18,000 frames)
costs the same to draw as a short one.
"""

from __future__ import annotations

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_MODEL,
    SOURCE_NONE,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
)

STATUS_COLOURS = {
    STATUS_UNREVIEWED: ("#4a505c", "unreviewed"),
    STATUS_ACCEPTED: ("#3fbf6f", "accepted"),
    STATUS_CORRECTED: ("#3d8fe0", "corrected"),
    STATUS_REJECTED: ("#e0514a", "rejected"),
}
SOURCE_COLOURS = {
    SOURCE_NONE: ("#30343c", "no label"),
    SOURCE_PROJECTED: ("#9b6bd6", "projected"),
    SOURCE_MODEL: ("#e0953d", "model"),
    SOURCE_MANUAL: ("#3fd0d0", "manual"),
}
#: Band heights as shares of the strip: status, source, confidence.
BANDS = (0.5, 0.25, 0.25)


def _lut(colours: dict[int, tuple[str, str]]) -> np.ndarray:
    lut = np.zeros((256, 4), np.uint8)
    lut[:, 3] = 255
    for code, (hex_colour, _) in colours.items():
        c = QtGui.QColor(hex_colour)
        lut[code, :3] = (c.red(), c.green(), c.blue())
    return lut


_STATUS_LUT = _lut(STATUS_COLOURS)
_SOURCE_LUT = _lut(SOURCE_COLOURS)


def confidence_rgba(conf: np.ndarray) -> np.ndarray:
    """(N, 4) colours: red (0) through amber to dim green (1); grey where unknown."""
    c = np.clip(np.nan_to_num(conf, nan=-1.0), -1.0, 1.0)
    out = np.zeros((len(c), 4), np.uint8)
    out[:, 3] = 255
    known = c >= 0
    t = c[known]
    out[known, 0] = np.rint(200 - 150 * t)
    out[known, 1] = np.rint(40 + 120 * t)
    out[known, 2] = np.rint(40 + 30 * t)
    out[~known, :3] = (60, 60, 66)
    return out


def _swatches(colours: dict[int, tuple[str, str]]) -> str:
    return " ".join(f"<span style='color:{c}'>■</span>&nbsp;{n}" for c, n in colours.values())


def legend_html() -> str:
    """What each band's colours mean, in the order the bands are drawn (one line)."""
    ramp = confidence_rgba(np.linspace(0.0, 1.0, 5))
    steps = "".join(f"<span style='color:#{r:02x}{g:02x}{b:02x}'>■</span>" for r, g, b, _ in ramp)
    return (
        f"<b>Status</b> {_swatches(STATUS_COLOURS)} &nbsp;│&nbsp; "
        f"<b>Source</b> {_swatches(SOURCE_COLOURS)} &nbsp;│&nbsp; "
        f"<b>Confidence</b> low&nbsp;{steps}&nbsp;high"
    )


def legend_label() -> QtWidgets.QLabel:
    """The timeline's legend, shown under it (not only as a tooltip)."""
    label = QtWidgets.QLabel(legend_html())
    label.setObjectName("review-timeline-legend")
    label.setTextFormat(QtCore.Qt.TextFormat.RichText)
    label.setStyleSheet("color: #9aa3b2;")
    label.setWordWrap(True)  # two lines rather than cut off in a narrow window
    label.setToolTip(
        "The timeline's bands, top to bottom: review status, where each mask came from,"
        " transfer confidence (look at the red frames first)"
    )
    return label


class Timeline(QtWidgets.QWidget):
    """Emits ``seek(frame)`` when clicked or dragged; :meth:`set_current` moves the mark."""

    seek = QtCore.Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("review-timeline")
        self.setMinimumHeight(34)
        self.setSizePolicy(
            QtWidgets.QSizePolicy.Policy.Expanding, QtWidgets.QSizePolicy.Policy.Fixed
        )
        self.setMouseTracking(True)
        self.setFocusPolicy(QtCore.Qt.FocusPolicy.NoFocus)
        self.count = 0
        self.current = 0
        self._image: QtGui.QImage | None = None
        self._pixels: np.ndarray | None = None
        self._confidence: np.ndarray | None = None
        self._confidence_rgba = np.zeros((0, 4), np.uint8)
        self.setToolTip(
            "Top band: review status; middle: label source; bottom: transfer confidence"
            " (red = low). Click or drag to go to a frame."
        )

    def set_data(self, status: np.ndarray, source: np.ndarray, confidence: np.ndarray) -> None:
        """Rebuild the bands (a 3-row image, N columns wide). Review never changes the
        confidences, so their band is coloured again only for another array."""
        self.count = len(status)
        if confidence is not self._confidence:
            self._confidence = confidence
            self._confidence_rgba = confidence_rgba(np.asarray(confidence, float))
        rows = np.stack([_STATUS_LUT[status], _SOURCE_LUT[source], self._confidence_rgba])
        self._pixels = np.ascontiguousarray(rows)
        n = max(self.count, 1)
        self._image = QtGui.QImage(
            self._pixels.data, n, 3, 4 * n, QtGui.QImage.Format.Format_RGBA8888
        )
        self.update()

    def set_current(self, i: int) -> None:
        if i != self.current:
            self.current = i
            self.update()

    # -- painting ---------------------------------------------------------------------
    def _x_of(self, i: int) -> float:
        return (i + 0.5) * self.width() / max(self.count, 1)

    def frame_at(self, x: float) -> int:
        return int(np.clip(x * self.count / max(self.width(), 1), 0, max(self.count - 1, 0)))

    def paintEvent(self, event: QtGui.QPaintEvent) -> None:  # noqa: N802 - Qt API
        p = QtGui.QPainter(self)
        p.fillRect(self.rect(), QtGui.QColor("#15171b"))
        if self._image is not None and self.count:
            y = 0.0
            for band, share in enumerate(BANDS):
                h = share * (self.height() - 2)
                target = QtCore.QRectF(0, 1 + y, self.width(), h)
                p.drawImage(target, self._image, QtCore.QRectF(0, band, self.count, 1))
                y += h
            x = self._x_of(self.current)
            width = max(2.0, self.width() / self.count)
            p.setPen(QtGui.QPen(QtGui.QColor("#ffffff"), 2))
            p.setBrush(QtCore.Qt.BrushStyle.NoBrush)
            p.drawRect(QtCore.QRectF(x - width / 2, 1, width, self.height() - 2))
        p.end()

    # -- mouse ------------------------------------------------------------------------
    def mousePressEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.button() == QtCore.Qt.MouseButton.LeftButton and self.count:
            self.seek.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QtGui.QMouseEvent) -> None:  # noqa: N802 - Qt API
        if event.buttons() & QtCore.Qt.MouseButton.LeftButton and self.count:
            i = self.frame_at(event.position().x())
            if i != self.current:
                self.seek.emit(i)
