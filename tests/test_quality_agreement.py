"""Agreement of two label files (``thermorig evaluate A --against B``), figures by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.analysis.quality import compare_labels
from app.cli import main
from app.labels.sidecar import (
    SOURCE_MANUAL,
    SOURCE_NONE,
    SOURCE_PROJECTED,
    STATUS_ACCEPTED,
    STATUS_CORRECTED,
    STATUS_REJECTED,
    STATUS_UNREVIEWED,
    LabelsError,
)
from tests.thermal_sessions import write_labels, write_thermal_session

U = 255
#: The reference's frame 0 (B): left_calf 4 pixels, right_calf 2.
B0 = np.array(
    [
        [0, 0, 1, 1, 0],
        [0, 0, 1, 1, 0],
        [0, 2, 2, 0, 0],
        [0, 0, 0, 0, 0],
    ],
    np.uint8,
)
#: The compared file's frame 0 (A): one left_calf pixel too many, one unknown, one
#: right_calf pixel missed.
A0 = np.array(
    [
        [0, 0, 1, 1, 1],
        [0, 0, 1, U, 0],
        [0, 2, 0, 0, 0],
        [0, 0, 0, 0, 0],
    ],
    np.uint8,
)
ONES, ZEROS = np.ones_like(B0), np.zeros_like(B0)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Five frames: 0 compared; 1 rejected in A; 2 unlabeled in A; 3 unlabeled in B;
    4 rejected in B (where A equals B)."""
    d = tmp_path_factory.mktemp("agreement")
    session = write_thermal_session(d / "s.h5", np.full((5, 4, 5), 30.0))
    a = write_labels(
        d / "a.h5",
        session,
        np.stack([A0, ONES, ZEROS, B0, B0]),
        source=[
            SOURCE_PROJECTED,
            SOURCE_PROJECTED,
            SOURCE_NONE,
            SOURCE_PROJECTED,
            SOURCE_PROJECTED,
        ],
        status=[STATUS_UNREVIEWED, STATUS_REJECTED, 0, 0, STATUS_UNREVIEWED],
    )
    b = write_labels(
        d / "b.h5",
        session,
        np.stack([B0, ZEROS, B0, ZEROS, B0]),
        source=[SOURCE_MANUAL, SOURCE_MANUAL, SOURCE_MANUAL, SOURCE_NONE, SOURCE_MANUAL],
        status=[STATUS_CORRECTED, STATUS_ACCEPTED, STATUS_CORRECTED, 0, STATUS_REJECTED],
    )
    return session, a, b, d


def test_default_compares_frames_labeled_in_both_and_rejected_in_neither(files):
    session, a, b, _ = files
    d = compare_labels(a, b, session)
    assert d["frames"] == 5 and d["frames_compared"] == 1
    assert d["frames_labeled_only_in_labels"] == 1
    assert d["frames_labeled_only_in_reference"] == 1
    assert d["frames_left_out_by_status"] == 2
    # Frame 0 over the 19 pixels both label: left_calf A 4, B 3, both 3;
    # right_calf A 1, B 2, both 1; background A 14, B 14, both 13.
    assert d["pixels_labels"] == {"background": 14, "left_calf": 4, "right_calf": 1}
    assert d["pixels_reference"] == {"background": 14, "left_calf": 3, "right_calf": 2}
    assert d["iou"] == {"background": 0.866667, "left_calf": 0.75, "right_calf": 0.5}
    assert d["dice"] == {"background": 0.928571, "left_calf": 0.857143, "right_calf": 0.666667}
    assert d["mean_iou"] == pytest.approx(0.625) and d["mean_dice"] == pytest.approx(0.761905)
    assert d["pixel_agreement"] == pytest.approx(17 / 19, abs=1e-6)
    assert d["unknown_share_labels"] == 0.05 and d["unknown_share_reference"] == 0.0
    assert d["worst_frames"] == [0]


