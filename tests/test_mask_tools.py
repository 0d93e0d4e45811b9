"""The review window's edit tools on numpy masks, checked pixel by pixel against
independent computations (brute-force distances, a plain breadth-first search)."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from app.review import mask_tools as mt
from drivers.types import celsius_to_centikelvin


def _blank(h: int = 20, w: int = 24) -> np.ndarray:
    return np.full((h, w), 255, np.uint8)


def _capsule(shape, points, radius) -> np.ndarray:
    """Brute force: pixel centres within ``radius`` of any segment of the polyline."""
    yy, xx = np.indices(shape, dtype=float)
    out = np.zeros(shape, bool)
    pts = [np.array(p, float) for p in points]
    pairs = list(zip(pts[:-1], pts[1:], strict=True)) or [(pts[0], pts[0])]
    for a, b in pairs:
        for t in np.linspace(0.0, 1.0, 2001):
            c = a + t * (b - a)
            out |= (xx - c[0]) ** 2 + (yy - c[1]) ** 2 <= radius**2 + 1e-9
    return out


def _bfs(values: np.ndarray, seed_xy: tuple[int, int], inside) -> np.ndarray:
    """4-connected pixels reachable from the seed through pixels where ``inside``."""
    h, w = values.shape
    x, y = seed_xy
    out = np.zeros((h, w), bool)
    if not inside(values[y, x]):
        return out
    todo = deque([(y, x)])
    out[y, x] = True
    while todo:
        r, c = todo.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < h and 0 <= cc < w and not out[rr, cc] and inside(values[rr, cc]):
                out[rr, cc] = True
                todo.append((rr, cc))
    return out


def test_a_single_brush_dab_is_a_disc_and_reports_its_box():
    mask = _blank()
    box = mt.brush(mask, [(10, 8)], 2, 1)
    expected = np.where(_capsule(mask.shape, [(10, 8)], 2), 1, 255)
    assert np.array_equal(mask, expected)
    assert box == mt.Box(6, 11, 8, 13)
    assert mask[6:11, 8:13].min() == 1 and (mask == 1).sum() == 13  # radius 2: 13 pixels


def test_brush_strokes_follow_the_polyline_exactly_and_clip_at_the_border():
    mask = _blank()
    mask[:, :3] = 0  # background already there, partly painted over
    points = [(1.0, 1.0), (15.5, 6.0), (22.0, 18.7), (30.0, 25.0)]
    box = mt.brush(mask, points, 2.5, 2)
    region = _capsule(mask.shape, points, 2.5)
    expected = np.full(mask.shape, 255, np.uint8)
    expected[:, :3] = 0
    expected[region] = 2
    assert np.array_equal(mask, expected)
    assert box == mt.bounding_box(region)
    # Painting the same stroke again changes nothing, and says so.
    assert mt.brush(mask, points, 2.5, 2) is None
    assert mt.brush(mask, [(-10, -10), (-5, -8)], 2, 1) is None, "a stroke off the image"


def test_the_eraser_writes_unlabeled():
    mask = np.zeros((12, 12), np.uint8)
    box = mt.erase(mask, [(3, 3), (8, 3)], 1)
    expected = np.where(_capsule(mask.shape, [(3, 3), (8, 3)], 1), 255, 0)
    assert np.array_equal(mask, expected) and box == mt.Box(2, 5, 2, 10)


def test_polygon_fill_matches_a_hand_made_triangle():
    mask = np.zeros((8, 8), np.uint8)
    box = mt.fill_polygon(mask, [(1, 1), (6, 1), (1, 6)], 1)
    expected = np.zeros((8, 8), np.uint8)
    for r in range(1, 7):
        expected[r, 1 : 8 - r] = 1  # x + y <= 7 inside the right triangle
    assert np.array_equal(mask, expected), mask
    assert box == mt.Box(1, 7, 1, 7)
    assert mt.fill_polygon(mask, [(1, 1), (5, 5)], 2) is None, "two points are no polygon"


def test_flood_fill_takes_the_connected_region_of_the_seed_class_only():
    rng = np.random.default_rng(3)
    mask = rng.choice(np.array([0, 1, 255], np.uint8), size=(30, 40), p=[0.3, 0.5, 0.2])
    before = mask.copy()
    expected = before.copy()
    region = _bfs(before, (7, 11), lambda v: v == before[11, 7])
    expected[region] = 2
    box = mt.flood_fill(mask, (7.2, 10.9), 2)
    assert np.array_equal(mask, expected)
    assert box == mt.bounding_box(region)
    assert mt.flood_fill(mask, (7, 11), 2) is None, "already that class"
    assert mt.flood_fill(mask, (99, 99), 1) is None, "seed outside the image"


def test_temperature_wand_selects_the_connected_pixels_in_the_range():
    rng = np.random.default_rng(7)
    celsius = rng.uniform(30.0, 36.0, size=(40, 50))
    celsius[5:25, 10:20] = rng.uniform(33.0, 34.0, size=(20, 10))  # a warm calf
    thermal = celsius_to_centikelvin(celsius)
    seed = (14, 12)
    lo, hi = mt.wand_range(thermal, seed, 0.6)
    t_seed = thermal[12, 14] / 100.0 - 273.15
    assert (lo, hi) == pytest.approx((t_seed - 0.6, t_seed + 0.6))
    deg = thermal / 100.0 - 273.15
    expected = _bfs(deg, seed, lambda v: lo - 1e-9 <= v <= hi + 1e-9)
    got = mt.temperature_wand(thermal, seed, lo, hi)
    assert np.array_equal(got, expected) and got[5:25, 10:20].sum() > 100
    # An explicit range that excludes the seed selects nothing.
    assert not mt.temperature_wand(thermal, seed, 40.0, 41.0).any()
    assert not mt.temperature_wand(thermal, (-3, 2), 0.0, 100.0).any()
    # Assigning the selection to a class.
    mask = np.zeros(thermal.shape, np.uint8)
    box = mt.wand_fill(mask, thermal, seed, lo, hi, 1)
    assert np.array_equal(mask == 1, expected) and box == mt.bounding_box(expected)


def test_the_wand_range_bounds_are_inclusive_at_centikelvin_resolution():
    thermal = celsius_to_centikelvin(np.array([[30.00, 30.01, 30.02, 30.03]]))
    got = mt.temperature_wand(thermal, (1, 0), 30.01, 30.02)
    assert got.tolist() == [[False, True, True, False]]


def test_bad_masks_and_classes_are_refused():
    with pytest.raises(ValueError, match="uint8"):
        mt.brush(np.zeros((4, 4), np.int32), [(1, 1)], 1, 1)
    with pytest.raises(ValueError, match="0..255"):
        mt.brush(np.zeros((4, 4), np.uint8), [(1, 1)], 1, 300)
    with pytest.raises(ValueError, match="differ"):
        mt.wand_fill(np.zeros((4, 4), np.uint8), np.zeros((4, 5), np.uint16), (1, 1), 0, 1, 1)


def test_boxes_union_and_grow_within_the_image():
    a, b = mt.Box(2, 5, 3, 4), mt.Box(1, 3, 6, 9)
    assert mt.union([None, a, b]) == mt.Box(1, 5, 3, 9)
    assert mt.union([None]) is None
    assert a.grown(3, (6, 6)) == mt.Box(0, 6, 0, 6)
