"""Opening the main window: from the command line (``thermorig``, ``thermorig gui``)."""

from __future__ import annotations

import threading
from pathlib import Path

from app.ui.app import make_app, run_window


def prebuild_synthetic(source: str | None) -> threading.Thread | None:
    """Start building a synthetic source's world (cameras, rays, static scene: seconds
    on a small machine) while Qt loads and the window is made, so the demo moves
    sooner. The capture thread's own open then finds it built (a per-process cache,
    under a lock); a failure here is left for that open to report."""
    if not source or not source.startswith("synthetic:"):
        return None

    def build() -> None:
        from drivers.sources import open_source

        try:
            driver = open_source(source)
            driver.open()
            driver.close()
        except Exception:  # noqa: BLE001 - the window's own open reports it
            pass

    thread = threading.Thread(target=build, name="synthetic-prebuild", daemon=True)
    thread.start()
    return thread


def run_gui(source: str, rig_path: str | Path | None = None) -> int:
    """Open the main window on ``source`` and run until it is closed."""
    prebuild_synthetic(source)
    make_app()
    from app.ui.main.window import MainWindow

    return run_window(MainWindow(source, rig_path=rig_path))
