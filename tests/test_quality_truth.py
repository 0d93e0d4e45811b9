"""``thermorig evaluate``: IoU against ground truth, counted by hand on small label files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.analysis.quality import evaluate_labels
from app.cli import main
from app.labels.sidecar import SOURCE_PROJECTED, LabelsError
from app.labels.sidecar_writer import LabelWriter
from drivers.session import SessionReader
from tests.scene3d import apart, make_rig, write_session


@pytest.fixture(scope="module")
def truth(tmp_path_factory):
    path = tmp_path_factory.mktemp("evaluate") / "legs.h5"
    write_session(path, make_rig(), [0.0, 0.01, 0.02, 0.03], scene=apart)
    with SessionReader(path) as s:
        masks = [s.frame("thermal", i).truth["labels"] for i in range(4)]
    return path, masks


def _write(path, session, masks, rows=None, classes=("background", "left_calf", "right_calf")):
    with LabelWriter(path, session=session, classes=list(classes)) as w:
        w.create_stream("thermal", len(masks), masks[0].shape)
        for i, m in enumerate(masks):
            if rows is None or i in rows:
                w.write("thermal", i, m, SOURCE_PROJECTED)


def test_perfect_labels_score_one(truth, tmp_path):
    session, masks = truth
    _write(tmp_path / "l.h5", session, masks)
    d = evaluate_labels(tmp_path / "l.h5", session)
    assert d["mean_iou_strict"] == 1.0 and d["mean_iou_known"] == 1.0
    assert d["iou_strict"] == {"background": 1.0, "left_calf": 1.0, "right_calf": 1.0}
    assert d["unknown_share"] == 0.0 and d["frames_evaluated"] == 4


def test_unknown_counts_as_wrong_in_the_headline_only(truth, tmp_path):
    session, masks = truth
    pred = [m.copy() for m in masks]
    # Frame 1: 30 left-calf pixels unknown, 20 background pixels called right calf.
    ys, xs = np.nonzero(masks[1] == 1)
    pred[1][ys[:30], xs[:30]] = 255
    by, bx = np.nonzero(masks[1] == 0)
    pred[1][by[:20], bx[:20]] = 2
    _write(tmp_path / "l.h5", session, pred, rows={0, 1})  # frames 2, 3 not labeled
    d = evaluate_labels(tmp_path / "l.h5", session)
    assert d["frames_evaluated"] == 2
    n1 = sum(int((masks[i] == 1).sum()) for i in (0, 1))
    n2 = sum(int((masks[i] == 2).sum()) for i in (0, 1))
    assert d["iou_strict"]["left_calf"] == pytest.approx((n1 - 30) / n1, abs=1e-4)
    assert d["iou_known"]["left_calf"] == 1.0
    assert d["iou_strict"]["right_calf"] == pytest.approx(n2 / (n2 + 20), abs=1e-4)
    assert d["iou_known"]["right_calf"] == pytest.approx(n2 / (n2 + 20), abs=1e-4)
    assert d["mean_iou_strict"] == pytest.approx(((n1 - 30) / n1 + n2 / (n2 + 20)) / 2, abs=1e-4)
    assert d["unknown_share"] == pytest.approx(30 / (2 * masks[0].size), abs=1e-6)
    assert d["unknown_share_of_labeled_classes"] == pytest.approx(30 / (n1 + n2), abs=1e-4)
    assert d["per_frame_mean_iou"]["worst_frames"][0] == 1


def test_cli_prints_the_headline_and_json(truth, tmp_path, capsys):
    session, masks = truth
    _write(tmp_path / "l.h5", session, masks)
    assert main(["evaluate", str(tmp_path / "l.h5"), "--truth", str(session)]) == 0
    out = capsys.readouterr().out
    assert "mean IoU over left_calf, right_calf: 1.0000 (unknown counted as wrong; headline)" in out
    assert main(["evaluate", str(tmp_path / "l.h5"), "--truth", str(session), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["mean_iou_strict"] == 1.0


def test_mismatches_are_one_line_errors(truth, tmp_path, capsys):
    session, masks = truth
    other = tmp_path / "other.h5"
    write_session(other, make_rig(), [0.0, 0.02, 0.04, 0.06], scene=apart)
    _write(tmp_path / "l.h5", session, masks)
    with pytest.raises(LabelsError, match="made from another session"):
        evaluate_labels(tmp_path / "l.h5", other)
    _write(tmp_path / "c.h5", session, masks, classes=("background", "arm", "leg"))
    with pytest.raises(LabelsError, match="differ from the truth"):
        evaluate_labels(tmp_path / "c.h5", session)
    with pytest.raises(LabelsError, match="no labels for stream 'color'"):
        evaluate_labels(tmp_path / "l.h5", session, stream="color")
    (tmp_path / "x.h5").write_bytes(b"nope")
    assert main(["evaluate", str(tmp_path / "x.h5"), "--truth", str(session)]) == 2
    err = capsys.readouterr().err
    assert "not an HDF5 file" in err and err.count("\n") == 1
