"""The sessions of a study: from its index (``study.json``), a folder searched for
sessions, or a glob of session files.

Label files, exports and other HDF5 files beside the sessions are left out: a
session is an HDF5 file whose name does not end in one of the sidecar suffixes.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from drivers.errors import ThermorigError
from drivers.study import INDEX_NAME, read_study

#: Names that are not sessions (label sidecars, chunk and temporary files).
NOT_SESSIONS = (".labels.h5", ".model.h5", ".partial.h5")


def _is_session(p: Path) -> bool:
    return (
        p.suffix == ".h5"
        and not p.name.startswith(".")
        and not any(p.name.endswith(s) for s in NOT_SESSIONS)
        and ".thermorig-batch" not in p.parts
    )


def find_sessions(spec: str | os.PathLike) -> tuple[Path, list[Path]]:
    """(the study's root folder, its sessions in a stable order).

    A folder with ``study.json``: the sessions it lists (in the index's order); any
    other folder: every session file under it, sorted; else a glob pattern (quoted,
    so the shell leaves it alone) or one session file. The root is where the batch
    state and report go: the folder, or the deepest folder all matches share."""
    p = Path(spec)
    if p.is_dir():
        if (p / INDEX_NAME).is_file():
            study = read_study(p)
            found = [p / x.path for _, x in study.sessions()]
            missing = [str(x) for x in found if not x.is_file()]
            if missing:
                raise ThermorigError(
                    f"{p}: the study index lists sessions that are not there: {missing[0]}"
                    + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                )
            return p, found
        found = sorted(x for x in p.rglob("*.h5") if _is_session(x))
        if not found:
            raise ThermorigError(f"{p}: no sessions (.h5) in this folder or below")
        return p, found
    if p.is_file():
        return p.parent, [p]
    found = sorted(Path(x) for x in glob.glob(str(spec), recursive=True))
    found = [x for x in found if x.is_file() and _is_session(x)]
    if not found:
        raise ThermorigError(f"{spec}: no study folder, session file or matching sessions")
    root = Path(os.path.commonpath([str(x.parent.resolve()) for x in found]))
    return root, found


def session_key(root: Path, session: Path) -> str:
    """A file-name-safe name of a session, unique within the study (its path below
    the root with ``/`` as ``__``), for the batch state's per-session files."""
    try:
        rel = session.resolve().relative_to(root.resolve())
    except ValueError:
        rel = Path(session.name)
    return "__".join(rel.with_suffix("").parts)
