"""Every command of the review window, its keys and its help text, in ONE table.

The window's QActions (and so its shortcuts) and the help overlay are both made from
:data:`ACTIONS`, so a key listed in the help always does what it says and a new
command needs one row here plus the window method it names — no key-handling
if-chains anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from PySide6 import QtGui, QtWidgets

from app.ui.window_keys import key_text, window_action


@dataclass(frozen=True)
class ReviewAction:
    """One command: ``slot`` is the name of the window method called with ``args``."""

    name: str
    keys: tuple[str, ...]
    text: str
    group: str
    slot: str
    args: tuple = ()
    in_help: bool = True
    short: str = ""  # the tool bar's label, where the help text is too long for it


def _classes() -> tuple[ReviewAction, ...]:
    """Keys 0–9 pick the class id they name (0 background): the id written in files."""
    rows = [
        ReviewAction(f"class-{k}", (str(k),), f"class {k}", "Classes", "set_class", (k,), False)
        for k in range(10)
    ]
    return tuple(rows)


# fmt: off
ACTIONS: tuple[ReviewAction, ...] = (
    ReviewAction("prev", ("Left",), "previous frame", "Frames", "step", (-1,)),
    ReviewAction("next", ("Right",), "next frame", "Frames", "step", (1,)),
    ReviewAction("next-unreviewed", ("N",), "next unreviewed frame", "Frames", "next_unreviewed"),
    ReviewAction("next-queue", ("Q",), "worst unreviewed frame (lowest transfer confidence)",
                 "Frames", "next_in_queue"),
    ReviewAction("first", ("Home",), "first frame", "Frames", "go_first"),
    ReviewAction("last", ("End",), "last frame", "Frames", "go_last"),
    ReviewAction("stream", ("R",), "edit the other stream: thermal ↔ RGB (RGB keyframes)",
                 "Review", "switch_stream", short="Thermal ⇄ RGB"),
    ReviewAction("accept", ("A",), "accept the frame's labels", "Review", "accept",
                 short="Accept"),
    ReviewAction("reject", ("X",), "reject the frame (not for training)", "Review", "reject",
                 short="Reject"),
    ReviewAction("unreview", ("U",), "back to unreviewed", "Review", "unreview",
                 short="Unreview"),
    ReviewAction("propagate", ("P",), "propagate: copy the previous frame's mask into this one", "Review",
                 "propagate", short="Propagate"),
    ReviewAction("brush", ("B",), "brush (drag to paint the class)", "Tools", "set_tool",
                 ("brush",), short="Brush"),
    ReviewAction("eraser", ("E",), "eraser (paints unlabeled)", "Tools", "set_tool",
                 ("eraser",), short="Eraser"),
    ReviewAction("polygon", ("G",), "polygon (click vertices, Enter or double-click fills)",
                 "Tools", "set_tool", ("polygon",), short="Polygon"),
    ReviewAction("flood", ("F",), "flood fill the connected region under the click", "Tools",
                 "set_tool", ("flood",), short="Flood"),
    ReviewAction("wand", ("T",), "temperature wand: connected pixels within ± tolerance °C",
                 "Tools", "set_tool", ("wand",), short="Wand"),
    ReviewAction("smaller", ("[",), "smaller brush / narrower wand range", "Tools", "grow", (-1,)),
    ReviewAction("larger", ("]",), "larger brush / wider wand range", "Tools", "grow", (1,)),
    ReviewAction("close-polygon", ("Return", "Enter"), "fill the polygon", "Tools",
                 "close_polygon"),
    ReviewAction("cancel", ("Esc",), "drop the polygon / close this help", "Tools", "cancel"),
    ReviewAction("undo", ("Ctrl+Z",), "undo", "Edit", "undo", short="Undo"),
    ReviewAction("redo", ("Ctrl+Shift+Z", "Ctrl+Y"), "redo", "Edit", "redo", short="Redo"),
    ReviewAction("save", ("Ctrl+S",), "save the label file", "Edit", "save", short="Save"),
    ReviewAction("opacity", ("O",), "cycle the mask's opacity", "View", "cycle_opacity"),
    ReviewAction("contour", ("C",), "outlines only (contour mode)", "View", "toggle_contour"),
    ReviewAction("zoom", ("Z",), "reset zoom (wheel zooms, middle-drag pans)", "View",
                 "reset_zoom"),
    ReviewAction("help", ("H", "F1"), "show / hide this help", "View", "toggle_help",
                 short="Help"),
) + _classes()
# fmt: on


def install(window: QtWidgets.QWidget) -> dict[str, QtGui.QAction]:
    """QActions on ``window`` for every row, with its shortcuts (window-wide)."""
    return {
        a.name: window_action(
            window, a.short or a.text, f"review-{a.name}", a.keys, partial(_call, window, a)
        )
        for a in ACTIONS
    }


def _call(window: QtWidgets.QWidget, a: ReviewAction) -> None:
    getattr(window, a.slot)(*a.args)


def help_rows(classes: list[str]) -> list[tuple[str, str, str]]:
    """(group, keys, text) for the help overlay; the class keys as one row per class."""
    rows = [(a.group, key_text(a.keys), a.text) for a in ACTIONS if a.in_help]
    for k, name in enumerate(classes[:10]):
        rows.append(("Classes", str(k), name))
    return rows
