"""The synthetic rig: the ground truth every other capability is measured against.

These tests check that the truth is *exact* (labels and keypoints agree with the 3-D
scene projected through the true rig; board corners land on the rendered corners),
that the images look like what the sensors deliver (temperatures, depth ranges,
zeros, noise), and that the clocks behave like free-running or triggered cameras.
"""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from calibration.rig import Rig
from drivers.errors import EndOfStream, SourceError
from drivers.sources import open_source
from drivers.synthetic import SyntheticConfig, open_synthetic, parse_board, render_rate
from drivers.synthetic.camera import true_cameras
from drivers.synthetic.kinematics import Body, Pedalling, Running
from drivers.truth import DEFAULT_CLASSES, DEFAULT_KEYPOINTS
from drivers.types import centikelvin_to_celsius

LEFT, RIGHT = DEFAULT_CLASSES.index("left_calf"), DEFAULT_CLASSES.index("right_calf")


def _all_frames(driver) -> list:
    out = []
    while True:
        try:
            frame = driver.read(timeout=None)
        except EndOfStream:
            return out
        if frame is not None:
            out.append(frame)


def _by_stream(frames) -> dict[str, list]:
    out: dict[str, list] = {}
    for f in frames:
        out.setdefault(f.stream, []).append(f)
    return out


@pytest.fixture(scope="module")
def cycling():
    """One second of cycling (30 Hz, free running), opened through the source registry."""
    driver = open_source("synthetic:cycling", realtime=False, duration=1.0, seed=3)
    frames = _all_frames(driver)
    return driver, frames


@pytest.fixture(scope="module")
def rig(cycling):
    return Rig.from_dict(cycling[0].info.truth["rig"])


# -- streams, info, truth rig -----------------------------------------------------------


def test_streams_have_the_design_shapes_units_and_true_intrinsics(cycling, rig):
    driver, _ = cycling
    s = driver.streams
    assert set(s) == {"thermal", "depth", "color"}
    assert (s["thermal"].shape, s["thermal"].dtype, s["thermal"].units) == (
        (512, 640),
        "uint16",
        "centikelvin",
    )
    assert (s["depth"].shape, s["depth"].dtype, s["depth"].units) == (
        (480, 640),
        "uint16",
        "depth_units",
    )
    assert s["depth"].depth_scale == pytest.approx(0.001)
    assert (s["color"].shape, s["color"].dtype, s["color"].units) == (
        (720, 1280, 3),
        "uint8",
        "rgb",
    )
    for name, spec in s.items():
        assert spec.device == f"synthetic-{name}"
        assert spec.fps == 30.0
        cam = rig[name]
        assert (spec.intrinsics.width, spec.intrinsics.height) == (cam.width, cam.height)
        np.testing.assert_allclose(spec.intrinsics.matrix, cam.K)
        np.testing.assert_allclose(spec.intrinsics.dist_coeffs, cam.dist)


def test_info_hides_the_rig_but_carries_the_truth(cycling, rig):
    info = cycling[0].info
    assert info.activity == "cycling" and info.rig is None and info.hw_sync is False
    assert info.devices == {n: f"synthetic-{n}" for n in ("thermal", "depth", "color")}
    assert info.truth["classes"] == list(DEFAULT_CLASSES)
    assert info.truth["keypoints"] == list(DEFAULT_KEYPOINTS)
    assert info.truth["board"] is None
    assert rig.reference == "depth"
    np.testing.assert_allclose(rig["depth"].T_ref_cam, np.eye(4))
    # Thermal: strong barrel distortion, 5-15 cm baselines, 1-3 degree rotations.
    assert rig["thermal"].dist[0] < -0.2 and 700 <= rig["thermal"].K[0, 0] <= 800
    for name in ("thermal", "color"):
        T = rig[name].T_ref_cam
        assert 0.05 <= np.linalg.norm(T[:3, 3]) <= 0.15
        angle = np.degrees(np.linalg.norm(cv2.Rodrigues(T[:3, :3])[0]))
        assert 1.0 <= angle <= 3.5


