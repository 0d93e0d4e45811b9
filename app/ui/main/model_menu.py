"""The Models menu: a person's own ONNX models as live overlays, and where the projected
overlay takes its RGB labels from.

- **Load model…** picks ``NAME.onnx`` or ``NAME.json``; the package is loaded and checked
  by the same loader as ``thermorig models`` / ``infer`` (:func:`models.package.load_package`),
  off the GUI thread. A good package becomes an overlay on the view of the stream its JSON
  names (also under View › Overlays); a broken one — wrong input shape, no JSON beside it,
  a corrupt file — is refused with the loader's one-line message in a box and the status
  bar, and the preview goes on. Loaded paths are remembered and loaded again at start.
- The models in the user folder (:func:`models.catalog.user_models_dir`) are listed as
  toggles too; one that cannot load is listed greyed out with its reason as tooltip.
- **RGB labels for projection**: ground truth (synthetic sources) or the MediaPipe pose
  labeler (real people), loaded on first use off the GUI thread.

Loading never happens on the GUI thread: a user's model may take seconds to open, and
the window must not freeze for it (the preview's ≤ 50 ms stall rule).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6 import QtCore, QtGui, QtWidgets

from app.live.builtin_stages import BUNDLED_OVERLAYS, MODEL_MAX_RATE
from app.live.model_stages import ModelStage
from app.live.projected_labels import (
    MEDIAPIPE_LABELER_NAME,
    TRUTH_LABELER_NAME,
    threaded_mediapipe_labeler,
    truth_labeler,
)
from drivers.errors import one_line
from drivers.truth import DEFAULT_CLASSES
from models.catalog import BUNDLED_KEYPOINTS, BUNDLED_SEGMENTER, list_models, user_models_dir
from models.package import ModelPackage, load_package

#: Where the projected overlay's RGB labels can come from: settings key → menu text.
RGB_LABELERS = {
    "truth": "Ground truth (synthetic sources)",
    "mediapipe-pose": "MediaPipe pose (real people)",
}


@dataclass(frozen=True)
class Failed:
    """A background job's one-line error (it never raises into the GUI thread)."""

    message: str


@dataclass(frozen=True)
class Found:
    """One package found by a scan: loaded, or why not."""

    name: str
    path: str
    package: ModelPackage | None
    error: str = ""
    remembered: bool = False  # loaded by a person from this path earlier


def overlay_name(model: str) -> str:
    """The overlay (and settings) name of a person's model ``model``."""
    return f"model-user-{model}"


