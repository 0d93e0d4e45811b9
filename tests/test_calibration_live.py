"""Live calibration without Qt: search per camera, stillness, automatic and requested
capture of poses, dropping and restoring views (rendered board images)."""

import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from calibration.boards import parse_board
from calibration.intrinsics import CalibrationError
from calibration.live import LiveCalibration
from calibration.live_search import (
    MARK_RADIUS,
    MOVING_RGB,
    STILL_RGB,
    _scaled,
    display_image,
    live_detect,
    mark_corners,
)
from drivers.types import Frame, FrameSet, StreamSpec
from tests.board_images import quad, render, thermal

BOARD = parse_board("coded:11x9:40")
SIZES = {"thermal": (320, 256), "ir": (320, 240), "color": (640, 360)}


def _specs() -> dict[str, StreamSpec]:
    out = {}
    for name, (w, h) in SIZES.items():
        kind, dtype = {"thermal": ("thermal", "uint16"), "ir": ("ir", "uint16")}.get(
            name, ("color", "uint8")
        )
        shape = (h, w, 3) if name == "color" else (h, w)
        out[name] = StreamSpec(name, kind, shape, dtype, "", 10.0)
    out["depth"] = StreamSpec("depth", "depth", (240, 320), "uint16", "depth_units", 10.0, 0.001)
    return out


def _frames(index: int, place: tuple[float, float, float], seed: int = 0) -> FrameSet:
    """Every camera sees the board at ``place`` (x, y as image fractions, tilt px)."""
    fx, fy, tilt = place
    frames = {}
    for name, (w, h) in SIZES.items():
        img, _ = render(BOARD, quad(fx * w, fy * h, 0.55 * w, 0.5 * w, tilt * w / 320), (w, h))
        if name == "thermal":
            array = thermal(img, seed=seed + index)
        elif name == "ir":
            array = (img * 40 + 500).astype(np.uint16)
        else:
            array = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
        frames[name] = Frame(name, index, index / 10, array)
    return FrameSet(index, index / 10, "thermal", frames)


def test_a_still_new_view_is_captured_once_in_every_camera():
    live = LiveCalibration(BOARD, _specs())
    assert live.streams == {"depth": "ir", "thermal": "thermal", "color": "color"}
    states = [live.process(_frames(i, (0.5, 0.5, 0.0))) for i in range(8)]
    # The thermal board is hot where the print is dark: found once inverted, in turn.
    assert live.cams["thermal"].variant.startswith("inverted")
    captured = [s.captured for s in states if s.captured is not None]
    assert captured == [0], "captured once, when still; the same view is not new again"
    assert states[-1].message.startswith("move the board")
    assert {c: len(v) for c, v in live.views.items()} == {"depth": 1, "thermal": 1, "color": 1}
    view = live.views["thermal"][0]
    assert (
        view.pose == 0 and len(view.frames) == 3 and len(view.detection) == 76
    )  # 99 corners, 23 under the marker
    assert view.detection.image_size == (320, 256)
    state = states[-1]
    assert all(c.still for c in state.cameras.values()) and state.poses == 1


def test_motion_resets_stillness_and_the_capture_key_forces_a_view():
    live = LiveCalibration(BOARD, _specs())
    for i in range(4):
        live.process(_frames(i, (0.5, 0.5, 0.0)))
    assert live.poses == [], "the thermal board was found (inverted) only at frame 2"
    moving = live.process(_frames(4, (0.56, 0.5, 0.0)))
    assert moving.message == "hold the board still" and not moving.cameras["color"].still
    assert moving.cameras["color"].motion > 5.0
    live.auto = False
    for i in range(5, 9):
        assert live.process(_frames(i, (0.44, 0.46, 12.0))).captured is None
    live.request_capture()
    assert live.process(_frames(9, (0.44, 0.46, 12.0))).captured == 0
    assert live.poses == [0]
    empty = FrameSet(10, 1.0, "thermal", {})
    assert live.process(empty).message == "show the board to the cameras"


def test_views_can_be_dropped_and_restored_and_the_fit_needs_the_reference():
    live = LiveCalibration(BOARD, _specs())
    for i in range(5):
        live.process(_frames(i, (0.5, 0.5, 0.0)))
    assert live.drop("thermal", 0) and not live.drop("thermal", 0)
    assert live.snapshot()["thermal"] == [] and len(live.dropped) == 1
    assert live.restore() == 1 and len(live.snapshot()["thermal"]) == 1
    live.drop("depth", 0)
    with pytest.raises(CalibrationError, match="depth camera has no views yet"):
        live.calibrate()


