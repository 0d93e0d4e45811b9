"""Opening a review from a session alone: its label file is found beside it, and when
there is none the person chooses how to get labels instead of meeting an empty window.

One file dialog (the session); ``SESSION.labels.h5`` beside it
(:func:`app.labels.sidecar.default_labels_path`) opens at once. Without it a box says
so and offers what :func:`app.review.label_makers.label_makers` found possible —
autolabel (projection) or infer (a model), greyed out with the reason where they
cannot run — or to open the session unlabeled, knowing why it is empty. Making labels
runs on a thread with a progress dialog (Cancel stops it between two frames, no file
left behind); the window stays responsive and the review opens when it is done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from app.labels.sidecar import default_labels_path
from app.review.label_makers import LabelMaker, label_makers
from drivers.errors import ThermorigError

#: The box's answer for "open it unlabeled".
EMPTY = "empty"


class _Cancelled(Exception):
    """Raised from the progress callback when the person pressed Cancel."""


def missing_labels_box(
    parent: QtWidgets.QWidget | None, session: Path, makers: list[LabelMaker]
) -> tuple[QtWidgets.QMessageBox, dict[QtWidgets.QAbstractButton, str]]:
    """The box that says there are no labels and offers ``makers`` (each button's
    answer: a maker's key, :data:`EMPTY`, or none for Cancel)."""
    out = default_labels_path(session)
    box = QtWidgets.QMessageBox(parent)
    box.setObjectName("review-no-labels")
    box.setIcon(QtWidgets.QMessageBox.Icon.Question)
    box.setWindowTitle("Review labels: no label file")
    lines = [f"{session.name} has no labels yet: {out.name} is not beside it.", ""]
    for m in makers:
        lines.append(f"{m.title}: {m.detail}" + (f" — not here: {m.problem}" if m.problem else ""))
    lines += ["", f"Either makes {out.name}; then the review opens on it."]
    box.setText("\n".join(lines))
    answers: dict[QtWidgets.QAbstractButton, str] = {}
    for m in makers:
        button = box.addButton(m.title, QtWidgets.QMessageBox.ButtonRole.AcceptRole)
        button.setObjectName(f"make-{m.key}")
        button.setEnabled(not m.problem)
        button.setToolTip(m.problem or m.detail)
        answers[button] = m.key
    empty = box.addButton("Open unlabeled", QtWidgets.QMessageBox.ButtonRole.DestructiveRole)
    empty.setObjectName("make-empty")
    empty.setToolTip(f"open with every frame unlabeled ({out.name} is made) and paint by hand")
    answers[empty] = EMPTY
    box.addButton(QtWidgets.QMessageBox.StandardButton.Cancel)
    usable = [b for b, k in answers.items() if b.isEnabled() and k != EMPTY]
    box.setDefaultButton(usable[0] if usable else empty)
    return box, answers


def ask_missing(parent: QtWidgets.QWidget | None, session: Path, makers: list[LabelMaker]) -> str:
    """The person's answer to :func:`missing_labels_box` ("" for Cancel)."""
    box, answers = missing_labels_box(parent, session, makers)
    box.exec()
    return answers.get(box.clickedButton(), "")


class LabelJob(QtCore.QObject):
    """Runs one :class:`LabelMaker` on a thread behind a progress dialog; ``finished``
    carries its one-line summary, or the exception that ended it."""

    finished = QtCore.Signal(object)
    _progress = QtCore.Signal(int, int)

    def __init__(self, maker: LabelMaker, parent: QtWidgets.QWidget | None = None):
        super().__init__(parent)
        self.maker = maker
        self._cancel = threading.Event()
        self.dialog = QtWidgets.QProgressDialog(
            f"{maker.title}: {maker.session.name} → {maker.out.name}", "Cancel", 0, 0, parent
        )
        self.dialog.setObjectName("review-label-progress")
        self.dialog.setWindowTitle("Making labels")
        self.dialog.setWindowModality(QtCore.Qt.WindowModality.WindowModal)
        self.dialog.setMinimumDuration(0)
        self.dialog.setAutoClose(False)
        self.dialog.setAutoReset(False)
        self.dialog.canceled.connect(self._cancel.set)
        self._progress.connect(self._show_progress)
        self.thread = threading.Thread(target=self._work, name="review-labels", daemon=True)

    def start(self) -> None:
        self.dialog.show()
        self.thread.start()

    def _show_progress(self, done: int, total: int) -> None:
        self.dialog.setMaximum(max(total, 1))
        self.dialog.setValue(done)

    def _work(self) -> None:
        def progress(done: int, total: int) -> None:
            if self._cancel.is_set():
                raise _Cancelled
            self._progress.emit(done, total)

        try:
            result: object = self.maker.run(progress)
        except _Cancelled:
            result = _Cancelled(f"{self.maker.title} cancelled; no label file was made")
        except Exception as exc:  # noqa: BLE001 - told in a box, never raised into Qt
            result = exc
        try:
            self.finished.emit(result)
        except RuntimeError:  # the parent window closed meanwhile
            pass


def find_labels(
    parent: QtWidgets.QWidget | None,
    session: Path,
    then: Callable[[Path | None, str], None],
    ask: Callable[..., str] | None = None,
) -> LabelJob | None:
    """Find ``session``'s label file and call ``then(labels, note)`` with it (made by a
    job the person chose if missing; None: open unlabeled). Nothing is called on
    Cancel or failure (told in a box). Returns the job while one runs."""
    labels = default_labels_path(session)
    if labels.exists():
        then(labels, "")
        return None
    try:
        makers = label_makers(session)
    except (ThermorigError, OSError) as exc:
        QtWidgets.QMessageBox.warning(parent, "Review labels", str(exc))
        return None
    answer = (ask or ask_missing)(parent, session, makers)
    if not answer:
        return None
    if answer == EMPTY:
        then(None, "")
        return None
    job = LabelJob(next(m for m in makers if m.key == answer), parent)

    def done(result: object) -> None:
        job.dialog.close()
        if isinstance(result, BaseException):
            QtWidgets.QMessageBox.warning(parent, "Review labels", str(result))
            return
        then(labels, str(result))

    job.finished.connect(done)
    job.start()
    return job
