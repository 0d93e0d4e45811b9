"""``thermorig repair``: a recording killed with SIGKILL made a normal session file."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import h5py
import numpy as np
import pytest

from app.cli import main
from drivers import session_copy
from drivers.errors import SessionError
from drivers.recorder import SessionWriter
from drivers.session import SessionReader, open_h5
from drivers.session_repair import EVENT_PREFIX, backup_path, repair_session
from drivers.session_state import (
    CLOSED,
    NEEDS_REPAIR,
    RECORDING,
    SWMR_WRITE_ACCESS,
    WRITE_ACCESS,
    open_flags,
    session_state,
)
from drivers.version import thermorig_version
from tests.fakes import STREAM_IDS, FakeRig, write_fake_session

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX-only")

REPO = Path(__file__).resolve().parents[1]


def _cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _counts(path: Path) -> dict[str, int]:
    with SessionReader(path) as reader:
        return {name: reader.count(name) for name in reader.streams}


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """A real ``thermorig record`` (replaying a 30 fps fake rig) killed with SIGKILL
    about a second in, and what ``repair`` and ``info`` said while it still ran."""
    folder = tmp_path_factory.mktemp("killed")
    source = folder / "source.h5"
    write_fake_session(source, FakeRig(duration=6.0, scale=4, fps=dict.fromkeys(STREAM_IDS, 30.0)))
    path = folder / "killed.h5"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "record", str(path), "--source", f"replay:{source}"]
        + ["-q"],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
            try:  # opening fails for the moment HDF5 creates the file
                if min(_counts(path).values(), default=0) >= 20:
                    break
            except SessionError:
                continue
        assert proc.poll() is None and min(_counts(path).values()) >= 20, proc.stderr.read()
        live = {
            "repair": _cli("repair", str(path), "-q"),
            "info": _cli("info", "--json", str(path)),
        }
        live["counts"] = _counts(path)
        time.sleep(0.6)  # the recording goes on, undisturbed
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    return path, live


@pytest.fixture
def damaged(killed, tmp_path) -> Path:
    """This test's own copy of the killed recording (its bytes, flags included)."""
    path = tmp_path / "session.h5"
    shutil.copyfile(killed[0], path)
    return path


def test_a_recording_still_running_is_refused(killed):
    path, live = killed
    rc, out, err = live["repair"]
    assert rc == 2 and out == ""
    assert err.count("\n") == 1 and "still being recorded by a running thermorig" in err
    info = json.loads(live["info"][1])
    assert info["state"] == RECORDING and info["needs_repair"] is False
    after = _counts(path)
    assert all(after[n] > c for n, c in live["counts"].items()), "it recorded on"
    assert not backup_path(path).exists()


def test_plain_h5py_refuses_a_killed_recording_and_info_says_repair(damaged):
    assert (
        open_flags(damaged) & (WRITE_ACCESS | SWMR_WRITE_ACCESS) == WRITE_ACCESS | SWMR_WRITE_ACCESS
    )
    assert session_state(damaged) == NEEDS_REPAIR
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(damaged, "r")
    rc, out, _ = _cli("info", str(damaged))
    assert rc == 0 and f"run: thermorig repair {damaged}" in out.splitlines()[3]
    d = json.loads(_cli("info", "--json", str(damaged))[1])
    assert d["needs_repair"] is True and d["state"] == NEEDS_REPAIR
    assert d["repair_command"] == f"thermorig repair {damaged}"


