"""Small valid inputs, and the ways a person's files break them (issue 14, cases 7-8).

Every broken input starts as a copy of a valid one and changes one thing, so a test
failing names exactly what the reader missed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import h5py

from app.cli import main
from tests.scene3d import apart, make_rig, write_session

#: Frames of the small leg session (eight frames: "8/8 frames labeled").
LEG_FRAMES = 8


def run_cli(capsys, *argv: object) -> tuple[int, str, str]:
    """``thermorig ARGV``: exit code, stdout, stderr."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, *fragments: str) -> str:
    """Exit 2 and exactly one stderr line holding every fragment; that line."""
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}, stderr: {err[-2000:]}"
    assert len(lines) == 1, f"{len(lines)} stderr lines: {err[-2000:]}"
    for f in fragments:
        assert f in lines[0], f"{f!r} not in {lines[0]!r}"
    return lines[0]


def leg_session(path: Path, **options) -> Path:
    """Eight frames of two legs seen by the small three-camera rig, with truth."""
    write_session(path, make_rig(), [0.01 * i for i in range(LEG_FRAMES)], scene=apart, **options)
    return path


def broken_copy(src: Path, dst: Path, edit: Callable[[h5py.File], None]) -> Path:
    """A copy of the HDF5 file ``src`` with ``edit`` applied to it."""
    shutil.copy(src, dst)
    with h5py.File(dst, "r+") as f:
        edit(f)
    return dst


def replace_dataset(f: h5py.File, path: str, data) -> None:
    """Put ``data`` where dataset ``path`` was (another dtype, shape or values)."""
    del f[path]
    f.create_dataset(path, data=data)
