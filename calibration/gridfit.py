"""Many small homographies at once: the local board-to-image maps around each corner.

Growing a coded board and checking a detection both need, for every corner, a
homography fitted to its dozen nearest neighbours. ``cv2.findHomography`` per corner
cost more than the rest of the detection together; one batched direct linear
transform (numpy SVD over a stack of small systems) does the same in a fraction.
"""

from __future__ import annotations

import numpy as np


def _normalise(pts: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Hartley normalisation per batch item (centroid 0, mean distance √2)."""
    w = mask[..., None]
    n = np.maximum(mask.sum(1), 1)[:, None]
    mean = (pts * w).sum(1) / n
    d = np.hypot(*(pts - mean[:, None]).transpose(2, 0, 1)) * mask
    scale = np.sqrt(2.0) / np.maximum(d.sum(1) / n[:, 0], 1e-12)
    T = np.zeros((len(pts), 3, 3))
    T[:, 0, 0] = T[:, 1, 1] = scale
    T[:, 0, 2] = -scale * mean[:, 0]
    T[:, 1, 2] = -scale * mean[:, 1]
    T[:, 2, 2] = 1.0
    out = (pts - mean[:, None]) * scale[:, None, None]
    return out, T


def homographies(src: np.ndarray, dst: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Least-squares homographies ``(M, 3, 3)`` mapping ``src[m]`` to ``dst[m]``.

    ``src``/``dst`` are ``(M, K, 2)``; ``mask`` ``(M, K)`` marks the points each fit
    uses (at least 4 in general position, else the result is meaningless).
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    mask = np.ones(src.shape[:2]) if mask is None else np.asarray(mask, dtype=np.float64)
    s, Ts = _normalise(src, mask)
    d, Td = _normalise(dst, mask)
    M, K = src.shape[:2]
    A = np.zeros((M, 2 * K, 9))
    x, y = s[..., 0], s[..., 1]
    u, v = d[..., 0], d[..., 1]
    one = np.ones_like(x)
    A[:, 0::2, 0:3] = np.stack([x, y, one], -1)
    A[:, 0::2, 6:9] = -u[..., None] * np.stack([x, y, one], -1)
    A[:, 1::2, 3:6] = np.stack([x, y, one], -1)
    A[:, 1::2, 6:9] = -v[..., None] * np.stack([x, y, one], -1)
    A *= np.repeat(mask, 2, axis=1)[..., None]
    _, _, vt = np.linalg.svd(A.transpose(0, 2, 1) @ A)
    Hn = vt[:, -1].reshape(M, 3, 3)
    H = np.linalg.inv(Td) @ Hn @ Ts
    return H / np.where(np.abs(H[:, 2:3, 2:3]) > 1e-12, H[:, 2:3, 2:3], 1.0)


def apply(H: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Map ``(M, 2)`` points, one per homography ``(M, 3, 3)``."""
    pts = np.asarray(pts, dtype=np.float64)
    q = H[:, :, :2] @ pts[:, :, None] + H[:, :, 2:3]
    return q[:, :2, 0] / q[:, 2:3, 0]


def neighbours(grid: np.ndarray, centres: np.ndarray, count: int) -> np.ndarray:
    """Indices ``(M, count)`` of the ``count`` grid points nearest each centre.

    Chebyshev distance first (whole rings of neighbours), Euclidean to break ties.
    """
    g = np.asarray(grid, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    diff = g[None, :, :] - c[:, None, :]
    dist = np.abs(diff).max(-1) + 0.01 * np.hypot(diff[..., 0], diff[..., 1])
    count = min(count, g.shape[0])
    return np.argsort(dist, axis=1)[:, :count]
