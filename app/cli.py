"""``thermorig`` command line: a registry of sub-commands, one module each.

Every sub-command module in ``app.commands`` exposes ``register(subparsers)`` which
adds its parser and sets ``func`` to a callable ``(args) -> int``. Errors a user can
fix (:class:`ThermorigError`) print as one line and exit with code 2, never with a
traceback; argparse's own errors exit with 2 as well. SIGINT (Ctrl-C) and SIGTERM are
stop requests (:mod:`drivers.stop_request`): the command closes its files, removes its
temporary ones, prints one line and exits with 128 + the signal's number (130, 143).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable

from drivers import stop_request
from drivers.errors import ThermorigError, one_line
from drivers.stop_request import Interrupted, handling_stop_signals, signal_name
from drivers.write_failures import os_error_line

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS = (
    "app.commands.simulate",
    "app.commands.simulate_study",
    "app.commands.simulate_stills",
    "app.commands.record",
    "app.commands.info",
    "app.commands.repair",
    "app.commands.bench",
    "app.commands.devices",
    "app.commands.calibrate_images",
    "app.commands.calibrate",
    "app.commands.check_board",
    "app.commands.gui",
    "app.commands.autolabel",
    "app.commands.propagate",
    "app.commands.evaluate",
    "app.commands.review",
    "app.commands.export",
    "app.commands.stats",
    "app.commands.models",
    "app.commands.infer",
    "app.commands.train",
    "app.commands.experiment",
    "app.commands.check_rig",
    "app.commands.batch",
)

EXIT_USER_ERROR = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 143


class _Parser(argparse.ArgumentParser):
    """argparse that prints a single usage-free line on error, like every other error."""

    def error(self, message: str) -> None:  # noqa: D401 - argparse API
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="thermorig",
        description="Record, calibrate and label a thermal + depth + RGB camera rig.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMANDS:
        importlib.import_module(name).register(sub)
    return parser


#: Commands that open a window: Qt's event loop keeps Python's own signal handling.
WINDOW_COMMANDS = (None, "gui", "review")


def main(argv: list[str] | None = None) -> int:
    with handling_stop_signals(process_ends=True):
        with stop_request.deferred():  # loading the commands: a Ctrl-C is only recorded
            parser = build_parser()
            args = parser.parse_args(argv)
        early = stop_request.requested()
        if early is not None:
            return _fail(f"stopped by {signal_name(early)} while starting", 128 + early)
        func = getattr(args, "func", None)
        if func is None:  # No sub-command: the window, on the synthetic rig (Qt loads now).
            from app.commands.gui import run_default

            func = lambda _args: run_default()  # noqa: E731
        if args.command not in WINDOW_COMMANDS:
            return _run(func, args)
        # Until the window takes Ctrl-C over (app.ui.app.run_window), a signal is only
        # recorded: raised inside Qt's import it aborted the process with a core dump.
        with stop_request.deferred():
            return _run(func, args)


def _run(func: Callable[[argparse.Namespace], int | None], args: argparse.Namespace) -> int:
    """Run a command; every way it can end prints at most one line on stderr."""
    try:
        code = int(func(args) or 0)
    except ThermorigError as exc:
        return _fail(f"error: {one_line(exc)}", EXIT_USER_ERROR)
    except Interrupted as exc:
        return _fail(one_line(exc), exc.exit_code)
    except KeyboardInterrupt:
        return _fail("stopped by SIGINT (Ctrl-C)", EXIT_INTERRUPTED)
    except OSError as exc:
        # Disk, permission and file-system problems are the user's to fix, not bugs.
        return _fail(f"error: {os_error_line(exc)}", EXIT_USER_ERROR)
    signum = stop_request.requested()
    if signum is not None:  # came as the work finished: its output is complete
        return _fail(f"{signal_name(signum)} came as the command finished", 128 + signum)
    return code


def _fail(line: str, code: int) -> int:
    print(f"thermorig: {line}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
