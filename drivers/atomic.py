"""Atomic file writes: a temporary file beside the target replaces it only when complete.

Rig files, label sidecars, their journals and CSV exports must never be left half
written by a crash or a full disk: a reader would then find neither the old file nor
the new one. Every writer goes through here so the sequence (temp file in the same
folder, fsync, ``os.replace``, fsync of the folder, the temp file removed on failure)
is written once. ``drivers`` is the lowest layer, so ``calibration``, ``models`` and
``app`` may all use it.

The temporary file gets the mode the written file should end with: a new file the
usual one (0666 less the umask, as ``open`` would give it), a replaced file its own —
``mkstemp``'s private 0600 would otherwise hide every rig and label file from the rest
of a lab's group, even one that was 0644 before.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from drivers.write_failures import WRITE_ERRNOS, error_number, left_as_it_was, write_error


def temp_beside(path: str | os.PathLike) -> Path:
    """A new, empty, hidden temporary file in ``path``'s folder (same file system, so
    ``os.replace`` is atomic), for writers that keep it across calls."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, _mode_for(path))
    except (OSError, AttributeError):  # no fchmod (Windows), or a file system without modes
        pass
    finally:
        os.close(fd)
    return Path(tmp)


def _mode_for(path: Path) -> int:
    """The permission bits ``path`` should have once written: its own if it exists, else
    those a plain ``open`` would create it with."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        return 0o666 & ~current_umask()


def current_umask() -> int:
    """The process's umask. Linux shows it in /proc; elsewhere it is read by setting and
    restoring it (which is not thread-safe, hence the /proc route first)."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def replace_durably(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Flush ``tmp`` to disk, then make it ``path`` in one step and record the rename."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(Path(path).parent)


def publish_new(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Like :func:`replace_durably`, but never replaces an existing ``path``: a hard
    link makes ``tmp`` appear as ``path`` only if no such name exists (FileExistsError
    otherwise; ``tmp`` stays). File systems without hard links (FAT) get a plain
    rename after a last check."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:
        if os.path.lexists(path):
            raise FileExistsError(errno.EEXIST, "file exists", str(path)) from None
        os.replace(tmp, path)
    else:
        os.unlink(tmp)
    fsync_dir(Path(path).parent)


def fsync_dir(path: str | os.PathLike) -> None:
    """Put a folder's entries (a rename) on disk; a no-op where the platform can't."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write by name (h5py, OpenCV, copies);
    it replaces ``path`` when the block ends normally and is removed on any exception
    (a full or read-only disk comes out as a one-line
    :class:`~drivers.write_failures.WriteError`, still an OSError)."""
    kept = left_as_it_was(path)
    try:
        tmp = temp_beside(path)
    except OSError as exc:
        raise write_error(exc, path, kept) from exc
    try:
        yield tmp
        replace_durably(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if error_number(exc) in WRITE_ERRNOS:  # a full disk, a read-only one: one line
            raise write_error(exc, path, kept) from exc
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "w", **open_kwargs: Any) -> Iterator[IO]:
    """Yield the open temporary file (``open(tmp, mode, **open_kwargs)``); it replaces
    ``path`` when the block ends normally and is removed on any exception."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_write writes a whole file: mode 'w' or 'wb', not {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **open_kwargs) as fh:
        yield fh
