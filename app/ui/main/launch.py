"""Opening the main window: from the command line (``thermorig``, ``thermorig gui``)."""

from __future__ import annotations

from pathlib import Path

from app.ui.app import make_app, run_window


def run_gui(source: str, rig_path: str | Path | None = None) -> int:
    """Open the main window on ``source`` and run until it is closed."""
    make_app()
    from app.ui.main.window import MainWindow

    return run_window(MainWindow(source, rig_path=rig_path))
