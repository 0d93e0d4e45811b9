"""The Qt application every window runs in: environment fixes, style, clean exit."""

from __future__ import annotations

import gc
import os
import signal
import sys
from typing import TYPE_CHECKING

from drivers import stop_request

if TYPE_CHECKING:
    from PySide6 import QtWidgets


def _drop_foreign_qt_plugins() -> None:
    """opencv-python's wheel points ``QT_QPA_PLATFORM_PLUGIN_PATH`` at its own Qt 5
    plugins when cv2 is imported; Qt 6 would then fail to load its platform plugin."""
    for key in ("QT_QPA_PLATFORM_PLUGIN_PATH", "QT_QPA_FONTDIR"):
        value = os.environ.get(key, "")
        if f"{os.sep}cv2{os.sep}" in value:
            del os.environ[key]


STYLE_SHEET = """
QGroupBox { font-weight: 600; border: 1px solid #363b46; border-radius: 5px;
            margin-top: 12px; padding: 8px 6px 6px 6px; }
QGroupBox::title { subcontrol-origin: margin; left: 8px; padding: 0 4px; color: #aeb6c4; }
QTableWidget { gridline-color: #2e323b; border: none; }
QHeaderView::section { background: #2a2e36; color: #aeb6c4; border: none; padding: 2px 4px; }
QDockWidget::title { padding: 4px; background: #23262d; }
QStatusBar { color: #aeb6c4; }
"""


def apply_style(app) -> None:
    """A dark Fusion theme: images read better on a dark surround, as in lab software."""
    from PySide6 import QtGui, QtWidgets

    app.setStyle(QtWidgets.QStyleFactory.create("Fusion"))
    pal = QtGui.QPalette()
    role, colour = QtGui.QPalette.ColorRole, QtGui.QColor
    for r, c in (
        (role.Window, "#23262d"),
        (role.WindowText, "#d7dbe2"),
        (role.Base, "#1a1c21"),
        (role.AlternateBase, "#262a31"),
        (role.Text, "#d7dbe2"),
        (role.Button, "#2d3139"),
        (role.ButtonText, "#d7dbe2"),
        (role.Highlight, "#3d7bd9"),
        (role.HighlightedText, "#ffffff"),
        (role.ToolTipBase, "#2d3139"),
        (role.ToolTipText, "#d7dbe2"),
        (role.PlaceholderText, "#6f7785"),
    ):
        pal.setColor(r, colour(c))
    pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role.Text, colour("#6f7785"))
    pal.setColor(QtGui.QPalette.ColorGroup.Disabled, role.ButtonText, colour("#6f7785"))
    app.setPalette(pal)
    app.setStyleSheet(STYLE_SHEET)


def make_app(argv: list[str] | None = None):
    """The QApplication (created once), styled."""
    _drop_foreign_qt_plugins()
    from PySide6 import QtWidgets

    app = QtWidgets.QApplication.instance()
    if app is None:
        app = QtWidgets.QApplication(argv if argv is not None else sys.argv[:1])
        app.setOrganizationName("thermorig")
        app.setApplicationName("thermorig")
        apply_style(app)
        # Everything imported so far (numpy, OpenCV, Qt, pyqtgraph: most of the heap)
        # lives as long as the process; frozen, a full collection need not walk it,
        # which kept the GUI thread busy 14-20 ms at a time.
        gc.freeze()
    return app


def run_window(window: QtWidgets.QWidget) -> int:
    """Show ``window`` and run the event loop until it is closed; then ``dispose()`` it
    (threads, files) and let Qt delete it while the application still exists, so that
    exit never crashes in a late destructor. Returns the exit code: 128 + the signal's
    number when SIGINT or SIGTERM closed it."""
    from PySide6 import QtCore

    app = make_app()
    window.show()
    got: list[int] = []

    def close_on_signal(signum: int, _frame) -> None:
        # Ctrl-C / kill in the terminal: closed as the window's close button would
        # (which asks before stopping a recording), not swallowed by Qt.
        got.append(signum)
        QtCore.QTimer.singleShot(0, window.close)

    stops = (signal.SIGINT, signal.SIGTERM)
    before = {s: signal.signal(s, close_on_signal) for s in stops}
    early = stop_request.requested()  # came while the window was being made
    if early is not None:
        close_on_signal(early, None)
    wake = QtCore.QTimer()  # Python handles signals only when it runs: let it, 5x/s
    wake.timeout.connect(lambda: None)
    wake.start(200)
    try:
        code = int(app.exec())
        return 128 + got[0] if got else code
    finally:
        wake.stop()
        for s, handler in before.items():
            signal.signal(s, handler)
        window.dispose()
        window.deleteLater()
        # Outside the event loop processEvents() leaves deferred deletes alone.
        from PySide6.QtCore import QCoreApplication, QEvent

        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
