"""The superblock check that keeps a SWMR reader from retrying a damaged file for
minutes (found by tests/test_fuzz_readers.py: one zeroed byte made `info` hang)."""

from __future__ import annotations

import time

import h5py
import numpy as np
import pytest

from drivers.errors import SessionError
from drivers.hdf5_superblock import lookup3, superblock_problem
from drivers.session import SessionReader
from tests.thermal_sessions import write_labels, write_thermal_session


def test_lookup3_matches_the_checksums_hdf5_writes(tmp_path):
    """Superblocks of both versions thermorig writes (3: sessions, 2: label files)."""
    session = write_thermal_session(tmp_path / "s.h5", np.full((2, 4, 6), 30.0))
    labels = write_labels(tmp_path / "s.labels.h5", session, np.zeros((2, 4, 6), np.uint8))
    for path, version in ((session, 3), (labels, 2)):
        head = path.read_bytes()[:48]
        assert head[8] == version and superblock_problem(path) is None
        assert lookup3(head[:44]) == int.from_bytes(head[44:48], "little")
    old = tmp_path / "old.h5"
    with h5py.File(old, "w") as f:  # HDF5 1.6 format: no checksum to check
        f["x"] = 1
    assert superblock_problem(old) is None


def test_a_session_with_a_damaged_superblock_is_refused_at_once(tmp_path):
    session = write_thermal_session(tmp_path / "s.h5", np.full((2, 4, 6), 30.0))
    data = bytearray(session.read_bytes())
    data[30] ^= 0x02  # the end-of-file address: a SWMR open retried this for minutes
    session.write_bytes(bytes(data))
    t0 = time.monotonic()
    with pytest.raises(SessionError, match="superblock fails its checksum; the file is damaged"):
        SessionReader(session)
    assert time.monotonic() - t0 < 5
