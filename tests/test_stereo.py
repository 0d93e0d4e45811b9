"""Rig calibration from a session: still poses, averaged views, pair extrinsics with a
consensus check, held-out errors — against the synthetic rig's truth."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from calibration.boards import parse_board
from calibration.detect import Detection
from calibration.intrinsics import CalibrationError
from calibration.rig import Camera, Rig
from calibration.rig_calibration import calibrate_session, calibrate_views, rig_errors
from calibration.stereo import PairView, calibrate_pair, joint_pose_rms
from calibration.still import SessionViewsError, agreeing, still_poses, views_at
from drivers.session import SessionReader
from tests.synthetic_sessions import session

BOARD = "coded:11x9:40"


@pytest.fixture(scope="module")
def calibrated():
    """A 20 s free-running calibration session of the default rig, calibrated."""
    path = session("calibration", 20.0)
    reader = SessionReader(path)
    result = calibrate_session(reader)
    yield reader, result
    reader.close()


def _check_rig(rig: Rig, truth: Rig) -> dict:
    errors = rig_errors(rig, truth)
    for name, e in errors.items():
        assert e["focal_pct"] < 1.0, (name, e)
        assert e["translation_mm"] < 3.0, (name, e)
        assert e["rotation_deg"] < 0.2, (name, e)
    return errors


def test_rig_from_a_20s_session_matches_the_truth(calibrated):
    reader, result = calibrated
    truth = Rig.from_dict(reader.truth["rig"])
    rig = result.to_rig()
    assert set(rig.cameras) == {"depth", "thermal", "color"} and rig.reference == "depth"
    np.testing.assert_array_equal(rig["depth"].T_ref_cam, np.eye(4))
    errors = _check_rig(rig, truth)
    # Much better than the limits: exact renders, averaged frames.
    assert max(e["translation_mm"] for e in errors.values()) < 1.5
    q = rig.quality
    assert q["board"] == BOARD == rig.board and q["still_poses"] >= 8
    assert q["hw_sync"] is False
    for name in ("depth", "thermal", "color"):
        cam = q["intrinsics"][name]
        assert cam["rms"] <= 0.3 and cam["heldout_rms"] <= 0.3 and cam["views_used"] >= 8
    assert q["intrinsics"]["depth"]["stream"] == "ir"
    assert set(q["pairs"]) == {"depth-thermal", "depth-color", "thermal-color"}
    for name, pair in q["pairs"].items():
        assert pair["rms"] <= 0.3 and pair["heldout_rms"] <= 0.3 and pair["views_used"] >= 8
        assert pair["fitted"] is (name != "thermal-color")
    assert rig.created and Rig.from_json(rig.to_json()).to_dict() == rig.to_dict()


def test_still_poses_lie_inside_the_board_holds(calibrated):
    reader, result = calibrated
    poses = still_poses(reader, ["ir", "thermal", "color"])
    assert len(poses) == result.poses >= 8
    ts = reader.timestamps("depth")
    for p in poses:
        rows = np.flatnonzero((ts >= p.start) & (ts <= p.end))
        assert len(rows) >= 10 and p.duration >= 0.8
        first = reader.frame("depth", int(rows[0])).truth["board_pose"]
        last = reader.frame("depth", int(rows[-1])).truth["board_pose"]
        np.testing.assert_array_equal(first, last)  # the board did not move


def test_views_of_a_moving_board_are_rejected_not_averaged(calibrated):
    reader, _ = calibrated
    streams = {"depth": "ir", "thermal": "thermal", "color": "color"}
    moving = [(0, [1.65, 1.85, 2.05], 0.02)]  # between the first two holds
    views, rejected, searched = views_at(reader, BOARD, moving, streams)
    assert searched == 9
    assert not any(views.values())
    assert "board moved" in rejected["thermal"][0]


def _relabel(det: Detection, board, mapping) -> Detection:
    grid = board.grid(det.ids)
    new = np.array([mapping(int(i), int(j)) for i, j in grid])
    inside = (
        (new[:, 0] >= 0) & (new[:, 0] < board.cols) & (new[:, 1] >= 0) & (new[:, 1] < board.rows)
    )
    ok = inside & np.isin(board.ids_of(new), board.detectable_ids())
    ids = board.ids_of(new[ok])
    return dataclasses.replace(
        det,
        ids=ids,
        image_points=det.image_points[ok],
        object_points=board.object_points(ids),
    )


def test_wrong_labellings_are_rejected_by_the_rig_consensus(calibrated):
    """A board read turned 180° (a plain checkerboard's ambiguity) or shifted by a
    column in one camera is self-consistent there; the pair consensus rejects it."""
    reader, result = calibrated
    board = parse_board(BOARD)
    views = {c: list(v) for c, v in result.views.items()}
    flipped, shifted = views["thermal"][2].pose, views["color"][4].pose
    views["thermal"][2] = dataclasses.replace(
        views["thermal"][2],
        detection=_relabel(
            views["thermal"][2].detection,
            board,
            lambda i, j: (board.cols - 1 - i, board.rows - 1 - j),
        ),
    )
    views["color"][4] = dataclasses.replace(
        views["color"][4],
        detection=_relabel(views["color"][4].detection, board, lambda i, j: (i + 1, j)),
    )
    res = calibrate_views(views, BOARD)
    assert "consensus" in res.pairs["depth-thermal"].rejected[flipped]
    assert "consensus" in res.pairs["depth-color"].rejected[shifted]
    assert flipped not in res.pairs["depth-thermal"].used
    # Rejected views are still shown, with their (large) error under the final rig.
    assert res.pairs["depth-thermal"].view_rms[flipped] > 5.0
    _check_rig(res.to_rig(), Rig.from_dict(reader.truth["rig"]))


def test_agreeing_outvotes_one_odd_detection():
    board = parse_board("checker:5x4:30")
    ids = np.arange(board.corner_count)
    pts = board.grid(ids).astype(np.float32) * 20 + 50

    def det(offset: float) -> Detection:
        return Detection(
            board.spec, ids, pts + offset, board.object_points(ids), (640, 480), "", 1, 1, 1
        )

    keep, worst = agreeing([det(0.0), det(0.05), det(3.0)], 0.25)
    assert keep == [0, 1] and worst == pytest.approx(3.0 * np.sqrt(2), abs=1e-4)
    keep, _ = agreeing([det(0.0), det(1.0), det(2.0)], 0.25)
    assert keep == []  # moving: no majority agrees


def _exact_pair(n_views: int = 6):
    """Two pinhole cameras 8 cm apart and exact projections of a board at ``n_views`` poses."""
    board = parse_board("checker:9x6:40")
    cam_a = Camera(640, 480, np.array([[520.0, 0, 320], [0, 520, 240], [0, 0, 1]]), np.zeros(5))
    cam_b = Camera(640, 512, np.array([[760.0, 0, 322], [0, 760, 250], [0, 0, 1]]), np.zeros(5))
    T_b_a = np.eye(4)
    T_b_a[:3, :3] = cv2.Rodrigues(np.array([0.01, -0.04, 0.005]))[0]
    T_b_a[:3, 3] = (-0.08, 0.005, 0.002)
    rng = np.random.default_rng(3)
    ids = np.arange(board.corner_count)
    obj = board.object_points(ids).astype(np.float64)
    dets_a, dets_b = {}, {}
    for k in range(n_views):
        rvec = np.array([rng.uniform(-0.5, 0.5), rng.uniform(-0.5, 0.5), rng.uniform(-0.2, 0.2)])
        tvec = np.array([rng.uniform(-0.25, -0.1), rng.uniform(-0.15, -0.05), rng.uniform(1, 1.4)])
        rvec, tvec = rvec.reshape(3, 1), tvec.reshape(3, 1)
        r_ab, t_ab = cv2.Rodrigues(T_b_a[:3, :3])[0], T_b_a[:3, 3].reshape(3, 1)
        rb, tb = cv2.composeRT(rvec, tvec, r_ab, t_ab)[:2]
        for dets, cam, (r, t) in ((dets_a, cam_a, (rvec, tvec)), (dets_b, cam_b, (rb, tb))):
            img, _ = cv2.projectPoints(obj, r, t, cam.K, cam.dist)
            dets[k] = Detection(
                board.spec,
                ids,
                img.reshape(-1, 2).astype(np.float32),
                obj.astype(np.float32),
                (cam.width, cam.height),
                "",
                1,
                1,
                1,
            )
    return dets_a, dets_b, cam_a, cam_b, T_b_a


def test_pair_recovers_exact_extrinsics_and_poses_held_out_views():
    dets_a, dets_b, cam_a, cam_b, T_b_a = _exact_pair()
    pair = calibrate_pair("a", "b", dets_a, dets_b, cam_a, cam_b)
    np.testing.assert_allclose(pair.T_b_a, T_b_a, atol=1e-4)
    assert pair.rms < 1e-3 and pair.heldout_rms < 1e-3 and not pair.rejected
    view = PairView(
        0, dets_a[0].object_points.astype(float), dets_a[0].image_points, dets_b[0].image_points
    )
    assert joint_pose_rms(view, cam_a, cam_b, T_b_a) < 1e-3
    wrong = T_b_a.copy()
    wrong[0, 3] += 0.01  # a 1 cm error in the baseline shows as pixels
    assert joint_pose_rms(view, cam_a, cam_b, wrong) > 1.0


def test_too_few_shared_views_and_missing_ir_are_clear_errors():
    dets_a, dets_b, cam_a, cam_b, _ = _exact_pair(2)
    with pytest.raises(CalibrationError, match="only 2 still poses.*both cameras"):
        calibrate_pair("depth", "thermal", dets_a, dets_b, cam_a, cam_b)
    with pytest.raises(SessionViewsError, match="no 'ir' stream.*IR"):
        calibrate_session(session("calibration", 1.0, ir_stream="off"))