def test_statuses_select_by_the_reference(files):
    session, a, b, _ = files
    assert compare_labels(a, b, session, statuses=(STATUS_ACCEPTED,))["frames_compared"] == 0
    # Naming rejected lets frame 1 (rejected in A) and frame 4 (rejected in B) in.
    d = compare_labels(a, b, session, statuses=(STATUS_ACCEPTED, STATUS_REJECTED))
    assert d["frames_compared"] == 2 and d["frames_left_out_by_status"] == 1
    # Frame 1: A all left_calf, B all background (20 px); frame 4: identical.
    assert d["pixels_labels"] == {"background": 14, "left_calf": 24, "right_calf": 2}
    assert d["pixels_reference"] == {"background": 34, "left_calf": 4, "right_calf": 2}
    assert d["iou"] == {"background": 0.411765, "left_calf": 0.166667, "right_calf": 1.0}
    assert d["dice"] == {"background": 0.583333, "left_calf": 0.285714, "right_calf": 1.0}
    assert d["pixel_agreement"] == 0.5 and d["worst_frames"] == [1]


def test_a_file_agrees_with_itself(files):
    session, a, _, _ = files
    d = compare_labels(a, a, session)
    assert d["frames_compared"] == 3 and d["pixel_agreement"] == 1.0
    assert d["mean_iou"] == 1.0 and d["mean_dice"] == 1.0 and d["worst_frames"] == []


def test_command_line(files, capsys):
    session, a, b, _ = files
    assert main(["evaluate", str(a), "--against", str(b), "--session", str(session)]) == 0
    out = capsys.readouterr().out
    assert "1/5 frames compared" in out and "pixel agreement 89.5%" in out
    assert out.splitlines()[4].split() == ["left_calf", "0.7500", "0.8571", "4", "3"]
    argv = ["evaluate", str(a), "--against", str(b), "--session", str(session), "--json"]
    assert main(argv + ["--status", "accepted,rejected"]) == 0
    assert json.loads(capsys.readouterr().out)["frames_compared"] == 2


@pytest.mark.parametrize(
    "case, message",
    [
        ("no session", "--against needs --session"),
        ("other classes", "only label files of the same classes"),
        ("other session", "made from another session"),
        ("other length", "give the labels of this session"),
        ("unknown class id", "holds class id 7, but the file names only 3 classes"),
        ("truth and against", "not allowed with argument"),
    ],
)
def test_bad_inputs_are_one_line_errors(case, message, files, tmp_path, capsys):
    session, a, b, _ = files
    argv = ["evaluate", a, "--against", b, "--session", session]
    if case == "no session":
        argv = argv[:4]
    elif case == "other classes":
        argv[1] = write_labels(
            tmp_path / "c.h5", session, np.stack([B0] * 5), classes=("background", "arm", "leg")
        )
    elif case == "other session":
        other = write_thermal_session(tmp_path / "o.h5", np.full((5, 4, 5), 31.0))
        argv[3] = write_labels(tmp_path / "o_labels.h5", other, np.stack([B0] * 5))
    elif case == "other length":
        argv[1] = write_labels(tmp_path / "short.h5", session, np.stack([B0] * 4))
    elif case == "unknown class id":
        bad = B0.copy()
        bad[3, 4] = 7
        argv[1] = write_labels(tmp_path / "bad.h5", session, np.stack([bad] * 5))
    elif case == "truth and against":
        argv += ["--truth", session]
    try:
        code = main([str(v) for v in argv])
    except SystemExit as exc:  # argparse rejects conflicting options itself
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and message in err, err
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_label_errors_name_the_file(files, tmp_path):
    session, a, _, _ = files
    other = write_labels(
        tmp_path / "c.h5", session, np.stack([B0] * 5), classes=("background", "arm", "leg")
    )
    with pytest.raises(LabelsError, match=str(other.name)):
        compare_labels(a, other, session)
