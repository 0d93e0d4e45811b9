"""Where a file dialog starts: in the folder in use, not in the home folder.

A technician who records into ``D:/lab/2026-12`` and then opens a session expects the
dialog there; starting in the home folder every time means clicking through the same
folders again. The window lists the folders that could be "in use" for a dialog, most
specific first (the session being replayed, the recording just saved, the folder the
last dialog of the kind ended in, the recording folder); the first that exists wins.
"""

from __future__ import annotations

from pathlib import Path


def start_folder(*candidates: str | Path | None) -> Path:
    """The first candidate that exists (a file: its folder; ``~`` expanded). If none
    does, the nearest existing folder above the first candidate (a recording folder
    typed but not made yet), unless that is the file system's root; else home."""
    paths = [Path(c).expanduser() for c in candidates if c not in (None, "")]
    for path in paths:
        if path.is_dir():
            return path
        if path.is_file():
            return path.parent
    for parent in paths[0].absolute().parents if paths else ():
        if parent.is_dir():
            if parent != parent.parent:
                return parent
            break
    return Path.home()
