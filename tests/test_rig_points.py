"""The cursor's 3-D point across the rig's cameras (pure geometry)."""

import numpy as np
import pytest

from calibration.rig import Camera, Rig
from calibration.rig_points import RigPoints


def _rig() -> Rig:
    def cam(w, h, f, x, dist) -> Camera:
        K = np.array([[f, 0, (w - 1) / 2], [0, f * 1.01, (h - 1) / 2 + 3], [0, 0, 1]])
        T = np.eye(4)
        T[:3, 3] = (x, 0.01, -0.02)
        return Camera(width=w, height=h, K=K, dist=np.array(dist, float), T_ref_cam=T)

    return Rig(
        cameras={
            "depth": cam(640, 480, 380.0, 0.0, [0.0] * 5),
            "thermal": cam(640, 512, 520.0, 0.06, [-0.2, 0.1, 0.001, -0.001, 0.0]),
            "color": cam(1280, 720, 900.0, -0.05, [0.05, -0.02, 0.0, 0.0, 0.0]),
        }
    )


def test_a_pixel_with_depth_round_trips_and_lands_where_the_other_camera_sees_it():
    rig = _rig()
    points = RigPoints(rig)
    p = points.to_reference("thermal", 500.0, 80.0, 1.7)  # near a distorted corner
    assert points.project(p, "thermal") == pytest.approx((500.0, 80.0), abs=1e-6)
    cam = rig["thermal"]
    in_thermal = cam.T_cam_ref @ np.append(p, 1.0)
    assert in_thermal[2] == pytest.approx(1.7)
    marks = points.others("thermal", 500.0, 80.0, 1.7, ("thermal", "depth", "color", "ir"))
    assert set(marks) == {"depth", "color", "ir"} and marks["ir"] == marks["depth"]
    # Back from the depth camera's pixel at the point's own depth: the same 3-D point.
    z_depth = (rig["depth"].T_cam_ref @ np.append(p, 1.0))[2]
    again = points.to_reference("depth", *marks["depth"], z_depth)
    assert again == pytest.approx(p, abs=1e-6)


def test_no_mark_without_depth_a_camera_or_a_view_of_the_point():
    points = RigPoints(_rig())
    assert points.others("thermal", 10.0, 10.0, 0.0, ("depth",)) == {}
    assert points.to_reference("flir", 1.0, 1.0, 1.0) is None
    behind = np.array([0.0, 0.0, -1.0])
    assert points.project(behind, "depth") is None
    far_side = points.to_reference("depth", 0.0, 0.0, 0.3)  # the depth image's corner, near
    assert points.project(far_side, "thermal") is None, "outside the thermal image"
