"""Choosing the source and the rig: the part of the main window that switches them.

A mixin of :class:`~app.ui.main.window.MainWindow` (it uses the window's panels,
settings and error box); kept apart so that each module stays readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6 import QtWidgets

from app.live.capture import CaptureWorker
from app.ui.main.source_panel import replay_spec
from calibration.rig import Rig
from calibration.rig_streams import load_rig, rig_problem, source_rig
from drivers.errors import ThermorigError
from drivers.session import SessionReader
from drivers.session_state import NEEDS_REPAIR, repair_advice, session_state
from drivers.sources import open_source, parse_spec


class SourcesMixin:
    """Opens sources on a capture worker and keeps the rig in force."""

    source_options: dict[str, dict[str, Any]]

    # -- sources ----------------------------------------------------------------------
    def open_source(self, spec: str) -> bool:
        """Switch to ``spec``; a session file is checked first so that a bad one keeps
        the current source running. False if refused."""
        if self.record_panel.recording:
            self.show_error("Recording", "stop the recording before switching sources")
            return False
        try:
            scheme, arg = parse_spec(spec)
            if scheme == "replay":
                SessionReader(arg).close()
                if session_state(arg) == NEEDS_REPAIR:  # it replays; other programs refuse it
                    self.statusBar().showMessage(repair_advice(arg), 60000)
        except ThermorigError as exc:
            self.show_error("Cannot open source", str(exc))
            self.source_panel.set_current(self.spec)
            return False
        self.close_source()
        self.projected.set_rig(None, {})  # until the new source says what it delivers
        self.spec = spec
        self.streams = {}
        self.info = None
        self.preview.clear(f"opening {spec}…")
        self.replay_bar.set_info(None)
        self.source_panel.set_current(spec)
        self.source_panel.set_state(f"opening {spec}…")
        options = self.source_options.get(scheme, {})
        self.worker = CaptureWorker(
            lambda: open_source(spec, **options), spec, sinks=(self.runner.submit, self._fan_out)
        )
        self.worker.start()
        self._seen = 0
        if scheme == "replay":
            self._remember_session(spec)
        return True

    def close_source(self) -> None:
        """Stop the capture worker (any recording finishes first) and forget overlays."""
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self.runner.clear()
        self._overlay_version = -1

    def _remember_session(self, spec: str) -> None:
        recent = [s for s in self.settings.value("source/recent", [], type=list) if s != spec]
        recent = [spec, *recent][:8]
        self.settings.setValue("source/recent", recent)
        self.source_panel.set_recent(recent)

    def _open_session_dialog(self) -> None:
        start = self.settings.value("source/session_dir", str(Path.home()), type=str)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Open session", start, "thermorig sessions (*.h5 *.hdf5);;All files (*)"
        )
        if path:
            self.settings.setValue("source/session_dir", str(Path(path).parent))
            self.open_source(replay_spec(path))

    def detect_cameras(self) -> None:
        from drivers.discovery import NOTHING_FOUND, discover

        try:
            devices = discover()
        except Exception as exc:  # noqa: BLE001 - a broken driver stack is reported, not fatal
            self.show_error("Detect cameras", f"camera detection failed: {exc}")
            return
        self.source_panel.set_devices([(d.spec, f"{d.kind}: {d.name}") for d in devices])
        self.statusBar().showMessage(
            NOTHING_FOUND if not devices else f"found {len(devices)} camera(s)", 10000
        )

    # -- rig --------------------------------------------------------------------------
    def _load_rig_dialog(self) -> None:
        start = self.settings.value("rig/dir", str(Path.home()), type=str)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(
            self, "Load rig", start, "Rig files (*.json);;All files (*)"
        )
        if path:
            self.settings.setValue("rig/dir", str(Path(path).parent))
            self.load_rig_file(path)

    def load_rig_file(self, path: str | Path) -> bool:
        """Use the rig in ``path`` from now on, if it reads and fits the streams."""
        try:
            rig = load_rig(path)
        except ThermorigError as exc:
            self.show_error("Cannot load rig", str(exc))
            return False
        return self.use_rig(rig, f"file {Path(path).name}")

    def use_rig(self, rig: Rig, origin: str) -> bool:
        """Use ``rig`` (from a file, or just calibrated) from now on, if it fits the
        streams; the projected overlay is rebuilt with it."""
        if self.streams:
            problem = rig_problem(rig, self.streams)
            if problem:
                self.show_error("Rig does not fit", f"{origin}: {problem}")
                return False
        self.user_rig, self._user_rig_name = rig, origin
        if self.streams:
            self._apply_rig()
        return True

    def _apply_rig(self) -> None:
        if self.user_rig is not None:
            problem = rig_problem(self.user_rig, self.streams)
            if problem is None:
                self.rig, self.rig_origin = self.user_rig, self._user_rig_name
            else:
                self.show_error("Rig does not fit", f"{self._user_rig_name}: {problem}")
                self.user_rig = None
        if self.user_rig is None:
            try:
                self.rig, self.rig_origin = source_rig(self.info)
            except ThermorigError as exc:
                self.rig, self.rig_origin = None, ""
                self.show_error("Rig", f"the source's rig cannot be used: {exc}")
        text = "none (load a rig file)" if self.rig is None else self.rig_origin
        if self.rig is not None:
            text += f" · {len(self.rig.cameras)} cameras"
        self.source_panel.set_rig(text)
        self.projected.set_rig(self.rig, self.streams)
        self._overlay_version = -1
