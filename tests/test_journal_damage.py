"""A review journal that survives damage (issue 14, case 4).

One flipped byte must cost at most the record it lands in: every intact record before
and after it is recovered, the damaged journal is kept aside before anything rewrites
it, and the person is told what came back and what did not. Records that pass their
CRC but cannot apply to the file are set aside, never crash review and never stop the
other commands from reading the file.
"""

from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest

from app.cli import main
from app.labels.journal import Change, Journal, Record, pack, scan
from app.labels.recovery import FLAG_LIMITS
from app.labels.sidecar import (
    SOURCE_NAMES,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_NAMES,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelReader,
    LabelsError,
)
from app.labels.sidecar_writer import LabelWriter
from app.labels.store import LabelStore
from drivers.session import SessionReader
from tests.scene3d import apart, make_rig, write_session

N = 6
CLASSES = ["background", "left_calf", "right_calf"]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("damage") / "legs.h5"
    write_session(path, make_rig(), [0.002 * i for i in range(N)], scene=apart)
    with SessionReader(path) as s:
        masks = np.stack([s.frame("thermal", i).truth["labels"] for i in range(N)])
    return path, masks


@pytest.fixture
def edited(session, tmp_path):
    """Labels of the session beside it, and a journal of 4 edits a killed editor left:
    paint frame 1, accept 2, paint 3, reject 4. Returns the paths, the journal's
    bytes, where each record starts and ends, and the expected masks and statuses."""
    path, masks = session
    here = tmp_path / "legs.h5"
    here.symlink_to(path)
    labels = tmp_path / "legs.labels.h5"
    with LabelWriter(labels, session=here, classes=CLASSES) as w:
        w.create_stream("thermal", N, masks.shape[1:])
        for i in range(N):
            w.write("thermal", i, masks[i], SOURCE_PROJECTED)
    st = LabelStore.open(labels, here)
    expected = masks.copy()
    expected[1, 5:15, 5:15] = expected[3, 5:15, 15:25] = 2
    st.set_mask("thermal", 1, expected[1])
    st.accept("thermal", 2)
    st.set_mask("thermal", 3, expected[3])
    st.reject("thermal", 4)
    st.close(save=False)  # as if killed: the edits are only in the journal
    journal = Journal.path_for(labels)
    data = journal.read_bytes()
    bounds = _record_bounds(data)
    assert len(bounds) == 5  # the header and 4 edits
    status = [STATUS_UNREVIEWED, STATUS_CORRECTED, STATUS_ACCEPTED, STATUS_CORRECTED]
    status += [STATUS_REJECTED, STATUS_UNREVIEWED]
    return here, labels, journal, data, bounds, expected, status


def _record_bounds(data: bytes) -> list[tuple[int, int]]:
    out, pos = [], 0
    while pos < len(data):
        n = int.from_bytes(data[pos + 4 : pos + 8], "little")
        out.append((pos, pos + 12 + n))
        pos += 12 + n
    return out


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x40]) + data[at + 1 :]


def _one_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def _others_refuse(here, labels, capsys, pending: int) -> None:
    """stats, export and evaluate: one line, exit 2, the pending edits named."""
    out = here.parent / "export"
    for argv in (
        ["stats", str(here), "-q"],
        ["export", str(here), "--out", str(out), "--status", "unreviewed", "-q"],
        ["evaluate", str(labels), "--truth", str(here)],
    ):
        assert main(argv) == 2, argv
        assert f"{pending} unsaved review edit(s)" in _one_line(capsys)


def test_a_flipped_byte_in_the_header_loses_no_edit(edited, capsys):
    here, labels, journal, data, bounds, expected, status = edited
    damaged = _flip(data, bounds[0][0] + 30)  # inside the header's JSON
    journal.write_bytes(damaged)
    _others_refuse(here, labels, capsys, 4)  # they used to ignore the 4 intact edits
    assert journal.read_bytes() == damaged  # reading never rewrites it
    with LabelStore.open(labels, here) as st:
        assert st.recovered == 4
        assert "replayed 4 review edit(s) of frames 1, 2, 3, 4 onto legs.labels.h5" in (
            st.recovery_note
        )
        assert "the journal's header is damaged" in st.recovery_note
        assert "kept as legs.labels.h5.journal.damaged" in st.recovery_note
        assert np.array_equal(st.mask("thermal", 1), expected[1])
        assert st.status("thermal").tolist() == status
    assert journal.with_name(journal.name + ".damaged").read_bytes() == damaged
    with LabelReader(labels) as r:
        assert np.array_equal(r.mask("thermal", 3), expected[3])
        assert r.array("thermal", "status").tolist() == status
    assert main(["stats", str(here), "-q"]) == 0


