"""How well a set of views covers what a calibration needs, as ROS measures it.

ROS camera_calibration describes each view of the board by four numbers in [0, 1]:
X and Y (the board's centroid, with the image shrunk by half the board's size on
each side so that a large board can still reach the ends), Size (√(board area /
image area)) and Skew (2·|π/2 − the angle at a board corner|, capped at 1). A view
is worth keeping only if it differs from every kept view by more than 0.2 (L1 over
the four); progress per parameter is the spread of the kept views over a target
range (X 0.7, Y 0.7, Size 0.4, Skew 0.5). Users of that tool know these bars; the
GUI's calibration wizard shows the same ones and uses :func:`accept_view` to keep
views automatically: new enough, and the board held still (its corners moved less
than about a pixel since the previous frame), so that motion blur stays out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from calibration.boards import Board, parse_board
from calibration.detect import Detection

PARAM_NAMES = ("x", "y", "size", "skew")
PARAM_RANGES = (0.7, 0.7, 0.4, 0.5)
MIN_DISTANCE = 0.2
#: With this many kept views the set counts as good enough even if a bar is short.
GOOD_ENOUGH_VIEWS = 40
#: Mean corner motion (pixels) between frames under which the board counts as still.
STILL_PX = 1.0


@dataclass(frozen=True)
class ViewParams:
    """One view's X, Y, Size and Skew, each in [0, 1]."""

    x: float
    y: float
    size: float
    skew: float

    def as_array(self) -> np.ndarray:
        return np.array([self.x, self.y, self.size, self.skew])

    def distance(self, other: ViewParams) -> float:
        """L1 distance over the four parameters."""
        return float(np.abs(self.as_array() - other.as_array()).sum())


def _board(det: Detection, board: Board | None) -> Board:
    return board if board is not None else parse_board(det.board)


def outline(det: Detection, board: Board | None = None) -> np.ndarray:
    """Image corners ``(4, 2)`` (TL, TR, BR, BL in board terms) of the part of the grid
    the view shows; detected corners where present, projected ones elsewhere."""
    board = _board(det, board)
    grid = board.grid(det.ids).astype(np.float64)
    pts = np.asarray(det.image_points, np.float64).reshape(-1, 2)
    (i0, j0), (i1, j1) = grid.min(0), grid.max(0)
    want = np.array([[i0, j0], [i1, j0], [i1, j1], [i0, j1]])
    H, _ = cv2.findHomography(grid, pts, 0)
    out = cv2.perspectiveTransform(want.reshape(-1, 1, 2), H).reshape(-1, 2)
    lookup = {(int(a), int(b)): p for (a, b), p in zip(grid, pts, strict=True)}
    for k, (a, b) in enumerate(want):
        if (int(a), int(b)) in lookup:
            out[k] = lookup[(int(a), int(b))]
    return out


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """Angle at ``b`` between ``a`` and ``c``."""
    ab, cb = a - b, c - b
    cosine = np.dot(ab, cb) / max(np.linalg.norm(ab) * np.linalg.norm(cb), 1e-12)
    return math.acos(float(np.clip(cosine, -1.0, 1.0)))


def view_params(det: Detection, board: Board | None = None) -> ViewParams:
    """The view's X, Y, Size and Skew."""
    width, height = det.image_size
    quad = outline(det, board)
    x, y = quad[:, 0], quad[:, 1]
    area = 0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
    border = math.sqrt(area)
    pts = np.asarray(det.image_points, np.float64).reshape(-1, 2)
    mx, my = pts.mean(0)
    px = min(1.0, max(0.0, (mx - border / 2) / max(width - border, 1e-9)))
    py = min(1.0, max(0.0, (my - border / 2) / max(height - border, 1e-9)))
    size = math.sqrt(area / (width * height))
    skew = min(1.0, 2.0 * abs(math.pi / 2 - _angle(quad[0], quad[1], quad[2])))
    return ViewParams(px, py, size, skew)


@dataclass
class Coverage:
    """Kept views and the progress bars they fill."""

    ranges: tuple[float, ...] = PARAM_RANGES
    min_distance: float = MIN_DISTANCE
    kept: list[ViewParams] = field(default_factory=list)

    def is_new(self, params: ViewParams) -> bool:
        """Further than ``min_distance`` from every kept view."""
        return all(params.distance(k) > self.min_distance for k in self.kept)

    def add(self, params: ViewParams) -> bool:
        """Keep ``params`` if it is new; returns whether it was kept."""
        if not self.is_new(params):
            return False
        self.kept.append(params)
        return True

    def progress(self) -> dict[str, float]:
        """Per parameter, (max − min) / range over the kept views, capped at 1."""
        if not self.kept:
            return dict.fromkeys(PARAM_NAMES, 0.0)
        a = np.array([k.as_array() for k in self.kept])
        spread = (a.max(0) - a.min(0)) / np.asarray(self.ranges)
        return {n: float(min(1.0, s)) for n, s in zip(PARAM_NAMES, spread, strict=True)}

    @property
    def good_enough(self) -> bool:
        # (tolerance: 0.7 − 0.3 over a range of 0.4 is 0.9999… in floating point)
        return len(self.kept) >= GOOD_ENOUGH_VIEWS or all(
            v >= 1.0 - 1e-9 for v in self.progress().values()
        )


def corner_motion(det: Detection, previous: Detection | None) -> float:
    """Mean motion (pixels) of the corners two consecutive detections share.

    Infinite when there is no previous detection or they share under half the corners.
    """
    if previous is None:
        return math.inf
    common, a, b = np.intersect1d(det.ids, previous.ids, return_indices=True)
    if len(common) < max(4, len(det.ids) // 2):
        return math.inf
    d = np.asarray(det.image_points)[a] - np.asarray(previous.image_points)[b]
    return float(np.mean(np.hypot(d[:, 0], d[:, 1])))


def accept_view(
    det: Detection,
    previous: Detection | None,
    coverage: Coverage,
    board: Board | None = None,
    still_px: float = STILL_PX,
) -> bool:
    """The wizard's rule: keep a live view if the board is still and the view is new.

    Adds the view's parameters to ``coverage`` when it is accepted.
    """
    if corner_motion(det, previous) >= still_px:
        return False
    return coverage.add(view_params(det, board))