def test_repair_keeps_every_complete_frame_and_the_original_bytes(damaged):
    original = _sha(damaged)
    with SessionReader(damaged) as reader, open_h5(damaged) as swmr:
        counts = {name: reader.count(name) for name in reader.streams}
        events = reader.events()
        want = {
            name: {
                key: group[key][: counts[name]]
                for key in ("frames", "timestamps", "indices", "device_timestamps", "meta")
            }
            | {f"truth/{k}": v[: counts[name]] for k, v in swmr[f"truth/{name}"].items()}
            for name, group in swmr["streams"].items()
        }
        root_attrs = dict(swmr.attrs)
    assert min(counts.values()) >= 20
    rc, out, err = _cli("repair", str(damaged), "-q")
    backup = backup_path(damaged)
    assert rc == 0 and err == "", err
    assert out.startswith(f"repaired {damaged}: complete frames kept thermal {counts['thermal']}")
    assert f"original kept as {backup}: delete it once you have checked" in out
    assert _sha(backup) == original, "the backup is the original's bytes"
    assert sorted(p.name for p in damaged.parent.iterdir()) == [
        "session.h5",
        "session.h5.unrepaired",
    ]
    assert open_flags(damaged) == 0 and session_state(damaged) == CLOSED
    with h5py.File(damaged, "r") as f:  # plain h5py, no SWMR
        assert dict(f.attrs).keys() == root_attrs.keys()
        for name, rows in want.items():
            g = f[f"streams/{name}"]
            assert g["frames"].shape[0] == g["count"][0] == counts[name]
            assert g["frames"].chunks == (1, *g["frames"].shape[1:])
            assert "32026" in g["frames"]._filters, "still Blosc2"
            for key, values in rows.items():
                got = (
                    g[key][()] if not key.startswith("truth/") else f[f"truth/{name}/{key[6:]}"][()]
                )
                assert np.array_equal(got, values, equal_nan=values.dtype.kind == "f"), (name, key)
        texts = [t.decode() for t in f["events/text"][()]]
        assert f["events/count"][0] == len(texts) == len(events) + 1
    event = texts[-1]
    assert event.startswith(EVENT_PREFIX) and f"by thermorig {thermorig_version()}" in event
    assert ", ".join(f"{n} {c}" for n, c in counts.items()) in event
    with SessionReader(damaged) as reader:
        assert reader.events()[-1][0] == max(float(w["timestamps"][-1]) for w in want.values())
    d = json.loads(_cli("info", "--json", str(damaged))[1])
    assert d["needs_repair"] is False and d["repair_command"] is None
    repaired = _sha(damaged)
    rc, out, _ = _cli("repair", str(damaged))
    assert (
        rc == 0 and out == f"{damaged} needs no repair: it was closed normally; nothing changed\n"
    )
    assert _sha(damaged) == repaired and _sha(backup) == original


def test_out_writes_a_new_file_and_leaves_the_original_alone(damaged, tmp_path):
    original = _sha(damaged)
    counts = _counts(damaged)
    new = tmp_path / "sub" / "repaired.h5"
    new.parent.mkdir()
    rc, out, _ = _cli("repair", str(damaged), "--out", str(new), "-q", "--json")
    result = json.loads(out)
    assert rc == 0 and result["out"] == str(new) and result["backup"] is None
    assert result["frames"] == counts and result["bytes_after"] == new.stat().st_size
    assert _sha(damaged) == original and not backup_path(damaged).exists()
    assert sorted(p.name for p in new.parent.iterdir()) == ["repaired.h5"]
    with h5py.File(new, "r") as f:
        assert {n: f[f"streams/{n}/frames"].shape[0] for n in counts} == counts


def test_out_never_replaces_an_existing_file(damaged, tmp_path):
    original = _sha(damaged)
    existing = tmp_path / "taken.h5"
    existing.write_bytes(b"precious")
    rc, out, err = _cli("repair", str(damaged), "--out", str(existing))
    assert rc == 2 and out == "" and err.count("\n") == 1 and "already exists" in err
    assert existing.read_bytes() == b"precious" and _sha(damaged) == original


def test_a_backup_name_already_taken_is_refused(damaged):
    backup_path(damaged).write_bytes(b"someone's file")
    rc, _, err = _cli("repair", str(damaged))
    assert rc == 2 and "already exists" in err and "move it away" in err
    assert backup_path(damaged).read_bytes() == b"someone's file"


