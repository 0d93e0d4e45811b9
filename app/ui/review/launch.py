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
from app.review.streams import open_stream
from app.ui.review.open_dialog import LabelJob, find_labels
from app.ui.review.window import ReviewWindow
from drivers.errors import ThermorigError

#: The window's size when it opens (it can be made as small as 1000x700).
WINDOW_SIZE = (1400, 850)


def open_review(
    session: str | Path,
    labels: str | Path | None = None,
    rig: str | Path | None = None,
    parent: QtWidgets.QWidget | None = None,
    *,
    curves: bool = True,
    stream: str = "thermal",
) -> ReviewWindow:
    """A review window on ``session``'s labels (created all unlabeled if missing: the
    window then says so), editing ``stream`` first (``color``: the RGB side, its
    rows added unlabeled to a file that has none);
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
        added = open_stream(frames, store, stream) if stream != "thermal" else ""
        window = ReviewWindow(frames, store, parent, curves=curves, stream=stream)
        if added:
            window.statusBar().showMessage(added, 10000)
        return window
    except BaseException:
        if store is not None:
            store.close(save=False)
        frames.close()
        raise


def run_review(
    session: Path, labels: Path | None, rig: Path | None, stream: str = "thermal"
) -> int:
    """``thermorig review``: the window until it is closed (closing saves, and says so
    on stdout). Without ``--labels`` and without ``SESSION.labels.h5`` the person is
    asked first how to get labels (:func:`~app.ui.review.open_dialog.find_labels`)."""
    from app.ui.app import make_app, run_window

    make_app()
    if labels is None and not default_labels_path(session).exists():
        got = _labels_for(session)
        if got is None:
            print("thermorig: no label file; nothing opened", file=sys.stderr)
            return 0
        if isinstance(got, Exception):
            raise ThermorigError(str(got))
        labels = got
    window = open_review(session, labels, rig, stream=stream)
    if window.store.recovery_note:  # the window says it too, in a message box
        print(f"thermorig: {window.store.recovery_note}", file=sys.stderr)
    window.resize(*WINDOW_SIZE)
    code = run_window(window)
    if window.closing_note:
        print(window.closing_note)
    return code


def _labels_for(session: Path) -> Path | Exception | None:
    """The label file the person chose to make (or the unlabeled default), the error
    that stopped making it, or None when they cancelled."""
    got: dict[str, object] = {}
    loop = QtCore.QEventLoop()

    def then(path: Path | None, note: str) -> None:
        got["labels"] = path or default_labels_path(session)
        if note:
            print(note)

    job = find_labels(None, session, then)
    if job is not None:
        job.finished.connect(lambda result: got.setdefault("result", result))
        job.finished.connect(lambda _r: QtCore.QTimer.singleShot(0, loop.quit))
        loop.exec()
    result = got.get("result")
    if "labels" not in got:
        return result if isinstance(result, Exception) else None
    return got["labels"]  # type: ignore[return-value]


def ask_and_open(parent: QtWidgets.QWidget, start: str = "") -> LabelJob | ReviewWindow | None:
    """Menu "Review labels…": ONE dialog for the session; its labels are found beside
    it, or made first if the person chooses (then the job is returned and the window
    opens when it is done). Errors in a message box."""
    session, _ = QtWidgets.QFileDialog.getOpenFileName(
        parent, "Review labels: the session", start, "thermorig session (*.h5);;All files (*)"
    )
    if not session:
        return None
    opened: list[ReviewWindow] = []

    def then(labels: Path | None, note: str) -> None:
        window = _show(parent, Path(session), labels)
        if window is not None:
            opened.append(window)
            if note:
                window.statusBar().showMessage(note, 10000)

    job = find_labels(parent, Path(session), then)
    return opened[0] if opened else job


def _show(parent: QtWidgets.QWidget, session: Path, labels: Path | None) -> ReviewWindow | None:
    try:
        window = open_review(session, labels, parent=parent)
    except (ThermorigError, OSError) as exc:
        QtWidgets.QMessageBox.warning(parent, "Review labels", str(exc))
        return None
    window.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
    window.resize(*WINDOW_SIZE)
    window.show()
    return window
