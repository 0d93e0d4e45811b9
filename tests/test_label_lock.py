"""One writer per label file, bound to its session (issue 14, cases 2 and 3).

The scenarios run as the issue ran them: real processes — `thermorig autolabel` and
`thermorig infer` on the command line, a review editor (a LabelStore in its own
process, as the review window holds it) killed with SIGKILL — on a 60-frame session.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import h5py
import numpy as np
import pytest

from app.cli import main
from app.labels.sidecar import (
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    LabelReader,
    LabelsError,
)
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from drivers.locks import LockFile, LockHeld, read_holder
from tests.scene3d import apart, make_rig, write_session

N = 60
CLASSES = ["background", "left_calf", "right_calf"]
THERMORIG = [sys.executable, "-m", "app.cli"]
REPO = Path(__file__).resolve().parents[1]

#: A review editor in its own process: a LabelStore driven line by line on stdin.
EDITOR = textwrap.dedent(
    """
    import sys
    from app.labels.store import LabelStore
    st = LabelStore.open(sys.argv[1], sys.argv[2])
    print("open", st.recovered, flush=True)
    for line in sys.stdin:
        cmd, *arg = line.split()
        if cmd == "paint":  # a 10x10 square of class 2 at (5, 5): one stroke
            m = st.mask("thermal", int(arg[0]))
            m[5:15, 5:15] = 2
            st.set_mask("thermal", int(arg[0]), m)
        elif cmd == "accept":
            st.accept("thermal", int(arg[0]))
        elif cmd == "save":
            st.save()
        elif cmd == "close":
            st.close()
        print("ok", cmd, flush=True)
    """
)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Two different 60-frame sessions of the leg scene (T's legs move, U's stand)."""
    folder = tmp_path_factory.mktemp("lock")
    t, u = folder / "T.h5", folder / "U.h5"
    write_session(t, make_rig(), [0.002 * i for i in range(N)], scene=apart, rig_in_session=True)
    write_session(u, make_rig(), [0.05] * N, scene=apart, rig_in_session=True)
    return t, u


@pytest.fixture
def session(sessions, tmp_path):
    """T.h5 in its own folder, with `thermorig autolabel`'s labels beside it."""
    path = tmp_path / "S.h5"
    shutil.copyfile(sessions[0], path)
    assert main(["autolabel", str(path), "--rgb-labels", "truth", "-q"]) == 0
    return path, tmp_path / "S.labels.h5"


def thermorig(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*THERMORIG, *map(str, args)], capture_output=True, text=True, timeout=120, cwd=REPO
    )


class Editor:
    """The editor process; every command waits for its acknowledgement."""

    def __init__(self, labels: Path, session: Path):
        self.proc = subprocess.Popen(
            [sys.executable, "-c", EDITOR, str(labels), str(session)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO,
        )  # fmt: skip
        assert self.proc.stdout.readline().startswith("open")

    def __call__(self, *commands: str) -> None:
        for c in commands:
            self.proc.stdin.write(c + "\n")
            self.proc.stdin.flush()
            assert self.proc.stdout.readline().strip() == f"ok {c.split()[0]}"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def close(self) -> None:
        self("close")
        self.proc.stdin.close()
        assert self.proc.wait(30) == 0


def painted(mask: np.ndarray) -> np.ndarray:
    m = mask.copy()
    m[5:15, 5:15] = 2
    return m


def refusal(proc: subprocess.CompletedProcess, holder: str, pid: int, labels: Path) -> None:
    """Exit 2, one line naming the file, the holder's command and pid, and the time."""
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1, err
    assert f"{labels.name} is being written by `{holder}` (pid {pid}) since " in err
    assert err.endswith("; close it or wait")


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*THERMORIG, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO
    )


def _caught_writing(proc: subprocess.Popen, folder: Path) -> bool:
    """Wait until ``proc`` writes its temporary label file (by then it holds the lock
    and has read the old file), and stop it there: True. False if it ended first."""
    deadline = time.monotonic() + 60
    while not list(folder.glob(".S.labels.h5.*.tmp")):
        if proc.poll() is not None:
            return False
        assert time.monotonic() < deadline, "never started writing"
        time.sleep(0.001)
    proc.send_signal(signal.SIGSTOP)
    return True


