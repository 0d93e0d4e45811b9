"""The calibration wizard's displays: the board seen live by each camera, the coverage
bars ROS users know, and the per-view error bars MATLAB users know (click to drop)."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6 import QtCore, QtWidgets

from app.ui.views import BACKGROUND, MUTED, TEXT
from calibration.coverage import PARAM_NAMES
from calibration.live import CameraLive, LiveState, ViewError

#: Camera → colour of its corners' title and its error bars.
CAMERA_COLOURS = {"depth": "#4aa8ff", "thermal": "#ff8a3d", "color": "#7ddc6a"}
REJECTED = "#e04848"


class BoardViews(QtWidgets.QWidget):
    """One small view per camera showing the board with its corners marked (green:
    still, amber: moving) and a title line saying what the search found.

    The search thread hands over each view ready to blit
    (:attr:`~calibration.live.CameraLive.picture`, corners drawn in), and the
    titles are plain labels whose width never follows their text: a search result
    costs the GUI thread three image uploads and no relayout, ~2 ms with the paint.
    Drawn as scatter items under titles inside the plot layout (re-laid out whenever
    a title changed), it cost ~7 ms, 10-16 times a second, beside the preview.
    """

    def __init__(self, cameras: list[tuple[str, str]], parent=None):
        super().__init__(parent)
        self.glw = pg.GraphicsLayoutWidget()
        self.glw.setBackground(BACKGROUND)
        header = QtWidgets.QWidget()
        header.setObjectName("board-titles")
        header.setStyleSheet(f"#board-titles {{ background: {BACKGROUND}; }}")
        titles = QtWidgets.QHBoxLayout(header)
        titles.setContentsMargins(6, 6, 6, 0)
        self.items: dict[str, tuple[pg.ViewBox, pg.ImageItem]] = {}
        self.titles: dict[str, QtWidgets.QLabel] = {}
        for col, (camera, stream) in enumerate(cameras):
            title = QtWidgets.QLabel(f"{camera} ({stream})")
            title.setStyleSheet(f"color: {TEXT};")
            title.setAlignment(QtCore.Qt.AlignmentFlag.AlignHCenter)
            title.setSizePolicy(
                QtWidgets.QSizePolicy.Policy.Ignored, QtWidgets.QSizePolicy.Policy.Fixed
            )
            titles.addWidget(title, 1)
            self.titles[camera] = title
            vb = self.glw.addViewBox(row=0, col=col, lockAspect=True, invertY=True)
            vb.setMenuEnabled(False)
            vb.setMouseEnabled(False, False)
            image = pg.ImageItem(axisOrder="row-major")
            vb.addItem(image)
            self.items[camera] = (vb, image)
        self._shapes: dict[str, tuple[int, ...]] = {}
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(header)
        layout.addWidget(self.glw, 1)

    def show_state(self, state: LiveState) -> None:
        for camera, live in state.cameras.items():
            if camera not in self.items:
                continue
            vb, image = self.items[camera]
            if live.picture is not None:
                # uint8 RGB, levels None: pyqtgraph wraps it as is (no rescale, no table).
                image.setImage(live.picture, autoLevels=False, levels=None)
                if live.picture.shape != self._shapes.get(camera):
                    self._shapes[camera] = live.picture.shape
                    h, w = live.picture.shape[:2]
                    vb.setRange(xRange=(0, w), yRange=(0, h), padding=0)
            title = f"{camera} ({live.stream}) · {status_text(live)}"
            self.titles[camera].setText(title)  # a no-op when unchanged

    def dispose(self) -> None:
        self.glw.clear()
        self.glw.close()
        self.glw.deleteLater()


def status_text(live: CameraLive) -> str:
    """What one camera's search found, for its title line."""
    det = live.detection
    if det is None:
        return "no board"
    motion = f"{live.motion:.1f} px" if math.isfinite(live.motion) else "new"
    return f"{len(det)} corners · {'still' if live.still else 'moving ' + motion}"


