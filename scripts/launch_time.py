"""How soon the demo moves: seconds from interpreter start to the first FrameSet drawn by
the main window on ``synthetic:cycling`` (full size, as ``thermorig`` opens it), and
how many frames were drawn by 2, 4, 6, 8, 10, 15 and 20 s. A figure for a report, not a
test: it depends on the machine and on what else runs (the load is printed).

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/launch_time.py
"""

from __future__ import annotations

import os
import tempfile
import time

T0 = time.monotonic()

SOURCE = "synthetic:cycling"
SECONDS = (2, 4, 6, 8, 10, 15, 20)


def main() -> None:
    import sys

    import app.ui.qt_core  # noqa: F401 - as ``thermorig gui`` does: Qt's core first
    from app.commands.gui import STARTUP_SWITCH_INTERVAL_S
    from drivers.sources import head_start

    # As ``thermorig gui`` does before it loads Qt.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(STARTUP_SWITCH_INTERVAL_S)
    head_start(SOURCE, then=lambda: sys.setswitchinterval(switch))
    from PySide6 import QtCore

    from app.ui.app import make_app

    app = make_app()
    from app.ui.main.window import MainWindow

    path = os.path.join(tempfile.mkdtemp(), "settings.ini")
    settings = QtCore.QSettings(path, QtCore.QSettings.Format.IniFormat)
    window = MainWindow(SOURCE, settings=settings)
    window.show()
    shown = time.monotonic() - T0
    first: list[float] = []
    drawn: dict[int, int] = {}

    def check() -> None:
        now = time.monotonic() - T0
        n = window.preview.frames_displayed
        if n and not first:
            first.append(now)
        for s in SECONDS:
            if now >= s and s not in drawn:
                drawn[s] = n
        if now > SECONDS[-1] + 0.2:
            app.quit()

    timer = QtCore.QTimer()
    timer.timeout.connect(check)
    timer.start(10)
    app.exec()
    window.dispose()
    first_s = f"{first[0]:.2f} s" if first else f"none within {SECONDS[-1]} s"
    counts = ", ".join(f"{s} s: {drawn.get(s)}" for s in SECONDS)
    print(
        f"window shown {shown:.2f} s; first frame {first_s}; frames drawn by {counts};"
        f" load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
    os._exit(0)  # the capture and overlay threads are daemons: no slow interpreter exit
