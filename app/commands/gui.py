"""``thermorig gui [--source SPEC] [--rig RIG.json]``; also what ``thermorig`` alone runs.

Qt is imported only when the window opens, so the headless commands never load it.
"""

from __future__ import annotations

import argparse
import os
import sys

from drivers.errors import ThermorigError

DEFAULT_SOURCE = "synthetic:cycling"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "gui",
        help="open the main window: live preview, replay, recording (default command)",
        description="Open the thermorig window on a source (default synthetic:cycling, with "
        "its true rig). Without a display use QT_QPA_PLATFORM=offscreen, or the headless "
        "commands simulate, record and info.",
    )
    p.add_argument("--source", default=DEFAULT_SOURCE, metavar="SPEC", help="e.g. replay:S.h5")
    p.add_argument("--rig", metavar="RIG.json", help="rig file (default: the source's own rig)")
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


def run(args: argparse.Namespace) -> int:
    problem = display_problem()
    if problem:
        raise ThermorigError(problem)
    try:
        from app.ui.app import run_gui
    except ImportError as exc:  # Qt's system libraries missing: say which to install
        raise ThermorigError(
            f"the window cannot start: {exc}; install Qt's system libraries "
            "(Debian/Ubuntu: apt-get install libegl1 libxkbcommon0 libfontconfig1 libdbus-1-3 "
            "libgl1 libglib2.0-0, or run bash scripts/install as root)"
        ) from None
    return run_gui(args.source, args.rig)


def run_default() -> int:
    """``thermorig`` with no sub-command: the window on the synthetic rig."""
    return run(argparse.Namespace(source=DEFAULT_SOURCE, rig=None))
