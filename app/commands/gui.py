"""``thermorig gui [--source SPEC] [--rig RIG.json]``; also what ``thermorig`` alone runs.

Qt is imported only when the window opens, so the headless commands never load it.
"""

from __future__ import annotations

import argparse
import os
import sys

from app.qt_libraries import import_problem, xcb_problem
from drivers.errors import ThermorigError
from drivers.sources import head_start

DEFAULT_SOURCE = "synthetic:cycling"
#: While the source's head start runs beside Qt's loading, the interpreter lets threads
#: take turns every 0.1 ms instead of every 5 ms: each of the build's numpy steps
#: otherwise waits for the import on the main thread to yield. The demo's first frame
#: came 1.7 s after launch instead of 2.0 s (median of 5 runs each on two cores).
STARTUP_SWITCH_INTERVAL_S = 1e-4


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gui",
        help="open the main window: live preview, replay, recording (default command)",
        description="Open the thermorig window on a source (default synthetic:cycling, with "
        "its true rig). Without a display use QT_QPA_PLATFORM=offscreen, or the headless "
        "commands simulate, record and info.",
    )
    p.add_argument("--source", default=DEFAULT_SOURCE, metavar="SPEC", help="e.g. replay:S.h5")
    p.add_argument(
        "--rig",
        metavar="RIG.json|RIG.yaml",
        help="rig file, JSON or YAML (default: the source's own rig)",
    )
    p.set_defaults(func=run)


def display_problem(env: dict[str, str] | None = None, platform: str | None = None) -> str:
    """Why no window can open here (one line), or "" if one can."""
    env = os.environ if env is None else env
    platform = sys.platform if platform is None else platform
    if platform.startswith(("win", "darwin")):
        return ""
    if any(env.get(k) for k in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")):
        return ""
    return (
        "no display found (DISPLAY and WAYLAND_DISPLAY are unset); set "
        "QT_QPA_PLATFORM=offscreen to run the window without one, or use the headless "
        "commands: thermorig simulate, record, info"
    )


def check_window_can_open() -> None:
    """Refuse in one line where no window can open: no display, or Qt's xcb platform
    plugin missing system libraries (Qt itself would abort with a raw multi-line
    message); shared by ``thermorig gui`` and ``thermorig review``."""
    problem = display_problem() or xcb_problem()
    if problem:
        raise ThermorigError(problem)


def qt_import_error(exc: ImportError) -> ThermorigError:
    """The error for a Qt import that failed on a missing system library."""
    return ThermorigError(import_problem(exc))


def run(args: argparse.Namespace) -> int:
    check_window_can_open()
    try:
        import app.ui.qt_core  # noqa: F401 - before the head start's thread imports anything
    except ImportError as exc:  # Qt's system libraries missing: say which to install
        raise qt_import_error(exc) from None
    switch = sys.getswitchinterval()
    sys.setswitchinterval(STARTUP_SWITCH_INTERVAL_S)
    restore = lambda: sys.setswitchinterval(switch)  # noqa: E731
    if head_start(args.source, then=restore) is None:  # the source's slow start beside Qt's
        restore()
    try:
        from app.ui.main.launch import run_gui
    except ImportError as exc:  # Qt's system libraries missing: say which to install
        raise qt_import_error(exc) from None
    return run_gui(args.source, args.rig)


def run_default() -> int:
    """``thermorig`` with no sub-command: the window on the synthetic rig."""
    return run(argparse.Namespace(source=DEFAULT_SOURCE, rig=None))
