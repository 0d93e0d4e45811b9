"""The one rule for every path a command writes, checked before any work is done.

A command never replaces a file it did not create for this output — a session, an
image, a rig, another command's CSV — unless the person passes ``--overwrite``, and
never an input of the same run, not even with ``--overwrite``: ``stats A.h5 --csv B.h5``
once turned a 21 MB session into 652 bytes of CSV, and ``calibrate-images DIR --out
DIR/img.png`` replaced one of the images it had just read. Each output also has to
look like what it is (a CSV ends in ``.csv``), its folder must exist, and no two
outputs of a run may name the same file.

The checks run together, before the command reads its inputs, so a run that would fail
on an output fails before it writes anything (``calibrate --report FILE`` used to write
the rig first). Files are compared by identity (device and inode), so a symbolic or a
hard link to an input is that input. Label files are the one kind a command updates in
place: an :class:`Output` with ``update`` accepts an existing file once ``update``
(which raises if the file is not of its kind) has passed it; their writer keeps every
row a person made.

``drivers`` is the lowest layer, so every command, the window's record panel and the
calibration and model code can use this one module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fnmatch import fnmatch
from pathlib import Path

from drivers.errors import ThermorigError

SESSION_SUFFIXES = (".h5", ".hdf5")
RIG_JSON_SUFFIXES = (".json",)
RIG_YAML_SUFFIXES = (".yaml", ".yml")
CSV_SUFFIXES = (".csv",)


class OutputError(ThermorigError):
    """An output path the command must not or cannot write."""


@dataclass(frozen=True)
class Output:
    """One output of a run. ``flag`` is how the person named it (``--csv``; "" for a
    positional argument). A file output accepts names ending in one of ``suffixes``
    (any when empty); ``update`` marks a kind the command updates in place (label files)
    and raises a ThermorigError for an existing file not of that kind. A folder output
    (``folder=True``) is created with its parents; with ``members`` (fnmatch patterns of
    the files the command writes there) an existing folder is used and only those files
    count as outputs, without ``members`` the folder must be new or empty."""

    flag: str
    path: Path
    suffixes: tuple[str, ...] = ()
    folder: bool = False
    members: tuple[str, ...] = ()
    update: Callable[[Path], None] | None = None

    @property
    def name(self) -> str:
        return f"{self.flag} {self.path}" if self.flag else str(self.path)


def file_output(
    flag: str,
    path: str | os.PathLike,
    suffixes: tuple[str, ...] = (),
    update: Callable[[Path], None] | None = None,
) -> Output:
    """A file the command writes whole (atomically)."""
    return Output(flag, Path(path), suffixes=suffixes, update=update)


def folder_output(flag: str, path: str | os.PathLike, members: tuple[str, ...] = ()) -> Output:
    """A folder the command writes files into (see :class:`Output`)."""
    return Output(flag, Path(path), folder=True, members=members)


def _identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of what ``path`` names after following links; None if nothing."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def _key(path: Path) -> tuple[int, int] | str:
    """What two outputs are compared by: the file's identity, else its resolved path."""
    return _identity(path) or os.path.realpath(path)


def _exists(path: Path) -> bool:
    return os.path.lexists(path)


def _no_overwrite_hint(overwrite: bool | None) -> str:
    if overwrite is None:
        return "choose a new name (an existing file is never replaced here)"
    return "choose another name, or pass --overwrite to replace it"


def _check_file(out: Output, inputs: dict[tuple[int, int], Path], overwrite: bool | None):
    path = out.path
    if path.is_dir():
        raise OutputError(f"{out.name} is a folder; give a file name")
    ident = _identity(path)
    if ident is not None and ident in inputs:
        raise OutputError(
            f"{out.name} is {inputs[ident]}, an input of this run; write to another file"
            " (inputs are never replaced, not even with --overwrite)"
        )
    if out.suffixes and path.suffix.lower() not in out.suffixes:
        raise OutputError(
            f"{out.name}: this output is a {'/'.join(out.suffixes)} file; give a name"
            f" ending in {' or '.join(out.suffixes)}"
        )
    if not path.parent.is_dir():
        where = f"for {out.flag} " if out.flag else ""
        raise OutputError(f"folder {where}does not exist: {path.parent}; create it first")
    if not _exists(path):
        return
    if out.update is not None:
        out.update(path)
    elif not overwrite:
        raise OutputError(f"{out.name} already exists; {_no_overwrite_hint(overwrite)}")


def _check_folder(out: Output, inputs: dict[tuple[int, int], Path], overwrite: bool | None):
    path = out.path
    ancestor = path
    while not _exists(ancestor) and ancestor.parent != ancestor:
        ancestor = ancestor.parent
    if _exists(ancestor) and not ancestor.is_dir():
        what = "is a file" if ancestor == path else f"is inside {ancestor}, a file"
        raise OutputError(f"{out.name} {what}; give a folder")
    if not path.is_dir():
        return
    ident = _identity(path)
    if ident in inputs:
        raise OutputError(
            f"{out.name} is {inputs[ident]}, an input folder of this run; give another folder"
        )
    if not out.members:
        if any(path.iterdir()):
            raise OutputError(f"{out.name} exists and is not empty; give a new folder")
        return
    for entry in sorted(path.iterdir()):
        if not any(fnmatch(entry.name, pattern) for pattern in out.members):
            continue
        if _identity(entry) in inputs:
            raise OutputError(
                f"{out.name} would replace {entry}, an input of this run; give another folder"
            )
        if not overwrite:
            raise OutputError(
                f"{out.name} already holds {entry.name}; choose another folder"
                + ("" if overwrite is None else ", or pass --overwrite to replace it")
            )


def _check_distinct(outputs: list[Output]) -> None:
    seen: dict[tuple[int, int] | str, Output] = {}
    for out in outputs:
        key = _key(out.path)
        if key in seen:
            raise OutputError(
                f"{seen[key].flag or seen[key].path} and {out.flag or out.path} name the"
                f" same {'folder' if out.folder else 'file'} {out.path}; give each its own"
            )
        seen[key] = out
    folders = [o for o in outputs if o.folder and o.members]
    for out in outputs:
        for f in folders:
            if out.folder or _key(out.path.parent) != _key(f.path):
                continue
            if any(fnmatch(out.path.name, pattern) for pattern in f.members):
                raise OutputError(
                    f"{out.name} is a file {f.flag or 'the command'} writes into {f.path};"
                    " give it another name"
                )


def check_outputs(
    outputs: Iterable[Output],
    inputs: Iterable[str | os.PathLike | None] = (),
    *,
    overwrite: bool | None = False,
) -> None:
    """Refuse, in one line, a run whose outputs break the rule (see the module
    docstring). ``inputs`` are every file and folder the run reads; entries that do not
    exist (a spec such as ``truth``, None) are ignored. ``overwrite`` is the command's
    ``--overwrite``; None for a command without one (its messages then do not offer it).
    """
    outputs = list(outputs)
    known: dict[tuple[int, int], Path] = {}
    for p in inputs:
        if p is None or p == "":
            continue
        ident = _identity(Path(p))
        if ident is not None:
            known.setdefault(ident, Path(p))
    for out in outputs:
        if out.folder:
            _check_folder(out, known, overwrite)
        else:
            _check_file(out, known, overwrite)
    _check_distinct(outputs)
