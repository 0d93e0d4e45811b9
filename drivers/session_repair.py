"""Repairs a session whose recorder died: a normal, closed file every HDF5 reader opens.

A recorder killed mid-way leaves its file marked "open for write"
(:mod:`drivers.session_state`) and its per-frame datasets longer than the frames
complete in them (``count``, :mod:`drivers.session`). Clearing the mark in place, as
HDF5's ``h5clear`` does, would modify the raw recording and keep the incomplete rows.
Instead the file is read as SWMR readers read it and copied into a new one
(:mod:`drivers.session_copy`): same groups, attributes, dtypes, chunking, filters and
fill values, every per-frame dataset trimmed to its complete rows, frame chunks copied
as stored. An event records the interruption and the repair.

The copy is verified before anything else happens. Then it replaces the original in one
rename, and the original's bytes stay beside it as ``SESSION.h5.unrepaired`` (a hard
link: no copy, no extra disk space) until the person has checked the result; or, with
``out``, the copy is written there and the original is not touched.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py

from drivers.atomic import atomic_path, fsync_dir, publish_new, replace_durably, temp_beside
from drivers.errors import SessionError, one_line
from drivers.outputs import SESSION_SUFFIXES, check_outputs, file_output
from drivers.session import SessionReader, open_h5
from drivers.session_copy import copy_trimmed, verify_copy
from drivers.session_state import CLOSED, RECORDING, WRITE_ACCESS, open_flags, session_state
from drivers.version import thermorig_version
from drivers.write_failures import h5_for_writing

#: Appended to the session's file name for the original kept after an in-place repair.
BACKUP_SUFFIX = ".unrepaired"
#: How the event a repair appends to /events/text begins.
EVENT_PREFIX = "recording interrupted"
#: Free space kept on top of the repaired file's expected size.
_SPARE_BYTES = 64 * 2**20

Progress = Callable[[int, int], None]


@dataclass
class RepairResult:
    """What :func:`repair_session` did; ``repaired`` False: the file needed nothing."""

    path: Path
    out: Path
    repaired: bool
    backup: Path | None = None
    frames: dict[str, int] = field(default_factory=dict)  # complete frames kept
    event: str = ""
    seconds: float = 0.0
    bytes_before: int = 0
    bytes_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d.update(path=str(self.path), out=str(self.out))
        d["backup"] = None if self.backup is None else str(self.backup)
        return d


def backup_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.name + BACKUP_SUFFIX)


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return st.st_ino, st.st_size, st.st_mtime_ns


def _utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _plan(reader: SessionReader) -> tuple[dict[str, int], dict[str, int], float]:
    """Rows to keep per group (complete frames, events, gaps), frames per stream, and
    the host-clock time of the interruption: the last complete frame or event."""
    rows: dict[str, int] = {}
    frames: dict[str, int] = {}
    last = -math.inf
    for name in reader.streams:
        n = frames[name] = rows[f"/streams/{name}"] = rows[f"/truth/{name}"] = reader.count(name)
        if n:
            last = max(last, float(reader.timestamps(name)[-1]))
    events = reader.events()
    rows["/events"] = len(events)
    rows["/gaps"] = len(reader.gaps())
    if events:
        last = max(last, events[-1][0])
    return rows, frames, last if math.isfinite(last) else 0.0


def _event_text(frames: dict[str, int]) -> str:
    kept = ", ".join(f"{name} {n}" for name, n in frames.items())
    return (
        f"{EVENT_PREFIX}: the recorder stopped without closing the file (killed, crashed or"
        f" lost power); repaired {_utc_now()} by thermorig {thermorig_version()},"
        f" complete frames kept: {kept}"
    )


def _append_event(dst: h5py.File, when: float, text: str) -> None:
    if "events/time" not in dst or "events/text" not in dst:
        raise SessionError("the session has no /events to record the repair in; it is damaged")
    ev = dst["events"]
    n = ev["time"].shape[0]  # trimmed to the events complete
    for key, value in (("time", when), ("text", text)):
        ev[key].resize(n + 1, axis=0)
        ev[key][n] = value
    if "count" in ev:
        ev["count"][0] = n + 1


def _check_target(path: Path, out: Path | None, size: int) -> None:
    if out is not None:  # A new file only: repair has no --overwrite.
        check_outputs([file_output("--out", out, SESSION_SUFFIXES)], [path], overwrite=None)
    else:
        backup = backup_path(path)
        if backup.exists() and not backup.samefile(path):
            raise SessionError(
                f"{backup} already exists (kept by an earlier repair?); move it away, then"
                " repair again"
            )
    folder = (out or path).parent
    free = shutil.disk_usage(folder).free
    if free < size + _SPARE_BYTES:
        raise SessionError(
            f"repairing needs about {(size + _SPARE_BYTES) // 2**20} MB free in {folder},"
            f" there are {free // 2**20} MB; free space or repair with --out elsewhere"
        )


def _keep_original(path: Path, backup: Path) -> bool:
    """``backup`` becomes a second name of the original's bytes; True if made now."""
    if backup.exists():  # left by an interrupted repair; _check_target made sure it is ours
        return False
    try:
        os.link(path, backup)
    except OSError:  # no hard links on this file system (FAT, some network drives)
        with atomic_path(backup) as tmp:
            shutil.copyfile(path, tmp)
    fsync_dir(backup.parent)
    return True


