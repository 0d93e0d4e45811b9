"""Board detection for every stream kind, thermal first.

One entry point, :func:`detect`: stretch the frame robustly (16-bit thermal or 8-bit),
try the stream kind's preprocessing variants in turn (CLAHE, inversion for hot or
cold squares, unsharp masking), run the board type's detector on each, refine every
corner by an X-junction fit on the *linear* image (see :mod:`calibration.subpixel`)
and accept the first result that passes :func:`validate`. Detectors live in a
registry keyed by board kind (:data:`DETECTORS`).

A wrong detection is worse than none — a mirrored or shifted grid poisons a
calibration — so every view is checked before it is returned: the grid must keep the
image's handedness everywhere (a board is seen from its printed side, so a mirror or
a fold means mislabelled corners) and every corner must sit where its grid
neighbours predict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from calibration.boards import Board, CharucoBoard, CheckerBoard, CodedBoard, parse_board
from calibration.coded import detect_coded
from calibration.detector_input import noise_sigma, to_gray, variants
from calibration.gridfit import apply, homographies
from calibration.subpixel import fit_radius, fit_x_junctions

#: Images wider than this are searched for a plain checkerboard at half size first
#: (``findChessboardCornersSB`` costs ~4× less there); corners are refined at full size.
_HALF_SIZE_ABOVE = 480
#: Images at most this wide (a 160×120 or 320×240 thermal sensor) are also searched at
#: twice their size (cubic): squares of 4-6 pixels defeat ``findChessboardCornersSB``
#: at native size and are found once enlarged; corners are refined at native size.
_DOUBLE_SIZE_AT_MOST = 320
#: A corner further than this fraction of a square from where its neighbours put it
#: means the grid is mislabelled.
_LOCAL_TOLERANCE = 0.3


@dataclass
class Detection:
    """One view of a board by one camera.

    ``contrast`` is the median X-junction contrast (grey levels of the stretched 8-bit
    image) and ``blur`` the median fitted edge blur (pixels, smaller is sharper);
    ``noise`` is the image's noise σ in the same grey levels. ``preprocessing`` names
    the variant that found the board.
    """

    board: str
    ids: np.ndarray
    image_points: np.ndarray
    object_points: np.ndarray
    image_size: tuple[int, int]
    preprocessing: str
    contrast: float
    blur: float
    noise: float
    source: str = ""

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def snr(self) -> float:
        """Corner contrast over pixel noise: below ~3 corners wander by tenths of a pixel."""
        return self.contrast / max(self.noise, 1e-6)


#: ``(variant image, linear reference image, board) -> (ids, points) | None``
Detector = Callable[[np.ndarray, np.ndarray, Board], "tuple[np.ndarray, np.ndarray] | None"]
DETECTORS: dict[str, Detector] = {}


def register_detector(kind: str) -> Callable[[Detector], Detector]:
    def deco(fn: Detector) -> Detector:
        DETECTORS[kind] = fn
        return fn

    return deco


def _handedness(board: Board, ids: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Signed areas of every grid cell corner (i,j),(i+1,j),(i,j+1) found in full."""
    lookup = {int(k): p for k, p in zip(ids, pts, strict=True)}
    out = []
    for k, p in lookup.items():
        i, j = k % board.cols, k // board.cols
        if i + 1 < board.cols and j + 1 < board.rows:
            a, b = lookup.get(k + 1), lookup.get(k + board.cols)
            if a is not None and b is not None:
                du, dv = a - p, b - p
                out.append(du[0] * dv[1] - du[1] * dv[0])
    return np.asarray(out)


