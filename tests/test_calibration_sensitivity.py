"""``thermorig experiment calibration-sensitivity``: label IoU with the true rig and
with the rig turned, moved and its thermal clock shifted (small hand-made sessions)."""

from __future__ import annotations

import json
import os
import signal
import time

import cv2
import numpy as np
import pytest

from app.analysis.calibration_sensitivity import (
    ROTATIONS_DEG,
    Perturbation,
    calibration_sensitivity,
    default_perturbations,
)
from app.analysis.quality import evaluate_labels
from app.cli import main
from app.labels.autolabel import autolabel
from drivers.stop_request import Interrupted, handling_stop_signals
from tests.scene3d import apart, make_rig, write_session

FRAMES = 12


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Twelve frames of two legs moving 1 cm per frame (30 fps), small cameras, truth;
    the thermal clock 10 ms behind depth and colour (free-running: interpolated)."""
    path = tmp_path_factory.mktemp("sensitivity") / "legs.h5"
    shifts = [0.01 * i for i in range(FRAMES)]
    write_session(path, make_rig(), shifts, scene=apart, offsets_s={"thermal": 0.010})
    return path


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_true_rig_scores_what_autolabel_and_evaluate_report(session, tmp_path):
    labels = tmp_path / "labels.h5"
    autolabel(session, labels, "truth", "truth")
    expected = evaluate_labels(labels, session)
    result = calibration_sensitivity(session, frames=FRAMES, perturbations=[Perturbation()])
    (row,) = result.rows
    assert result.frames == list(range(FRAMES))
    assert row.frames == expected["frames_evaluated"] == FRAMES
    assert round(row.mean_iou, 6) == expected["mean_iou_strict"]
    assert row.delta_iou == 0.0
    assert 0 < row.boundary_px < 1.5


def test_iou_falls_with_every_degree_the_thermal_camera_turns(session):
    perts = [Perturbation("rotation", "thermal", "y", m) for m in ROTATIONS_DEG]
    result = calibration_sensitivity(session, frames=6, perturbations=perts)
    base, *turned = result.rows
    assert base.perturbation.kind == "none"  # the true rig comes first, always
    ious = [base.mean_iou] + [r.mean_iou for r in turned]
    px = [base.boundary_px] + [r.boundary_px for r in turned]
    # Strictly falling with every step (on this rig 0.1 degree moves an edge by a third
    # of a pixel; each step costs at least 0.03 IoU here), the edges moving away.
    assert all(a > b for a, b in zip(ious, ious[1:], strict=False)), ious
    assert ious[0] - ious[-1] > 0.5, ious
    assert all(a < b for a, b in zip(px, px[1:], strict=False)), px


def test_json_has_every_row_and_outputs_are_kept(session, tmp_path, capsys):
    report, plot = tmp_path / "report.md", tmp_path / "plot.png"
    report.write_text("a person's notes\n")
    outputs = ("--report", report, "--plot", plot, "--frames", "2", "-q")
    code, out, err = _run(capsys, "experiment", "calibration-sensitivity", session, *outputs)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert "--report" in err and "--overwrite" in err
    assert report.read_text() == "a person's notes\n" and not plot.exists()

    code, out, err = _run(
        capsys, "experiment", "calibration-sensitivity", session, "--json", *outputs, "--overwrite"
    )
    assert code == 0, err
    d = json.loads(out)
    names = [(r["kind"], r["camera"], r["axis"], r["magnitude"]) for r in d["rows"]]
    expected = [(p.kind, p.camera, p.axis, p.magnitude) for p in default_perturbations()]
    assert names == expected and len(names) == 1 + 2 * 3 * 6 + 3 * 3 + 4
    assert all(r["frames"] == 2 and r["mean_iou"] is not None for r in d["rows"])
    assert set(d["loss_per_unit"]) == {
        "thermal rotation",
        "color rotation",
        "thermal translation",
        "thermal clock",
    }
    assert "| thermal rotation x | 1 deg |" in report.read_text()
    image = cv2.imread(str(plot))
    assert image is not None and image.shape[1] > image.shape[0]
    assert (image < 128).any(axis=2).mean() > 0.01  # lines were drawn


def test_a_session_without_truth_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "real.h5"
    write_session(path, make_rig(), [0.0, 0.01], with_truth=False)
    code, out, err = _run(capsys, "experiment", "calibration-sensitivity", path)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "needs a synthetic session with truth" in err


def test_the_session_file_is_only_read(session):
    before = session.read_bytes()
    calibration_sensitivity(
        session, frames=2, perturbations=[Perturbation("clock", "thermal", "", 33.0)]
    )
    assert np.array_equal(
        np.frombuffer(session.read_bytes(), np.uint8), np.frombuffer(before, np.uint8)
    )


@pytest.mark.skipif(os.name != "posix", reason="signals to oneself: POSIX")
def test_a_stop_signal_ends_the_experiment_at_the_next_frame(session):
    calls = []

    def progress(done: int, total: int) -> None:
        calls.append(done)
        if done == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.01)  # the handler records the request at the next bytecode

    perts = [Perturbation("rotation", "thermal", "y", 1.0)]
    with handling_stop_signals(), pytest.raises(Interrupted) as stopped:
        calibration_sensitivity(session, frames=4, perturbations=perts, progress=progress)
    assert stopped.value.exit_code == 143
    assert calls == [1]  # 8 frames (true rig and one turn, 4 each) were due
