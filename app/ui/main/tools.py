"""The main window's tools: the calibration wizard and the cursor's 3-D point.

A mixin of :class:`~app.ui.main.window.MainWindow` (it uses the window's rig,
streams, preview and projected-labels stage); kept apart so each module stays short.
"""

from __future__ import annotations

from calibration.rig_points import RigPoints
from drivers.types import FrameSet


class ToolsMixin:
    """Opens the calibration wizard, feeds it frames, and maps the cursor across views."""

    def open_calibration_wizard(self):
        """The calibration wizard (one per window; raised if already open)."""
        from app.ui.calibration.wizard import CalibrationWizard

        if self.wizard is None or self.wizard.disposed:
            wizard = self.wizard = CalibrationWizard(self)
            wizard.destroyed.connect(lambda *_: self._forget_wizard(wizard))
        self.wizard.show()
        self.wizard.raise_()
        return self.wizard

    def _forget_wizard(self, wizard) -> None:
        if self.wizard is wizard:
            self.wizard = None

    def _fan_out(self, fs: FrameSet) -> None:
        """The capture worker's sink for :attr:`frame_sinks` (runs on its thread)."""
        for sink in list(self.frame_sinks):
            sink(fs)

    # -- cursor -----------------------------------------------------------------------
    def cursor_points(self, stream: str, x: float, y: float):
        """Where the hovered pixel's 3-D point lies in the other views, and its range.

        Depth at the cursor comes from the depth frame itself (depth view) or from the
        newest projection's depth rendered into the thermal camera (thermal view); the
        RGB view has no depth of its own, so it gets no mark.
        """
        rig = self.rig
        if rig is None:
            return {}, ""
        z = 0.0
        if stream == "depth":
            array, spec = self.preview.arrays.get("depth"), self.streams.get("depth")
            if array is not None and spec is not None and spec.depth_scale:
                z = float(array[int(y), int(x)]) * spec.depth_scale
        elif stream == self.projected.dst:
            last = self.projected.last
            if last is not None and last.rig is rig:
                depth = last.transfer.depth
                if 0 <= int(y) < depth.shape[0] and 0 <= int(x) < depth.shape[1]:
                    z = float(depth[int(y), int(x)])
        if not z > 0:
            return {}, ""
        if self._points is None or self._points.rig is not rig:
            self._points = RigPoints(rig)
        marks = self._points.others(stream, x, y, z, tuple(self.preview.views))
        return marks, f"z {z:.3f} m"