def test_the_rewritten_journal_holds_the_recovered_edits(edited):
    """Review rewrites the journal after a recovery: killed again, nothing is lost."""
    here, labels, journal, data, bounds, expected, status = edited
    journal.write_bytes(_flip(data, bounds[0][0] + 30))
    st = LabelStore.open(labels, here)
    st.close(save=False)
    assert len(journal.read_bytes()) > len(data) // 2  # not a bare header
    with LabelStore.open(labels, here) as st:
        assert st.recovered == 4 and st.recovery_note == ""  # whole, this generation's
        assert st.status("thermal").tolist() == status


def test_a_flipped_byte_in_record_2_drops_that_record_only(edited, capsys):
    here, labels, journal, data, bounds, expected, status = edited
    start, end = bounds[2]  # the second edit: accept frame 2
    damaged = _flip(data, (start + end) // 2)
    journal.write_bytes(damaged)
    _others_refuse(here, labels, capsys, 3)
    with LabelStore.open(labels, here) as st:
        assert st.recovered == 3
        note = st.recovery_note
        assert note.startswith("legs.labels.h5.journal: recovered 3 review edit(s)")
        assert f"1 damaged record(s) ({end - start} bytes) could not be read" in note
        assert "kept as legs.labels.h5.journal.damaged" in note
        assert np.array_equal(st.mask("thermal", 3), expected[3])  # after the damage
        assert st.status("thermal").tolist() == status[:2] + [STATUS_UNREVIEWED] + status[3:]
    assert journal.with_name(journal.name + ".damaged").read_bytes() == damaged


@pytest.mark.parametrize(
    "change, why",
    [
        (Change("thermal", 999, 0, 0, np.zeros((1, 1), np.uint8), np.ones((1, 1), np.uint8),
                (1, 0, 0), (1, 2, 1)), "frame 999 is beyond thermal's 6 rows"),
        (Change("nope", 0, 0, 0, np.zeros((0, 0), np.uint8), np.zeros((0, 0), np.uint8),
                (1, 0, 0), (1, 1, 0)), "stream 'nope' is not in the file"),
        (Change("thermal", 0, 0, 0, np.zeros((2, 2), np.uint8), np.full((2, 2), 9, np.uint8),
                (1, 0, 0), (1, 2, 1)), "class id 9 is not one of the file's 3 classes"),
    ],
)  # fmt: skip
def test_a_record_with_a_valid_crc_but_impossible_content_is_set_aside(edited, capsys, change, why):
    here, labels, journal, data, bounds, expected, status = edited
    header = data[: bounds[0][1]]
    journal.write_bytes(header + pack(Record("do", "brush", [change])))
    # Alone, it blocks nobody: every command reads the file.
    assert main(["stats", str(here), "-q"]) == 0
    assert main(["evaluate", str(labels), "--truth", str(here)]) == 0
    capsys.readouterr()
    # With the 4 real edits around it: review recovers those and sets it aside.
    journal.write_bytes(
        data[: bounds[2][1]] + pack(Record("do", "x", [change])) + data[bounds[2][1] :]
    )
    with LabelStore.open(labels, here) as st:
        assert st.recovered == 4
        assert f"1 impossible edit(s) set aside ({why})" in st.recovery_note
        assert st.status("thermal").tolist() == status
    assert journal.with_name(journal.name + ".damaged").exists()
    assert main(["stats", str(here), "-q"]) == 0


def test_a_damaged_journal_never_replaces_an_earlier_copy(edited):
    here, labels, journal, data, bounds, expected, status = edited
    first = journal.with_name(journal.name + ".damaged")
    first.write_bytes(b"an earlier damaged journal")
    journal.write_bytes(_flip(data, bounds[1][0] + 20))
    LabelStore.open(labels, here).close(save=False)
    assert first.read_bytes() == b"an earlier damaged journal"
    assert journal.with_name(journal.name + ".damaged.1").read_bytes() == _flip(
        data, bounds[1][0] + 20
    )


def test_a_journal_with_nothing_readable_is_kept_and_said(edited):
    here, labels, journal, data, bounds, expected, status = edited
    journal.write_bytes(bytes(len(data)))  # zeros: what a crash can leave on some disks
    with LabelStore.open(labels, here) as st:
        assert st.recovered == 0
        assert "could not be read; no edit could be recovered" in st.recovery_note
    assert journal.with_name(journal.name + ".damaged").read_bytes() == bytes(len(data))


def test_any_flipped_byte_costs_at_most_the_record_it_lands_in(edited):
    """Every offset of the journal: the scan keeps every record the flip missed."""
    here, labels, journal, data, bounds, expected, status = edited
    whole = scan(data)
    assert whole.generation and len(whole.records) == 4 and not whole.damaged
    for at in range(len(data)):
        hit = next(k for k, (a, b) in enumerate(bounds) if a <= at < b)
        got = scan(_flip(data, at))
        assert got.damaged and got.damaged_records == 1
        assert (got.generation is None) == (hit == 0)
        kept = [r for k, r in enumerate(whole.records, 1) if k != hit]
        assert [r.label for r in got.records] == [r.label for r in kept], at
        assert [r.changes[0].frame for r in got.records] == [r.changes[0].frame for r in kept]


def test_a_torn_last_record_is_the_only_loss_a_kill_causes(edited):
    here, labels, journal, data, bounds, expected, status = edited
    last = bounds[-1][0]
    for cut in range(last + 1, len(data)):
        got = scan(data[:cut])
        assert got.torn_tail and not got.damaged and len(got.records) == 3


def _framed(meta: object, tail: bytes = b"") -> bytes:
    """A record whose CRC is right whatever its payload holds."""
    head = json.dumps(meta).encode()
    payload = struct.pack("<I", len(head)) + head + tail
    return struct.pack("<4sII", b"TRJ1", len(payload), zlib.crc32(payload)) + payload


def test_garbage_never_raises():
    """Bytes that are no journal at all, or records whose CRC passes but whose payload
    is nonsense: counted as unreadable, never an exception."""
    rng = np.random.default_rng(14)
    change = {"stream": "thermal", "frame": 1, "y0": 0, "x0": 0, "shape": [0, 0],
              "flags_old": [0, 0, 0], "flags_new": [0, 0, 0]}  # fmt: skip
    nonsense = [
        {"kind": "xx", "changes": []},
        {"kind": "do", "changes": "abc"},
        {"kind": "do", "changes": [1]},
        {"kind": "do", "changes": [{**change, "frame": float("inf")}]},
        {"kind": "do", "changes": [{**change, "frame": "1x"}]},
        {"kind": "do", "changes": [{**change, "shape": [10**9, 10**9]}]},
        {"kind": "do", "changes": [{**change, "flags_new": [0, 0]}]},
        [1, 2],
    ]
    crafted = [_framed(m) for m in nonsense] + [_framed({"kind": "do"}, b"extra")]
    for blob in crafted:
        got = scan(blob)
        assert got.records == [] and got.undecodable == 1 and got.damaged
    for blob in [rng.bytes(n) for n in (0, 3, 12, 500)] + [b"TRJ1" + bytes(8)]:
        got = scan(blob)
        assert got.records == [] and got.generation is None


def test_the_flag_limits_are_the_sidecars_codes():
    assert FLAG_LIMITS == (len(SOURCE_NAMES), len(STATUS_NAMES), 2)


def test_a_saved_journal_stays_saved_after_a_machine_run(edited):
    """A review save whose journal reset never happened (a crash between the two), then
    a machine run: the stale journal must still count as saved, not as pending edits."""
    here, labels, journal, data, bounds, expected, status = edited
    with pytest.raises(LabelsError, match="4 unsaved review edit"):
        LabelReader(labels)
    with LabelStore.open(labels, here):
        pass  # replays the 4 edits and saves
    journal.write_bytes(data)
    with LabelWriter(labels, session=here, classes=CLASSES) as w:  # not refused
        w.create_stream("thermal", N, expected.shape[1:])
    with LabelReader(labels) as r:  # nor are readers
        assert r.array("thermal", "status").tolist() == status
