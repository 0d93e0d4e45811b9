"""``thermorig`` command line: a registry of sub-commands, one module each.

Every sub-command module in ``app.commands`` exposes ``register(subparsers)`` which
adds its parser and sets ``func`` to a callable ``(args) -> int``. Errors a user can
fix (:class:`ThermorigError`) print as one line and exit with code 2, never with a
traceback; argparse's own errors exit with 2 as well.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from drivers.errors import ThermorigError

#: Sub-command modules, in the order ``--help`` lists them.
COMMANDS = (
    "app.commands.simulate",
    "app.commands.record",
    "app.commands.info",
    "app.commands.repair",
    "app.commands.bench",
    "app.commands.devices",
    "app.commands.calibrate_images",
    "app.commands.calibrate",
    "app.commands.gui",
    "app.commands.autolabel",
    "app.commands.evaluate",
    "app.commands.review",
    "app.commands.export",
    "app.commands.stats",
    "app.commands.models",
    "app.commands.infer",
)

EXIT_USER_ERROR = 2


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


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:  # No sub-command: the window, on the synthetic rig (Qt loads only now).
        from app.commands.gui import run_default

        func = lambda _args: run_default()  # noqa: E731
    try:
        return int(func(args) or 0)
    except ThermorigError as exc:
        print(f"thermorig: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("thermorig: interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        # Disk, permission and file-system problems are the user's to fix, not bugs.
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        print(f"thermorig: error: {exc.strerror or exc}{where}", file=sys.stderr)
        return EXIT_USER_ERROR


if __name__ == "__main__":
    sys.exit(main())