def _replace(path: Path, tmp: Path) -> Path:
    """Keep the original's bytes as the backup, then put the repaired copy in its place."""
    backup = backup_path(path)
    made = _keep_original(path, backup)
    try:
        replace_durably(tmp, path)
    except OSError as exc:
        if made:
            backup.unlink()  # another name of the bytes still at ``path``
        raise SessionError(
            f"cannot replace {path} ({one_line(exc)}); is it open in another program?"
            " Close it, or repair with --out NEW.h5"
        ) from exc
    return backup


def repair_session(
    path: str | os.PathLike, out: str | os.PathLike | None = None, progress: Progress | None = None
) -> RepairResult:
    """Make a session whose recorder died a normal closed one (see the module doc).

    Raises SessionError for a missing, non-session or truncated file, a file still being
    recorded, an existing ``out``; returns ``repaired=False`` for a closed session.
    """
    start = time.perf_counter()
    path = Path(path)
    out = None if out is None else Path(out)
    with SessionReader(path) as reader:  # not found, not HDF5, not a session, truncated
        before = _stamp(path)
        state = session_state(path)
        if state == RECORDING:
            raise SessionError(
                f"{path} is still being recorded by a running thermorig; stop that recording"
                " first (repair is for recordings that were killed or crashed)"
            )
        if state == CLOSED:
            return RepairResult(path, path, repaired=False, bytes_before=before[1])
        rows, frames, when = _plan(reader)
    _check_target(path, out, before[1])
    tmp = temp_beside(out or path)
    try:
        with open_h5(path) as src, h5_for_writing(tmp, "w", libver="latest") as dst:
            copied = copy_trimmed(src, dst, rows, progress)
            text = _event_text(frames)
            _append_event(dst, when, text)
        try:
            verify_copy(path, tmp, rows, copied, progress, appended={"/events": 1})
        except SessionError as exc:
            raise SessionError(f"{exc}; {path} was left unchanged") from exc
        if open_flags(tmp) & WRITE_ACCESS:
            raise SessionError(f"the repaired copy of {path} is still marked open; kept nothing")
        shutil.copymode(path, tmp)  # the temporary file was made private
        if _stamp(path) != before:
            raise SessionError(
                f"{path} changed while it was being repaired; is it still being recorded?"
                " Stop the recording, then repair again"
            )
        backup = None
        if out is None:
            backup = _replace(path, tmp)
        else:
            try:
                publish_new(tmp, out)
            except FileExistsError:
                raise SessionError(f"{out} appeared while repairing; choose a new name") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    final = out or path
    return RepairResult(
        path,
        final,
        repaired=True,
        backup=backup,
        frames=frames,
        event=text,
        seconds=round(time.perf_counter() - start, 3),
        bytes_before=before[1],
        bytes_after=final.stat().st_size,
    )