def test_shrunk_search_reports_full_resolution_corners():
    img, truth = render(BOARD, quad(640, 360, 700, 600), (1280, 720))
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    import cv2

    small = cv2.resize(rgb, (640, 360), interpolation=cv2.INTER_AREA)
    det = _scaled(live_detect(small, BOARD, "color", "stretch"), 0.5, (1280, 720))
    assert det.image_size == (1280, 720)
    assert np.abs(det.image_points - truth[det.ids]).max() < 0.6
    gray16 = np.arange(100 * 120, dtype=np.uint16).reshape(100, 120) + 1000
    shown = display_image(gray16)
    assert shown.dtype == np.uint8 and shown.min() == 0 and shown.max() == 255
    assert display_image(rgb).shape == (720, 1280, 3)


def test_each_camera_comes_with_its_picture_the_corners_marked_in_the_still_colour():
    live = LiveCalibration(BOARD, _specs())
    state = [live.process(_frames(i, (0.5, 0.5, 0.0))) for i in range(6)][-1]
    for cam in state.cameras.values():
        assert cam.still and cam.detection is not None
        assert cam.picture.shape == cam.image.shape[:2] + (3,) and cam.picture.dtype == np.uint8
        pts = (cam.detection.image_points + 0.5) * cam.scale - 0.5
        at = cam.picture[np.round(pts[:, 1]).astype(int), np.round(pts[:, 0]).astype(int)]
        assert (np.abs(at.astype(int) - STILL_RGB).max(axis=1) <= 40).mean() > 0.95
    gray = state.cameras["thermal"].image
    assert gray.ndim == 2, "the searched image itself is left as it was"


def test_mark_corners_draws_on_a_copy_and_only_near_the_corners():
    img, _ = render(BOARD, quad(320, 180, 350, 300), (640, 360))
    rgb = np.repeat(np.clip(img, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)
    det = live_detect(rgb, BOARD, "color", "stretch")
    assert det is not None
    small = np.full((180, 320, 3), 50, np.uint8)
    marked = mark_corners(small, 0.5, det, still=False)
    assert (small == 50).all(), "the input is not drawn on"
    pts = (det.image_points + 0.5) * 0.5 - 0.5
    ys, xs = np.nonzero((marked != 50).any(axis=2))
    near = np.hypot(xs[:, None] - pts[None, :, 0], ys[:, None] - pts[None, :, 1]).min(1)
    assert len(xs) and near.max() < MARK_RADIUS + 2, "nothing is drawn away from the corners"
    assert tuple(marked[int(round(pts[0, 1])), int(round(pts[0, 0]))]) == MOVING_RGB
    gray = np.full((60, 80), 100, np.uint8)
    plain = mark_corners(gray, 1.0, None, still=True)
    assert plain.shape == (60, 80, 3) and (plain == 100).all()


@pytest.mark.parametrize("parallel", [False, True], ids=["cameras-in-turn", "cameras-parallel"])
def test_with_a_pool_a_pose_is_searched_in_full_in_the_background_as_without_one(parallel):
    """The full search of a captured pose runs on the pool: the live search goes on
    (and says so) until it is done, and the views are those of the search in place;
    with the cameras searched in parallel, too."""
    frames = [_frames(i, (0.5, 0.5, 0.0)) for i in range(10)]
    inline = LiveCalibration(BOARD, _specs())
    at = next(i for i, fs in enumerate(frames) if inline.process(fs).captured == 0)
    live = LiveCalibration(BOARD, _specs())
    release = threading.Event()
    full_views = live._full_views

    def held(*args):
        assert release.wait(30.0)
        return full_views(*args)

    live._full_views = held
    with ThreadPoolExecutor(4) as pool:
        states = [live.process(fs, pool, parallel) for fs in frames[: at + 1]]
        assert states[-1].captured is None and states[-1].message == "capturing pose 0…"
        going_on = live.process(frames[at + 1], pool, parallel)
        assert going_on.message == "capturing pose 0…" and live.poses == []
        assert all(c.still for c in going_on.cameras.values()), "the search went on"
        release.set()
        live._pending[0].result(timeout=30.0)
        done = live.process(frames[at + 2], pool, parallel)
    assert done.captured == 0 and done.message == "pose 0 captured" and live.poses == [0]
    for cam, views in inline.views.items():
        (mine,) = live.views[cam]
        assert mine.frames == views[0].frames
        np.testing.assert_array_equal(mine.detection.image_points, views[0].detection.image_points)