@register_detector("checker")
def _detect_checker(gray: np.ndarray, reference: np.ndarray, board: CheckerBoard):
    size = (board.cols, board.rows)
    h, w = gray.shape[:2]
    found, corners = False, None
    if max(h, w) > _HALF_SIZE_ABOVE:
        small = cv2.resize(gray, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
        found, corners = cv2.findChessboardCornersSB(small, size, flags=0)
        if found:
            corners = (corners.reshape(-1, 2) + 0.5) * 2.0 - 0.5
    if not found:
        found, corners = cv2.findChessboardCornersSB(gray, size, flags=0)
    if not found and max(h, w) <= _DOUBLE_SIZE_AT_MOST:
        big = cv2.resize(gray, (w * 2, h * 2), interpolation=cv2.INTER_CUBIC)
        found, corners = cv2.findChessboardCornersSB(big, size, flags=0)
        if found:
            corners = (corners.reshape(-1, 2) + 0.5) / 2.0 - 0.5
    if not found:
        return None
    pts = corners.reshape(board.rows, board.cols, 2).astype(np.float64)
    ids = np.arange(board.corner_count, dtype=np.int32)
    # A plain checkerboard has no marks: choose, of the labellings that keep the image's
    # handedness, the one that starts nearest the image's top-left, so that cameras of
    # a rig that see the board the same way up number it the same way.
    if _handedness(board, ids, pts.reshape(-1, 2)).sum() < 0:
        pts = pts[::-1]
    if pts[-1, -1].sum() < pts[0, 0].sum():
        pts = pts[::-1, ::-1]
    return ids, pts.reshape(-1, 2)


@register_detector("charuco")
def _detect_charuco(gray: np.ndarray, reference: np.ndarray, board: CharucoBoard):
    detector = cv2.aruco.CharucoDetector(board.opencv_board())
    corners, ids, _, _ = detector.detectBoard(gray)
    if ids is None or len(ids) < board.min_corners():
        return None
    return ids.ravel().astype(np.int32), corners.reshape(-1, 2).astype(np.float64)


def coded_min_contrast(noise: float) -> float:
    """The X-junction contrast a coded board's corner needs in an image of ``noise``
    (σ, grey levels): it must stand clear of the noise of the image it was found in."""
    return max(6.0, 0.8 * noise)


@register_detector("coded")
def _detect_coded(gray: np.ndarray, reference: np.ndarray, board: CodedBoard):
    return detect_coded(gray, reference, board, coded_min_contrast(noise_sigma(gray)))


def grid_axes(board: Board, ids: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Local row and column directions (pixels per square) at each detected corner.

    Central differences of neighbouring corners where both exist, one-sided ones
    where only one does, a homography of the whole view elsewhere.
    """
    grid = board.grid(ids)
    table = np.full((board.rows + 2, board.cols + 2, 2), np.nan)
    table[grid[:, 1] + 1, grid[:, 0] + 1] = pts
    gi, gj = grid[:, 0] + 1, grid[:, 1] + 1
    H = None
    if len(pts) >= 4:
        H, _ = cv2.findHomography(grid.astype(np.float64), pts.astype(np.float64), 0)
    axes = []
    for di, dj in ((1, 0), (0, 1)):
        fwd, back = table[gj + dj, gi + di], table[gj - dj, gi - di]
        central = (fwd - back) / 2.0
        ax = np.where(np.isnan(central), fwd - pts, central)
        ax = np.where(np.isnan(ax), pts - back, ax)
        missing = np.isnan(ax).any(1)
        if missing.any() and H is not None:
            g = grid[missing].astype(np.float64)
            a = cv2.perspectiveTransform((g + (di, dj)).reshape(-1, 1, 2), H).reshape(-1, 2)
            b = cv2.perspectiveTransform((g - (di, dj)).reshape(-1, 1, 2), H).reshape(-1, 2)
            ax[missing] = (a - b) / 2.0
        axes.append(ax)
    return axes[0], axes[1]


def _local_residuals(board: Board, ids: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Distance (in local squares) from each corner to where its neighbours put it.

    Each corner is predicted by a homography of the corners within two squares of it
    (three where those are nearly on one line); corners with too few neighbours to
    say get 0.
    """
    grid = board.grid(ids).astype(np.float64)
    n = len(ids)
    u, v = grid_axes(board, ids, pts)
    square = np.maximum(np.minimum(np.hypot(*u.T), np.hypot(*v.T)), 1e-6)
    cheb = np.abs(grid[:, None, :] - grid[None, :, :]).max(-1)
    usable = np.zeros(n, bool)
    mask = np.zeros((n, n))
    for reach in (3, 2):  # the nearer neighbourhood wins where it is good enough
        m = ((cheb <= reach) & ~np.eye(n, dtype=bool)).astype(np.float64)
        cnt = m.sum(1)
        mean = (m[..., None] * grid[None]).sum(1) / np.maximum(cnt, 1)[:, None]
        d = grid[None] - mean[:, None]
        cov = np.einsum("nk,nki,nkj->nij", m, d, d) / np.maximum(cnt, 1)[:, None, None]
        # Neighbours nearly on one line pin no homography down.
        good = (cnt >= 6) & (np.linalg.eigvalsh(cov)[:, 0] >= 0.4 * (cnt - 1) / np.maximum(cnt, 1))
        mask[good] = m[good]
        usable |= good
    out = np.zeros(n)
    if usable.any():
        k = np.flatnonzero(usable)
        src = np.broadcast_to(grid, (len(k), n, 2))
        dst = np.broadcast_to(pts.astype(np.float64), (len(k), n, 2))
        H = homographies(src, dst, mask[k])
        pred = apply(H, grid[k])
        out[k] = np.hypot(*(pred - pts[k]).T) / square[k]
    return out


def validate(detection: Detection, board: Board | str) -> str | None:
    """Why a detection must not be used, or None if it is sound."""
    board = parse_board(board) if isinstance(board, str) else board
    ids = np.asarray(detection.ids)
    pts = np.asarray(detection.image_points, dtype=np.float64).reshape(-1, 2)
    if len(ids) < board.min_corners():
        return f"only {len(ids)} corners (needs {board.min_corners()})"
    if len(np.unique(ids)) != len(ids) or not np.isin(ids, board.detectable_ids()).all():
        return "corner ids repeated or not on this board"
    if not np.all(np.isfinite(pts)):
        return "corner positions not finite"
    areas = _handedness(board, ids, pts)
    if areas.size == 0:
        return "no complete grid cell, so the labelling cannot be checked"
    if (areas <= 0).any():
        return "grid mirrored or folded (corners mislabelled)"
    worst = _local_residuals(board, ids, pts)
    if worst.max() > _LOCAL_TOLERANCE:
        return f"corner {int(ids[worst.argmax()])} is {worst.max():.2f} squares off its grid"
    return None


def _refine(reference: np.ndarray, board: Board, ids: np.ndarray, pts: np.ndarray):
    u, v = grid_axes(board, ids, pts)
    square = np.minimum(np.hypot(*u.T), np.hypot(*v.T))
    fit = fit_x_junctions(reference, pts, u, v, fit_radius(square))
    return ids[fit.ok], fit.points[fit.ok], fit.blur[fit.ok], fit.contrast[fit.ok]


def detect(
    image: np.ndarray,
    board: Board | str,
    kind: str = "thermal",
    variant_names: tuple[str, ...] | None = None,
    source: str = "",
) -> Detection | None:
    """Find ``board`` in one frame of a ``kind`` stream; None if it is not (soundly) there.

    ``variant_names`` restricts the preprocessings tried (a live preview may try only
    the first); by default all of the stream kind's variants are tried, in order.
    """
    board = parse_board(board) if isinstance(board, str) else board
    gray = to_gray(image)
    reference = gray.astype(np.float32)
    noise = noise_sigma(gray)
    detector = DETECTORS[board.kind]
    for name, variant in variants(gray, kind, variant_names):
        raw = detector(variant, reference, board)
        if raw is None:
            continue
        ids, pts, blur, contrast = _refine(reference, board, *raw)
        if len(ids) == 0:
            continue
        det = Detection(
            board=board.spec,
            ids=ids.astype(np.int32),
            image_points=pts.astype(np.float32),
            object_points=board.object_points(ids),
            image_size=(gray.shape[1], gray.shape[0]),
            preprocessing=name,
            contrast=float(np.median(contrast)),
            blur=float(np.median(blur)),
            noise=noise,
            source=source,
        )
        if validate(det, board) is None:
            return det
    return None