def test_lens_models_never_fold_far_points_back_into_the_image():
    """A monotonic radial model keeps points outside the view outside the image."""
    cams = true_cameras({"thermal": (640, 512), "depth": (640, 480), "color": (1280, 720)})
    r = np.linspace(0.0, 4.0, 2000)
    for cam in cams.values():
        k1, k2, _, _, k3 = cam.dist
        rd = r * (1 + k1 * r**2 + k2 * r**4 + k3 * r**6)
        assert np.all(np.diff(rd) > 0), cam.name


# -- frames and clocks ------------------------------------------------------------------


def test_frames_match_their_specs_and_carry_truth(cycling):
    driver, frames = cycling
    per = _by_stream(frames)
    assert {n: len(v) for n, v in per.items()} == {"thermal": 30, "depth": 30, "color": 30}
    for name, fs in per.items():
        spec = driver.streams[name]
        assert [f.index for f in fs] == list(range(len(fs)))
        for f in fs[:3]:
            assert f.array.shape == spec.shape and f.array.dtype == np.dtype(spec.dtype)
            assert f.truth["labels"].shape == spec.shape[:2] and f.truth["labels"].dtype == np.uint8
            assert f.truth["keypoints"].shape == (6, 2) and f.truth["keypoints"].dtype == np.float32
            assert "board_pose" not in f.truth


def test_free_running_clocks_are_monotonic_with_a_thermal_offset(cycling):
    _, frames = cycling
    stamps = [f.timestamp for f in frames]
    assert stamps == sorted(stamps) and stamps[0] >= 0.0
    per = _by_stream(frames)
    for fs in per.values():
        ts = np.array([f.timestamp for f in fs])
        assert np.all(np.diff(ts) > 0.025) and np.all(np.diff(ts) < 0.042)
        dev = np.array([f.device_timestamp for f in fs])
        np.testing.assert_allclose(np.diff(dev), 1 / 30, atol=1e-9)  # the camera's own clock
    th = np.array([f.timestamp for f in per["thermal"]])
    de = np.array([f.timestamp for f in per["depth"]])
    skew = th - de
    assert 0.009 < np.median(skew) < 0.016  # the configured +12 ms, plus jitter
    assert np.std(skew) > 1e-4  # jitter: no two cameras share an instant


def test_hw_sync_exposes_all_cameras_at_the_same_instants():
    driver = open_synthetic("cycling", realtime=False, duration=0.3, hw_sync=True, thermal_fps=9)
    driver.open()
    per = _by_stream(_all_frames(driver))
    assert driver.info.hw_sync is True
    assert {s.fps for s in driver.streams.values()} == {9.0}
    stamps = {n: [f.timestamp for f in fs] for n, fs in per.items()}
    assert stamps["thermal"] == stamps["depth"] == stamps["color"]
    np.testing.assert_allclose(np.diff(stamps["thermal"]), 1 / 9)


def test_thermal_at_9_hz_beside_30_hz_depth_and_color():
    driver = open_synthetic("cycling", realtime=False, duration=1.0, thermal_fps=9)
    driver.open()
    per = _by_stream(_all_frames(driver))
    assert driver.streams["thermal"].fps == 9.0
    assert len(per["thermal"]) == 9 and len(per["depth"]) == 30
    gaps = np.diff([f.timestamp for f in per["thermal"]])
    assert np.all(np.abs(gaps - 1 / 9) < 0.005)


def test_same_seed_same_session_other_seed_other_session():
    def first(seed: int) -> list:
        d = open_synthetic("cycling", realtime=False, duration=0.07, seed=seed)
        d.open()
        return _all_frames(d)

    a, b, c = first(5), first(5), first(6)
    assert len(a) == len(b) >= 6
    for fa, fb in zip(a, b, strict=True):
        assert fa.stream == fb.stream and fa.timestamp == fb.timestamp
        np.testing.assert_array_equal(fa.array, fb.array)
        np.testing.assert_array_equal(fa.truth["labels"], fb.truth["labels"])
    assert any(not np.array_equal(fa.array, fc.array) for fa, fc in zip(a, c, strict=False))


