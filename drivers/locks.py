"""OS locks that vanish with the process: the one mechanism behind thermorig's writer locks.

Two kinds of file are guarded. A session being recorded is locked in place
(:class:`drivers.session_state.WriterLock`): it is never replaced while written. A file
that is *replaced* on every write — a label sidecar, written whole to a temporary file
that ``os.replace`` puts in its place — cannot be locked in place: a lock on the old
inode does not exclude the writer that opens the new one. So such a file gets a
**lock file** beside it (``NAME.lock``, :class:`LockFile`) that is never replaced while
held; it holds the holder's pid, command and start time so that a refusal can say who
to wait for.

Both lock one byte far beyond any file's end with a POSIX record lock — on Linux an
open-file-description lock, which neither closing another descriptor of the file nor a
second lock from the same process undoes. The kernel drops it when the process dies,
however it dies: a lock left by a killed process never blocks anyone (its lock file
may stay behind, unlocked, and is taken over). HDF5's own ``flock`` locks never conflict
with it. Windows has neither; there the locks are not taken (None), and the writers
fall back on their other checks.
"""

from __future__ import annotations

import errno
import json
import os
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.errors import ThermorigError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

#: The locked byte: far past any file's end, so that no I/O ever touches it.
LOCK_OFFSET = 2**62
_OFD = (
    fcntl is not None
    and sys.platform.startswith("linux")
    and hasattr(fcntl, "F_OFD_SETLK")
    and struct.calcsize("P") == 8
)
#: errno of a lock another process holds (anything else: the file system cannot lock).
_HELD = (errno.EACCES, errno.EAGAIN)
#: Lock files this process holds: POSIX record locks (outside Linux) never conflict
#: within one process, so a second writer in the same program is refused from here.
_MINE: set[str] = set()


def lock_byte(fd: int) -> None:
    """Lock ``fd``'s far byte for writing, without waiting; OSError if another holds it
    (errno EACCES or EAGAIN) or the file system cannot lock."""
    if fcntl is None:
        raise OSError(errno.ENOSYS, "no POSIX locks on this platform")
    if _OFD:  # struct flock on 64-bit Linux: type, whence, start, len, pid
        lock = struct.pack("hhxxxxqqixxxx", fcntl.F_WRLCK, os.SEEK_SET, LOCK_OFFSET, 1, 0)
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, lock)
    else:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, LOCK_OFFSET, os.SEEK_SET)


def byte_locked_by_other(fd: int) -> bool:
    """True if another process holds ``fd``'s far byte. The probe's own shared lock is
    released when the caller closes ``fd``; a file system without locks says False."""
    if fcntl is None:
        return False
    try:
        fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB, 1, LOCK_OFFSET, os.SEEK_SET)
    except OSError as exc:
        return exc.errno in _HELD
    return False


def process_command() -> str:
    """What this process is, as a person would recognise it: ``thermorig review``."""
    argv = sys.argv or [""]
    name = Path(argv[0]).name or "python"
    if name.startswith("-"):  # python -c
        name = "python"
    words = [name] + [a for a in argv[1:2] if a and not a.startswith("-")]
    return " ".join(words)


@dataclass
class Holder:
    """Who holds a lock file, as it says (it may be empty while being written)."""

    pid: int = 0
    command: str = ""
    since: float = 0.0

    def describe(self) -> str:
        if not self.pid:
            return "another process"
        at = time.localtime(self.since)
        today = time.localtime().tm_yday == at.tm_yday and time.localtime().tm_year == at.tm_year
        when = time.strftime("%H:%M" if today else "%Y-%m-%d %H:%M", at)
        mine = ", this program" if self.pid == os.getpid() else ""
        return f"`{self.command or 'a thermorig command'}` (pid {self.pid}{mine}) since {when}"


class LockHeld(ThermorigError):
    """Another writer holds the file: one line naming it and what to do."""

    def __init__(self, target: Path, holder: Holder):
        self.target, self.holder = target, holder
        super().__init__(f"{target.name} is being written by {holder.describe()}; close it or wait")


def read_holder(lock_path: str | os.PathLike) -> Holder:
    try:
        with open(lock_path, "rb") as fh:
            d = json.loads(fh.read(4096) or b"{}")
        return Holder(int(d.get("pid", 0)), str(d.get("command", "")), float(d.get("since", 0)))
    except (OSError, ValueError, TypeError, AttributeError):
        return Holder()


class LockFile:
    """The lock of a file that is replaced on every write: ``NAME.lock`` beside it."""

    def __init__(self, target: Path, path: Path, fd: int):
        self.target, self.path = target, path
        self._fd: int | None = fd
        self._key = str(path.absolute())

    @staticmethod
    def path_for(target: str | os.PathLike) -> Path:
        t = Path(target)
        return t.with_name(t.name + ".lock")

    @classmethod
    def take(cls, target: str | os.PathLike, command: str | None = None) -> LockFile | None:
        """Hold ``target``'s lock until :meth:`release` (or the process ends). LockHeld
        if another writer has it; None where the platform or file system has no locks
        or the folder cannot be written (the write itself then says why)."""
        if fcntl is None:
            return None
        target = Path(target)
        path = cls.path_for(target)
        if str(path.absolute()) in _MINE:
            raise LockHeld(target, read_holder(path))
        for _ in range(100):
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError:
                return None
            try:
                lock_byte(fd)
            except OSError as exc:
                os.close(fd)
                if exc.errno in _HELD:
                    raise LockHeld(target, read_holder(path)) from None
                return None
            # The holder before us may have removed the file after we opened it: then
            # our lock is on a file nobody else will find. Take the one at the path.
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        else:  # pragma: no cover - a storm of writers
            raise LockHeld(target, read_holder(path))
        info = {"pid": os.getpid(), "command": command or process_command(), "since": time.time()}
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode(), 0)
        except OSError:  # a full disk: the lock holds all the same; the write says why
            pass
        _MINE.add(str(path.absolute()))
        return cls(target, path, fd)

    def release(self) -> None:
        """Remove the lock file and give the lock up; safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _MINE.discard(self._key)
        try:
            if os.path.samestat(os.fstat(fd), os.stat(self.path)):
                os.unlink(self.path)
        except OSError:
            pass
        os.close(fd)

    def __enter__(self) -> LockFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
