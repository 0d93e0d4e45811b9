"""Every keyboard shortcut of the main window, in ONE table.

The window's shortcut actions and Help › Keyboard shortcuts are both made from
:data:`SHORTCUTS` (the replay's rows from :data:`~app.ui.main.replay_bar.REPLAY_KEYS`),
so the list shows exactly the keys that work (the review window
does the same with :mod:`app.ui.review.actions`). A new key is one row here: its
``run`` is called with the window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from PySide6 import QtGui, QtWidgets

from app.ui.main.rec_indicator import RECORD_KEY
from app.ui.main.replay_bar import REPLAY_KEYS
from app.ui.window_keys import key_text, window_action


@dataclass(frozen=True)
class Shortcut:
    """``keys`` (QKeySequence strings) run ``run(window)``; ``menu`` names the menu
    the action is also offered in (its object name ``shortcut-NAME``)."""

    name: str
    keys: tuple[str, ...]
    text: str
    group: str
    run: Callable[[Any], object]
    menu: str = ""


def _replay(method: str) -> Callable[[Any], object]:
    """A replay key: the ReplayBar ``method``, only while a replay is shown."""

    def run(window) -> None:
        if window.replay_bar.isVisible():
            getattr(window.replay_bar, method)()

    return run


# fmt: off
SHORTCUTS: tuple[Shortcut, ...] = (
    Shortcut("open", ("Ctrl+O",), "open a recorded session", "File",
             lambda w: w._open_session_dialog(), "&Open session…"),
    Shortcut("quit", ("Ctrl+Q",), "quit (asks first while recording)", "File",
             lambda w: w.close(), "&Quit"),
    Shortcut("record", (RECORD_KEY,), "start / stop recording", "Recording",
             lambda w: w.rec_bar.key_pressed()),
    Shortcut("marker", ("M",), "event marker in the recording, at the newest frame",
             "Recording", lambda w: w.add_marker()),
    Shortcut("play", ("Space",), "replay: play / pause", "Replay", lambda w: w._toggle_play()),
) + tuple(
    Shortcut(f"replay-{method}", (key,), f"replay: {text}", "Replay", _replay(method))
    for key, text, method in REPLAY_KEYS
) + (
    Shortcut("help", ("F1",), "this list of shortcuts", "Help",
             lambda w: w.show_shortcuts(), "&Keyboard shortcuts…"),
)
# fmt: on


def install(window: QtWidgets.QMainWindow) -> dict[str, QtGui.QAction]:
    """A window-wide QAction per row, with its keys; returned by name (a menu adds
    the ones it offers)."""
    return {
        s.name: window_action(
            window, s.menu or s.text, f"shortcut-{s.name}", s.keys, partial(s.run, window)
        )
        for s in SHORTCUTS
    }


def rows() -> list[tuple[str, str, str]]:
    """(group, keys, text) per shortcut, for Help › Keyboard shortcuts."""
    return [(s.group, key_text(s.keys), s.text) for s in SHORTCUTS]