def test_consecutive_frames_never_repeat_pixels():
    """Real sensors have noise: a still board must not look like a duplicated frame."""
    d = open_synthetic("calibration", realtime=False, duration=0.2)
    d.open()
    per = _by_stream(_all_frames(d))
    for fs in per.values():
        for f0, f1 in zip(fs, fs[1:], strict=False):
            assert not np.array_equal(f0.array, f1.array)
    assert all(h.duplicates == 0 for h in d.health().values())


def test_realtime_paces_frames_on_the_monotonic_clock():
    d = open_synthetic("cycling", realtime=True, duration=0.15, seed=1)
    d.open()
    before = time.monotonic()
    d.start()
    frames = []
    with pytest.raises(EndOfStream):
        while True:
            f = d.read(timeout=1.0)
            if f is not None:
                assert time.monotonic() >= f.timestamp  # never delivered before exposure
                frames.append(f)
    assert frames and frames[0].timestamp >= before
    assert frames[-1].timestamp - before < 0.15 + 0.05


# -- images -----------------------------------------------------------------------------


def test_thermal_skin_is_30_to_35_c_and_the_wall_about_22_c(cycling):
    _, frames = cycling
    f = _by_stream(frames)["thermal"][10]
    celsius = centikelvin_to_celsius(f.array)
    kernel = np.ones((7, 7), np.uint8)
    for cls in (LEFT, RIGHT):
        core = cv2.erode((f.truth["labels"] == cls).astype(np.uint8), kernel).astype(bool)
        assert core.sum() > 500
        assert 30.0 <= np.median(celsius[core]) <= 35.0
        assert np.percentile(celsius[core], 95) - np.percentile(celsius[core], 5) > 0.5  # gradients
    wall = celsius[:60, :80]  # top-left corner: wall only
    assert abs(np.median(wall) - 22.0) < 1.0
    # NETD ~50 mK plus fixed-pattern noise: a flat patch is not perfectly flat.
    assert 0.03 < np.std(wall - cv2.blur(wall, (9, 9))) < 0.2


def test_depth_sees_the_calves_at_plausible_range_with_holes(cycling):
    _, frames = cycling
    f = _by_stream(frames)["depth"][10]
    metres = f.array.astype(np.float64) * 0.001
    for cls in (LEFT, RIGHT):
        on = (f.truth["labels"] == cls) & (f.array > 0)
        assert on.sum() > 300
        assert 1.0 < np.median(metres[on]) < 2.0
    assert (f.array == 0).any()  # no return: grazing angles, dark shoes


def test_depth_noise_grows_to_a_few_millimetres(cycling):
    """Two frames of the same still wall differ by ToF noise (about 1-3 mm at 1.5 m,
    growing with the square of the distance)."""
    _, frames = cycling
    d = _by_stream(frames)["depth"]
    a, b = d[0].array[:80, :120].astype(float), d[5].array[:80, :120].astype(float)
    both = (a > 0) & (b > 0)
    z = np.median(a[both]) * 0.001
    sigma_mm = np.std(a[both] - b[both]) / np.sqrt(2)
    expected = 1.5 * (z / 1.5) ** 2
    assert 0.6 * expected < sigma_mm < 1.6 * expected


def test_both_calves_are_labelled_in_most_thermal_frames(cycling):
    _, frames = cycling
    thermal = _by_stream(frames)["thermal"]
    both = [
        ((f.truth["labels"] == LEFT).sum() > 200) and ((f.truth["labels"] == RIGHT).sum() > 200)
        for f in thermal
    ]
    assert np.mean(both) >= 0.9
    left_cols = np.nonzero(thermal[0].truth["labels"] == LEFT)[1]
    right_cols = np.nonzero(thermal[0].truth["labels"] == RIGHT)[1]
    assert left_cols.mean() < right_cols.mean()  # posterior view: left leg on the left


# -- truth against geometry ---------------------------------------------------------------


