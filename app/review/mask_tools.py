"""Edit tools on a class mask: brush, eraser, polygon, flood fill, temperature wand.

Pure numpy/OpenCV on a ``(H, W)`` uint8 working copy (class ids, 255 = unlabeled), so
that every tool's result can be tested exactly without Qt and the review window only
turns mouse positions into calls. Each tool writes in place and returns the
:class:`Box` of the pixels it changed (None when nothing changed): the window redraws
only that part of the overlay, which keeps a brush segment far under a frame's time.

Coordinates are image pixels as the views use them: ``x`` column, ``y`` row, pixel
centres at integers.

The brush paints every pixel whose centre lies within ``radius`` of the stroke's
polyline (a chain of capsules): an exact, resolution-independent definition, rather
than OpenCV's thick-line rasterisation whose caps differ from its circles by a pixel.

The temperature wand selects the pixels connected to a seed whose temperature lies in
a °C range: on a thermogram a calf is a region of similar skin temperature whose
outline the RGB labels only approximate, and no labeling tool offers that selection.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.display import celsius_to_raw_levels
from drivers.truth import UNKNOWN_LABEL
from drivers.types import centikelvin_to_celsius

Point = tuple[float, float]


@dataclass(frozen=True)
class Box:
    """A pixel rectangle: rows ``y0:y1``, columns ``x0:x1`` (end exclusive)."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    def union(self, other: Box | None) -> Box:
        if other is None:
            return self
        return Box(
            min(self.y0, other.y0), max(self.y1, other.y1),
            min(self.x0, other.x0), max(self.x1, other.x1),
        )  # fmt: skip

    def grown(self, margin: int, shape: tuple[int, int]) -> Box:
        """This box with ``margin`` pixels around it, clipped to an image of ``shape``."""
        h, w = shape
        return Box(
            max(self.y0 - margin, 0), min(self.y1 + margin, h),
            max(self.x0 - margin, 0), min(self.x1 + margin, w),
        )  # fmt: skip


def union(boxes: Iterable[Box | None]) -> Box | None:
    """The box around all boxes given (None entries ignored); None if there are none."""
    out: Box | None = None
    for b in boxes:
        if b is not None:
            out = b if out is None else out.union(b)
    return out


def bounding_box(region: np.ndarray) -> Box | None:
    """The box around the True pixels of a boolean image; None if there are none."""
    rows = np.flatnonzero(region.any(axis=1))
    if not rows.size:
        return None
    cols = np.flatnonzero(region.any(axis=0))
    return Box(int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1)


def _check(mask: np.ndarray, value: int) -> None:
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError(f"a class mask is (H, W) uint8, got {mask.shape} {mask.dtype}")
    if not 0 <= int(value) <= 255:
        raise ValueError(f"class id must be 0..255, got {value}")


def assign(mask: np.ndarray, region: np.ndarray, value: int, box: Box | None = None) -> Box | None:
    """Set the pixels of ``region`` (bool, the mask's shape, or the shape of ``box``
    when given) to ``value``; the box of the pixels that changed."""
    _check(mask, value)
    box = box or Box(0, mask.shape[0], 0, mask.shape[1])
    crop = mask[box.slices]
    changed = region & (crop != value)
    if not changed.any():
        return None
    crop[changed] = value
    inner = bounding_box(changed)
    return Box(inner.y0 + box.y0, inner.y1 + box.y0, inner.x0 + box.x0, inner.x1 + box.x0)


# -- brush and eraser ---------------------------------------------------------------------


def stroke_region(
    shape: tuple[int, int], points: Sequence[Point], radius: float
) -> tuple[np.ndarray, Box] | None:
    """Pixels whose centre is within ``radius`` of the polyline through ``points``, as a
    boolean crop and its box; None when the stroke misses the image."""
    pts = np.asarray(points, np.float64).reshape(-1, 2)
    if not len(pts):
        return None
    r = max(float(radius), 0.0)
    h, w = shape
    y0, y1 = max(math.floor(pts[:, 1].min() - r), 0), min(math.ceil(pts[:, 1].max() + r) + 1, h)
    x0, x1 = max(math.floor(pts[:, 0].min() - r), 0), min(math.ceil(pts[:, 0].max() + r) + 1, w)
    if y1 <= y0 or x1 <= x0:
        return None
    ys = np.arange(y0, y1, dtype=np.float64)[:, None]
    xs = np.arange(x0, x1, dtype=np.float64)[None, :]
    best = np.full((y1 - y0, x1 - x0), np.inf)
    segments = zip(pts[:-1], pts[1:], strict=True) if len(pts) > 1 else [(pts[0], pts[0])]
    for a, b in segments:
        d = b - a
        length2 = float(d @ d)
        if length2 > 0:
            t = ((xs - a[0]) * d[0] + (ys - a[1]) * d[1]) / length2
            np.clip(t, 0.0, 1.0, out=t)
            dx, dy = xs - (a[0] + t * d[0]), ys - (a[1] + t * d[1])
        else:
            dx, dy = xs - a[0], ys - a[1]
        np.minimum(best, dx * dx + dy * dy, out=best)
    region = best <= r * r + 1e-9
    return region, Box(y0, y1, x0, x1)