def _not_a_session(tmp_path: Path) -> Path:
    path = tmp_path / "other.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    return path


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda d: d / "missing.h5", "not found"),
        (lambda d: (d / "notes.h5").write_text("hello") and d / "notes.h5", "not an HDF5 file"),
        (_not_a_session, "not a thermorig session"),
    ],
    ids=["missing", "not-hdf5", "not-a-session"],
)
def test_what_is_not_a_session_is_refused_in_one_line(tmp_path, make, expected):
    path = make(tmp_path)
    before = sorted(tmp_path.iterdir())
    rc, out, err = _cli("repair", str(path))
    assert rc == 2 and out == "" and err.count("\n") == 1 and expected in err
    assert sorted(tmp_path.iterdir()) == before


def test_a_closed_session_needs_no_repair(tmp_path):
    path = tmp_path / "closed.h5"
    write_fake_session(path)
    before = _sha(path)
    rc, out, _ = _cli("repair", str(path), "--out", str(tmp_path / "new.h5"))
    assert rc == 0 and "needs no repair" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["closed.h5"] and _sha(path) == before


def test_a_copy_that_fails_verification_replaces_nothing(damaged, monkeypatch):
    original = _sha(damaged)
    copy_dataset = session_copy._Copy.dataset

    def corrupting(self, src, parent, name):
        copy_dataset(self, src, parent, name)
        if name == "frames" and src.parent.name == "/streams/depth":
            parent["frames"][3] = parent["frames"][3] + 1  # one frame re-encoded, altered

    monkeypatch.setattr(session_copy._Copy, "dataset", corrupting)
    with pytest.raises(SessionError, match=r"differs from the original: chunk \(3, 0, 0\)"):
        repair_session(damaged)
    assert _sha(damaged) == original
    assert [p.name for p in damaged.parent.iterdir()] == ["session.h5"]


def test_a_file_that_changes_while_being_repaired_is_not_replaced(damaged):
    original = _sha(damaged)

    def touch(done: int, total: int) -> None:  # a writer the lock did not catch
        os.utime(damaged, ns=(time.time_ns(), time.time_ns() + 10**9))

    with pytest.raises(SessionError, match="changed while it was being repaired"):
        repair_session(damaged, progress=touch)
    assert _sha(damaged) == original
    assert [p.name for p in damaged.parent.iterdir()] == ["session.h5"]


def test_a_recording_in_this_process_is_being_recorded(tmp_path):
    path = tmp_path / "live.h5"
    rig = FakeRig(duration=0.3)
    rig.open()
    with SessionWriter(path, rig.streams, rig.info, min_free_bytes=0) as writer:
        for frame in rig.frames():
            writer.write(frame)
        writer.flush()
        assert session_state(path) == RECORDING
        with pytest.raises(SessionError, match="still being recorded"):
            repair_session(path)
    assert session_state(path) == CLOSED


def test_the_window_tells_how_to_repair_a_session_it_opens(qtbot, damaged, tmp_path):
    from app.ui.main.source_panel import replay_spec
    from tests.ui_support import make_window

    window = make_window(qtbot, tmp_path, None)
    assert window.open_source(replay_spec(damaged))
    assert f"run: thermorig repair {damaged}" in window.statusBar().currentMessage()


def test_without_hard_links_the_original_is_copied_beside(damaged, monkeypatch):
    from drivers import session_repair

    def no_link(src, dst):  # FAT, some network drives
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(session_repair.os, "link", no_link)
    original = _sha(damaged)
    repair_session(damaged)
    backup = backup_path(damaged)
    assert _sha(backup) == original and not backup.samefile(damaged)
    assert sorted(p.name for p in damaged.parent.iterdir()) == [
        "session.h5",
        "session.h5.unrepaired",
    ]
    with h5py.File(damaged, "r") as f:
        assert f["events/text"][-1].decode().startswith(EVENT_PREFIX)