def _project(rig: Rig, stream: str, points_ref: np.ndarray) -> np.ndarray:
    cam = rig[stream]
    T = cam.T_cam_ref
    rvec, _ = cv2.Rodrigues(T[:3, :3])
    uv, _ = cv2.projectPoints(points_ref.reshape(-1, 1, 3), rvec, T[:3, 3], cam.K, cam.dist)
    return uv.reshape(-1, 2)


def test_calf_centres_project_onto_their_own_labels(cycling, rig):
    driver, frames = cycling
    hits = {LEFT: [], RIGHT: []}
    for f in frames:
        pts = driver.points_3d(f)
        for cls, name in ((LEFT, "left_calf_centre"), (RIGHT, "right_calf_centre")):
            u, v = np.rint(_project(rig, f.stream, pts[name])[0]).astype(int)
            hits[cls].append(f.truth["labels"][v, u] == cls)
    for cls, h in hits.items():
        assert np.mean(h) >= 0.9, (cls, np.mean(h))


def test_keypoints_are_the_3d_joints_projected_through_the_true_rig(cycling, rig):
    driver, frames = cycling
    for f in frames[::4]:
        pts = driver.points_3d(f)
        expected = _project(rig, f.stream, np.array([pts[k] for k in DEFAULT_KEYPOINTS]))
        got = f.truth["keypoints"]
        inside = ~np.isnan(got[:, 0])
        assert inside.sum() >= 4
        np.testing.assert_allclose(got[inside], expected[inside], atol=1e-3)
        h, w = f.array.shape[:2]
        outside = (
            (expected[:, 0] < -0.5)
            | (expected[:, 0] >= w - 0.5)
            | (expected[:, 1] < -0.5)
            | (expected[:, 1] >= h - 0.5)
        )
        assert np.array_equal(outside, ~inside)


def test_leg_segments_keep_their_length_through_the_cycle():
    body = Body()
    for kin in (Pedalling(body), Running(body, speed=10 / 3.6, stride_period=0.72)):
        hip_h = kin.hip_height()
        for phase in np.linspace(0, 1, 40, endpoint=False):
            for j in kin.legs(phase, hip_h).values():
                assert np.linalg.norm(j["knee"] - j["hip"]) == pytest.approx(body.thigh, abs=1e-9)
                reach = np.linalg.norm(j["ankle"] - j["knee"])
                assert reach == pytest.approx(body.shank, abs=1e-9)


def test_treadmill_runner_is_labelled_and_moves():
    d = open_synthetic("treadmill", realtime=False, duration=0.4, seed=2)
    d.open()
    thermal = _by_stream(_all_frames(d))["thermal"]
    assert d.info.activity == "treadmill"
    assert all(
        (f.truth["labels"] == LEFT).any() or (f.truth["labels"] == RIGHT).any() for f in thermal
    )
    heels = np.array([f.truth["keypoints"][4] for f in thermal])
    assert np.nanmax(heels[:, 1]) - np.nanmin(heels[:, 1]) > 20  # a swinging foot, in pixels