class ModelMenu(QtCore.QObject):
    """Builds the window's Models menu and runs its loads on worker threads."""

    #: (callback, value) of a finished background job, delivered on the GUI thread.
    _finished = QtCore.Signal(object, object)

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        #: Background loads in flight (tests wait for 0).
        self.busy = 0
        #: Paths a person loaded with Load model… (remembered between runs).
        self.paths: list[str] = []
        self.rgb_labels = "truth"
        self._labelers: dict[str, Any] = {}
        self._entries: dict[str, QtGui.QAction] = {}  # model name → its menu entry
        self._finished.connect(self._deliver)
        self._build(window.menuBar())

    def _build(self, bar: QtWidgets.QMenuBar) -> None:
        menu = self.menu = bar.addMenu("&Models")
        menu.setToolTipsVisible(True)
        menu.addAction("&Load model…").triggered.connect(self.open_dialog)
        menu.addAction("Rescan the user model folder").triggered.connect(
            lambda: self.rescan(report=True)
        )
        menu.addSection("Bundled models")
        for name in BUNDLED_OVERLAYS:  # the same toggles as under View › Overlays
            action = self.window.overlay_action(name)
            if action is not None:
                menu.addAction(action)
        menu.addSection("User models")
        self._none = menu.addAction(f"none in {user_models_dir()}")
        self._none.setEnabled(False)
        self._end = menu.addSeparator()
        labels = menu.addMenu("RGB labels for projection")
        group = QtGui.QActionGroup(self)
        self.rgb_actions: dict[str, QtGui.QAction] = {}
        for key, text in RGB_LABELERS.items():
            action = labels.addAction(text)
            action.setCheckable(True)
            action.setObjectName(f"rgb-labels-{key}")
            action.setChecked(key == self.rgb_labels)
            group.addAction(action)
            action.triggered.connect(lambda _=False, k=key: self.set_rgb_labels(k))
            self.rgb_actions[key] = action

    # -- settings ---------------------------------------------------------------------
    def restore(self, s: QtCore.QSettings) -> None:
        """Load the remembered models and the user folder's (in the background), and
        take RGB labels from where they came last time."""
        self.paths = [str(p) for p in s.value("models/paths", [], type=list) if p]
        self.rescan(report=False)
        self.set_rgb_labels(s.value("models/rgb_labels", "truth", type=str))

    def save(self, s: QtCore.QSettings) -> None:
        s.setValue("models/paths", self.paths)
        s.setValue("models/rgb_labels", self.rgb_labels)

    # -- background -------------------------------------------------------------------
    def _background(self, work: Callable[[], Any], done: Callable[[Any], None]) -> None:
        """Run ``work`` on a thread; ``done(result or Failed)`` on the GUI thread."""
        self.busy += 1

        def run() -> None:
            try:
                value = work()
            except Exception as exc:  # noqa: BLE001 - a broken file must not stop the app
                value = Failed(one_line(exc, with_type=True))
            try:
                self._finished.emit(done, value)
            except RuntimeError:  # the window was deleted meanwhile
                pass

        threading.Thread(target=run, name="model-load", daemon=True).start()

    def _deliver(self, done: Callable[[Any], None], value: Any) -> None:
        self.busy -= 1
        if not self.window.disposed:
            done(value)

    # -- models -----------------------------------------------------------------------
    def open_dialog(self) -> None:
        folder = user_models_dir()
        start = self.window.settings.value(
            "models/dir", str(folder if folder.is_dir() else Path.home()), type=str
        )
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self.window, "Load model", start, "Model packages (*.onnx *.json);;All files (*)"
        )
        if path:
            self.window.settings.setValue("models/dir", str(Path(path).parent))
            self.load(path)

    def load(self, path: str | Path) -> None:
        """Load and check the package at ``path``; an overlay (on) if good, else a message."""
        path = str(path)
        self.window.statusBar().showMessage(f"loading model {path}…", 5000)
        self._background(lambda: load_package(path, threads=1), lambda v: self._loaded(path, v))

    def _loaded(self, path: str, value: ModelPackage | Failed) -> None:
        if isinstance(value, Failed):
            self.window.show_error("Cannot load model", value.message)
            return
        self._add(value, enabled=True)
        if path not in self.paths:
            self.paths.append(path)
        stream = value.manifest.input.stream
        self.window.statusBar().showMessage(
            f"model {value.name} loaded: {value.task} on the {stream} view", 10000
        )

    def rescan(self, report: bool = False) -> None:
        """List the user folder's models and the remembered ones (loaded off the GUI
        thread); ``report``: a box names the broken ones (a person asked for it)."""
        paths = list(self.paths)
        self._background(lambda: _scan(paths), lambda v: self._scanned(v, report))

    def _scanned(self, found: list[Found] | Failed, report: bool) -> None:
        if isinstance(found, Failed):
            self.window.show_error("Cannot list models", found.message)
            return
        broken = []
        for f in found:
            if f.package is not None:
                key = f"overlays/{overlay_name(f.name)}"
                self._add(f.package, self.window.settings.value(key, False, type=bool))
            elif f.remembered:
                if f.path in self.paths:
                    self.paths.remove(f.path)  # gone or broken since: not offered again
                broken.append(f.error)
            else:
                self._entry(f.name, f"{f.name} — cannot load", f.error, None)
                broken.append(f.error)
        if broken:
            message = f"{len(broken)} model(s) cannot load: " + " | ".join(broken)
            if report:
                self.window.show_error("Models that cannot load", message)
            else:
                self.window.statusBar().showMessage(message, 15000)

    def _add(self, package: ModelPackage, enabled: bool) -> None:
        name = package.name
        if name in (BUNDLED_SEGMENTER, BUNDLED_KEYPOINTS):
            # A user model with a bundled name already drives the bundled overlay.
            self._entry(name, f"{name} — replaces the bundled model", str(package.onnx_path), None)
            return
        existing = self.window.overlay_action(overlay_name(name))
        if existing is not None and not enabled:
            enabled = existing.isChecked()  # a rescan keeps the person's choice
        stage = ModelStage.loaded(package)
        title = f"{name} (your model, {stage.stream})"
        action = self.window.add_overlay(
            overlay_name(name), stage, title, enabled=enabled, max_rate=MODEL_MAX_RATE
        )
        action.setToolTip(f"{package.onnx_path} · {package.task}")
        self._entry(name, title, "", action)

    def _entry(self, name: str, text: str, tip: str, action: QtGui.QAction | None) -> None:
        """Put ``action`` (an overlay toggle; None: a greyed-out line) in the list."""
        old = self._entries.pop(name, None)
        if old is not None and old is not action:
            self.menu.removeAction(old)
        if action is None:
            action = QtGui.QAction(text, self.menu)
            action.setEnabled(False)
            action.setToolTip(tip)
        if action not in self.menu.actions():
            self.menu.insertAction(self._end, action)
        self._entries[name] = action
        self._none.setVisible(False)

    def entry(self, name: str) -> QtGui.QAction | None:
        """The Models-menu entry of model ``name``."""
        return self._entries.get(name)

    # -- RGB labels -------------------------------------------------------------------
    def set_rgb_labels(self, key: str) -> None:
        """Project labels from ``key`` (:data:`RGB_LABELERS`); a model loads first, in
        the background, and the projection switches when it is ready."""
        key = key if key in RGB_LABELERS else "truth"
        self.rgb_labels = key
        self.rgb_actions[key].setChecked(True)
        if key == "truth":
            self._use(truth_labeler(self.window.live.projected.src), TRUTH_LABELER_NAME)
        elif key in self._labelers:
            self._use(self._labelers[key], MEDIAPIPE_LABELER_NAME)
        else:
            self.window.statusBar().showMessage(f"loading {MEDIAPIPE_LABELER_NAME}…", 5000)
            src = self.window.live.projected.src
            self._background(lambda: threaded_mediapipe_labeler(src), self._labeler_loaded)

    def _labeler_loaded(self, value: Any) -> None:
        if isinstance(value, Failed):
            self.window.show_error(f"Cannot use {MEDIAPIPE_LABELER_NAME}", value.message)
            if self.rgb_labels == "mediapipe-pose":
                self.set_rgb_labels("truth")
            return
        self._labelers["mediapipe-pose"] = value
        if self.rgb_labels == "mediapipe-pose":
            self._use(value, MEDIAPIPE_LABELER_NAME)

    def _use(self, labeler, name: str) -> None:
        classes = getattr(labeler, "classes", DEFAULT_CLASSES)
        self.window.live.projected.set_labeler(labeler, name, classes)
        self.window.statusBar().showMessage(f"projected labels from {name}", 5000)


def _scan(paths: list[str]) -> list[Found]:
    """The user folder's packages and the remembered ``paths``, each loaded (worker)."""
    found = []
    if user_models_dir().is_dir():
        for e in list_models(threads=1):
            if e.origin == "user":
                found.append(Found(e.name, str(e.path), e.package, e.error))
    for path in paths:
        try:
            package = load_package(path, threads=1)
            found.append(Found(package.name, path, package, remembered=True))
        except Exception as exc:  # noqa: BLE001 - one broken file must not hide the rest
            found.append(
                Found(Path(path).stem, path, None, one_line(exc, with_type=True), remembered=True)
            )
    return found