class CoverageBars(QtWidgets.QWidget):
    """Per camera: X, Y, Size and Skew progress and the number of views kept."""

    def __init__(self, cameras: list[str], parent=None):
        super().__init__(parent)
        grid = QtWidgets.QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(3)
        for col, name in enumerate(("", "X", "Y", "Size", "Skew", "views"), start=0):
            head = QtWidgets.QLabel(name)
            head.setStyleSheet(f"color: {MUTED};")
            grid.addWidget(head, 0, col)
        self.bars: dict[str, dict[str, QtWidgets.QProgressBar]] = {}
        self.counts: dict[str, QtWidgets.QLabel] = {}
        for row, camera in enumerate(cameras, start=1):
            name = QtWidgets.QLabel(camera)
            name.setStyleSheet(f"color: {CAMERA_COLOURS.get(camera, TEXT)}; font-weight: 600;")
            grid.addWidget(name, row, 0)
            self.bars[camera] = {}
            for col, param in enumerate(PARAM_NAMES, start=1):
                bar = QtWidgets.QProgressBar()
                bar.setRange(0, 100)
                bar.setTextVisible(True)
                bar.setFormat("%p%")
                bar.setFixedHeight(16)
                grid.addWidget(bar, row, col)
                self.bars[camera][param] = bar
            count = QtWidgets.QLabel("0")
            count.setAlignment(QtCore.Qt.AlignmentFlag.AlignRight)
            grid.addWidget(count, row, 5)
            self.counts[camera] = count
        for col in range(1, 5):
            grid.setColumnStretch(col, 1)

    def show_progress(self, progress: dict[str, dict[str, float]], views: dict[str, int]) -> None:
        for camera, bars in self.bars.items():
            for param, bar in bars.items():
                bar.setValue(int(round(100 * progress.get(camera, {}).get(param, 0.0))))
            self.counts[camera].setText(str(views.get(camera, 0)))


class ErrorChart(QtWidgets.QWidget):
    """Per-view reprojection error, one group of bars per pose, one bar per camera.

    Views the fit left out are red. Clicking a bar emits ``drop(camera, pose)``.
    """

    drop = QtCore.Signal(str, int)
    WIDTH = 0.26

    def __init__(self, cameras: list[str], parent=None):
        super().__init__(parent)
        self.cameras = list(cameras)
        self.plot = pg.PlotWidget()
        self.plot.setBackground(BACKGROUND)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.setLabel("left", "RMS error (px)")
        self.plot.getAxis("left").enableAutoSIPrefix(False)  # 0.02 px, not "20 (x0.001)"
        self.plot.setLabel("bottom", "pose (click a bar to drop that view and refit)")
        self.plot.showGrid(y=True, alpha=0.2)
        self.bars: pg.BarGraphItem | None = None
        self.errors: list[ViewError] = []
        self._x: np.ndarray = np.zeros(0)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

    def show_errors(self, errors: list[ViewError]) -> None:
        """Draw the bars (replacing any); an empty list clears the chart."""
        if self.bars is not None:
            self.plot.removeItem(self.bars)
            self.bars = None
        self.errors = [e for e in errors if math.isfinite(e.rms)]
        # Shown only with bars: empty, it only took room, and while the board is
        # followed each repaint of its axes and grid cost the GUI thread ~10 ms.
        self.setVisible(bool(self.errors))
        if not self.errors:
            return
        poses = sorted({e.pose for e in self.errors})
        slot = {p: k for k, p in enumerate(poses)}
        n = len(self.cameras)
        offset = {c: (i - (n - 1) / 2) * self.WIDTH for i, c in enumerate(self.cameras)}
        self._x = np.array([slot[e.pose] + offset.get(e.camera, 0.0) for e in self.errors])
        heights = np.array([e.rms for e in self.errors])
        brushes = [
            pg.mkBrush(REJECTED if e.rejected else CAMERA_COLOURS.get(e.camera, TEXT))
            for e in self.errors
        ]
        self.bars = pg.BarGraphItem(
            x=self._x, height=heights, width=self.WIDTH * 0.9, brushes=brushes, pen=None
        )
        self.plot.addItem(self.bars)
        ticks = [(k, str(p)) for p, k in slot.items()]
        self.plot.getAxis("bottom").setTicks([ticks])
        self.plot.setXRange(-0.6, len(poses) - 0.4, padding=0)
        self.plot.setYRange(0, float(heights.max()) * 1.15 or 1.0, padding=0)

    def bar_at(self, x: float) -> ViewError | None:
        """The view whose bar covers ``x`` (plot coordinates), if any."""
        if not self.errors:
            return None
        i = int(np.argmin(np.abs(self._x - x)))
        return self.errors[i] if abs(self._x[i] - x) <= self.WIDTH / 2 else None

    def _clicked(self, event) -> None:
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        hit = self.bar_at(p.x())
        if hit is not None:
            self.drop.emit(hit.camera, hit.pose)

    def dispose(self) -> None:
        self.plot.scene().sigMouseClicked.disconnect(self._clicked)
        self.plot.clear()
        self.plot.close()
        self.plot.deleteLater()
