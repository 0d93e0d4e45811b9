"""Intrinsics: recovery of a known camera, outlier views dropped, held-out error,
clear errors, and the real coded-target set to ≤ 0.30 px."""

import cv2
import numpy as np
import pytest

from calibration.boards import parse_board
from calibration.detect import Detection
from calibration.intrinsics import CalibrationError, calibrate_intrinsics
from calibration.rig import Camera
from tests import real_data
from tests.board_images import pose_views

K_TRUE = np.array([[520.0, 0, 322.0], [0, 518.0, 251.0], [0, 0, 1]])
DIST_TRUE = np.array([-0.25, 0.08, 0.001, -0.0005, 0.0])
SIZE = (640, 512)


def _views(count=15, noise=0.1, seed=0, size=SIZE):
    b = parse_board("checker:9x6:25")
    ids = np.arange(54)
    obj = b.object_points(ids)
    rng = np.random.default_rng(seed)
    dets = []
    for rvec, tvec in pose_views(count, seed=seed, distance=0.45):
        img, _ = cv2.projectPoints(obj, rvec, tvec, K_TRUE, DIST_TRUE)
        img = img.reshape(-1, 2) + rng.normal(0, noise, (54, 2))
        dets.append(Detection(b.spec, ids, img.astype(np.float32), obj, size, "stretch", 100, 1, 1))
    return dets


def test_recovers_a_known_camera_and_drops_a_bad_view():
    dets = _views()
    bad = dets[4]
    bad.image_points = bad.image_points + np.random.default_rng(9).normal(0, 1.5, (54, 2)).astype(
        np.float32
    )
    res = calibrate_intrinsics(dets)
    assert list(res.rejected) == [4]
    assert "median" in res.rejected[4]
    assert len(res.used) == 14
    assert res.K[0, 0] == pytest.approx(520, rel=0.005)
    assert res.K[1, 1] == pytest.approx(518, rel=0.005)
    assert res.K[0, 2] == pytest.approx(322, abs=2) and res.K[1, 2] == pytest.approx(251, abs=2)
    assert res.dist[0] == pytest.approx(-0.25, abs=0.02)
    # 0.1 px per axis → 0.14 px per point; the held-out error is a little higher.
    assert 0.1 < res.rms < 0.18
    assert res.rms <= res.heldout_rms < 0.25
    assert res.view_rms[4] > 1.0  # the rejected view, posed with the final model
    assert np.isnan(res.heldout_view_rms[4]) and np.isfinite(res.heldout_view_rms[res.used]).all()
    cam = res.to_camera()
    assert isinstance(cam, Camera) and (cam.width, cam.height) == SIZE
    q = res.quality()
    assert q["views_used"] == 14 and q["views_rejected"] == 1 and q["points_used"] == 14 * 54
    assert q["rms"] == pytest.approx(res.rms, abs=1e-4)


def test_too_few_views_and_mixed_sizes_are_user_errors():
    with pytest.raises(CalibrationError, match="at least 5"):
        calibrate_intrinsics(_views(count=3))
    with pytest.raises(CalibrationError, match="no views"):
        calibrate_intrinsics([])
    mixed = _views(count=6) + _views(count=2, size=(320, 256))
    with pytest.raises(CalibrationError, match="different image sizes") as info:
        calibrate_intrinsics(mixed)
    assert "\n" not in str(info.value)


def test_real_coded_target_reaches_030_px():
    _, dets = real_data.mrt_detections()
    found = [d for d in dets if d is not None]
    assert len(found) >= 47
    res = calibrate_intrinsics(found)
    assert res.rms <= 0.30
    assert res.heldout_rms <= 0.35
    assert len(res.used) >= 45
    # A 382×288 microbolometer lens: strong barrel distortion, principal point near centre.
    assert 330 < res.K[0, 0] < 420 and res.dist[0] < -0.2
    assert abs(res.K[0, 2] - 191) < 30 and abs(res.K[1, 2] - 144) < 30
