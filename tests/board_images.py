"""Rendering boards into synthetic camera images with known corner positions.

Tests need images whose true corners are known to a hundredth of a pixel: the board's
print is rendered at a fine scale, warped by a homography into an image four times
the target size and reduced by pixel-area averaging (what a sensor does), then
optionally blurred, made "thermal" (16-bit centikelvin, low contrast, either polarity)
and given noise.
"""

from __future__ import annotations

import cv2
import numpy as np

from calibration.boards import Board, CharucoBoard, CodedBoard

_SS = 4  # supersampling factor
_PX = 64  # print pixels per square


def board_print(board: Board) -> tuple[np.ndarray, np.ndarray]:
    """The board's print (uint8, black on white, one square margin) and its inner
    corners' print coordinates ``(N, 2)`` (pixel-centre convention), in id order."""
    margin = _PX
    if isinstance(board, CharucoBoard):
        sx, sy = board.cols + 1, board.rows + 1
        size = (sx * _PX + 2 * margin, sy * _PX + 2 * margin)
        img = board.opencv_board().generateImage(size, marginSize=margin)
    else:
        sx, sy = board.cols + 1, board.rows + 1
        img = np.full((sy * _PX + 2 * margin, sx * _PX + 2 * margin), 255, np.uint8)
        for j in range(sy):
            for i in range(sx):
                if (i + j) % 2 == 0:  # the square down-right of corner (0, 0) is dark
                    y, x = margin + j * _PX, margin + i * _PX
                    img[y : y + _PX, x : x + _PX] = 0
        if isinstance(board, CodedBoard):
            ci, cj = board.centre
            half = board.hidden_squares // 2
            x0, y0 = margin + (ci + 1 - half) * _PX, margin + (cj + 1 - half) * _PX
            img[y0 : y0 + 2 * half * _PX, x0 : x0 + 2 * half * _PX] = 255
            side = int(round(board.marker_squares * _PX))
            marker = cv2.aruco.generateImageMarker(board.aruco_dictionary(), 0, side)
            mx = int(round(margin + (ci + 1) * _PX - side / 2))
            my = int(round(margin + (cj + 1) * _PX - side / 2))
            img[my : my + side, mx : mx + side] = marker
    ids = np.arange(board.corner_count)
    g = board.grid(ids).astype(np.float64)
    corners = margin + (g + 1) * _PX - 0.5
    return img, corners


def render(
    board: Board,
    image_corners: np.ndarray,
    size: tuple[int, int],
    background: int = 160,
    blur: float = 0.7,
) -> tuple[np.ndarray, np.ndarray]:
    """Board warped so that its print's outer rectangle lands on ``image_corners``
    (TL, TR, BR, BL, pixels); returns a float32 image in [0, 255] and the true
    corners ``(N, 2)`` in id order."""
    pattern, corners = board_print(board)
    h, w = pattern.shape
    src = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    dst_final = np.asarray(image_corners, np.float32)
    dst_ss = (dst_final + 0.5) * _SS - 0.5
    H = cv2.getPerspectiveTransform(src, dst_ss)
    big = cv2.warpPerspective(
        pattern, H, (size[0] * _SS, size[1] * _SS), flags=cv2.INTER_LINEAR, borderValue=background
    )
    img = cv2.resize(big.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    if blur > 0:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    true_ss = cv2.perspectiveTransform(corners.reshape(-1, 1, 2), H.astype(np.float64)).reshape(
        -1, 2
    )
    return img, (true_ss + 0.5) / _SS - 0.5


def thermal(
    img: np.ndarray,
    invert: bool = True,
    contrast_ck: float = 300.0,
    noise_ck: float = 15.0,
    base_ck: float = 30315.0,
    seed: int = 0,
) -> np.ndarray:
    """A uint16 centikelvin frame: ``contrast_ck`` between the board's dark and light
    (3 K by default), hot where the print is black when ``invert``, with noise."""
    rng = np.random.default_rng(seed)
    level = (255.0 - img) if invert else img
    out = base_ck + level / 255.0 * contrast_ck + rng.normal(0, noise_ck, img.shape)
    return np.clip(out, 0, 65535).astype(np.uint16)


def quad(cx: float, cy: float, w: float, h: float, tilt: float = 0.0) -> np.ndarray:
    """Four image corners of a board centred at (cx, cy), ``tilt`` skews it in depth."""
    return np.float32(
        [
            [cx - w / 2, cy - h / 2 + tilt],
            [cx + w / 2, cy - h / 2 - tilt],
            [cx + w / 2 + tilt, cy + h / 2 + tilt],
            [cx - w / 2 - tilt, cy + h / 2],
        ]
    )


def quad_from_pose(board: Board, K: np.ndarray, rvec: np.ndarray, tvec: np.ndarray) -> np.ndarray:
    """Image corners of the board's print seen by a pinhole camera ``K`` at a pose.

    Rendering through this quad makes every view consistent with one camera, so a
    calibration from the rendered images must recover ``K``.
    """
    pattern, _ = board_print(board)
    h, w = pattern.shape
    # print pixel x  <->  board metres (x + 0.5 - margin - PX) / PX * square
    edges = np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    metres = (edges + 0.5 - 2 * _PX) / _PX * board.square
    obj = np.column_stack([metres, np.zeros(4)])
    img, _ = cv2.projectPoints(obj, rvec, tvec, K, np.zeros(5))
    return img.reshape(4, 2).astype(np.float32)


def pose_views(
    count: int, seed: int = 0, distance: float = 1.0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` varied board poses (rvec, tvec) in front of a camera, board centred
    about 20 cm around the optical axis and tilted up to ~35°."""
    rng = np.random.default_rng(seed)
    views = []
    for _ in range(count):
        rvec = np.array([rng.uniform(-0.6, 0.6), rng.uniform(-0.6, 0.6), rng.uniform(-0.3, 0.3)])
        tvec = np.array(
            [rng.uniform(-0.25, 0.05), rng.uniform(-0.2, 0.0), distance * rng.uniform(0.9, 1.2)]
        )
        views.append((rvec, tvec))
    return views