def _finish(proc: subprocess.Popen) -> subprocess.CompletedProcess:
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def test_autolabel_while_a_person_saves_review_edits_is_refused(session, tmp_path):
    """Case 2: autolabel, started while the editor was open, ended "60/60 labeled" and
    replaced the file the person had just saved: every edit gone."""
    path, labels = session
    with LabelReader(labels) as r:
        before = {i: r.mask("thermal", i) for i in (3, 7)}
    editor = Editor(labels, path)
    editor("paint 3", "accept 4", "save")  # saved: nothing pending in the journal
    auto = _start("autolabel", str(path), "--rgb-labels", "truth", "-q")
    _caught_writing(auto, tmp_path)
    editor("paint 7", "save")  # the person saves while autolabel runs (or was refused)
    auto = _finish(auto)
    editor.close()
    with LabelReader(labels) as r:  # every edit is in the file
        assert np.array_equal(r.mask("thermal", 3), painted(before[3]))
        assert np.array_equal(r.mask("thermal", 7), painted(before[7]))
        status = r.array("thermal", "status")
        assert status[[3, 4, 7]].tolist() == [STATUS_CORRECTED, STATUS_ACCEPTED, STATUS_CORRECTED]
    refusal(auto, "thermorig review", editor.proc.pid, labels)
    assert not LockFile.path_for(labels).exists()  # released, and its file removed
    sidecar = labels.read_bytes()
    done = thermorig("autolabel", path, "--rgb-labels", "truth", "-q")
    assert done.returncode == 0, done.stderr
    assert "57/60" in done.stdout and "3 frames: reviewed rows kept" in done.stdout
    assert labels.read_bytes() != sidecar
    with LabelReader(labels) as r:  # merged around the person's rows
        assert np.array_equal(r.mask("thermal", 7), painted(before[7]))
        assert r.array("thermal", "status")[[3, 4, 7]].tolist() == status[[3, 4, 7]].tolist()


def test_autolabel_and_infer_at_once_the_second_is_refused(session, tmp_path):
    """Case 2: both said "wrote" and the last one won."""
    path, labels = session
    labels.unlink()
    first = _start("autolabel", str(path), "--rgb-labels", "truth", "-q")
    try:
        assert _caught_writing(first, tmp_path)
        second = thermorig("infer", path, "--model", "thermal-calf-seg", "-q")
        refusal(second, "thermorig autolabel", first.pid, labels)
        holder = read_holder(LockFile.path_for(labels))
        assert holder.pid == first.pid and holder.command == "thermorig autolabel"
        with pytest.raises(LockHeld):  # the review window is refused too
            LabelStore.open(labels, path)
    finally:
        first = _finish(first)
    assert first.returncode == 0 and first.stdout.startswith(f"wrote {labels}: 60/60")
    with LabelReader(labels) as r:  # autolabel's file, whole
        assert (r.array("thermal", "source") == SOURCE_PROJECTED).all()
    assert thermorig("infer", path, "--model", "thermal-calf-seg", "-q").returncode == 0


def test_an_editor_killed_after_an_autolabel_run_loses_no_edit(session, tmp_path):
    """Case 2: journaled edits + an autolabel commit + the editor killed: "recovered 0"."""
    path, labels = session
    with LabelReader(labels) as r:
        before = {i: r.mask("thermal", i) for i in (2, 9)}
    editor = Editor(labels, path)
    auto = _start("autolabel", str(path), "--rgb-labels", "truth", "-q")
    _caught_writing(auto, tmp_path)
    editor("paint 2", "accept 5", "paint 9")  # journaled while autolabel runs
    auto = _finish(auto)
    editor.kill()
    assert editor.proc.returncode == -signal.SIGKILL
    with LabelStore.open(labels, path) as st:
        assert st.recovered == 3 and st.recovery_note == ""
        assert np.array_equal(st.mask("thermal", 2), painted(before[2]))
        assert np.array_equal(st.mask("thermal", 9), painted(before[9]))
        assert st.status("thermal")[5] == STATUS_ACCEPTED
        st.close(save=False)  # killed again: the edits stay in the journal
    refusal(auto, "thermorig review", editor.proc.pid, labels)
    # The lock died with the editor; its edits still stop every machine run.
    again = thermorig("autolabel", path, "--rgb-labels", "truth", "-q")
    assert again.returncode == 2 and "3 unsaved review edit(s)" in again.stderr
    assert "thermorig review" in again.stderr and len(again.stderr.splitlines()) == 1
    LabelStore.open(labels, path).close()  # review recovers them and saves
    done = thermorig("autolabel", path, "--rgb-labels", "truth", "-q")
    assert done.returncode == 0 and "3 frames: reviewed rows kept" in done.stdout
    with LabelReader(labels) as r:
        assert np.array_equal(r.mask("thermal", 9), painted(before[9]))


