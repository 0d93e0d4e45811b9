"""Errors a user can act on.

Every error raised for bad input derives from :class:`ThermorigError`; its message is
one line that says what is wrong and, where possible, what to do. The command line
prints it without a traceback and exits with code 2.
"""


class ThermorigError(Exception):
    """A problem the user can fix (bad file, bad spec, full disk), told in one line."""


class SourceError(ThermorigError):
    """A source spec that does not parse or a source that cannot be opened."""


class SessionError(ThermorigError):
    """A session file that is missing, not HDF5, truncated, or not a thermorig session."""


class DiskFullError(ThermorigError):
    """Recording stopped because free disk space fell under the safety margin."""


class EndOfStream(Exception):
    """A finite source (replay, simulation of N seconds) has delivered its last frame."""


def one_line(exc: BaseException, *, with_type: bool = False) -> str:
    """``exc``'s message on one line (HDF5 and OS errors span several), or its type's
    name where it has none; ``with_type`` names the type of errors that are not a
    ThermorigError, for messages about the unexpected (a model that crashed)."""
    text = " ".join(str(exc).split())
    if with_type and text and not isinstance(exc, ThermorigError):
        text = f"{type(exc).__name__}: {text}"
    return text or type(exc).__name__
