"""Window-wide keyboard actions, shared by the main and review windows.

Each window keeps its own table of shortcuts (what the keys do there and what its help
lists); both turn a row into a QAction the same way, here, so that a key works wherever
the focus is in the window and reads the same in every list.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6 import QtCore, QtGui, QtWidgets


def key_text(keys: tuple[str, ...]) -> str:
    """Keys as the platform writes them (Ctrl on Linux/Windows, ⌘ on macOS)."""
    fmt = QtGui.QKeySequence.SequenceFormat.NativeText
    return " / ".join(QtGui.QKeySequence(k).toString(fmt) for k in keys)


def window_action(
    window: QtWidgets.QWidget,
    text: str,
    object_name: str,
    keys: tuple[str, ...],
    run: Callable[[], None],
) -> QtGui.QAction:
    """A QAction on ``window`` that ``keys`` trigger anywhere in it, calling ``run()``."""
    action = QtGui.QAction(text, window)
    action.setObjectName(object_name)
    action.setShortcuts([QtGui.QKeySequence(k) for k in keys])
    action.setShortcutContext(QtCore.Qt.ShortcutContext.WindowShortcut)
    action.triggered.connect(lambda _=False: run())
    window.addAction(action)
    return action