def _replace_behind_its_back(labels: Path, rows: dict[int, int]) -> None:
    """What a writer that takes no lock (an old thermorig, a file system without locks,
    a restored copy) does: a new version of the file, some rows' masks set to a class."""
    copy = labels.with_name("elsewhere.h5")
    shutil.copyfile(labels, copy)
    with h5py.File(copy, "r+") as f:
        for i, k in rows.items():
            f["thermal"]["masks"][i] = k
        f.attrs["generation"] = uuid.uuid4().hex
    os.replace(copy, labels)


def test_edits_of_a_killed_editor_are_replayed_onto_a_replaced_file(session):
    """The generation rule: a journal of a replaced file was dropped as stale."""
    path, labels = session
    with LabelReader(labels) as r:
        before = r.mask("thermal", 2)
    editor = Editor(labels, path)
    editor("paint 2", "accept 5")
    _replace_behind_its_back(labels, {2: 1, 9: 1})
    editor.kill()
    with LabelStore.open(labels, path) as st:
        assert st.recovered == 2
        assert "replayed 2 review edit(s) of frames 2, 5 onto S.labels.h5" in st.recovery_note
        assert "replaced while they were unsaved" in st.recovery_note
        new_base = np.ones_like(before)
        assert np.array_equal(st.mask("thermal", 2), painted(new_base))  # the person's pixels
        assert st.status("thermal")[5] == STATUS_ACCEPTED
        assert (st.mask("thermal", 9) == 1).all()  # the new file's rows otherwise
        st.undo()  # undo takes a replayed edit back, to the file as it is now
        st.undo()
        assert np.array_equal(st.mask("thermal", 2), new_base)
        st.redo()
        st.redo()
    with LabelReader(labels) as r:
        assert np.array_equal(r.mask("thermal", 2), painted(new_base))


def test_an_open_editor_does_not_save_over_a_replaced_file(session):
    path, labels = session
    st = LabelStore.open(labels, path)
    st.set_mask("thermal", 4, painted(st.mask("thermal", 4)))
    _replace_behind_its_back(labels, {4: 1})
    replaced = labels.read_bytes()
    with pytest.raises(LabelsError, match="replaced by another program while open"):
        st.close()
    assert labels.read_bytes() == replaced and not LockFile.path_for(labels).exists()
    with LabelStore.open(labels, path) as st:  # the edit comes back, onto the new file
        assert st.recovered == 1
        assert np.array_equal(st.mask("thermal", 4), painted(np.ones_like(st.mask("thermal", 0))))


def test_a_stale_lock_file_of_a_killed_writer_blocks_nobody(session):
    path, labels = session
    editor = Editor(labels, path)
    editor.kill()
    assert LockFile.path_for(labels).exists()  # left behind, but nobody holds it
    assert thermorig("autolabel", path, "--rgb-labels", "truth", "-q").returncode == 0
    assert not LockFile.path_for(labels).exists()


def test_writing_another_sessions_label_file_is_refused(sessions, tmp_path, capsys):
    """Case 3: `autolabel U.h5 --out T.labels.h5` carried T's reviewed rows into U's file
    as accepted, and T's labels were then refused for T."""
    t, u = (Path(shutil.copyfile(s, tmp_path / s.name)) for s in sessions)
    t_labels = tmp_path / "T.labels.h5"
    assert main(["autolabel", str(t), "--rgb-labels", "truth", "-q"]) == 0
    with LabelStore.open(t_labels, t) as st:
        st.accept("thermal", 0)
        st.set_mask("thermal", 1, painted(st.mask("thermal", 1)))
    before = t_labels.read_bytes()
    capsys.readouterr()
    code = main(["autolabel", str(u), "--rgb-labels", "truth", "--out", str(t_labels), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{t_labels} holds the labels of another session ({t.absolute()}), not {u}" in err
    assert t_labels.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp")) and not LockFile.path_for(t_labels).exists()
    with LabelReader(t_labels) as r:
        r.check_session(t)  # still T's
        assert r.array("thermal", "status")[:2].tolist() == [STATUS_ACCEPTED, STATUS_CORRECTED]
    with pytest.raises(LabelsError, match="another session"):  # every writer, not just autolabel
        LabelWriter(t_labels, session=u, classes=CLASSES)
    # A new file is anybody's: U's labels go where they are told.
    assert (
        main(["autolabel", str(u), "--rgb-labels", "truth", "--out", str(tmp_path / "U2.h5")]) == 0
    )