def test_skin_warms_slowly_over_the_session(cycling):
    driver, _ = cycling
    period = driver.scene.period
    cold = driver.render_frame("thermal", 0, 0.2)
    warm = driver.render_frame("thermal", 1, 0.2 + 350 * period)  # same phase, 5 min later
    core = cv2.erode((cold.truth["labels"] == LEFT).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    rise = np.mean(
        centikelvin_to_celsius(warm.array)[core] - centikelvin_to_celsius(cold.array)[core]
    )
    assert rise == pytest.approx(driver.warming(0.2 + 350 * period), abs=0.05)
    assert 1.0 < rise < 2.0  # 0.3 °C/min at first, saturating
    wall = np.mean(warm.array[:50, :50].astype(float) - cold.array[:50, :50])
    assert abs(wall) < 2  # centikelvin: the wall does not warm


# -- calibration scene --------------------------------------------------------------------


def test_calibration_board_corners_land_where_the_truth_projects_them():
    d = open_synthetic("calibration", realtime=False, board="checker:9x6:40")
    d.open()
    board = parse_board(d.info.truth["board"])
    assert d.info.truth["rig"]["board"] == "checker:9x6:40" and d.info.activity == "calibration"
    obj = (
        np.array([[c, r, 0.0] for r in range(board.rows) for c in range(board.cols)]) * board.square
    )
    rig = Rig.from_dict(d.info.truth["rig"])
    slot = d.config.board_hold_s + d.config.board_move_s
    found = 0
    for pose in (0, 2, 6, 9):
        t = pose * slot + 0.3
        for stream in ("color", "thermal"):
            f = d.render_frame(stream, 1, t)
            T = f.truth["board_pose"]
            # The per-stream pose agrees with the rig: T_cam_board = T_cam_ref T_ref_board.
            np.testing.assert_allclose(T, rig[stream].T_cam_ref @ d.board_pose_ref(f), atol=1e-9)
            assert not f.truth["labels"].any() and np.isnan(f.truth["keypoints"]).all()
            if stream == "color":
                gray = cv2.cvtColor(f.array, cv2.COLOR_RGB2GRAY)
            else:
                gray = np.clip((centikelvin_to_celsius(f.array) - 20) * 15, 0, 255).astype(np.uint8)
            ok, corners = cv2.findChessboardCornersSB(
                gray, (board.cols, board.rows), flags=cv2.CALIB_CB_ACCURACY
            )
            if not ok:
                continue
            cam = rig[stream]
            rvec, _ = cv2.Rodrigues(T[:3, :3])
            proj, _ = cv2.projectPoints(obj, rvec, T[:3, 3], cam.K, cam.dist)
            c, p = corners.reshape(-1, 2), proj.reshape(-1, 2)
            err = min(
                np.linalg.norm(c - p, axis=1).mean(), np.linalg.norm(c[::-1] - p, axis=1).mean()
            )
            assert err < 0.5, (pose, stream, err)
            found += 1
    assert found >= 6


def _truth_error(det, frame, cam) -> float:
    """RMS (px) between detected corners and the truth pose projected through ``cam``."""
    T = frame.truth["board_pose"]
    rvec, _ = cv2.Rodrigues(T[:3, :3])
    proj, _ = cv2.projectPoints(det.object_points.astype(float), rvec, T[:3, 3], cam.K, cam.dist)
    return float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - det.image_points) ** 2, axis=1))))


def test_default_board_is_the_coded_target_read_the_same_way_in_every_camera():
    """The default board fixes its orientation: every camera (the depth camera through
    its IR image) labels its corners as the truth pose says, with the geometry of
    ``calibration.boards`` (which the synthetic print repeats without importing it)."""
    from calibration.detect import detect

    d = open_synthetic("calibration", realtime=False)
    d.open()
    spec = d.info.truth["board"]
    assert spec == "coded:11x9:40" == d.info.truth["rig"]["board"]
    rig = Rig.from_dict(d.info.truth["rig"])
    slot = d.config.board_hold_s + d.config.board_move_s
    for pose in (0, 3, 7, 9):
        for stream in ("thermal", "ir", "color"):
            f = d.render_frame(stream, 1, pose * slot + 0.4)
            det = detect(f.array, spec, kind=stream)
            assert det is not None and len(det) >= 60, (pose, stream)
            cam = rig["depth" if stream == "ir" else stream]
            assert _truth_error(det, f, cam) < 0.15, (pose, stream)


