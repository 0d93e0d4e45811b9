"""LabelStore: edits, undo/redo, journal recovery after a kill, protection of reviewed rows."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from app.labels.history import MIN_HISTORY
from app.labels.journal import Journal
from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_NONE,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelReader,
    LabelsError,
)
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from drivers.locks import LockHeld
from drivers.session import SessionReader
from tests.scene3d import apart, make_rig, write_session

N = 4
CLASSES = ["background", "left_calf", "right_calf"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "legs.h5"
    write_session(path, make_rig(), [0.0, 0.01, 0.02, 0.03], scene=apart)
    with SessionReader(path) as s:
        masks = [s.frame("thermal", i).truth["labels"] for i in range(N)]
    return path, masks


@pytest.fixture
def labels(session, tmp_path):
    path, masks = session
    out = tmp_path / "legs.labels.h5"
    with LabelWriter(out, session=path, classes=CLASSES) as w:
        w.create_stream("thermal", N, masks[0].shape, extras=("confidence",))
        for i, m in enumerate(masks[:3]):  # frame 3 stays unlabeled
            w.write("thermal", i, m, SOURCE_PROJECTED, confidence=[1.0, 0.9 - 0.2 * i, 0.8])
    return path, out, masks


def _stroke(mask, y, x, r=5, value=1):
    m = mask.copy()
    m[y - r : y + r, x - r : x + r] = value
    return m


def test_edit_undo_redo_and_status_are_saved_exactly(labels):
    session, out, masks = labels
    with LabelStore.open(out, session) as st:
        assert st.status("thermal").tolist() == [0, 0, 0, 0]
        painted = _stroke(st.mask("thermal", 0), 50, 60)
        assert st.set_mask("thermal", 0, painted)
        assert not st.set_mask("thermal", 0, painted)  # nothing changed: no step
        st.accept("thermal", 1)
        st.reject("thermal", 2)
        assert st.undo() == ("thermal", 2)
        assert st.status("thermal")[2] == STATUS_UNREVIEWED
        assert st.redo() == ("thermal", 2)
        assert st.propagate("thermal", 0, 3)
        assert st.undo() == ("thermal", 3)
        assert st.undo() == ("thermal", 2)
        assert st.redo() == ("thermal", 2)
        assert st.redo() == ("thermal", 3)
        assert st.redo() is None
    with LabelReader(out) as lr:
        assert np.array_equal(lr.mask("thermal", 0), painted)
        assert np.array_equal(lr.mask("thermal", 3), painted)
        assert np.array_equal(lr.mask("thermal", 1), masks[1])
        assert lr.array("thermal", "status").tolist() == [
            STATUS_CORRECTED, STATUS_ACCEPTED, STATUS_REJECTED, STATUS_CORRECTED
        ]  # fmt: skip
        # painting keeps where the mask came from; a painted empty row becomes manual
        assert lr.array("thermal", "source").tolist() == [
            SOURCE_PROJECTED, SOURCE_PROJECTED, SOURCE_PROJECTED, SOURCE_MANUAL
        ]  # fmt: skip
        assert lr.array("thermal", "edited").tolist() == [1, 0, 0, 1]
    assert Journal.path_for(out).stat().st_size < 200  # only the header is left


def test_undo_of_a_stroke_restores_the_mask_and_its_flags(labels):
    session, out, masks = labels
    with LabelStore.open(out, session) as st:
        st.set_mask("thermal", 3, _stroke(st.mask("thermal", 3), 20, 20, value=2))
        assert st.source("thermal")[3] == SOURCE_MANUAL
        st.undo()
        assert (st.mask("thermal", 3) == 255).all()
        assert st.source("thermal")[3] == SOURCE_NONE and not st.edited("thermal")[3]
        assert st.can_redo and not st.can_undo


def test_history_keeps_at_least_a_hundred_steps(labels):
    session, out, masks = labels
    with LabelStore.open(out, session) as st:
        m = st.mask("thermal", 0)
        for k in range(MIN_HISTORY + 20):
            m[k, :3] = 1 + k % 2
            st.set_mask("thermal", 0, m)
        for _ in range(MIN_HISTORY):
            assert st.undo() is not None
        expected = masks[0].copy()
        for k in range(20):
            expected[k, :3] = 1 + k % 2
        assert np.array_equal(st.mask("thermal", 0), expected)


KILL_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from app.labels.store import LabelStore
    st = LabelStore.open(sys.argv[1], sys.argv[2])
    m = st.mask("thermal", 0)
    m[10:20, 10:20] = 2
    st.set_mask("thermal", 0, m)          # stroke 1, completed
    st.reject("thermal", 1)
    m[30:40, 30:40] = 1
    st.set_mask("thermal", 0, m)          # stroke 2, completed
    st.undo()                              # stroke 2 undone
    print("done", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)
    """
)


