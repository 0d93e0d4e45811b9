"""The main window's file dialogs, each starting in the folder in use (not the home
folder): see :mod:`app.live.start_folders` for why and how the folder is chosen.

``w`` is the main window (:class:`app.ui.main.window.MainWindow`), typed as a plain
QMainWindow so that this module does not import the window back.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from app.live.start_folders import start_folder

SESSION_FILTERS = "thermorig sessions (*.h5 *.hdf5);;All files (*)"
RIG_FILTERS = "Rig files (*.json *.yaml *.yml);;All files (*)"
#: Settings keys: the folder the last dialog of each kind ended in.
SESSION_DIR_KEY = "source/session_dir"
RIG_DIR_KEY = "rig/dir"


def _in_use(w: QtWidgets.QMainWindow) -> list[Path | str | None]:
    """Folders in use now, most specific first: the session being replayed, the
    recording saved last in this run, the recording folder."""
    live = w.live
    replayed = live.replay.path if live.replay is not None else None
    recorded = live.last_recording.path if live.last_recording is not None else None
    return [replayed, recorded, w.record_panel.folder.text().strip()]


def session_start(w: QtWidgets.QMainWindow) -> Path:
    """Where Open session starts: the session in use, the recording just saved, the
    folder the last Open session ended in, the recording folder."""
    replayed, recorded, record_folder = _in_use(w)
    last = w.settings.value(SESSION_DIR_KEY, "", type=str)
    return start_folder(replayed, recorded, last, record_folder)


def rig_start(w: QtWidgets.QMainWindow) -> Path:
    """Where Load rig starts: the folder the last one ended in (rigs are kept
    together), else beside the sessions in use."""
    last = w.settings.value(RIG_DIR_KEY, "", type=str)
    return start_folder(last, *_in_use(w))


def ask_file(w: QtWidgets.QMainWindow, key: str, title: str, start: Path, filters: str) -> str:
    """A file picked in a dialog opening in ``start``; its folder is remembered under
    ``key``. "" if cancelled."""
    path, _ = QtWidgets.QFileDialog.getOpenFileName(w, title, str(start), filters)
    if path:
        w.settings.setValue(key, str(Path(path).parent))
    return path


def ask_session(w: QtWidgets.QMainWindow) -> str:
    return ask_file(w, SESSION_DIR_KEY, "Open session", session_start(w), SESSION_FILTERS)


def ask_rig(w: QtWidgets.QMainWindow) -> str:
    return ask_file(w, RIG_DIR_KEY, "Load rig", rig_start(w), RIG_FILTERS)
