"""Vectorized lens math for whole images: rays per pixel and fast distortion by table.

Projecting every pixel of every frame through a lens model is the inner loop of label
transfer. OpenCV's ``projectPoints`` works point by point on one core; evaluating the
distortion polynomial in numpy costs some twenty passes over the data. Instead, the
map from undistorted normalized coordinates to distorted pixels is sampled once on a
fine grid (:class:`DistortionTable`) and looked up per frame with bilinear
``cv2.remap`` (SIMD, multi-threaded). On a one-pixel grid the lookup agrees with the
exact model to about 0.02 px (``cv2.remap`` resolves 1/32 of a cell).

The inverse direction (pixel → ray) is computed once per camera with
``cv2.undistortPoints`` (iterative criteria) and polished by Newton steps on the exact model, since
OpenCV's fixed-point iteration alone stops near 0.1 px on strong barrel lenses.

Distortion follows OpenCV's order (k1, k2, p1, p2[, k3[, k4, k5, k6[, s1, s2, s3, s4]]]).
Beyond the radius where the radial model stops growing (where real lenses fold far
off-image points back into the image) the radial factor is held constant, so the
model stays one-to-one and such points stay outside.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from drivers.errors import ThermorigError

#: Coefficient counts OpenCV's pinhole model accepts (tilted sensors, 14, are not).
SUPPORTED_DIST_LENGTHS = (0, 4, 5, 8, 12)


def dist12(dist: np.ndarray | tuple[float, ...]) -> np.ndarray:
    """Distortion padded to 12 coefficients (k1 k2 p1 p2 k3 k4 k5 k6 s1 s2 s3 s4)."""
    d = np.asarray(dist, dtype=np.float64).ravel()
    if len(d) == 14 and not np.any(d[12:]):
        d = d[:12]
    if len(d) not in SUPPORTED_DIST_LENGTHS:
        raise ThermorigError(
            f"distortion with {len(d)} coefficients is not supported; use OpenCV's 4, 5, 8"
            " or 12 coefficients (no tilted-sensor model)"
        )
    out = np.zeros(12)
    out[: len(d)] = d
    return out


def _radial(d: np.ndarray, r2: np.ndarray) -> np.ndarray:
    k1, k2, _p1, _p2, k3, k4, k5, k6 = d[:8]
    num = 1.0 + r2 * (k1 + r2 * (k2 + r2 * k3))
    den = 1.0 + r2 * (k4 + r2 * (k5 + r2 * k6))
    return num / den


@functools.lru_cache(maxsize=32)
def monotonic_r2(dist: tuple[float, ...], r_max: float = 4.0) -> float:
    """Squared radius up to which the radial model ``r * radial(r)`` keeps growing."""
    d = dist12(dist)
    r = np.linspace(0.0, r_max, 40001)
    rd = r * _radial(d, r * r)
    bad = np.nonzero(np.diff(rd) <= 0)[0]
    if len(bad) == 0:
        return float(r_max * r_max)
    return float(r[max(int(bad[0]), 1)] ** 2)


def distort(
    dist: np.ndarray | tuple[float, ...], x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalized coordinates → distorted normalized coordinates."""
    d = dist12(dist)
    p1, p2, s1, s2, s3, s4 = d[2], d[3], d[8], d[9], d[10], d[11]
    r2 = x * x + y * y
    radial = _radial(d, np.minimum(r2, monotonic_r2(tuple(d))))
    xd = x * radial + 2.0 * p1 * x * y + p2 * (r2 + 2.0 * x * x) + s1 * r2 + s2 * r2 * r2
    yd = y * radial + p1 * (r2 + 2.0 * y * y) + 2.0 * p2 * x * y + s3 * r2 + s4 * r2 * r2
    return xd, yd


def project_normalized(
    K: np.ndarray, dist: np.ndarray, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Undistorted normalized coordinates → pixel coordinates (exact, float64)."""
    xd, yd = distort(dist, np.asarray(x, np.float64), np.asarray(y, np.float64))
    return K[0, 0] * xd + K[0, 1] * yd + K[0, 2], K[1, 1] * yd + K[1, 2]


def undistort_pixels(K: np.ndarray, dist: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Pixel coordinates (N, 2) → undistorted normalized coordinates (N, 2), float64.

    Seeded by ``cv2.undistortPoints`` (iterative form), then refined by Newton's method on the
    exact forward model (numerical Jacobian), to ~1e-9 px.
    """
    K = np.asarray(K, np.float64)
    uv = np.asarray(uv, np.float64).reshape(-1, 2)
    d = dist12(dist)
    crit = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-12)
    xy = cv2.undistortPoints(uv.reshape(-1, 1, 2), K, d, criteria=crit).reshape(-1, 2)
    x, y = xy[:, 0].copy(), xy[:, 1].copy()
    eps = 1e-7
    for _ in range(5):
        u, v = project_normalized(K, d, x, y)
        ex, ey = u - uv[:, 0], v - uv[:, 1]
        if np.nanmax(np.abs(np.concatenate([ex, ey]))) < 1e-10:
            break
        ux, vx = project_normalized(K, d, x + eps, y)
        uy, vy = project_normalized(K, d, x, y + eps)
        jxx, jyx = (ux - u) / eps, (vx - v) / eps
        jxy, jyy = (uy - u) / eps, (vy - v) / eps
        det = jxx * jyy - jxy * jyx
        x -= (jyy * ex - jxy * ey) / det
        y -= (jxx * ey - jyx * ex) / det
    return np.stack([x, y], axis=1)