def test_a_killed_editor_loses_no_completed_stroke(labels):
    session, out, masks = labels
    before = out.read_bytes()
    proc = subprocess.run(
        [sys.executable, "-c", KILL_SCRIPT, str(out), str(session)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert proc.returncode == -signal.SIGKILL and "done" in proc.stdout
    assert out.read_bytes() == before  # the sidecar itself was never written in place
    with pytest.raises(LabelsError, match="unsaved review edit"):
        LabelReader(out)  # readers refuse a sidecar whose edits are still in the journal
    expected = masks[0].copy()
    expected[10:20, 10:20] = 2
    with LabelStore.open(out, session) as st:
        assert st.recovered == 4
        assert np.array_equal(st.mask("thermal", 0), expected)
        assert st.status("thermal").tolist()[:2] == [STATUS_CORRECTED, STATUS_REJECTED]
        assert st.can_redo  # the undone stroke can still be redone
    with LabelReader(out) as lr:
        assert np.array_equal(lr.mask("thermal", 0), expected)


def test_a_torn_last_record_is_dropped_and_the_rest_kept(labels):
    session, out, masks = labels
    st = LabelStore.open(out, session)
    st.accept("thermal", 0)
    st.accept("thermal", 1)
    st.close(save=False)  # as if killed: the edits stay in the journal
    jp = Journal.path_for(out)
    data = jp.read_bytes()
    jp.write_bytes(data[:-7])  # a kill in the middle of writing the second record
    with LabelStore.open(out, session) as st2:
        assert st2.recovered == 1
        assert st2.status("thermal").tolist()[:2] == [STATUS_ACCEPTED, STATUS_UNREVIEWED]


def test_a_journal_of_an_earlier_generation_is_not_replayed(labels):
    """Killed after the new sidecar replaced the old one but before the journal reset."""
    session, out, masks = labels
    st = LabelStore.open(out, session)
    st.reject("thermal", 0)
    stale = Journal.path_for(out).read_bytes()
    st.close()
    st = LabelStore.open(out, session)
    st.accept("thermal", 1)  # not saved: this journal replaces the stale one below
    st.close(save=False)  # as if killed: the edits stay in the journal
    Journal.path_for(out).write_bytes(stale)
    with LabelStore.open(out, session) as st2:
        assert st2.recovered == 0
        assert st2.status("thermal").tolist()[:2] == [STATUS_REJECTED, STATUS_UNREVIEWED]


def test_machine_runs_never_overwrite_a_persons_rows(labels):
    session, out, masks = labels
    with LabelStore.open(out, session) as st:
        st.set_mask("thermal", 0, _stroke(st.mask("thermal", 0), 50, 60))
        st.set_status("thermal", 0, STATUS_UNREVIEWED)  # edited, then set back
        st.accept("thermal", 1)
        edited = st.mask("thermal", 0)
    with LabelWriter(out, session=session, classes=CLASSES) as w:
        w.create_stream("thermal", N, masks[0].shape)
        written = [
            w.write("thermal", i, np.zeros_like(masks[0]), SOURCE_PROJECTED) for i in range(N)
        ]
    assert written == [False, False, True, True]
    with LabelReader(out) as lr:
        assert np.array_equal(lr.mask("thermal", 0), edited)
        assert np.array_equal(lr.mask("thermal", 1), masks[1])
        assert (lr.mask("thermal", 2) == 0).all()


def test_a_machine_run_refuses_while_review_edits_are_unsaved(labels):
    session, out, masks = labels
    st = LabelStore.open(out, session)
    st.accept("thermal", 0)
    with pytest.raises(LockHeld, match=r"is being written by .*\(pid \d+, this program\)"):
        LabelWriter(out, session=session, classes=CLASSES)  # the editor holds the file
    st.close(save=False)  # as if killed: the edit stays in the journal
    with pytest.raises(LabelsError, match="1 unsaved review edit"):
        LabelWriter(out, session=session, classes=CLASSES)
    with LabelStore.open(out, session) as st:
        assert st.recovered == 1
    LabelWriter(out, session=session, classes=CLASSES).abort()  # saved: no longer refused


def test_queue_is_worst_first_and_skips_reviewed_frames(labels):
    session, out, masks = labels
    with LabelStore.open(out, session) as st:
        # frame confidences 0.8, 0.5, 0.4, none
        assert st.queue("thermal").tolist() == [3, 2, 1, 0]
        st.accept("thermal", 2)
        assert st.queue("thermal").tolist() == [3, 1, 0, 2]
        assert st.next_unreviewed("thermal", 1) == 3
        assert st.next_unreviewed("thermal", 3) == 0


def test_bad_input_is_a_clear_error_and_writes_nothing(labels, tmp_path):
    session, out, masks = labels
    other = tmp_path / "other.h5"
    write_session(other, make_rig(), [0.0, 0.01], scene=apart)
    before = out.read_bytes()
    with pytest.raises(LabelsError, match="another session"):
        LabelStore.open(out, other)
    with LabelStore.open(out, session) as st:
        with pytest.raises(LabelsError, match="class id 7"):
            st.set_mask("thermal", 0, np.full(masks[0].shape, 7, np.uint8))
        with pytest.raises(LabelsError, match="not"):
            st.set_mask("thermal", 0, np.zeros((4, 4), np.uint8))
        assert not st.dirty
    assert out.read_bytes() == before


def test_a_session_without_labels_gets_an_empty_sidecar(session, tmp_path):
    path, masks = session
    out = tmp_path / "new.labels.h5"
    with LabelStore.open(out, path) as st:
        assert st.count("thermal") == N and (st.mask("thermal", 0) == 255).all()
        assert st.source("thermal").tolist() == [SOURCE_NONE] * N
    assert out.exists() and not os.path.exists(str(out) + ".tmp")
