"""A failed write told in one line, and HDF5 files let go of when they cannot be written.

A full disk, a read-only file system (a write-protected card, a share mounted
read-only) and a folder without write permission each ask something else of the
person, but an OSError says which only in its errno — and HDF5 buries the errno in a
message over several lines ("file write failed: time = ..., errno = 28, error message
= 'No space left on device', ..."). :func:`write_error` reads it either way and names
the problem, the file and the folder; :func:`check_writable` says it before any work.

HDF5 cannot give up a file it failed to write: its close flushes again, fails again,
and leaves the file open; h5py then retries whenever one of the file's objects is
freed (a traceback each: autolabel on a full disk printed 164) and the interpreter
crashes at exit (a segfault, the temporary file left behind). Nor can a file whose
close has failed be closed again (that crashes at once). So the file is let go
*before* any close: :func:`discard_h5` points the file's descriptor at the null
device, and the close that follows writes nowhere and succeeds. The bytes already on
disk stay as they were — for a session, everything up to its last flush.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from drivers.errors import DiskFullError, ThermorigError, one_line

#: errno values that mean "no room": the disk, the user's quota.
NO_ROOM = {errno.ENOSPC, errno.EDQUOT}
#: errno values of a failed write that a person can act on, each with its own advice
#: in :func:`write_error` (other errors pass through as they are).
WRITE_ERRNOS = {*NO_ROOM, errno.EFBIG, errno.EROFS, errno.EACCES, errno.EPERM}
_ERRNO_IN_TEXT = re.compile(r"errno\s*=\s*(\d+)")


def error_number(exc: BaseException) -> int | None:
    """The operating system's errno behind ``exc``: HDF5's own (in its message) first,
    since h5py's ``errno`` attribute is its guess from HDF5's error class."""
    found = _ERRNO_IN_TEXT.search(str(exc))
    if found:
        return int(found.group(1))
    number = getattr(exc, "errno", None)
    return number if isinstance(number, int) else None


def free_mb(folder: Path) -> int:
    try:
        return shutil.disk_usage(folder).free // 2**20
    except OSError:
        return 0


def folder_problem(folder: str | os.PathLike) -> str:
    """Why nothing can be written in ``folder`` ("" if it can): a read-only file system
    or a folder without write permission, the only two a person can tell apart."""
    statvfs = getattr(os, "statvfs", None)
    try:
        if statvfs is not None and statvfs(folder).f_flag & os.ST_RDONLY:
            return f"{folder} is on a read-only file system"
    except OSError:
        return ""  # a missing folder: the caller's own check says so
    if not os.access(folder, os.W_OK):
        return f"no permission to write in {folder}"
    return ""


def check_writable(folder: str | os.PathLike, what: str = "the output") -> None:
    """ThermorigError (one line) before any work if ``folder`` cannot be written."""
    problem = folder_problem(folder)
    if problem:
        raise WriteError(f"cannot write {what}: {problem}; write elsewhere")


def nearly_full(folder: Path, free: int) -> DiskFullError:
    """A recording stopped (or refused) before the disk fills: it keeps a margin."""
    return DiskFullError(
        f"disk nearly full: {free // 2**20} MB free in {folder}; free space or record elsewhere"
    )


def left_as_it_was(path: str | os.PathLike) -> str:
    """What a failed or stopped write of ``path`` left: the old file, or nothing."""
    name = Path(path).name
    return f"{name} is unchanged" if os.path.lexists(path) else f"no {name} made"


class WriteError(ThermorigError, OSError):
    """A write that failed, in one line; still an OSError for code that catches those
    (the window's save dialogs)."""


class NoRoomError(DiskFullError, WriteError):
    """A write that failed for want of space (the disk, a quota)."""


def write_error(exc: BaseException, target: str | os.PathLike, kept: str = "") -> ThermorigError:
    """The one-line error for writing ``target`` failing with ``exc``; ``kept`` says
    what survived ("the old file is unchanged"). One already told is returned as is."""
    if isinstance(exc, ThermorigError):
        return exc
    target = Path(target)
    folder = target.parent
    number = error_number(exc)
    tail = f"; {kept}" if kept else ""
    if number in NO_ROOM:
        error: WriteError = NoRoomError(
            f"disk full: could not write {target} ({free_mb(folder)} MB free in {folder}){tail};"
            " free space or write elsewhere"
        )
    elif number == errno.EFBIG:
        error = WriteError(
            f"could not write {target}: the file grew larger than the file system or a limit"
            f" allows (FAT holds 4 GB per file){tail}; write elsewhere"
        )
    elif number == errno.EROFS:
        error = WriteError(
            f"could not write {target}: {folder} is on a read-only file system{tail};"
            " write elsewhere"
        )
    elif number in (errno.EACCES, errno.EPERM):
        error = WriteError(
            f"could not write {target}: permission denied in {folder}{tail}; write elsewhere"
        )
    else:
        error = WriteError(f"could not write {target}: {one_line(exc)}{tail}")
    error.errno = number
    return error


def os_error_line(exc: OSError) -> str:
    """An OSError nobody caught, in one line: what the system said (HDF5's errno
    decoded), and the file."""
    number = error_number(exc)
    text = os.strerror(number) if number else one_line(exc)
    return f"{text}: {exc.filename}" if getattr(exc, "filename", None) else text


def discard_h5(f: Any) -> None:
    """Close the h5py file ``f`` without writing another byte to it (see the module
    doc); never raises. Call it instead of ``close`` once a write to ``f`` has failed,
    never after a failed close."""
    try:
        if not f.id.valid:
            return
        fd = f.id.get_vfd_handle()
    except Exception:  # noqa: BLE001 - already closed, or a driver without a descriptor
        fd = None
    if isinstance(fd, int) and fd >= 0:
        null = os.open(os.devnull, os.O_RDWR)
        try:
            os.dup2(null, fd)
        finally:
            os.close(null)
    try:
        f.close()
    except Exception:  # noqa: BLE001 - nothing more can be done for it
        pass


@contextmanager
def h5_for_writing(path: str | os.PathLike, mode: str = "w", **kwargs: Any) -> Iterator[Any]:
    """``h5py.File(path, mode, **kwargs)`` that is flushed then closed at the end of
    the block, or discarded (:func:`discard_h5`) if the block or the flush fails — for
    files written to a temporary path that a failure throws away."""
    import h5py  # only the writers of HDF5 files pay for it

    f = h5py.File(path, mode, **kwargs)
    try:
        yield f
        f.flush()  # a full disk fails here, while the file can still be let go
    except BaseException:
        discard_h5(f)
        raise
    f.close()