def test_ir_stream_is_the_depth_cameras_amplitude_image():
    d = open_synthetic("calibration", realtime=False, duration=0.2)
    d.open()
    spec = d.streams["ir"]
    assert (spec.shape, spec.dtype, spec.units, spec.kind) == (
        (480, 640),
        "uint16",
        "amplitude",
        "ir",
    )
    np.testing.assert_allclose(spec.intrinsics.matrix, d.streams["depth"].intrinsics.matrix)
    per = _by_stream(_all_frames(d))
    assert [f.timestamp for f in per["ir"]] == [f.timestamp for f in per["depth"]]
    f = per["ir"][2]
    np.testing.assert_allclose(f.truth["board_pose"], per["depth"][2].truth["board_pose"])
    # The board's white squares return far more light than its black ones and the wall.
    board = f.array[200:280, 260:380].astype(float)
    assert np.percentile(board, 95) > 3 * np.percentile(board, 5) > 0
    # Only where it is needed: cycling has no IR stream unless asked for.
    assert "ir" not in open_source("synthetic:cycling", realtime=False, duration=0.1).streams
    on = open_synthetic("cycling", realtime=False, duration=0.1, ir_stream="on")
    on.open()
    assert set(on.streams) == {"thermal", "depth", "ir", "color"}
    with pytest.raises(SourceError, match="ir_stream"):
        open_synthetic("cycling", ir_stream="maybe")


def test_charuco_and_checker_boards_print_too():
    from calibration.detect import detect

    for spec in ("charuco:8x6:50:38:DICT_4X4_50", "checker:9x6:40"):
        d = open_synthetic("calibration", realtime=False, board=spec)
        d.open()
        rig = Rig.from_dict(d.info.truth["rig"])
        f = d.render_frame("color", 1, 0.5)
        det = detect(f.array, d.info.truth["board"], kind="color")
        assert det is not None and len(det) >= 30, spec
        if spec.startswith("charuco"):  # ids are absolute: the truth pose fits them
            assert _truth_error(det, f, rig["color"]) < 0.15
    with pytest.raises(SourceError, match="odd corner counts"):
        open_synthetic("calibration", board="coded:10x9:40")


def test_calibration_board_holds_still_then_moves():
    d = open_synthetic("calibration", realtime=False, board_hold_s=0.5, board_move_s=0.3)
    d.open()
    per = _by_stream(_all_frames_until(d, 1.0))
    poses = np.array([f.truth["board_pose"][:3, 3] for f in per["depth"]])
    steps = np.linalg.norm(np.diff(poses, axis=0), axis=1)
    assert np.all(steps[:13] == 0)  # held for 0.5 s
    assert steps[16:22].max() > 0.001  # then moving to the next pose


def _all_frames_until(driver, seconds: float) -> list:
    out = []
    while True:
        f = driver.read(timeout=None)
        if f.timestamp >= seconds:
            return out
        out.append(f)


# -- errors, options, bench ----------------------------------------------------------------


def test_bad_scenes_options_and_boards_are_one_line_errors():
    with pytest.raises(SourceError, match="cycling.*treadmill.*calibration"):
        open_synthetic("swimming")
    with pytest.raises(SourceError, match="unknown synthetic option.*frobnicate"):
        open_synthetic("cycling", frobnicate=1)
    with pytest.raises(SourceError, match="checker:COLSxROWS:SQUARE_MM"):
        open_synthetic("calibration", board="chess-9-6")
    with pytest.raises(SourceError, match="thermal_fps"):
        open_synthetic("cycling", thermal_fps=0)
    with pytest.raises(SourceError, match="duration"):
        open_synthetic("cycling", duration=-1)


def test_options_given_as_text_are_converted():
    cfg = SyntheticConfig.from_options(
        {"thermal_fps": "9", "prewarm": "no", "color_size": "640x360"}
    )
    assert cfg.thermal_fps == 9.0 and cfg.prewarm is False and cfg.color_size == (640, 360)
    assert parse_board("checker:7x5:25").spec == "checker:7x5:25"


def test_prewarm_renders_each_state_once_and_render_rate_reports():
    d = open_synthetic("calibration", realtime=False, duration=0.1)
    d.open()
    assert d.prewarm() == len(d.scene.states())
    before = d.renders
    assert d.prewarm() == len(d.scene.states()) and d.renders == before  # all cached
    figures = render_rate("calibration", 0.2, cold=False)
    assert figures["frames"] == {"thermal": 6, "depth": 6, "ir": 6, "color": 6}
    assert figures["framesets"] == 6 and figures["ms_per_frameset"] > 0
