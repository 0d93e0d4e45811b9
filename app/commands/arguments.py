"""Argument types shared by the sub-commands, so every command rejects bad numbers
with the same one-line argparse error, and the label-file output every labeling
command declares the same way."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from app.labels.sidecar import STATUS_NAMES, LabelReader, LabelsError, parse_statuses
from drivers.outputs import Output, file_output


def positive(unit: str = "") -> Callable[[str], float]:
    """An argparse type: a float > 0, named by ``unit`` in its error messages."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a number{suffix and ' of' + suffix}: {text!r}"
            ) from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0{suffix}, got {text}")
        return value

    return parse


def whole(unit: str = "", minimum: int = 0) -> Callable[[str], int]:
    """An argparse type: a whole number ≥ ``minimum``, named by ``unit`` in its errors."""
    suffix = f" {unit}" if unit else ""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"not a whole number{suffix and ' of' + suffix}: {text!r}"
            ) from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {minimum} or more{suffix}, got {text}")
        return value

    return parse


def statuses(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated review statuses (``accepted,corrected``) as the
    label file's status codes."""
    try:
        names = parse_statuses(text)
    except LabelsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return tuple(sorted(STATUS_NAMES.index(n) for n in names))


def label_output(flag: str, path: Path) -> Output:
    """A label file a command writes (``--out`` of autolabel and infer, review's
    ``--labels``): label files are updated in place — their writer keeps every row a
    person made — so an existing one is fine, but any other existing file (a session,
    a rig, a CSV) is never replaced, with or without --overwrite."""

    def must_be_labels(existing: Path) -> None:
        try:
            LabelReader(existing, check_journal=False).close()
        except (LabelsError, OSError):
            raise LabelsError(
                f"{flag} {existing} exists and is not a label file, so it is never"
                " replaced; give a new name or the session's label file"
            ) from None

    return file_output(flag, path, update=must_be_labels)


def add_labels_out(p: argparse.ArgumentParser) -> None:
    """``--out LABELS.h5``, ``--json`` and ``--quiet``: what every command that labels
    one session (autolabel, infer) takes besides what to label."""
    p.add_argument(
        "--out",
        type=Path,
        metavar="LABELS.h5",
        help="label file to write (default: SESSION.labels.h5 beside the session)",
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