def brush(mask: np.ndarray, points: Sequence[Point], radius: float, value: int) -> Box | None:
    """Paint class ``value`` along the polyline ``points`` with a round brush."""
    _check(mask, value)
    found = stroke_region(mask.shape, points, radius)
    if found is None:
        return None
    region, box = found
    return assign(mask, region, value, box)


def erase(mask: np.ndarray, points: Sequence[Point], radius: float) -> Box | None:
    """The brush writing "unlabeled" (255): the eraser."""
    return brush(mask, points, radius, UNKNOWN_LABEL)


# -- polygon and flood fill ---------------------------------------------------------------


def polygon_region(shape: tuple[int, int], vertices: Sequence[Point]) -> np.ndarray:
    """Boolean image of a filled polygon (vertices rounded to pixel centres)."""
    canvas = np.zeros(shape, np.uint8)
    pts = np.rint(np.asarray(vertices, np.float64).reshape(-1, 2)).astype(np.int32)
    if len(pts):
        cv2.fillPoly(canvas, [pts], 1)
    return canvas.view(bool)


def fill_polygon(mask: np.ndarray, vertices: Sequence[Point], value: int) -> Box | None:
    """Fill the polygon through ``vertices`` with class ``value`` (cv2.fillPoly)."""
    if len(vertices) < 3:
        return None
    return assign(mask, polygon_region(mask.shape, vertices), value)


def _seed(shape: tuple[int, int], seed: Point) -> tuple[int, int] | None:
    col, row = int(math.floor(seed[0] + 0.5)), int(math.floor(seed[1] + 0.5))
    h, w = shape
    return (col, row) if 0 <= col < w and 0 <= row < h else None


def connected_region(image: np.ndarray, seed: Point, connectivity: int = 4) -> np.ndarray:
    """Pixels connected to ``seed`` with exactly the seed's value (cv2.floodFill);
    all False when the seed lies outside the image."""
    h, w = image.shape
    at = _seed((h, w), seed)
    if at is None:
        return np.zeros((h, w), bool)
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    marks = np.zeros((h + 2, w + 2), np.uint8)
    cv2.floodFill(np.ascontiguousarray(image), marks, at, 0, 0, 0, flags)
    return marks[1:-1, 1:-1].view(bool)


def flood_fill(mask: np.ndarray, seed: Point, value: int, connectivity: int = 4) -> Box | None:
    """Give the connected region of the seed's class the class ``value``."""
    _check(mask, value)
    return assign(mask, connected_region(mask, seed, connectivity), value)


# -- temperature wand ---------------------------------------------------------------------


def seed_celsius(thermal_ck: np.ndarray, seed: Point) -> float | None:
    """Temperature (°C) of the seed pixel of a centikelvin frame; None outside."""
    at = _seed(thermal_ck.shape, seed)
    if at is None:
        return None
    return centikelvin_to_celsius(thermal_ck[at[1], at[0]])


def wand_range(thermal_ck: np.ndarray, seed: Point, tolerance_c: float) -> tuple[float, float]:
    """The °C range ``seed ± tolerance``; an empty range (NaN) for a seed outside."""
    t = seed_celsius(thermal_ck, seed)
    if t is None:
        return math.nan, math.nan
    return t - tolerance_c, t + tolerance_c


def temperature_wand(
    thermal_ck: np.ndarray, seed: Point, lo_c: float, hi_c: float, connectivity: int = 4
) -> np.ndarray:
    """Pixels connected to ``seed`` (through pixels in range) whose temperature lies in
    ``[lo_c, hi_c]`` °C, as a boolean image; empty when the seed itself is out of range.

    Compares the raw centikelvin frame with the range converted once to integer
    centikelvin, so that no float copy of the frame is made.
    """
    if thermal_ck.ndim != 2:
        raise ValueError(f"a thermal frame is (H, W), got {thermal_ck.shape}")
    if not lo_c <= hi_c:  # NaN (a seed outside) or an inverted range selects nothing
        return np.zeros(thermal_ck.shape, bool)
    # Integer frame: v >= lo <=> v >= ceil(lo), so the comparison stays in integers.
    lo_ck, hi_ck = celsius_to_raw_levels(lo_c, hi_c)
    lo, hi = math.ceil(lo_ck - 1e-9), math.floor(hi_ck + 1e-9)
    inside = (thermal_ck >= lo) & (thermal_ck <= hi)
    at = _seed(inside.shape, seed)
    if at is None or not inside[at[1], at[0]]:
        return np.zeros(inside.shape, bool)
    return connected_region(inside.view(np.uint8), seed, connectivity)


def wand_fill(
    mask: np.ndarray,
    thermal_ck: np.ndarray,
    seed: Point,
    lo_c: float,
    hi_c: float,
    value: int,
    connectivity: int = 4,
) -> Box | None:
    """Assign class ``value`` to the temperature wand's selection."""
    if thermal_ck.shape != mask.shape:
        raise ValueError(f"thermal frame {thermal_ck.shape} and mask {mask.shape} differ")
    return assign(mask, temperature_wand(thermal_ck, seed, lo_c, hi_c, connectivity), value)
