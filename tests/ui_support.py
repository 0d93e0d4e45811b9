"""Helpers for the GUI tests: a window on an isolated settings file, waits, dialogs."""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.ui.main.window import MainWindow

#: The synthetic rig at a quarter of the size: same scene, opens and renders fast.
SMALL_SYNTHETIC = {
    "synthetic": {
        "thermal_size": (160, 128),
        "depth_size": (160, 120),
        "color_size": (320, 180),
    }
}


def make_window(
    qtbot, tmp_path: Path, source: str | None, rig_check: bool = False, **kwargs
) -> MainWindow:
    """A shown main window whose settings live in ``tmp_path`` (never the user's).
    The rig check is off unless ``rig_check``: it would run beside every window test
    (seconds of CPU each) and its verdict is what tests/test_ui_rig_badge.py checks."""
    settings = QtCore.QSettings(str(tmp_path / "settings.ini"), QtCore.QSettings.Format.IniFormat)
    kwargs.setdefault("source_options", SMALL_SYNTHETIC)
    window = MainWindow(source, settings=settings, **kwargs)
    window.live.rig_watch.enabled = rig_check  # before the first tick opens the source
    qtbot.addWidget(window, before_close_func=lambda w: w.dispose())
    window.resize(1280, 800)
    window.show()
    return window


def wait_frames(qtbot, window: MainWindow, n: int = 3, timeout: int = 30000) -> None:
    """Until every view that has a stream showed ``n`` more frames."""
    views = [
        v
        for s, v in window.preview.views.items()
        if s in window.live.streams or not window.live.streams
    ]
    start = {v.stream: v.frames_shown for v in views}

    def enough() -> bool:
        return bool(window.live.streams) and all(
            window.preview.views[s].frames_shown >= start.get(s, 0) + n
            for s in window.live.streams
            if s in window.preview.views
        )

    qtbot.waitUntil(enough, timeout=timeout)


def message_boxes() -> list[QtWidgets.QMessageBox]:
    return [
        w for w in QtWidgets.QApplication.topLevelWidgets()
        if isinstance(w, QtWidgets.QMessageBox) and w.isVisible()
    ]  # fmt: skip


def close_message_boxes() -> list[str]:
    """Close every open message box; returns their texts."""
    texts = []
    for box in message_boxes():
        texts.append(box.text())
        box.done(0)
    return texts
