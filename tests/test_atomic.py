"""drivers.atomic: a write replaces the target only when complete, and leaves no litter."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from drivers import atomic
from drivers.atomic import atomic_path, atomic_write, publish_new, replace_durably, temp_beside


class Boom(Exception):
    pass


def test_atomic_write_replaces_the_target_on_success(tmp_path):
    target = tmp_path / "rig.json"
    target.write_text("old")
    with atomic_write(target) as fh:
        fh.write("new")
        assert target.read_text() == "old"  # Not yet: only when the block ends.
    assert target.read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["rig.json"]


def test_atomic_write_binary_and_open_options(tmp_path):
    with atomic_write(tmp_path / "a.bin", "wb") as fh:
        fh.write(b"\x00\x01")
    with atomic_write(tmp_path / "a.csv", newline="", encoding="utf-8") as fh:
        fh.write("é\r\n")
    assert (tmp_path / "a.bin").read_bytes() == b"\x00\x01"
    assert (tmp_path / "a.csv").read_bytes() == "é\r\n".encode()


def test_an_exception_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "rig.json"
    target.write_text("old")
    with pytest.raises(Boom), atomic_write(target) as fh:
        fh.write("half")
        raise Boom
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["rig.json"]


def test_an_exception_creates_no_target_where_there_was_none(tmp_path):
    with pytest.raises(Boom), atomic_path(tmp_path / "new.h5") as tmp:
        tmp.write_bytes(b"half")
        raise Boom
    assert list(tmp_path.iterdir()) == []


def test_atomic_path_gives_a_hidden_name_beside_the_target(tmp_path):
    target = tmp_path / "labels.h5"
    with atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".labels.h5.")
        tmp.write_bytes(b"written by name")
    assert target.read_bytes() == b"written by name"
    assert not tmp.exists()


def test_temp_beside_then_replace_durably(tmp_path):
    target = tmp_path / "x.txt"
    tmp = temp_beside(target)
    assert tmp.exists() and tmp.stat().st_size == 0
    tmp.write_text("kept across calls")
    replace_durably(tmp, target)
    assert target.read_text() == "kept across calls" and not tmp.exists()


def test_atomic_write_refuses_append_and_update_modes(tmp_path):
    with pytest.raises(ValueError, match="whole file"), atomic_write(tmp_path / "x", "a"):
        pass
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("hard_links", [True, False], ids=["hard-link", "no-hard-links"])
def test_publish_new_never_replaces_an_existing_file(tmp_path, monkeypatch, hard_links):
    if not hard_links:  # FAT and some network drives: link() fails, a checked rename follows

        def no_link(src, dst):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(atomic.os, "link", no_link)
    taken = tmp_path / "taken.h5"
    taken.write_bytes(b"precious")
    tmp = temp_beside(taken)
    tmp.write_bytes(b"new")
    with pytest.raises(FileExistsError):
        publish_new(tmp, taken)
    assert taken.read_bytes() == b"precious" and tmp.read_bytes() == b"new"
    publish_new(tmp, tmp_path / "free.h5")
    assert (tmp_path / "free.h5").read_bytes() == b"new" and not tmp.exists()


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_file_gets_the_usual_mode_not_0600(tmp_path, umask_022):
    assert atomic.current_umask() == 0o022
    with atomic_write(tmp_path / "rig.json") as fh:
        fh.write("{}")
    assert stat.S_IMODE(os.stat(tmp_path / "rig.json").st_mode) == 0o644


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o600])
def test_a_replaced_file_keeps_its_mode(tmp_path, umask_022, mode):
    target = tmp_path / "labels.h5"
    target.write_text("old")
    target.chmod(mode)
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(os.stat(target).st_mode) == mode


def test_label_and_rig_files_are_readable_by_the_group_and_others(tmp_path, umask_022):
    from calibration.rig import Rig
    from drivers.synthetic.camera import rig_dict, true_cameras
    from tests.thermal_sessions import write_labels, write_thermal_session

    session = write_thermal_session(tmp_path / "s.h5", np.full((2, 4, 4), 30.0))
    labels = write_labels(tmp_path / "s.labels.h5", session, np.zeros((2, 4, 4), np.uint8))
    rig = tmp_path / "rig.json"
    cams = true_cameras({"thermal": (160, 120), "depth": (160, 120), "color": (320, 240)})
    Rig.from_dict(rig_dict(cams, "")).save(rig)
    for path in (labels, rig):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644, path
