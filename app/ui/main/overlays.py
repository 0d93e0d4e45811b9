"""The main window's overlay stages and their View › Overlays toggles.

A mixin of :class:`~app.ui.main.window.MainWindow` (it uses the window's registry,
overlay menu and preview); kept apart so each module stays short. Every overlay is a
pipeline stage registered here, drawn in registration order, and one checkable action
that turns it on and off; the action's object name ``overlay-NAME`` is how
:mod:`app.ui.main.settings` remembers it.
"""

from __future__ import annotations

from PySide6 import QtGui

from app.live.model_stages import model_stage
from app.live.projected_labels import ProjectedLabelsStage, truth_labeler
from app.live.stages import truth_labels_stage
from models.catalog import BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER

#: Projected labels per second at most: none. Every FrameSet gets its labels (about
#: 12 ms each, half a core at 30/s) because the preview holds each frame until its
#: labels arrive (app.live.pacing); a cap would leave frames waiting for labels that
#: never come. If the machine cannot keep up, the pacer stops holding by itself.
PROJECTED_MAX_RATE: float | None = None
#: Model overlays per second at most, on one onnxruntime thread each: a model is the
#: costliest stage, and capture and display come first on a small machine.
MODEL_MAX_RATE = 10.0


class OverlaysMixin:
    """Registers the built-in overlay stages and offers every overlay as a toggle."""

    def _register_stages(self) -> None:
        """Projected labels (on), ground truth and the bundled models (off)."""
        self.projected = ProjectedLabelsStage(truth_labeler("color"))
        self.registry.register(
            "projected",
            self.projected,
            title="Projected labels (RGB → thermal)",
            max_rate=PROJECTED_MAX_RATE,
        )
        self.registry.register(
            "truth",
            truth_labels_stage("thermal", outline=True),
            title="Ground-truth labels (synthetic, outline)",
            enabled=False,
        )
        # Off until asked for: loading is lazy (on the worker), so they cost nothing then.
        for name, model, title in (
            ("model-seg", BUNDLED_SEGMENTER, "Thermal segmenter (bundled)"),
            ("model-kp", BUNDLED_KEYPOINTS, "Keypoints (bundled)"),
        ):
            stage = model_stage(model, "thermal", threads=1)
            self.registry.register(name, stage, title=title, enabled=False, max_rate=MODEL_MAX_RATE)

    def _add_overlay_action(self, name: str, title: str, enabled: bool) -> QtGui.QAction:
        action = self.overlay_menu.addAction(title)
        action.setCheckable(True)
        action.setChecked(enabled)
        action.setObjectName(f"overlay-{name}")
        action.toggled.connect(lambda on, n=name: self.set_overlay_enabled(n, on))
        return action

    def overlay_action(self, name: str) -> QtGui.QAction | None:
        """The View › Overlays toggle of overlay ``name`` (None if there is none)."""
        for action in self.overlay_menu.actions():
            if action.objectName() == f"overlay-{name}":
                return action
        return None

    def add_overlay(
        self,
        name: str,
        stage,
        title: str,
        enabled: bool = True,
        max_rate: float | None = None,
    ) -> QtGui.QAction:
        """Register an overlay stage (``FrameSet -> Overlay | None``, run off the GUI
        thread, latest-wins, at most ``max_rate`` results per second) and offer it under
        View › Overlays. A second call with the same name replaces the stage and keeps
        its toggle."""
        self.registry.register(name, stage, title=title, enabled=enabled, max_rate=max_rate)
        action = self.overlay_action(name)
        if action is None:
            return self._add_overlay_action(name, title, enabled)
        action.setText(title)
        action.setChecked(enabled)
        return action

    def set_overlay_enabled(self, name: str, enabled: bool) -> None:
        self.registry.set_enabled(name, enabled)
        self._overlay_version = -1  # redraw overlays on the next tick
