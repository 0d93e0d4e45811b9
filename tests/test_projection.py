"""Depth-aware label transfer on a hand-made rig and scene cast exactly in numpy."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from calibration.camera_math import (
    DistortionTable,
    distort,
    pixel_grid_rays,
    project_normalized,
    undistort_pixels,
)
from calibration.depth_render import DepthRenderer, remove_flying_pixels
from calibration.projection import (
    EDGE,
    FILLED,
    NO_DEPTH,
    OCCLUDED,
    OUTSIDE,
    VALID,
    Projector,
    class_confidence,
    frame_confidence,
    frame_confidences,
    time_gap_factor,
)
from calibration.rig import Rig, RigError
from calibration.temporal import interpolate_labels, label_motion
from drivers.errors import ThermorigError
from tests.scene3d import (
    DEPTH_SCALE,
    Cylinder,
    apart,
    cast,
    depth_image,
    legs,
    make_rig,
    visible_from,
)

THERMAL_BARREL = np.array([-0.3, 0.1, 0.0006, -0.0004, 0.0])
K_THERMAL = np.array([[768.0, 0, 324.6], [0, 766.0, 249.2], [0, 0, 1]])


@pytest.fixture(scope="module")
def rig() -> Rig:
    return make_rig()


@pytest.fixture(scope="module")
def projector(rig) -> Projector:
    return Projector(rig, DEPTH_SCALE)


# -- lens math ----------------------------------------------------------------------


def test_undistort_inverts_opencv_projection_to_a_millionth_of_a_pixel():
    rng = np.random.default_rng(1)
    uv = rng.uniform([0, 0], [640, 512], (500, 2))
    xy = undistort_pixels(K_THERMAL, THERMAL_BARREL, uv)
    pts = np.concatenate([xy, np.ones((len(xy), 1))], axis=1)
    back, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K_THERMAL, THERMAL_BARREL)
    assert np.abs(back.reshape(-1, 2) - uv).max() < 1e-6


def test_distortion_table_agrees_with_opencv_within_three_hundredths_of_a_pixel():
    table = DistortionTable(640, 512, K_THERMAL, THERMAL_BARREL)
    rng = np.random.default_rng(2)
    x = rng.uniform(-0.45, 0.45, (64, 64)).astype(np.float32)
    y = rng.uniform(-0.38, 0.38, (64, 64)).astype(np.float32)
    u, v = table.project(x, y)
    pts = np.stack([x.ravel(), y.ravel(), np.ones(x.size)], axis=1).astype(np.float64)
    ref, _ = cv2.projectPoints(pts, np.zeros(3), np.zeros(3), K_THERMAL, THERMAL_BARREL)
    ref = ref.reshape(64, 64, 2)
    inside = (ref[..., 0] > 0) & (ref[..., 0] < 640) & (ref[..., 1] > 0) & (ref[..., 1] < 512)
    assert inside.mean() > 0.5
    assert np.abs(u - ref[..., 0])[inside].max() < 0.03
    assert np.abs(v - ref[..., 1])[inside].max() < 0.03


def test_far_off_image_points_do_not_fold_back_into_the_image():
    # Barrel lenses of this strength fold points beyond ~60 degrees back inwards.
    x = np.array([0.5, 1.5, 3.0, 6.0])
    xd, _ = distort(THERMAL_BARREL, x, np.zeros_like(x))
    assert np.all(np.diff(xd) > 0)
    table = DistortionTable(640, 512, K_THERMAL, THERMAL_BARREL)
    u, _ = table.project(np.float32([[4.0, -4.0]]), np.float32([[0.0, 0.0]]))
    assert u[0, 0] > 640 and u[0, 1] < 0


def test_pixel_rays_round_trip_through_the_lens():
    rays = pixel_grid_rays(64, 48, K_THERMAL / 10 + np.diag([0, 0, 0.9]), THERMAL_BARREL)
    u, v = project_normalized(
        K_THERMAL / 10 + np.diag([0, 0, 0.9]), THERMAL_BARREL, rays[..., 0], rays[..., 1]
    )
    assert np.abs(u - np.arange(64)[None, :]).max() < 1e-8
    assert np.abs(v - np.arange(48)[:, None]).max() < 1e-8


# -- z-buffer -----------------------------------------------------------------------


def test_render_order_keeps_the_nearest_point_like_a_brute_force_zbuffer(rig):
    depth = depth_image(rig, legs())
    ren = DepthRenderer(
        rig["depth"], rig["thermal"], rig.T_dst_src("depth", "thermal"), DEPTH_SCALE
    )
    z = ren.render(depth)
    # Brute force: every point splatted over the same footprint, np.minimum.at.
    cam = rig["depth"]
    xy = pixel_grid_rays(cam.width, cam.height, cam.K, cam.dist).reshape(-1, 2)
    zd = depth.reshape(-1) * DEPTH_SCALE
    pts = np.concatenate([xy * zd[:, None], zd[:, None]], axis=1)
    T = rig.T_dst_src("depth", "thermal")
    q = pts @ T[:3, :3].T + T[:3, 3]
    t = rig["thermal"]
    u, v = project_normalized(t.K, t.dist, q[:, 0] / q[:, 2], q[:, 1] / q[:, 2])
    n = ren.n
    ref = np.full((t.height + 8, t.width + 8), np.inf)
    c0, r0 = np.floor(u + 1 - n / 2).astype(int) + 4, np.floor(v + 1 - n / 2).astype(int) + 4
    for dy in range(n):
        for dx in range(n):
            r, c = r0 + dy, c0 + dx
            ok = (r >= 0) & (r < ref.shape[0]) & (c >= 0) & (c < ref.shape[1])
            np.minimum.at(ref, (r[ok], c[ok]), q[ok, 2])
    ref = ref[4:-4, 4:-4]
    ref[np.isinf(ref)] = 0
    assert (z > 0).mean() > 0.8
    differ = np.abs(z - ref) > 0.02  # same surface within 2 cm everywhere
    assert differ.sum() <= 0.001 * z.size


def test_footprint_leaves_no_pinholes_on_a_finer_target_grid(rig):
    wall = np.full((120, 160), 2000, np.uint16)
    ren = DepthRenderer(rig["depth"], rig["color"], rig.T_dst_src("depth", "color"), DEPTH_SCALE)
    assert ren.n >= 2  # RGB is ~1.8x finer than depth here
    z = ren.render(wall)
    core = z[20:-20, 40:-40]
    assert (core > 0).all()
    assert np.abs(core - 2.0).max() < 0.05  # the RGB camera is turned 1.5° to the wall


def test_flying_pixels_between_two_surfaces_are_dropped_edges_kept():
    d = np.full((5, 8), 1000, np.uint16)
    d[:, 4:] = 2000
    d[2, 3] = 1500  # a mixed pixel at the edge
    d[0, 0] = 0
    out = remove_flying_pixels(d, 50)
    assert out[2, 3] == 0
    kept = np.ones_like(d, bool)
    kept[2, 3] = False
    assert np.array_equal(out[kept], d[kept])


# -- transfer -----------------------------------------------------------------------


def test_labels_carry_over_exactly_where_all_cameras_see(rig, projector):
    scene = apart()
    depth = depth_image(rig, scene)
    _, rgb_labels = cast(rig["color"], scene)
    _, truth = cast(rig["thermal"], scene)
    res = projector.transfer_labels(depth, rgb_labels, 3)
    known = res.labels != 255
    assert known.mean() > 0.8
    wrong = known & (res.labels != truth)
    assert wrong.sum() < 0.01 * known.sum()
    # Every wrong pixel is on a border of the true labels (pixel quantisation), none inside.
    k = np.ones((3, 3), np.uint8)
    border = cv2.dilate(truth, k) != cv2.erode(truth, k)
    assert not np.any(wrong & ~border)
    for c in (1, 2):
        inter = np.count_nonzero((res.labels == c) & (truth == c))
        assert inter / np.count_nonzero((res.labels == c) | (truth == c)) > 0.9
    assert res.depth.shape == truth.shape and res.depth.dtype == np.float32
    assert 0.95 < np.median(res.depth[res.depth > 0]) < 3.1


def test_part_hidden_from_rgb_but_seen_by_thermal_is_unknown_not_mislabeled(rig, projector):
    """Leg 1 hides the left half of leg 2 from the RGB camera, whose label there is leg 1;
    the thermal camera sees that half. It must come out unknown, never leg 1."""
    scene = legs()
    depth = depth_image(rig, scene)
    _, rgb_labels = cast(rig["color"], scene)
    points, truth = cast(rig["thermal"], scene)
    hidden = (truth == 2) & ~visible_from(rig["color"], points, scene)
    assert hidden.sum() > 300  # the scene really has such a part
    res = projector.transfer_labels(depth, rgb_labels, 3)
    assert not np.any(res.labels[hidden] == 1)
    assert (res.labels[hidden] == 255).mean() > 0.99
    assert set(np.unique(res.reason[hidden])) <= {OCCLUDED, NO_DEPTH}
    assert np.count_nonzero(res.reason[hidden] == OCCLUDED) > 100
    # Without the occlusion test that part would read leg 1's label.
    u, v = projector.geometry(depth).u, projector.geometry(depth).v
    naive = cv2.remap(rgb_labels, u, v, cv2.INTER_NEAREST)
    assert np.count_nonzero(naive[hidden & (res.reason == OCCLUDED)] == 1) > 100


def test_reasons_outside_no_depth_filled_and_edges(rig, projector):
    scene = legs()
    depth = depth_image(rig, scene)
    _, rgb_labels = cast(rig["color"], scene)
    depth[60, 80] = 0  # one pixel without return: filled
    depth[10:40, 10:40] = 0  # a large hole: stays unknown
    res = projector.transfer_labels(depth, rgb_labels, 3)
    g = projector.geometry(depth)
    assert np.count_nonzero(res.reason == FILLED) > 0
    assert np.count_nonzero(res.reason == NO_DEPTH) > 200
    assert np.count_nonzero(res.reason == EDGE) > 50
    assert np.all(res.labels[res.reason >= NO_DEPTH] == 255)
    assert np.all(res.labels[res.reason <= FILLED] != 255)
    # A thermal pixel whose point is outside the RGB image.
    rgb_small = rig["color"]
    shifted = Rig(cameras={**rig.cameras})
    T = rgb_small.T_ref_cam.copy()
    T[:3, :3] = cv2.Rodrigues(np.array([0.0, 0.5, 0.0]))[0] @ T[:3, :3]  # look 29° away
    shifted.cameras["color"] = type(rgb_small)(
        rgb_small.width, rgb_small.height, rgb_small.K, rgb_small.dist, T
    )
    res2 = Projector(shifted, DEPTH_SCALE).transfer_labels(depth, rgb_labels, 3)
    assert np.count_nonzero(res2.reason == OUTSIDE) > 1000
    assert g.reason.shape == res.labels.shape


def test_confidence_drops_with_unknown_near_a_class():
    labels = np.zeros((40, 40), np.uint8)
    labels[10:30, 10:30] = 1
    reason = np.full_like(labels, VALID)
    c0 = class_confidence(labels, reason, 3)
    assert c0[1] == pytest.approx(1.0) and np.isnan(c0[2])
    labels[10:30, 10:14] = 255
    reason[10:30, 10:14] = OCCLUDED
    c1 = class_confidence(labels, reason, 3)
    assert c1[1] == pytest.approx((320 - 2 * 20) / 320)  # 2 columns within 2 px of unknown
    assert time_gap_factor(0.0, 0.04) == 1.0 and time_gap_factor(0.04, 0.04) == pytest.approx(0.5)


def test_values_carry_the_other_way_for_display(rig):
    """Temperatures painted onto the RGB image: the hot leg lands on the leg."""
    scene = legs()
    depth = depth_image(rig, scene)
    _, thermal_labels = cast(rig["thermal"], scene)
    _, rgb_truth = cast(rig["color"], scene)
    temps = np.where(thermal_labels > 0, 34.0, 20.0).astype(np.float32)
    back = Projector(rig, DEPTH_SCALE, src="thermal", dst="color", dst_scale=0.5)
    out, reason = back.transfer_values(depth, temps, fill=np.nan)
    small = cv2.resize(rgb_truth, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST)
    ok = reason == VALID
    assert ok.mean() > 0.4  # the thermal camera sees about half of the RGB image
    agree = (out[ok] > 27) == (small[ok] > 0)
    assert agree.mean() > 0.98
    assert np.isnan(out[reason > FILLED]).all()


def test_frames_that_do_not_fit_the_rig_are_one_line_errors(rig, projector):
    depth = np.zeros((120, 160), np.uint16)
    with pytest.raises(RigError, match="the rig's depth camera is 160x120") as err:
        projector.transfer_labels(
            np.zeros((100, 100), np.uint16), np.zeros((180, 320), np.uint8), 3
        )
    assert "\n" not in str(err.value)
    with pytest.raises(RigError, match="color frames are 100x50"):
        projector.transfer_labels(depth, np.zeros((50, 100), np.uint8), 3)
    with pytest.raises(RigError, match="no camera 'thermal'"):
        Projector(Rig(cameras={k: rig[k] for k in ("depth", "color")}), DEPTH_SCALE)
    with pytest.raises(RigError, match="depth scale"):
        Projector(rig, 0.0)
    with pytest.raises(ThermorigError, match="14 coefficients"):
        DistortionTable(10, 10, np.eye(3), np.ones(14))


# -- time ---------------------------------------------------------------------------


def test_label_interpolation_moves_edges_halfway():
    l0 = np.zeros((40, 60), np.uint8)
    l1 = np.zeros_like(l0)
    l0[10:30, 10:30] = 1
    l1[10:30, 18:38] = 1
    mid, _ = interpolate_labels(l0, l1, 0.5, 2)
    cols = np.nonzero(mid[20] == 1)[0]
    assert abs(cols[0] - 14) <= 1 and abs(cols[-1] - 33) <= 1
    assert label_motion(l0, l1, 2)[1] == pytest.approx(1 - 12 / 28)
    l1[:, :5] = 255
    r0, r1 = np.zeros_like(l0), np.full_like(l0, NO_DEPTH)
    out, reason = interpolate_labels(l0, l1, 0.25, 2, r0, r1)
    assert (out[:, :5] != 255).all() and (reason[:, :5] == VALID).all()


def test_moving_legs_interpolated_between_two_depth_frames_beat_the_nearest(rig, projector):
    """Legs 3 cm further at t1 than at t0; the thermal frame exposes at 0.4 in between."""
    frames = []
    for shift in (0.0, 0.03):
        scene = apart(shift)
        _, rgb = cast(rig["color"], scene)
        frames.append(projector.transfer_labels(depth_image(rig, scene), rgb, 3))
    _, truth = cast(rig["thermal"], apart(0.012))
    mid, _ = interpolate_labels(frames[0].labels, frames[1].labels, 0.4, 3)

    def iou(lab):
        return np.mean(
            [((lab == c) & (truth == c)).sum() / ((lab == c) | (truth == c)).sum() for c in (1, 2)]
        )

    assert iou(mid) > iou(frames[0].labels) + 0.03


def test_cylinder_scene_helper_is_consistent(rig):
    """The test scene itself: the depth image is the z of the points the depth camera sees."""
    scene = [Cylinder(0.0, 1.0, 0.1, -1, 1, 1)]
    pts, lab = cast(rig["depth"], scene)
    d = depth_image(rig, scene)
    assert lab[60, 80] == 1 and d[60, 80] == pytest.approx(900, abs=2)
    assert np.allclose(d * DEPTH_SCALE, pts[..., 2], atol=DEPTH_SCALE)


@pytest.mark.slow
def test_benchmark_times_the_transfer_beside_rs_align_on_the_same_frames():
    from app.bench import load_benchmarks
    from app.bench.projection import CASES, _case

    assert "projection" in load_benchmarks()
    assert [c[1:3] for c in CASES] == [((640, 480), (640, 512)), ((848, 480), (1280, 720))]
    results = _case("small", (320, 240), (320, 256), 1.2, repeat=2)  # same code, smaller
    assert [r.name for r in results] == ["small: depth z-buffer only", "small: full label transfer"]
    for r in results:
        assert r.unit == "ms/frame" and r.value > 0
        assert r.peer == "rs.align" and r.peer_value > 0 and r.ratio > 0


def test_frame_confidences_of_a_table_equal_frame_confidence_row_by_row():
    conf = np.array(
        [
            [np.nan, 0.8, 0.3],  # lowest present class
            [np.nan, np.nan, 0.6],  # an absent class does not count
            [0.9, np.nan, np.nan],  # no class but background: background's
            [np.nan] * 3,  # never labeled: NaN (frame_confidence would say 0)
        ],
        np.float32,
    )
    rows = frame_confidences(conf)
    assert rows.tolist()[:3] == [frame_confidence(c) for c in conf[:3]]
    assert rows[:2].tolist() == [np.float32(0.3), np.float32(0.6)] and np.isnan(rows[3])
    assert np.isnan(frame_confidences(np.zeros((2, 0)))).all()
