"""SIGINT (Ctrl-C) and SIGTERM as a request to stop, so that every writer closes its file.

Python's own handling loses data here. Its SIGINT handler raises KeyboardInterrupt at
whatever bytecode the main thread happens to run — also in the middle of an h5py call,
or while it waits for the session writer's thread to close the file; a second Ctrl-C
20 ms later then abandons that thread holding h5py's global lock, and the interpreter
deadlocks on it at exit, the session still marked open for writing. SIGTERM (what
``kill``, systemd and a closing terminal send) has no handler at all: the process dies
with its temporary files and its session unclosed.

So :func:`handling_stop_signals` (the command line installs it around every headless
command) turns both into a *stop request*. Work that writes files polls it from a safe
point: inside :func:`deferred` a signal only records the request, and the work calls
:func:`check` (raise :class:`Interrupted` between two frames, where every ``with`` and
``finally`` still runs) or reads :func:`requested` (the recorder ends its loop and
closes its file as at the end of a source). Outside, the first signal raises
:class:`Interrupted` at once, like Ctrl-C always did. Either way a repeated signal is
ignored: the first one's stop is already under way and must not be interrupted while
it closes files and removes temporary ones.

Signals are handled on the main thread only; work on other threads (the window's
workers) never sees a request, because the window installs no handlers.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

#: The signals that ask a command to stop.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A stop signal ended the work; ``outcome`` says in a few words what it left
    behind (e.g. "the old file is unchanged"), for the one line the command prints.

    A KeyboardInterrupt, so that ``except Exception`` never swallows it and code that
    handles Ctrl-C handles SIGTERM alike.
    """

    def __init__(self, signum: int, outcome: str = ""):
        super().__init__(signum, outcome)
        self.signum = signum
        self.outcome = outcome

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum

    def __str__(self) -> str:
        text = f"stopped by {signal_name(self.signum)}"
        return f"{text}; {self.outcome}" if self.outcome else text


def signal_name(signum: int) -> str:
    """``SIGINT (Ctrl-C)``, ``SIGTERM``."""
    name = signal.Signals(signum).name
    return f"{name} (Ctrl-C)" if signum == signal.SIGINT else name


class _State:
    """The process's stop request (signals are per process, so is this)."""

    signum: int | None = None
    deferring: int = 0


_state = _State()


def _on_signal(signum: int, _frame: FrameType | None) -> None:
    # Runs on the main thread between two bytecodes: no locks, no I/O here.
    if _state.signum is not None:
        return  # a stop is under way: let it close its files
    _state.signum = signum
    if not _state.deferring:
        raise Interrupted(signum)


def _on_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@contextmanager
def handling_stop_signals(*, process_ends: bool = False) -> Iterator[None]:
    """Within the block SIGINT and SIGTERM are stop requests (see the module doc); the
    handlers in force before come back after it. A no-op off the main thread.

    ``process_ends``: the process exits after the block (the command line). If a stop
    was requested, the signals then stay ignored: a Ctrl-C repeated while the process
    exits would otherwise kill it on its way out, its exit status the signal's instead
    of the 130 or 143 its one line announced."""
    if not _on_main_thread():
        yield
        return
    old = {s: signal.signal(s, _on_signal) for s in STOP_SIGNALS}
    _state.signum = None
    try:
        yield
    finally:
        ending = process_ends and _state.signum is not None
        for s, handler in old.items():
            signal.signal(s, signal.SIG_IGN if ending else handler)
        _state.signum = None


@contextmanager
def deferred() -> Iterator[None]:
    """Within the block a stop signal only records the request: the work polls
    :func:`requested` or :func:`check` where stopping is safe. Blocks nest; on a thread
    other than the main one (where signals never run) it changes nothing."""
    if not _on_main_thread():
        yield
        return
    _state.deferring += 1
    try:
        yield
    finally:
        _state.deferring -= 1


def requested() -> int | None:
    """The number of the signal that asked to stop, or None."""
    return _state.signum


def check() -> None:
    """Raise :class:`Interrupted` if a stop was requested; call it between units of
    work (frames), where stopping leaves nothing half done."""
    if _state.signum is not None:
        raise Interrupted(_state.signum)
