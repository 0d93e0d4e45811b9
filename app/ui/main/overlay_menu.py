"""View › Overlays: one checkable toggle per overlay stage of the live controller.

The stages themselves are registered on the controller (no Qt); this menu only turns
them on and off. A toggle's object name ``overlay-NAME`` is how
:mod:`app.ui.main.settings` remembers it and how the Models menu finds the bundled
models' toggles.
"""

from __future__ import annotations

from PySide6 import QtGui, QtWidgets

from app.live.controller import LiveController
from app.live.stages import Stage


class OverlayMenu:
    """Fills ``menu`` with a toggle for every stage ``live`` has, in drawing order."""

    def __init__(self, menu: QtWidgets.QMenu, live: LiveController):
        self.menu = menu
        self.live = live
        for stage in live.registry.stages():
            self._add_action(stage.name, stage.title, stage.enabled)

    def _add_action(self, name: str, title: str, enabled: bool) -> QtGui.QAction:
        action = self.menu.addAction(title)
        action.setCheckable(True)
        action.setChecked(enabled)
        action.setObjectName(f"overlay-{name}")
        action.toggled.connect(lambda on, n=name: self.live.set_overlay_enabled(n, on))
        return action

    def action(self, name: str) -> QtGui.QAction | None:
        """The toggle of overlay ``name`` (None if there is none)."""
        for action in self.menu.actions():
            if action.objectName() == f"overlay-{name}":
                return action
        return None

    def add(
        self,
        name: str,
        stage: Stage,
        title: str,
        enabled: bool = True,
        max_rate: float | None = None,
    ) -> QtGui.QAction:
        """Register an overlay stage (``FrameSet -> Overlay | None``, run off the GUI
        thread, latest-wins, at most ``max_rate`` results per second) and offer it here.
        A second call with the same name replaces the stage and keeps its toggle."""
        self.live.add_overlay(name, stage, title, enabled, max_rate)
        action = self.action(name)
        if action is None:
            return self._add_action(name, title, enabled)
        action.setText(title)
        action.setChecked(enabled)
        return action