def pixel_grid_rays(width: int, height: int, K: np.ndarray, dist: np.ndarray) -> np.ndarray:
    """Undistorted normalized (x, y) of every pixel centre, (H, W, 2) float64.

    A pixel's 3-D point at z-depth ``z`` is ``z * (x, y, 1)``.
    """
    key = (int(width), int(height), _tuple(K), _tuple(dist))
    return _grid_rays(*key)


def _tuple(a: np.ndarray | tuple) -> tuple[float, ...]:
    return tuple(float(v) for v in np.asarray(a, np.float64).ravel())


@functools.lru_cache(maxsize=16)
def _grid_rays(width: int, height: int, K: tuple, dist: tuple) -> np.ndarray:
    u, v = np.meshgrid(np.arange(width, dtype=np.float64), np.arange(height, dtype=np.float64))
    xy = undistort_pixels(np.reshape(K, (3, 3)), np.asarray(dist), np.stack([u, v], -1))
    out = xy.reshape(height, width, 2)
    out.setflags(write=False)
    return out


class DistortionTable:
    """Undistorted normalized coordinates → distorted pixels, sampled for ``cv2.remap``.

    ``u`` and ``v`` (rows, cols) float32 hold the pixel coordinates of normalized
    ``(x0 + col * step, y0 + row * step)`` (two one-channel tables: ``cv2.remap`` is
    several times faster on one channel than on two). The grid covers the camera's
    field of view plus ``margin`` (a fraction of its extent) on every side, so lookups
    near the image border interpolate real values; points beyond the grid take its
    border values (``BORDER_REPLICATE``), which lie outside the image, so they stay
    outside. ``step_px`` is the grid spacing in pixels near the image centre; bilinear
    lookups err by about ``0.016 * step_px`` px on strong barrel lenses.
    """

    def __init__(
        self,
        width: int,
        height: int,
        K: np.ndarray,
        dist: np.ndarray,
        step_px: float = 1.0,
        margin: float = 0.1,
    ):
        self.width, self.height = int(width), int(height)
        K = np.asarray(K, np.float64)
        #: The lens model tabulated (the compiled transfer kernels evaluate it directly).
        self.K, self.dist = K, dist12(dist)
        rays = pixel_grid_rays(width, height, K, dist)
        x0, x1 = float(rays[..., 0].min()), float(rays[..., 0].max())
        y0, y1 = float(rays[..., 1].min()), float(rays[..., 1].max())
        mx, my = margin * (x1 - x0), margin * (y1 - y0)
        self.step = float(step_px / max(K[0, 0], K[1, 1]))
        self.x0, self.y0 = x0 - mx, y0 - my
        cols = int(math.ceil((x1 + mx - self.x0) / self.step)) + 1
        rows = int(math.ceil((y1 + my - self.y0) / self.step)) + 1
        if not (cols < 32000 and rows < 32000):
            raise ThermorigError(
                f"lens model of a {width}x{height} camera spans too wide a field to tabulate;"
                " check its K and dist"
            )
        gx = self.x0 + self.step * np.arange(cols)
        gy = self.y0 + self.step * np.arange(rows)
        xx, yy = np.meshgrid(gx, gy)
        u, v = project_normalized(K, np.asarray(dist), xx, yy)
        self.u = u.astype(np.float32)
        self.v = v.astype(np.float32)

    @functools.cached_property
    def uv(self) -> np.ndarray:
        """Both tables as one (rows, cols, 2) table, for the compiled kernels (one cache
        line serves both coordinates)."""
        return np.ascontiguousarray(np.dstack([self.u, self.v]))

    def grid_coords(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalized coordinates → fractional table columns and rows (float32)."""
        inv = 1.0 / self.step
        return (
            ((x - self.x0) * inv).astype(np.float32, copy=False),
            ((y - self.y0) * inv).astype(np.float32, copy=False),
        )

    def lookup(self, gx: np.ndarray, gy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel u and v at table coordinates ``gx``, ``gy`` (2-D float32 arrays)."""
        args = (gx, gy, cv2.INTER_LINEAR, None, cv2.BORDER_REPLICATE)
        return cv2.remap(self.u, *args), cv2.remap(self.v, *args)

    def project(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Normalized coordinates (2-D arrays) → pixel u and v."""
        gx, gy = self.grid_coords(x, y)
        return self.lookup(gx, gy)
