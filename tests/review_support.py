"""What the review window's tests share: the quarter-size session with projected
labels (made once per process), and opening a window on it the way a person would."""

from __future__ import annotations

from pathlib import Path

from app.labels.autolabel import autolabel
from app.ui.review.launch import open_review
from tests.synthetic_sessions import session as synthetic_session


def projected_session(folder: Path) -> tuple[Path, Path]:
    """A short synthetic cycling session at a quarter size (shared by the test
    process) and its thermal labels projected from the RGB truth, in ``folder``."""
    session = synthetic_session(
        "cycling",
        0.25,
        thermal_size=(160, 128),
        depth_size=(160, 120),
        color_size=(320, 180),
        hw_sync=True,
    )
    labels = Path(folder) / "projected.h5"
    autolabel(session, labels, "truth", "truth")
    return session, labels


def open_review_window(qtbot, session, labels, size=(1400, 850), parent=None, **kwargs):
    """A shown, focused review window (curves off unless asked: their thread only
    where a test wants them), closed and disposed with the test — unless it has a
    ``parent``, which then deletes it (the test closes it)."""
    kwargs.setdefault("curves", False)
    window = open_review(session, labels, parent=parent, **kwargs)
    if parent is None:
        qtbot.addWidget(window, before_close_func=lambda w: w.dispose())
    window.resize(*size)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.wait(50)
    return window
