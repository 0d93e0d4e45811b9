"""Finding the coded target: seed from its ArUco marker, then grow ring by ring.

The centre of a coded board is a white area with one ArUco marker, so chessboard
detectors, which need the whole regular grid, never find it. Following the target's
authors (Schramm et al., J. Sens. Sens. Syst. 10, 2021): the marker's four corners
give a homography from the board plane to the image; it predicts the checker corners
of the first ring around the white area; each prediction is snapped to the image
(``cornerSubPix`` in a window a fraction of the local square) and kept only if it is
a verified X-junction — the four quadrants alternate dark/light in the order the
print says, with a contrast clear of the noise — and did not move too far. The next
ring is predicted by homographies fitted to the nearest corners found so far, which
follow the lens distortion locally, and so on to the board's edge or the image's.
A second sweep picks up corners whose neighbours arrived late. Corners outside the
image are simply absent: partial views count.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.boards import CodedBoard
from calibration.gridfit import apply, homographies, neighbours

#: Neighbours used for each local homography.
_LOCAL_POINTS = 12
#: Quadrant sample offsets, in squares, from the corner along each board axis.
_OFFSETS = np.array([(a, b) for a in (0.15, 0.25, 0.35) for b in (0.15, 0.25, 0.35)])
_SUBPIX_CRITERIA = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 40, 0.01)
#: Smallest square (pixels) worth trying: below it corners blur together.
_MIN_SQUARE_PX = 4.0


def _sample(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = np.asarray(pts, dtype=np.float32).reshape(-1, 2)
    mx, my = pts[:, 0].reshape(1, -1), pts[:, 1].reshape(1, -1)
    return cv2.remap(img, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE).ravel()


def quadrant_contrast(
    img: np.ndarray, p: np.ndarray, u: np.ndarray, v: np.ndarray, dark_down_right: np.ndarray
) -> np.ndarray:
    """Signed X-junction contrast per corner: > 0 when the quadrants alternate as printed.

    ``p``, ``u``, ``v`` are ``(M, 2)`` (position and local board axes in pixels). The
    result is the gap between the darker of the two "light" quadrants and the lighter
    of the two "dark" ones, so one quadrant out of place (an edge, a T-junction, the
    white area's side) makes it negative.
    """
    p, u, v = (np.asarray(a, dtype=np.float64).reshape(-1, 1, 2) for a in (p, u, v))
    means = []
    for sa, sb in ((1, 1), (-1, -1), (1, -1), (-1, 1)):
        pts = (
            p + (sa * _OFFSETS[:, 0])[None, :, None] * u + (sb * _OFFSETS[:, 1])[None, :, None] * v
        )
        means.append(_sample(img, pts).reshape(len(p), -1).mean(1))
    diag = np.minimum(means[0], means[1]), np.maximum(means[0], means[1])
    anti = np.minimum(means[2], means[3]), np.maximum(means[2], means[3])
    dark = np.asarray(dark_down_right, dtype=bool)
    # dark diagonal down-right: light = anti, dark = diag; else the other way round.
    return np.where(dark, anti[0] - diag[1], diag[0] - anti[1])


def _rings(board: CodedBoard) -> list[np.ndarray]:
    """Detectable corners ``(K, 2)`` grouped by Chebyshev distance from the centre."""
    ci, cj = board.centre
    grid = board.grid(board.detectable_ids())
    ring = np.maximum(np.abs(grid[:, 0] - ci), np.abs(grid[:, 1] - cj))
    return [grid[ring == k] for k in np.unique(ring)]


def _predict(
    found: dict[tuple[int, int], np.ndarray], H0: np.ndarray, cand: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """Predicted positions and local axes of candidate corners ``(M, 2)``.

    From the marker's homography while few corners are known, then from a homography
    per candidate fitted to its nearest found corners (which follows lens distortion).
    """
    g = cand.astype(np.float64)
    if len(found) >= 8:
        keys = np.array(list(found), dtype=np.float64)
        vals = np.array(list(found.values()), dtype=np.float64)
        near = neighbours(keys, g, _LOCAL_POINTS)
        H = homographies(keys[near], vals[near])
        local = True
    else:
        H = np.repeat(H0[None], len(g), axis=0)
        local = False
    p = apply(H, g)
    u = (apply(H, g + (1, 0)) - apply(H, g - (1, 0))) / 2.0
    v = (apply(H, g + (0, 1)) - apply(H, g - (0, 1))) / 2.0
    return p, u, v, local


def find_markers(gray: np.ndarray, board: CodedBoard) -> list[np.ndarray]:
    """Image corners (4, 2) of every candidate of the board's marker."""
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    detector = cv2.aruco.ArucoDetector(board.aruco_dictionary(), params)
    corners, ids, _ = detector.detectMarkers(gray)
    if ids is None:
        return []
    return [
        c.reshape(4, 2)
        for c, k in zip(corners, ids.ravel(), strict=True)
        if int(k) == board.marker_id
    ]


def grow_from_marker(
    gray: np.ndarray,
    reference: np.ndarray,
    board: CodedBoard,
    marker: np.ndarray,
    min_contrast: float,
) -> dict[tuple[int, int], np.ndarray]:
    """Corners found by growing outward from one marker; ``{(i, j): (x, y)}``.

    ``gray`` is the detection variant in which the marker is dark (its polarity fixes
    which quadrants must be dark); ``reference`` is the linear image corners are
    snapped in.
    """
    h, w = gray.shape[:2]
    smooth = cv2.GaussianBlur(gray, (0, 0), 1.0).astype(np.float32)
    H0 = cv2.getPerspectiveTransform(
        board.marker_grid_corners().astype(np.float32), marker.astype(np.float32)
    ).astype(np.float64)
    ref = np.asarray(reference, dtype=np.float32)
    found: dict[tuple[int, int], np.ndarray] = {}
    rings = _rings(board)
    for _sweep in range(2):
        for ring in rings:
            cand = np.array([g for g in ring if (int(g[0]), int(g[1])) not in found])
            if len(cand) == 0:
                continue
            p, u, v, local = _predict(found, H0, cand)
            sq = np.minimum(np.hypot(*u.T), np.hypot(*v.T))
            # The outermost rows and columns end at the board's rim (the MRT print's
            # outer rows are half squares): keep their window smaller.
            frac = np.where(board.is_edge(cand), 0.2, 0.3)
            win = np.clip(np.rint(frac * np.nan_to_num(sq)), 2, 12).astype(int)
            ok = (
                np.isfinite(sq)
                & (sq >= _MIN_SQUARE_PX)
                & (p[:, 0] >= win + 2)
                & (p[:, 1] >= win + 2)
                & (p[:, 0] < w - win - 2)
                & (p[:, 1] < h - win - 2)
            )
            q = p.copy()
            # One call per window size: cornerSubPix refines each point on its own, so
            # this is the per-corner result without a Python round trip per corner.
            for size in np.unique(win[ok]):
                k = np.flatnonzero(ok & (win == size))
                q[k] = cv2.cornerSubPix(
                    ref,
                    p[k].reshape(-1, 1, 2).astype(np.float32),
                    (int(size),) * 2,
                    (-1, -1),
                    _SUBPIX_CRITERIA,
                ).reshape(-1, 2)
            # Shrinking search radius: a prediction from found neighbours is better
            # than one from the marker alone, so it may move less.
            ok &= np.hypot(*(q - p).T) <= (0.25 if local else 0.35) * sq
            if not ok.any():
                continue
            contrast = quadrant_contrast(
                smooth, q[ok], u[ok], v[ok], board.dark_down_right(cand[ok])
            )
            for g, pt in zip(
                cand[ok][contrast >= min_contrast], q[ok][contrast >= min_contrast], strict=True
            ):
                found[(int(g[0]), int(g[1]))] = pt
    return found


def detect_coded(
    gray: np.ndarray,
    reference: np.ndarray,
    board: CodedBoard,
    min_contrast: float,
    markers: list[np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray] | None:
    """``(ids, image points)`` of the coded board in one detection variant, or None.

    Every marker candidate is grown; the one that explains most corners wins (a
    3×3-bit marker can appear by chance in clutter, but then no grid grows around it).
    ``markers`` are :func:`find_markers`' result when the caller already has it (the
    live search looks for the marker first, as its cheap test for a board).
    """
    best: dict[tuple[int, int], np.ndarray] = {}
    for marker in find_markers(gray, board) if markers is None else markers:
        found = grow_from_marker(gray, reference, board, marker, min_contrast)
        if len(found) > len(best):
            best = found
    if len(best) < board.min_corners():
        return None
    keys = sorted(best, key=lambda ij: (ij[1], ij[0]))
    ids = board.ids_of(np.array(keys))
    pts = np.array([best[k] for k in keys], dtype=np.float64)
    return ids, pts
