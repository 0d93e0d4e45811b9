"""The three live views (thermal, depth, RGB) and how frames are drawn into them.

Thermal is shown in °C through a colour map with a colour bar; its levels are either
fixed by the person (°C) or follow percentiles of the frame, smoothed. Depth is shown
in metres with 0 (no measurement) black. The readout under the cursor reports the
hovered pixel in physical units, and what the overlays drew there (also as a
tooltip); under each view a legend names every kind of mark drawn on it.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from app.display import (
    THERMAL_MAPS,
    DepthColoriser,
    LevelTracker,
    celsius_to_raw_levels,
    colormap_lut,
    pixel_readout,
    thermal_auto_levels,
    thermal_extremes,
)
from app.live.legend import CURSOR, explain, legend_marks
from app.live.stages import Overlay
from app.ui.main.legend import LegendStrip
from app.ui.views import MUTED, StreamView
from drivers.types import FrameSet, StreamSpec

#: Views, in layout order: stream name, title, colour bar units.
VIEWS = (("thermal", "Thermal", "°C"), ("depth", "Depth", "m"), ("color", "RGB", ""))
_INFO_INTERVAL = 0.25  # seconds between updates of the text under each view


class PreviewArea(QtWidgets.QWidget):
    """Draws FrameSets and overlay results; emits ``readout(text)`` for the status bar."""

    readout = QtCore.Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.views = {s: StreamView(s, t, colour_bar=u) for s, t, u in VIEWS}
        #: Under each view: what its marks mean (:mod:`app.live.legend`).
        self.legends = {s: LegendStrip() for s in self.views}
        for name, view in self.views.items():
            view.layout().addWidget(self.legends[name])
        #: The overlays drawn on each view now (what the legend and the tooltip name).
        self.overlays: dict[str, list[Overlay]] = {}
        self._cursor_views: set[str] = set()
        self.specs: dict[str, StreamSpec] = {}
        self.arrays: dict[str, np.ndarray] = {}
        self.frames_displayed = 0
        self.thermal_map = THERMAL_MAPS[0]
        self.thermal_lut = colormap_lut(self.thermal_map)
        self.auto_levels = True
        self.fixed_levels = (20.0, 38.0)
        self.levels_c: tuple[float, float] | None = None
        self._tracker = LevelTracker(alpha=0.2, min_span=1.0)
        self._depth: DepthColoriser | None = None
        self._depth_tracker = LevelTracker(alpha=0.2, min_span=0.2)
        self._bar_levels: dict[str, tuple[float, float]] = {}
        self._hover: tuple[str, float, float] | None = None
        self._last_info = 0.0
        self._notes: dict[str, list[str]] = {}
        self._last_notes = 0.0
        #: ``(stream, x, y) -> ({stream: (x, y)}, text)``: where the hovered pixel's
        #: 3-D point appears in the other views (set by the window when a rig is known).
        self.point_lookup = None
        self._build()

    # -- layout -----------------------------------------------------------------------
    def _build(self) -> None:
        bar = QtWidgets.QHBoxLayout()
        bar.setContentsMargins(4, 0, 4, 0)
        self.map_combo = QtWidgets.QComboBox()
        self.map_combo.addItems(THERMAL_MAPS)
        self.map_combo.setToolTip("Colour map of the thermal view")
        self.auto_check = QtWidgets.QCheckBox("Auto")  # short: the bar fits 1000 px
        self.auto_check.setToolTip(
            "Auto levels: follow the 1st-99.5th percentile of each frame, smoothed"
        )
        self.auto_check.setChecked(True)
        self.lo_spin = self._spin(self.fixed_levels[0])
        self.hi_spin = self._spin(self.fixed_levels[1])
        for w in (QtWidgets.QLabel("Thermal"), self.map_combo, self.auto_check):
            bar.addWidget(w)
        bar.addSpacing(4)
        bar.addWidget(QtWidgets.QLabel("min"))
        bar.addWidget(self.lo_spin)
        bar.addWidget(QtWidgets.QLabel("max"))
        bar.addWidget(self.hi_spin)
        bar.addStretch(1)
        self.extremes = QtWidgets.QLabel("")
        self.extremes.setStyleSheet(f"color: {MUTED};")
        self.extremes.setToolTip("The coldest and the hottest pixel of the frame shown")
        bar.addWidget(self.extremes)

        grid = QtWidgets.QGridLayout()
        grid.setSpacing(6)
        grid.addWidget(self.views["thermal"], 0, 0, 2, 1)
        grid.addWidget(self.views["depth"], 0, 1)
        grid.addWidget(self.views["color"], 1, 1)
        grid.setColumnStretch(0, 3)
        grid.setColumnStretch(1, 2)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(bar)
        layout.addLayout(grid, 1)

        self.map_combo.currentTextChanged.connect(self.set_thermal_map)
        self.auto_check.toggled.connect(self._auto_toggled)
        self.lo_spin.valueChanged.connect(self._fixed_changed)
        self.hi_spin.valueChanged.connect(self._fixed_changed)
        for view in self.views.values():
            view.hovered.connect(self._hovered)
            view.left.connect(self._left)
        self._auto_toggled(True)

    @staticmethod
    def _spin(value: float) -> QtWidgets.QDoubleSpinBox:
        spin = QtWidgets.QDoubleSpinBox()
        spin.setRange(-40.0, 500.0)
        spin.setDecimals(1)
        spin.setSingleStep(0.5)
        spin.setSuffix(" °C")
        spin.setValue(value)
        spin.setKeyboardTracking(False)
        return spin

    # -- settings ---------------------------------------------------------------------
    def set_thermal_map(self, name: str) -> None:
        if name not in THERMAL_MAPS:
            return
        self.thermal_map = name
        self.thermal_lut = colormap_lut(name)
        self._bar_levels.pop("thermal", None)
        if self.map_combo.currentText() != name:
            self.map_combo.setCurrentText(name)

    def set_levels(self, auto: bool, lo: float | None = None, hi: float | None = None) -> None:
        """Auto (percentile) levels, or fixed ``lo``..``hi`` °C."""
        if lo is not None and hi is not None:
            self.lo_spin.setValue(lo)
            self.hi_spin.setValue(hi)
        self.auto_check.setChecked(auto)
        self._auto_toggled(auto)

    def _auto_toggled(self, auto: bool) -> None:
        self.auto_levels = bool(auto)
        self.lo_spin.setEnabled(not auto)
        self.hi_spin.setEnabled(not auto)
        self._tracker.reset()
        self._fixed_changed()

    def _fixed_changed(self, *_: object) -> None:
        lo, hi = self.lo_spin.value(), self.hi_spin.value()
        if hi <= lo:
            hi = lo + 0.5
        self.fixed_levels = (lo, hi)

    # -- data -------------------------------------------------------------------------
    def set_streams(self, specs: dict[str, StreamSpec]) -> None:
        self.specs = dict(specs)
        self.arrays.clear()
        self._notes = {}
        self._forget_overlays()
        self._tracker.reset()
        self._depth_tracker.reset()
        self._bar_levels.clear()
        depth = specs.get("depth")
        self._depth = DepthColoriser(depth.depth_scale or 0.001) if depth else None
        for name, view in self.views.items():
            spec = specs.get(name)
            view.info.setText(f"{spec.width}×{spec.height} · {spec.fps:g} fps" if spec else "")
            view.clear("waiting for frames…" if spec else f"no {name} stream in this source")

    def clear(self, message: str) -> None:
        self.arrays.clear()
        self._notes = {}
        self._forget_overlays()
        self._bar_levels.clear()  # the bars are emptied: the next frame draws them anew
        for view in self.views.values():
            view.clear(message)
            view.info.setText("")
        self.extremes.setText("")

    def show_frameset(self, fs: FrameSet) -> None:
        """Draw every stream of ``fs`` that has a view."""
        for name, frame in fs.frames.items():
            if name not in self.views:
                continue
            array = frame.array
            if not array.flags.c_contiguous:
                array = np.ascontiguousarray(array)
            self.arrays[name] = array
            if name == "thermal":
                self._show_thermal(array)
            elif name == "depth":
                self._show_depth(array)
            else:
                self.views[name].show_image(array, levels=None)
        self.frames_displayed += 1
        now = time.monotonic()
        if now - self._last_info >= _INFO_INTERVAL:
            self._last_info = now
            self._update_texts()

    def _show_thermal(self, array: np.ndarray) -> None:
        if self.auto_levels:
            levels = thermal_auto_levels(array)
            lo, hi = self._tracker.update(*levels) if levels else self.fixed_levels
        else:
            lo, hi = self.fixed_levels
        self.levels_c = (lo, hi)
        view = self.views["thermal"]
        view.show_image(array, levels=celsius_to_raw_levels(lo, hi), lut=self.thermal_lut)
        self._colour_bar("thermal", self.thermal_lut, lo, hi, step=0.05)

    def _show_depth(self, array: np.ndarray) -> None:
        if self._depth is None:
            return
        auto = self._depth.auto_range(array)
        if auto is not None:
            near, far = self._depth_tracker.update(*auto)
            # 5 cm steps: the 65k-entry table is rebuilt only when the range really moves.
            self._depth.set_range(round(near * 20) / 20, round(far * 20) / 20)
        view = self.views["depth"]
        view.show_image(self._depth.indices(array), levels=None, lut=self._depth.lut)
        self._colour_bar("depth", self._depth.lut[1:], self._depth.near_m, self._depth.far_m, 0.01)

    def _colour_bar(self, name: str, lut: np.ndarray, lo: float, hi: float, step: float) -> None:
        last = self._bar_levels.get(name)
        if last is not None and abs(last[0] - lo) < step and abs(last[1] - hi) < step:
            return
        self._bar_levels[name] = (lo, hi)
        self.views[name].set_colour_bar(lut, lo, hi)

    def show_overlays(self, results: dict[str, Overlay]) -> None:
        """Draw the newest overlays of each view, in drawing order (later on top);
        views without one are cleared. Keypoints are drawn whether or not their overlay
        has a mask layer (a keypoint model has none), the points of all overlays of a
        view together. An overlay with only a note (e.g. projected labels off, and why)
        puts the note over its view."""
        by_stream: dict[str, list[Overlay]] = {}
        for result in results.values():
            by_stream.setdefault(result.stream, []).append(result)
        self._notes = {}
        for name, view in self.views.items():
            shape = view.image_shape
            layers, points, notes = [], [], []
            for o in by_stream.get(name, []):
                if o.note and (o.rgba is None or not layers):
                    notes.append(o.note)
                if shape is None:
                    continue
                if o.points is not None and len(o.points):
                    points.append(np.asarray(o.points, np.float64).reshape(-1, 2))
                if o.rgba is not None and o.rgba.shape[:2] == shape[:2]:
                    layers.append(o.rgba)
            view.show_overlays(layers, np.concatenate(points) if points else None)
            self._notes[name] = notes
            drawn = [o for o in by_stream.get(name, []) if shape is not None and o.marks]
            self.overlays[name] = drawn
            cursor = (CURSOR,) if name in self._cursor_views and shape is not None else ()
            self.legends[name].set_marks((*legend_marks(drawn), *cursor))
        now = time.monotonic()
        if now - self._last_notes >= _INFO_INTERVAL:
            self.show_notes()

    def show_notes(self) -> None:
        """Overlay notes change every frame (confidence): shown at 4 Hz, not 30."""
        self._last_notes = time.monotonic()
        for name, view in self.views.items():
            notes = self._notes.get(name, [])
            view.set_note(" · ".join(notes), warn=any(" off: " in n for n in notes))

    # -- text -------------------------------------------------------------------------
    def _update_texts(self) -> None:
        self.show_notes()
        thermal = self.arrays.get("thermal")
        if thermal is not None:
            lo, hi = thermal_extremes(thermal)
            self.extremes.setText(f"frame {lo:.1f}–{hi:.1f} °C")
            if self.auto_levels and self.levels_c:
                for spin, v in zip((self.lo_spin, self.hi_spin), self.levels_c, strict=True):
                    spin.blockSignals(True)
                    spin.setValue(round(v, 1))
                    spin.blockSignals(False)
        self._emit_readout()

    def _hovered(self, stream: str, x: float, y: float) -> None:
        self._hover = (stream, x, y)
        self._emit_readout()

    def _left(self, stream: str) -> None:
        if self._hover and self._hover[0] == stream:
            self._hover = None
            self.readout.emit("")
            self._mark({})
            self.views[stream].glw.setToolTip("")

    def _emit_readout(self) -> None:
        if self._hover is None:
            return
        stream, x, y = self._hover
        array, spec = self.arrays.get(stream), self.specs.get(stream)
        if array is None or spec is None:
            return
        r = pixel_readout(stream, spec.kind, array, x, y, spec.depth_scale)
        text = "" if r is None else f"{r.stream}  x {r.x}  y {r.y}   {r.text}"
        mark = self.explain_hover(stream, x, y)
        marks: dict[str, tuple[float, float]] = {}
        if r is not None and self.point_lookup is not None:
            marks, extra = self.point_lookup(stream, float(r.x), float(r.y))
            text += f"   {extra}" if extra else ""
        text += f"   · {mark}" if mark and text else ""
        self._mark(marks)
        self.readout.emit(text)

    def _mark(self, marks: dict[str, tuple[float, float]]) -> None:
        self._cursor_views.update(marks)
        for name, view in self.views.items():
            view.show_marker(marks.get(name))

    def explain_hover(self, stream: str, x: float, y: float) -> str:
        """Name the mark under the cursor (topmost overlay first) in a tooltip; ""
        (and no tooltip) where no overlay drew anything."""
        text = next(
            (t for o in reversed(self.overlays.get(stream, [])) if (t := explain(o, x, y))), ""
        )
        view = self.views[stream]
        if text != view.glw.toolTip():
            view.glw.setToolTip(text)
            if text:
                QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), text, view.glw)
            else:
                QtWidgets.QToolTip.hideText()
        return text

    def _forget_overlays(self) -> None:
        self.overlays = {}
        self._cursor_views.clear()
        for legend in self.legends.values():
            legend.set_marks(())

    def dispose(self) -> None:
        for view in self.views.values():
            view.dispose()
