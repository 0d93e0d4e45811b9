"""Argument types shared by the sub-commands, so every command rejects bad numbers
with the same one-line argparse error."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from app.labels.sidecar import STATUS_NAMES, LabelsError, parse_statuses


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


def statuses(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated review statuses (``accepted,corrected``) as the
    label file's status codes."""
    try:
        names = parse_statuses(text)
    except LabelsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return tuple(sorted(STATUS_NAMES.index(n) for n in names))
