"""ROS-style view parameters, the keep-if-new rule, progress, and the wizard's rule."""

import math

import cv2
import numpy as np
import pytest

from calibration.boards import parse_board
from calibration.coverage import (
    GOOD_ENOUGH_VIEWS,
    Coverage,
    ViewParams,
    accept_view,
    corner_motion,
    outline,
    view_params,
)
from calibration.detect import Detection

BOARD = parse_board("checker:9x6:25")
SIZE = (640, 480)


def _det(corners_px, ids=None):
    """A detection whose outer corners (TL, TR, BR, BL) land on ``corners_px``."""
    ids = np.arange(54) if ids is None else np.asarray(ids)
    grid = BOARD.grid(ids).astype(np.float64)
    H = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [8, 0], [8, 5], [0, 5]]), np.float32(corners_px)
    )
    pts = cv2.perspectiveTransform(grid.reshape(-1, 1, 2), H).reshape(-1, 2)
    return Detection(
        BOARD.spec,
        ids,
        pts.astype(np.float32),
        BOARD.object_points(ids),
        SIZE,
        "stretch",
        100,
        1,
        1,
    )


def _rect(cx, cy, w, h):
    return [
        [cx - w / 2, cy - h / 2],
        [cx + w / 2, cy - h / 2],
        [cx + w / 2, cy + h / 2],
        [cx - w / 2, cy + h / 2],
    ]


def test_centred_fronto_parallel_view():
    p = view_params(_det(_rect(320, 240, 320, 200)))
    assert p.x == pytest.approx(0.5, abs=1e-6) and p.y == pytest.approx(0.5, abs=1e-6)
    assert p.size == pytest.approx(math.sqrt(320 * 200 / (640 * 480)), rel=1e-6)
    assert p.skew == pytest.approx(0, abs=1e-6)


def test_corner_views_reach_the_ends_and_tilt_shows_as_skew():
    tl = view_params(_det(_rect(80, 80, 160, 160)))  # centroid at half the board's size
    assert tl.x == 0 and tl.y == 0
    br = view_params(_det(_rect(560, 400, 160, 160)))
    assert br.x == 1 and br.y == 1
    tilted = view_params(_det([[200, 150], [440, 120], [460, 330], [190, 360]]))
    assert 0.05 < tilted.skew < 1


def test_partial_view_outline_is_the_seen_part_of_the_grid():
    full = _det(_rect(320, 240, 320, 200))
    keep = [k for k in range(54) if k % 9 >= 3]  # columns 0-2 out of the image
    part = _det(_rect(320, 240, 320, 200), keep)
    out = outline(part)
    np.testing.assert_allclose(out[1:3], outline(full)[1:3], atol=1e-3)
    assert out[0][0] == pytest.approx(160 + 3 * 40, abs=1e-3)


def test_coverage_keeps_only_new_views_and_fills_bars():
    cov = Coverage()
    a = ViewParams(0.1, 0.1, 0.3, 0.0)
    assert cov.add(a) and not cov.add(ViewParams(0.15, 0.12, 0.3, 0.0))  # L1 0.07
    assert cov.add(ViewParams(0.9, 0.9, 0.7, 0.6))
    prog = cov.progress()
    assert prog == pytest.approx({"x": 1.0, "y": 1.0, "size": 1.0, "skew": 1.0})  # capped
    assert cov.good_enough
    few = Coverage()
    few.add(ViewParams(0.5, 0.5, 0.3, 0.0))
    few.add(ViewParams(0.6, 0.5, 0.5, 0.1))
    assert few.progress()["x"] == pytest.approx(0.1 / 0.7)
    assert not few.good_enough
    many = Coverage(min_distance=-1)
    for _ in range(GOOD_ENOUGH_VIEWS):
        many.add(a)
    assert many.good_enough


def test_wizard_accepts_still_new_views_only():
    cov = Coverage()
    d0 = _det(_rect(320, 240, 320, 200))
    assert not accept_view(d0, None, cov)  # no previous frame: stillness unknown
    still = _det(_rect(320.3, 240.2, 320, 200))
    assert corner_motion(still, d0) < 1
    assert accept_view(still, d0, cov) and len(cov.kept) == 1
    assert not accept_view(still, still, cov)  # still, but nothing new
    moving = _det(_rect(100, 80, 200, 160))
    assert not accept_view(moving, still, cov)  # new, but moving
    assert accept_view(moving, moving, cov) and len(cov.kept) == 2
