"""Whether a session file was closed, is being recorded, or was left open by a recorder
that died, and the lock that tells the last two apart.

HDF5 marks a file opened for writing in its superblock's file-consistency flags and
clears them on close. A recorder killed mid-way (``kill -9``, a crash, power loss)
leaves them set, and HDF5 then refuses every plain open with "file is already open for
write" (h5py, HDFView, MATLAB and pandas alike); only SWMR readers, which thermorig
uses, still open it. :func:`open_flags` reads those flags straight from the superblock
(HDF5 file format specification, superblock versions 2 and 3, byte 11) rather than
parsing an error message that differs between HDF5 versions.

The flags cannot tell a live recorder from a dead one, and HDF5 cannot either: it drops
its own lock once SWMR writing starts, and every reader takes a shared ``flock``, so a
flock does not tell a writer from a viewer. So :class:`WriterLock` holds a POSIX record
lock on one byte far beyond the end of the file for as long as a recorder writes it.
The kernel releases it when the process dies, however it dies; HDF5's flock locks never
conflict with it. On Linux it is an open-file-description lock, which closing another
descriptor of the same file in the recording process does not release (the lock
itself is :func:`drivers.locks.lock_byte`, shared with the label files' lock files).
Windows has neither: there, a live writer is caught when the file changes during a
repair or the final rename fails.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from drivers.hdf5_superblock import find_superblock
from drivers.locks import byte_locked_by_other, lock_byte

CLOSED = "closed"
RECORDING = "recording"
NEEDS_REPAIR = "needs repair"

#: Superblock file-consistency flags (HDF5 H5Fpkg.h): opened for writing, for SWMR writing.
WRITE_ACCESS = 0x01
SWMR_WRITE_ACCESS = 0x04

#: Files this process is recording, by (device, inode): POSIX record locks never
#: conflict within one process, so a check from the recording process asks here.
_WRITING: set[tuple[int, int]] = set()


def open_flags(path: str | os.PathLike) -> int:
    """The superblock's file-consistency flags; 0 for a file closed normally and for
    superblock versions 0 and 1 (which HDF5 never marks)."""
    with open(path, "rb") as fh:
        found = find_superblock(fh)
    if found is None:
        return 0
    head = found[1]
    return head[11] if head[8] >= 2 else 0


def _key(path: str | os.PathLike) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_dev, st.st_ino


class WriterLock:
    """Held by a recorder on its session file while it writes (see the module doc)."""

    def __init__(self, fd: int, key: tuple[int, int]):
        self._fd: int | None = fd
        self._key = key

    @classmethod
    def hold(cls, path: str | os.PathLike) -> WriterLock | None:
        """Take the lock; None where the platform or file system has no such locks
        (recording goes on: the lock only guards against repairing a live file)."""
        try:
            fd = os.open(path, os.O_RDWR)
        except OSError:
            return None
        try:
            lock_byte(fd)
            key = _key(path)
        except OSError:
            os.close(fd)
            return None
        _WRITING.add(key)
        return cls(fd, key)

    def release(self) -> None:
        """Give the lock up (closing the descriptor does); safe to call twice."""
        fd, self._fd = self._fd, None
        if fd is not None:
            _WRITING.discard(self._key)
            os.close(fd)


def being_recorded(path: str | os.PathLike) -> bool:
    """True while a recorder (this process or another) holds ``path``'s writer lock."""
    try:
        if _key(path) in _WRITING:
            return True
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        return byte_locked_by_other(fd)
    finally:
        os.close(fd)  # releases the probe's lock too


def session_state(path: str | os.PathLike) -> str:
    """CLOSED (HDF5 marks it closed), RECORDING (a live recorder holds it) or
    NEEDS_REPAIR (marked open for writing, and no recorder holds it)."""
    if being_recorded(path):
        return RECORDING
    return NEEDS_REPAIR if open_flags(path) & WRITE_ACCESS else CLOSED


def repair_command(path: str | os.PathLike) -> str:
    """The command line that repairs ``path``, ready to paste into a shell."""
    return f"thermorig repair {shlex.quote(str(path))}"


def repair_advice(path: str | os.PathLike) -> str:
    """One line for a session that needs repair: what happened, what it means, the fix."""
    return (
        f"{Path(path).name} was not closed by its recorder (killed or crashed): thermorig"
        f" reads it, other HDF5 programs refuse it until you run: {repair_command(path)}"
    )
