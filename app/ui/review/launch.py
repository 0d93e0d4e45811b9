"""Opening the review window: from the command line, or from the main window's menu.

Files are opened (and checked: the labels' session hash, their shape, their classes)
before any window appears, so a bad input is one line on the command line (exit 2)
or one message box in the GUI, and nothing half-opened is left behind.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.labels.sidecar import default_labels_path
from app.labels.store import LabelStore
from app.review.frames import ReviewFrames
from app.ui.review.window import ReviewWindow
from drivers.errors import ThermorigError


def open_review(
    session: str | Path,
    labels: str | Path | None = None,
    rig: str | Path | None = None,
    parent: QtWidgets.QWidget | None = None,
    *,
    curves: bool = True,
) -> ReviewWindow:
    """A review window on ``session``'s labels (created all unlabeled if missing);
    a ThermorigError (one line, what to do) when the files do not fit or another
    program is writing the labels (the window holds their lock until it closes).
    ``curves``: compute the temperature curves at open."""
    labels = Path(labels) if labels else default_labels_path(session)
    frames = ReviewFrames(session, rig)
    store = None
    try:
        store = LabelStore.open(labels, session)
        if "thermal" not in store.streams:
            raise ThermorigError(
                f"{labels} has no thermal labels (it has {', '.join(store.streams) or 'none'});"
                " give the labels made by thermorig autolabel or infer"
            )
        return ReviewWindow(frames, store, parent, curves=curves)
    except BaseException:
        if store is not None:
            store.close(save=False)
        frames.close()
        raise


def run_review(session: Path, labels: Path | None, rig: Path | None) -> int:
    """``thermorig review``: the window until it is closed (closing saves)."""
    from app.ui.app import make_app, run_window

    make_app()
    window = open_review(session, labels, rig)
    if window.store.recovery_note:  # the window says it too, in a message box
        print(f"thermorig: {window.store.recovery_note}", file=sys.stderr)
    window.resize(1400, 850)
    return run_window(window)


def ask_and_open(parent: QtWidgets.QWidget) -> ReviewWindow | None:
    """Menu "Review labels…": pick a session and its labels; errors in a message box."""
    session, _ = QtWidgets.QFileDialog.getOpenFileName(
        parent, "Review labels: the session", "", "thermorig session (*.h5);;All files (*)"
    )
    if not session:
        return None
    labels, _ = QtWidgets.QFileDialog.getOpenFileName(
        parent,
        "Review labels: the label file (cancel: SESSION.labels.h5, made if missing)",
        str(default_labels_path(session).parent),
        "thermorig labels (*.h5);;All files (*)",
    )
    try:
        window = open_review(session, labels or None, parent=parent)
    except (ThermorigError, OSError) as exc:
        QtWidgets.QMessageBox.warning(parent, "Review labels", str(exc))
        return None
    window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    window.resize(1400, 850)
    window.show()
    return window
